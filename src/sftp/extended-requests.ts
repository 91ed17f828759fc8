/**
 * SSH_FXP_EXTENDED requests: the OpenSSH extensions announced in VERSION. statvfs@openssh.com
 * answers `df` from the store's capacity and the user's quota; posix-rename@openssh.com is
 * rename replacing an existing file, as rename(2) does (OpenSSH's `rename` uses it).
 */
import type { RequestHandler } from './engine.js';
import { requestPath } from './file-requests.js';
import { renamePath, statPath } from './path-requests.js';
import { PacketType, Status } from './protocol.js';

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

const EXTENSIONS = new Map<string, RequestHandler>([
  ['statvfs@openssh.com', statvfs],
  ['posix-rename@openssh.com', posixRename],
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
