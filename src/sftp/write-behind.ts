/**
 * Write-behind for uploads. A client pipelines WRITEs of about 32 KiB and, like curl
 * (libssh2), often keeps only two or three in flight: answering each only after the store
 * wrote it (a thread-pool round trip) makes the upload as slow as that round trip. So
 * in-order WRITEs are gathered in memory and answered at once; the gathered bytes go to the
 * store's upload in blocks of WRITE_BEHIND_BYTES, one block written while the next gathers.
 *
 * What makes this safe:
 * - Nothing is visible before CLOSE, which writes what is left, waits for it and commits
 *   (fsync): STATUS OK to CLOSE still means the file is durable, and it is never sent when a
 *   block failed to be written.
 * - A block that fails gives the upload up: the WRITEs after it and the CLOSE get its status.
 * - The quota is checked as each WRITE arrives (the allowance is known at OPEN), so a WRITE
 *   over it is refused at once, as before.
 * - Memory is bounded: a WRITE that fills a block waits for the block before it to be
 *   written, and meanwhile the channel is not read (the SSH window holds the client back);
 *   and all of a session's uploads together gather at most SESSION_WRITE_BEHIND_BYTES.
 *
 * The bytes are copied into the block as each WRITE arrives and blocks are reused (a few
 * kept per session): holding the packets themselves until their block is written kept them
 * alive long enough to reach the collector's old generation, which cost more CPU than the
 * store's round trips saved. A block goes back for reuse only once the store's write of it
 * has finished (FileUpload.write keeps no reference to its chunk after it resolves).
 */
import { StoreError } from '../store/types.js';
import type { SftpSession, WriteHandle } from './engine.js';
import { SftpError, statusForError } from './errors.js';

/** Bytes gathered per upload before they are handed to the store as one write. */
export const WRITE_BEHIND_BYTES = 1024 * 1024;
/** Bytes gathered by all uploads of one session together (a client may open many). */
export const SESSION_WRITE_BEHIND_BYTES = 8 * 1024 * 1024;

/** Free blocks a session keeps for its next uploads. */
const SPARE_BLOCKS = 2;

/** The per-upload state of write-behind, kept on its handle. */
export interface WriteBehind {
  /** Bytes accepted and not yet handed to the store: the first `bytes` of `block`. */
  block: Buffer | null;
  bytes: number;
  /** The block being written; it never rejects (a failure is recorded on the handle). */
  flushing: Promise<void> | null;
}

export function newWriteBehind(): WriteBehind {
  return { block: null, bytes: 0, flushing: null };
}

/** The blocks of one session's uploads. */
export class BlockPool {
  private readonly spare: Buffer[] = [];

  take(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(WRITE_BEHIND_BYTES);
  }

  /** A block no longer used: no write of it may still be running. */
  give(block: Buffer): void {
    if (this.spare.length < SPARE_BLOCKS) this.spare.push(block);
  }
}

/** The error a WRITE or CLOSE reports once the upload was given up. */
function failureError(handle: WriteHandle): SftpError {
  const failure = handle.failure!;
  return new SftpError(failure.status, failure.message);
}

/**
 * Accepts the next in-order bytes of an upload: counted, quota-checked, gathered. Resolves
 * once the caller may answer the WRITE; throws (and gives the upload up) when it must fail.
 */
export async function acceptWrite(session: SftpSession, handle: WriteHandle, data: Buffer): Promise<void> {
  if (handle.failure) throw failureError(handle);
  const size = handle.keptBytes + handle.acceptedBytes + data.length;
  if (handle.maxBytes !== null && size > handle.maxBytes && handle.replacedBytes === null) {
    // Only now does the size of the file being replaced matter (see openForWriting).
    handle.replacedBytes = (await session.ctx.files.stat(session.ctx.space, handle.path))?.size ?? 0;
  }
  if (handle.maxBytes !== null && size - (handle.replacedBytes ?? 0) > handle.maxBytes) {
    await giveUp(session, handle, new StoreError('quota', 'the upload would exceed the quota'));
  }
  const wb = handle.writeBehind;
  // A packet is at most MAX_PACKET_BYTES, far less than a block: it fits once the block is written.
  if (wb.bytes + data.length > WRITE_BEHIND_BYTES) await startFlush(session, handle);
  wb.block ??= session.blocks.take();
  data.copy(wb.block, wb.bytes);
  wb.bytes += data.length;
  session.writeBehindBytes += data.length;
  handle.acceptedBytes += data.length;
  if (handle.nextOffset !== null) handle.nextOffset += data.length;
  if (wb.bytes === WRITE_BEHIND_BYTES) await startFlush(session, handle);
  else if (session.writeBehindBytes > SESSION_WRITE_BEHIND_BYTES) await session.flushAllUploads();
}

