/**
 * Read-ahead for downloads. Clients pipeline READs of about 32 KiB at increasing offsets;
 * reading each from the store on its own costs a thread-pool round trip per READ, served one
 * after another. When READs follow on from each other, the file is instead read in blocks of
 * READ_AHEAD_BYTES (the store's own streaming size), the next block while the current one is
 * being answered from memory.
 * A READ that does not follow on (random access) is read from the store directly.
 *
 * Memory: at most three blocks per handle (the current one, the next, and a spare), and only
 * MAX_READ_AHEAD_HANDLES handles of a session read ahead at once (the others read directly).
 *
 * Reused blocks: where the store can read into our buffer (FileReader.readInto), a block the
 * download has moved past becomes the handle's spare, and the next block is read into it. A new
 * 256 KiB buffer per block lived long enough to be promoted out of V8's young generation (it is
 * in use across several collections of it), and freeing those promoted buffers was what made
 * V8 run a full collection every 30 ms of a download: 340 per two 1 GiB downloads, against 7
 * with the blocks reused, and 230 MB/s against 400 MB/s through curl. A spare is reused only
 * once every reply written before has been copied by the channel (SftpSession
 * .earlierRepliesCopied): a reply built in place, or still queued, may point into it.
 *
 * Room in front: a DATA reply is its bytes behind a 13-byte header, and copying each 30 KB
 * answer into a packet of its own was a third of the buffers a download allocated (the rest
 * being the blocks and the SSH layer's packets), which is what set how often the collector
 * ran. So a caller may ask for room in front of the bytes: when they come from inside a block
 * and the bytes in front are ones already answered, the caller may write its header there. The
 * block then never serves those bytes again (a READ going back reads the store directly).
 * The block is our own buffer: FileReader.read hands out a fresh one on every call.
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
  /** File offset below which the block's bytes may have been overwritten (room given in front). */
  overwrittenBelow: number;
  /** The whole buffer the block is read into, when it is ours to reuse (read with readInto). */
  buffer: Buffer | null;
}

/** What readAt answers. */
export interface ReadBytes {
  /** The bytes in one piece, or in one per block when they cross a block boundary (not copied together). */
  pieces: Buffer[];
  length: number;
  /**
   * True when the `room` bytes in memory just in front of the one piece are the caller's to overwrite:
   * they belong to the same block and were answered already, so only a reply that has been
   * handed on (copied) may have used them.
   */
  roomInFront: boolean;
}

/** The read-ahead state of a handle. */
export interface ReadAhead {
  /** Whether this handle holds one of the session's read-ahead places. */
  active: boolean;
  current: Block | null;
  next: Block | null;
  /** The offset just after the last READ served: a READ there continues sequentially. */
  expected: number;
  /** The buffer of the block moved past during the READ being served: it may be in that READ's reply. */
  retired: Buffer | null;
  /** The buffer of a block moved past in an earlier READ, whose reply has been written: the next block's, once copied. */
  spare: Buffer | null;
}

export function newReadAhead(): ReadAhead {
  return { active: false, current: null, next: null, expected: 0, retired: null, spare: null };
}

function fetchBlock(session: SftpSession, handle: ReadHandle, start: number): Block {
  const { reader } = handle;
  // Slow: a buffer of its own, not a slice of Node's shared pool.
  const buffer = reader.readInto ? (takeSpare(session, handle.readAhead) ?? Buffer.allocUnsafeSlow(READ_AHEAD_BYTES)) : null;
  const data = buffer ? reader.readInto!(buffer, start).then((n) => buffer.subarray(0, n)) : reader.read(start, READ_AHEAD_BYTES);
  data.catch(() => undefined);
  return { start, data, bytes: null, overwrittenBelow: start, buffer };
}

/** The handle's spare buffer, once no reply written before can still point into it. */
function takeSpare(session: SftpSession, ra: ReadAhead): Buffer | null {
  if (ra.spare === null || !session.earlierRepliesCopied) return null;
  const spare = ra.spare;
  ra.spare = null;
  return spare;
}

async function bytesOf(block: Block): Promise<Buffer> {
  block.bytes ??= await block.data;
  return block.bytes;
}

/**
 * Up to `length` bytes at `offset` (fewer only at the end of the file): what a READ answers.
 * With `room` > 0, see ReadBytes.roomInFront.
 */
export async function readAt(session: SftpSession, handle: ReadHandle, offset: number, length: number, room = 0): Promise<ReadBytes> {
  const ra = handle.readAhead;
  // The READ that moved past that block has been answered (requests are served one at a time).
  if (ra.retired !== null) {
    ra.spare = ra.retired;
    ra.retired = null;
  }
  // Going back into the current block is fine, except to bytes given up as room in front.
  const inBlocks = ra.current !== null ? offset >= ra.current.overwrittenBelow : offset === ra.expected;
  if (!inBlocks || !claim(session, ra)) {
    dropBlocks(ra);
    ra.expected = offset + length;
    const data = await handle.reader.read(offset, length);
    return { pieces: [data], length: data.length, roomInFront: false };
  }
  const parts: Buffer[] = [];
  let position = offset;
  let missing = length;
  let first: Block | null = null;
  while (missing > 0) {
    let block: Block | null;
    try {
      block = await blockAt(session, handle, position);
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
    first ??= block;
    parts.push(piece);
    position += piece.length;
    missing -= piece.length;
  }
  ra.expected = position;
  if (parts.length !== 1) return { pieces: parts, length: position - offset, roomInFront: false };
  // Room only inside the block, in front of bytes still intact; from now on the block serves
  // nothing below `offset` (those bytes answered an earlier READ, whose reply the caller made
  // sure was handed on).
  const roomInFront = room > 0 && first !== null && offset - first.start >= room && offset >= first.overwrittenBelow;
  if (roomInFront) first!.overwrittenBelow = offset;
  return { pieces: parts, length: position - offset, roomInFront };
}

/** The block holding `position`, moving on to the next block when it starts there; null if none does. */
async function blockAt(session: SftpSession, handle: ReadHandle, position: number): Promise<Block | null> {
  const ra = handle.readAhead;
  ra.current ??= fetchBlock(session, handle, position);
  const current = ra.current;
  const bytes = await bytesOf(current);
  const end = current.start + bytes.length;
  if (position >= current.start && position < end) {
    // Past the middle of the block: start reading the one after it.
    if (ra.next === null && position - current.start >= bytes.length / 2) ra.next = fetchBlock(session, handle, end);
    return current;
  }
  if (position !== end) return null;
  // An empty block: the end of the file. (A short one is not taken for the end: a store may
  // return less than asked anywhere; the block after it then says.)
  if (bytes.length === 0) return current;
  ra.retired = current.buffer;
  ra.current = ra.next ?? fetchBlock(session, handle, end);
  ra.next = null;
  return blockAt(session, handle, position);
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
  ra.retired = null;
  ra.spare = null;
  if (ra.active) {
    ra.active = false;
    session.readAheadHandles--;
  }
  await Promise.all(pending.map((p) => p?.catch(() => undefined)));
}
