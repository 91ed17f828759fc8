/**
 * Requests on names: STAT/LSTAT, SETSTAT, OPENDIR/READDIR, MKDIR, RMDIR, REMOVE, RENAME,
 * REALPATH, and the symbolic-link requests, which are refused: a space has no links, and a
 * link is the classic way out of a chroot.
 */
import { parentPath } from '../store/files/path.js';
import { StoreError } from '../store/types.js';
import { nameEntry, replyAttrs } from './attributes.js';
import { emptyRoot, type RequestHandler, type SftpSession } from './engine.js';
import { SftpError } from './errors.js';
import { creationMode, requestPath, setAttributes } from './file-requests.js';
import { PacketType, Status } from './protocol.js';
import type { NameEntry } from './wire.js';

/** Entries per NAME reply, so a big folder goes out in packets well under the size limit. */
const NAMES_PER_REPLY = 100;

/** The file or folder at `path`; the root exists even before the store made the user's folder. */
export async function statPath(session: SftpSession, path: string) {
  const info = await session.ctx.files.stat(session.ctx.space, path);
  if (info) return info;
  if (path === '/') return emptyRoot();
  throw new SftpError(Status.NO_SUCH_FILE, 'no such file or directory');
}

// LSTAT is STAT: there are no links to not follow.
const stat: RequestHandler = async (session, id, req) => {
  await session.sendAttrs(id, replyAttrs(await statPath(session, requestPath(req))));
};

const setstat: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  await setAttributes(session, path, req.attrs());
  await session.ok(id);
};

const opendir: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  const info = await statPath(session, path);
  if (info.type !== 'directory') throw new SftpError(Status.FAILURE, 'not a directory');
  await session.sendHandle(id, session.addHandle({ kind: 'directory', path, entries: null }));
};

const readdir: RequestHandler = async (session, id, req) => {
  const handle = session.handle(req.bytes());
  if (handle.kind !== 'directory') throw new SftpError(Status.FAILURE, 'the handle is not a directory');
  if (handle.entries === null) {
    const { files, space, owner } = session.ctx;
    // The folder, the one above it and the entries, looked up at once.
    const [self, parent, listed] = await Promise.all([
      statPath(session, handle.path),
      handle.path === '/' ? null : statPath(session, parentPath(handle.path)),
      files.list(space, handle.path).catch((err: unknown) => {
        // A user who never uploaded may have no folder yet: the root is then empty.
        if (handle.path === '/' && err instanceof StoreError && err.code === 'not-found') return [];
        throw err;
      }),
    ]);
    // "." and ".." as a Unix server lists them; ".." of the root is the root.
    handle.entries = [nameEntry(self, '.', owner), nameEntry(parent ?? self, '..', owner), ...listed.map((f) => nameEntry(f, f.name, owner))];
  }
  if (handle.entries.length === 0) {
    await session.status(id, Status.EOF, 'no more entries');
    return;
  }
  const batch: NameEntry[] = handle.entries.splice(0, NAMES_PER_REPLY);
  await session.sendNames(id, batch);
};

const remove: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  const info = await statPath(session, path);
  if (info.type === 'directory') throw new SftpError(Status.FAILURE, 'is a directory (use rmdir)');
  await session.ctx.files.removeFile(session.ctx.space, path);
  session.log.info('file removed', { path });
  await session.ok(id);
};

const mkdir: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  const mode = creationMode(req.attrs());
  if (path === '/') throw new SftpError(Status.FAILURE, 'the root directory exists');
  const made = await session.ctx.files.makeDirectory(session.ctx.space, path);
  // OpenSSH's 0777 less the umask is the 0755 a new folder has already: no second step then.
  if (mode !== null && mode !== made.mode) await session.ctx.files.setMode(session.ctx.space, path, mode);
  await session.ok(id);
};

const rmdir: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  if (path === '/') throw new SftpError(Status.FAILURE, 'the root directory cannot be removed');
  const info = await statPath(session, path);
  if (info.type !== 'directory') throw new SftpError(Status.FAILURE, 'not a directory');
  await session.ctx.files.removeDirectory(session.ctx.space, path);
  await session.ok(id);
};

/** Renames as v3 says: an existing target is an error (posix-rename@openssh.com replaces it). */
export async function renamePath(session: SftpSession, from: string, to: string, overwrite: boolean): Promise<void> {
  if (from === '/' || to === '/') throw new SftpError(Status.FAILURE, 'the root directory cannot be renamed');
  await statPath(session, from);
  const target = await session.ctx.files.stat(session.ctx.space, to);
  if (target && (!overwrite || target.type === 'directory')) throw new SftpError(Status.FAILURE, 'the target exists');
  await session.ctx.files.rename(session.ctx.space, from, to, { overwrite });
  session.log.info('file renamed', { from, to });
}

const rename: RequestHandler = async (session, id, req) => {
  const from = requestPath(req);
  const to = requestPath(req);
  await renamePath(session, from, to, false);
  await session.ok(id);
};

/**
 * The canonical form of a path: absolute, inside the space. Clients ask for "." first to
 * learn their home, which is the space's root; ".." of the root is the root.
 */
const realpath: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  await session.sendNames(id, [{ filename: path, longname: path, attrs: {} }]);
};

const symlinkRefused: RequestHandler = async (session, id) => {
  await session.status(id, Status.OP_UNSUPPORTED, 'symbolic links are not supported');
};

export const pathRequests: Array<[PacketType, RequestHandler]> = [
  [PacketType.STAT, stat],
  [PacketType.LSTAT, stat],
  [PacketType.SETSTAT, setstat],
  [PacketType.OPENDIR, opendir],
  [PacketType.READDIR, readdir],
  [PacketType.REMOVE, remove],
  [PacketType.MKDIR, mkdir],
  [PacketType.RMDIR, rmdir],
  [PacketType.RENAME, rename],
  [PacketType.REALPATH, realpath],
  [PacketType.READLINK, symlinkRefused],
  [PacketType.SYMLINK, symlinkRefused],
];
