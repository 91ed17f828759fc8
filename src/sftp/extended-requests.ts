/**
 * SSH_FXP_EXTENDED requests: the extensions announced in VERSION, as OpenSSH's server has
 * them. statvfs@openssh.com answers `df` from the store's capacity and the user's quota;
 * posix-rename@openssh.com is rename replacing an existing file, as rename(2) does (OpenSSH's
 * `rename` uses it); copy-data copies between two open files on the server (OpenSSH's `cp`).
 */
import type { RequestHandler } from './engine.js';
import { SftpError } from './errors.js';
import { requestPath, writeAt } from './file-requests.js';
import { renamePath, statPath } from './path-requests.js';
import { MAX_READ_BYTES, PacketType, Status } from './protocol.js';
import { readAt } from './read-ahead.js';

/** Block size reported by statvfs; sizes are rounded down to whole blocks. */
const BLOCK_BYTES = 4096;
/** statvfs f_flag: ST_NOSUID (nothing set-uid runs from a space). */
const ST_NOSUID = 0x2;
const NAME_MAX = 255;


/**
 * The space as a file system: its size is the quota when there is one (else the disk or
 * database it is on), and what is free is the smaller of quota left and space left there.
 */
const statvfs: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  await statPath(session, path);
  const { files, space } = session.ctx;
  const [capacity, usage, allowance] = await Promise.all([files.capacity(space), files.usage(space), session.ctx.uploadAllowance()]);
  let total = capacity.totalBytes;
  let free = capacity.freeBytes;
  if (allowance !== null) {
    free = Math.min(free, allowance);
    total = Math.min(total, usage + allowance);
  }
  const blocks = Math.floor(total / BLOCK_BYTES);
  const freeBlocks = Math.min(blocks, Math.floor(free / BLOCK_BYTES));
  // f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, f_fsid, f_flag, f_namemax
  await session.sendExtendedReply(id, [BLOCK_BYTES, BLOCK_BYTES, blocks, freeBlocks, freeBlocks, 0, 0, 0, 0, ST_NOSUID, NAME_MAX]);
};

const posixRename: RequestHandler = async (session, id, req) => {
  const from = requestPath(req);
  const to = requestPath(req);
  await renamePath(session, from, to, true);
  await session.ok(id);
};

/**
 * copy-data (draft-ietf-secsh-filexfer-extensions-00 section 7): `length` bytes (0: up to the
 * end of the file) from `readOffset` of a file open for reading, to `writeOffset` of one open
 * for writing, exactly as the READs and WRITEs a client would send, without the bytes
 * crossing the network. The written file is committed by its CLOSE, as after WRITEs.
 */
const copyData: RequestHandler = async (session, id, req) => {
  const from = session.handle(req.bytes());
  const readOffset = req.uint64();
  const length = req.uint64();
  const to = session.handle(req.bytes());
  const writeOffset = req.uint64();
  if (from.kind !== 'read') throw new SftpError(Status.FAILURE, 'the handle to copy from is not open for reading');
  if (to.kind !== 'write') throw new SftpError(Status.FAILURE, 'the handle to copy to is not open for writing');
  let copied = 0;
  while (length === 0 || copied < length) {
    // The client went away or the server is shutting down: nothing is committed before the
    // written file's CLOSE, so stopping here loses nothing, and a large copy holds up no one.
    if (session.isStopping) throw new SftpError(Status.FAILURE, 'the session is ending');
    const want = length === 0 ? MAX_READ_BYTES : Math.min(MAX_READ_BYTES, length - copied);
    const { pieces, length: got } = await readAt(session, from, readOffset + copied, want);
    if (got === 0) break;
    for (const piece of pieces) {
      const at = writeOffset + copied;
      // The pieces are the read-ahead's blocks, reused once the next read starts. Write-behind
      // copies bytes it takes at once; only bytes held back ahead of a gap need a copy of their own.
      const heldBack = to.nextOffset !== null && to.nextOffset !== at;
      await writeAt(session, to, at, heldBack ? Buffer.from(piece) : piece);
      copied += piece.length;
    }
  }
  await session.ok(id);
};

const EXTENSIONS = new Map<string, RequestHandler>([
  ['statvfs@openssh.com', statvfs],
  ['posix-rename@openssh.com', posixRename],
  ['copy-data', copyData],
]);

const extended: RequestHandler = async (session, id, req) => {
  const name = req.text();
  const handler = EXTENSIONS.get(name);
  if (!handler) {
    await session.status(id, Status.OP_UNSUPPORTED, `unsupported extension ${name}`);
    return;
  }
  await handler(session, id, req);
};

export const extendedRequests: Array<[PacketType, RequestHandler]> = [[PacketType.EXTENDED, extended]];
