/**
 * Read-ahead for downloads. Clients pipeline READs of about 32 KiB at increasing offsets;
 * reading each from the store on its own costs a thread-pool round trip per READ, served one
 * after another. When READs follow on from each other, the file is instead read in blocks of
 * READ_AHEAD_BYTES (the store's own streaming size), the next block while the current one is
 * being answered from memory.
 * A READ that does not follow on (random access) is read from the store directly.
 *
 * Memory: at most two blocks per handle, and only MAX_READ_AHEAD_HANDLES handles of a
 * session read ahead at once (the others read directly).
 */
import type { FileReader } from '../store/file-store.js';
import type { ReadHandle, SftpSession } from './engine.js';

export const READ_AHEAD_BYTES = 256 * 1024;
export const MAX_READ_AHEAD_HANDLES = 8;

interface Block {
  start: number;
  /** Never rejects unobserved: a failure is seen by the READ that needs the block. */
  data: Promise<Buffer>;
  /** The bytes, once read (shorter than asked for only at the end of the file). */
  bytes: Buffer | null;
}

/** The read-ahead state of a handle. */
export interface ReadAhead {
  /** Whether this handle holds one of the session's read-ahead places. */
  active: boolean;
  current: Block | null;
  next: Block | null;
  /** The offset just after the last READ served: a READ there continues sequentially. */
  expected: number;
}

export function newReadAhead(): ReadAhead {
  return { active: false, current: null, next: null, expected: 0 };
}

function fetchBlock(reader: FileReader, start: number): Block {
  const data = reader.read(start, READ_AHEAD_BYTES);
  data.catch(() => undefined);
  return { start, data, bytes: null };
}

async function bytesOf(block: Block): Promise<Buffer> {
  block.bytes ??= await block.data;
  return block.bytes;
}

/**
 * Up to `length` bytes at `offset` (fewer only at the end of the file): what a READ answers.
 */
export async function readAt(session: SftpSession, handle: ReadHandle, offset: number, length: number): Promise<Buffer> {
  const ra = handle.readAhead;
  const inBlocks = (ra.current && offset >= ra.current.start) || offset === ra.expected;
  if (!inBlocks || !claim(session, ra)) {
    dropBlocks(ra);
    ra.expected = offset + length;
    return handle.reader.read(offset, length);
  }
  const parts: Buffer[] = [];
  let position = offset;
  let missing = length;
  while (missing > 0) {
    let block: Block | null;
    try {
      block = await blockAt(handle, position);
    } catch (err) {
      // The next READ starts afresh rather than seeing this failure again.
      dropBlocks(ra);
      throw err;
    }
    if (block === null) {
      // Outside what was read ahead (a jump forwards): read the rest directly.
      dropBlocks(ra);
      const rest = await handle.reader.read(position, missing);
      parts.push(rest);
      position += rest.length;
      break;
    }
    const bytes = block.bytes!;
    if (position >= block.start + bytes.length) break; // the end of the file
    const piece = bytes.subarray(position - block.start, Math.min(bytes.length, position - block.start + missing));
    parts.push(piece);
    position += piece.length;
    missing -= piece.length;
  }
  ra.expected = position;
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** The block holding `position`, moving on to the next block when it starts there; null if none does. */
async function blockAt(handle: ReadHandle, position: number): Promise<Block | null> {
  const ra = handle.readAhead;
  ra.current ??= fetchBlock(handle.reader, position);
  const current = ra.current;
  const bytes = await bytesOf(current);
  const end = current.start + bytes.length;
  if (position >= current.start && position < end) {
    // Past the middle of the block: start reading the one after it.
    if (ra.next === null && position - current.start >= bytes.length / 2) ra.next = fetchBlock(handle.reader, end);
    return current;
  }
  if (position !== end) return null;
  // An empty block: the end of the file. (A short one is not taken for the end: a store may
  // return less than asked anywhere; the block after it then says.)
  if (bytes.length === 0) return current;
  ra.current = ra.next ?? fetchBlock(handle.reader, end);
  ra.next = null;
  return blockAt(handle, position);
}

function claim(session: SftpSession, ra: ReadAhead): boolean {
  if (ra.active) return true;
  if (session.readAheadHandles >= MAX_READ_AHEAD_HANDLES) return false;
  session.readAheadHandles++;
  ra.active = true;
  return true;
}

function dropBlocks(ra: ReadAhead): void {
  ra.current = null;
  ra.next = null;
}

/** Before the reader is closed: waits for a block being read, frees the handle's place. */
export async function endReadAhead(session: SftpSession, handle: ReadHandle): Promise<void> {
  const ra = handle.readAhead;
  const pending = [ra.current?.data, ra.next?.data];
  dropBlocks(ra);
  if (ra.active) {
    ra.active = false;
    session.readAheadHandles--;
  }
  await Promise.all(pending.map((p) => p?.catch(() => undefined)));
}