/**
 * Hands what is gathered to the store as one write, after the write before it finished
 * (waiting for that is the back-pressure). Resolves when the write has started.
 */
export async function startFlush(session: SftpSession, handle: WriteHandle): Promise<void> {
  const wb = handle.writeBehind;
  if (wb.flushing) await wb.flushing;
  if (handle.failure) throw failureError(handle);
  if (wb.bytes === 0) return;
  const block = wb.block!;
  const length = wb.bytes;
  session.writeBehindBytes -= length;
  wb.block = null;
  wb.bytes = 0;
  const upload = handle.upload!;
  const flushing: Promise<void> = upload.write(block.subarray(0, length)).then(
    () => {
      session.blocks.give(block);
      if (wb.flushing === flushing) wb.flushing = null;
    },
    async (err: unknown) => {
      session.blocks.give(block);
      await fail(session, handle, err);
      if (wb.flushing === flushing) wb.flushing = null;
    },
  );
  wb.flushing = flushing;
}

/**
 * Uploads no larger than this so far have each WRITE handed to the store as soon as it is
 * accepted (when no write of theirs is running), instead of when a block fills or at CLOSE.
 * A client uploading small files one at a time sends CLOSE right after its last WRITE's OK
 * and waits; the store's write then runs during that round trip rather than in front of the
 * commit (one thread-pool round trip less per file). A large upload does this for its first
 * WRITEs only, so its writes stay large.
 */
export const WRITE_AT_ONCE_BYTES = 64 * 1024;

/** Starts writing what a small upload has gathered (see WRITE_AT_ONCE_BYTES); never waits. */
export function writeSmallUploadNow(session: SftpSession, handle: WriteHandle): void {
  const wb = handle.writeBehind;
  if (handle.acceptedBytes > WRITE_AT_ONCE_BYTES || wb.flushing !== null || wb.bytes === 0 || handle.failure) return;
  // With no write running, startFlush hands the block over before its first await; a failed
  // write is recorded on the handle, which the next WRITE or the CLOSE reports.
  void startFlush(session, handle).catch(() => undefined);
}

/** Writes everything accepted and waits for it: what CLOSE does before committing. */
export async function flushUpload(session: SftpSession, handle: WriteHandle): Promise<void> {
  await startFlush(session, handle);
  await handle.writeBehind.flushing;
  if (handle.failure) throw failureError(handle);
}

/**
 * Leaves the upload with no write running and nothing gathered, for an abort: with `keep`
 * what was accepted is written first (files.keepPartial keeps what arrived), otherwise it is
 * dropped. Never throws; a failed write is recorded on the handle as usual.
 */
export async function settleUpload(session: SftpSession, handle: WriteHandle, keep: boolean): Promise<void> {
  if (keep && !handle.failure) await flushUpload(session, handle).catch(() => undefined);
  await handle.writeBehind.flushing;
  dropGathered(session, handle);
}

function dropGathered(session: SftpSession, handle: WriteHandle): void {
  const wb = handle.writeBehind;
  session.writeBehindBytes -= wb.bytes;
  if (wb.block) session.blocks.give(wb.block);
  wb.block = null;
  wb.bytes = 0;
}

/** A WRITE that must fail (over quota): the upload is given up, keeping what came before it when so configured. */
async function giveUp(session: SftpSession, handle: WriteHandle, err: unknown): Promise<never> {
  await settleUpload(session, handle, session.ctx.keepPartial);
  if (handle.failure) throw failureError(handle);
  await fail(session, handle, err);
  throw err;
}

/** Records why the upload failed and gives it up (no write may be running). */
async function fail(session: SftpSession, handle: WriteHandle, err: unknown): Promise<void> {
  if (handle.failure) return;
  const { status, message } = statusForError(err);
  if (statusForError(err).unexpected) session.log.error('sftp upload write failed', { path: handle.path, error: err as Error });
  handle.failure = { status, message };
  dropGathered(session, handle);
  handle.early.clear();
  handle.earlyBytes = 0;
  // Kept on the handle: a CLOSE that comes meanwhile answers only once nothing is left behind.
  handle.givingUp = handle.upload!.abort({ keepPartial: session.ctx.keepPartial }).catch(() => undefined);
  await handle.givingUp;
  session.log.info('upload failed', { path: handle.path, reason: message, kept: session.ctx.keepPartial });
}
