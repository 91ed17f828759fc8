/**
 * Requests on open files: OPEN, READ, WRITE, CLOSE, FSTAT, FSETSTAT. Reading is positional on
 * the store's FileReader; writing goes to a FileUpload, which shows the file under its name
 * only when CLOSE commits it, so STATUS OK to CLOSE means the bytes are durable and a client
 * that vanishes mid-upload leaves no half file.
 */
import { normalizeFilePath } from '../store/files/path.js';
import type { FileInfo, FileUpload } from '../store/file-store.js';
import { StoreError } from '../store/types.js';
import { replyAttrs } from './attributes.js';
import type { OpenHandle, RequestHandler, SftpSession, WriteHandle } from './engine.js';
import { SftpError } from './errors.js';
import { MAX_READ_BYTES, OpenFlag, PacketType, S_IFREG, Status } from './protocol.js';
import { endReadAhead, newReadAhead, readAt } from './read-ahead.js';
import { DATA_HEADER_BYTES, type FieldReader, type RequestAttrs } from './wire.js';
import { acceptWrite, flushUpload, newWriteBehind, settleUpload, writeSmallUploadNow } from './write-behind.js';

/** The path of a request, resolved inside the space (relative names start at its root). */
export function requestPath(req: FieldReader): string {
  return normalizeFilePath('/', req.text());
}

/** The permission bits and time a request's attributes set (size, owners are not kept). */
export function settableAttrs(attrs: RequestAttrs): { mode: number | null; modified: Date | null } {
  return {
    mode: attrs.permissions === undefined ? null : attrs.permissions & 0o7777,
    modified: attrs.mtime === undefined ? null : new Date(attrs.mtime * 1000),
  };
}

/**
 * Bits a mode given at creation loses: group and other write, as OpenSSH's sftp-server loses
 * them to sshd's usual umask. OpenSSH's `mkdir` asks for 0777 and `put` for the local file's
 * mode, so without it a plain `mkdir` made a folder everyone may write to.
 */
export const CREATION_UMASK = 0o022;

/**
 * The mode a new file or folder gets from the attributes of OPEN or MKDIR: what the client
 * asked less CREATION_UMASK (null: the store's default). SETSTAT and FSETSTAT (chmod,
 * `put -p`) set exactly what they ask.
 */
export function creationMode(attrs: RequestAttrs): number | null {
  const { mode } = settableAttrs(attrs);
  return mode === null ? null : mode & ~CREATION_UMASK;
}

/**
 * SETSTAT/FSETSTAT on a file or folder that exists: permission bits and modification time.
 * Owners do not exist in a space and sizes change only by uploading, so asking to change
 * them alone is refused rather than answered OK for nothing (`chown` says it failed);
 * alongside permissions or times, as `put -p` sends them, they are left out.
 */
export async function setAttributes(session: SftpSession, path: string, attrs: RequestAttrs): Promise<void> {
  const { files, space } = session.ctx;
  const { mode, modified } = settableAttrs(attrs);
  const info = await files.stat(space, path);
  if (!info) throw new SftpError(Status.NO_SUCH_FILE, 'no such file or directory');
  if (attrs.size !== undefined && attrs.size !== info.size) {
    throw new SftpError(Status.OP_UNSUPPORTED, 'changing the size of a file is not supported');
  }
  if (mode === null && modified === null && attrs.uid !== undefined) {
    throw new SftpError(Status.OP_UNSUPPORTED, 'files have no Unix owner here');
  }
  if (mode !== null) await files.setMode(space, path, mode);
  if (modified !== null) await files.setModified(space, path, modified);
}

const open: RequestHandler = async (session, id, req) => {
  const path = requestPath(req);
  const flags = req.uint32();
  const attrs = req.attrs();
  const reading = (flags & OpenFlag.READ) !== 0;
  const writing = (flags & (OpenFlag.WRITE | OpenFlag.APPEND)) !== 0;
  if (reading && writing) {
    // An upload becomes the file only when closed, so there is nothing to read back meanwhile.
    throw new SftpError(Status.OP_UNSUPPORTED, 'a file is opened for reading or for writing, not both');
  }
  if (!writing) {
    const reader = await session.ctx.files.openRead(session.ctx.space, path).catch(folderIsNoFile);
    try {
      await session.sendHandle(id, session.addHandle({ kind: 'read', path, reader, readAhead: newReadAhead() }));
    } catch (err) {
      // Too many handles: the reader must not stay open.
      await reader.close().catch(() => undefined);
      throw err;
    }
    return;
  }
  const handle = await openForWriting(session, path, flags, attrs);
  let handleId: Buffer;
  try {
    handleId = session.addHandle(handle);
  } catch (err) {
    // Too many handles: the upload just created must not stay behind.
    await handle.upload?.abort({ keepPartial: false }).catch(() => undefined);
    throw err;
  }
  await session.sendHandle(id, handleId);
};

/** Opening a folder as a file: say so rather than the store's generic conflict. */
function folderIsNoFile(err: unknown): never {
  if (err instanceof StoreError && err.code === 'conflict') throw new SftpError(Status.FAILURE, 'is a directory');
  throw err;
}

/**
 * Maps the open flags onto an upload: TRUNC (or CREAT of a missing file) writes a new file,
 * APPEND adds to the end, and WRITE alone on an existing file rewrites it from the first
 * WRITE's offset on (a resumed upload). EXCL makes an existing file a failure.
 */
async function openForWriting(session: SftpSession, path: string, flags: number, attrs: RequestAttrs): Promise<WriteHandle> {
  const { files, space } = session.ctx;
  const maxBytes = await session.ctx.uploadAllowance();
  const mode = creationMode(attrs);
  if ((flags & (OpenFlag.CREAT | OpenFlag.TRUNC | OpenFlag.APPEND | OpenFlag.EXCL)) === (OpenFlag.CREAT | OpenFlag.TRUNC)) {
    // What every client sends for a new upload: the store checks the name itself, so no STAT
    // first (one file at a time, that is a fair part of the time per file). The size of the
    // file replaced is looked up only if the quota needs it.
    try {
      const upload = await files.createUpload(space, path, { mode: 'replace', maxBytes });
      return newWriteHandle(path, { upload, replacedBytes: null, maxBytes, mode });
    } catch (err) {
      // A folder or something else in the way: the checks below say what.
      if (!(err instanceof StoreError && err.code === 'conflict')) throw err;
    }
  }
  const existing = await files.stat(space, path);
  if (existing?.type === 'directory') throw new SftpError(Status.FAILURE, 'is a directory');
  const exclusive = (flags & OpenFlag.EXCL) !== 0;
  if (exclusive && existing) throw new SftpError(Status.FAILURE, 'file exists');
  if (!existing && (flags & OpenFlag.CREAT) === 0) throw new SftpError(Status.NO_SUCH_FILE, 'no such file');
  const handle = newWriteHandle(path, { upload: null, replacedBytes: existing?.size ?? 0, maxBytes, mode });
  if (flags & OpenFlag.APPEND) {
    handle.upload = await files.createUpload(space, path, { mode: 'append', maxBytes });
    handle.keptBytes = existing?.size ?? 0;
    handle.append = true;
    handle.nextOffset = null;
  } else if (flags & OpenFlag.TRUNC || !existing) {
    handle.upload = await files.createUpload(space, path, { mode: 'replace', exclusive, maxBytes });
  } else {
    handle.nextOffset = null;
  }
  return handle;
}

function newWriteHandle(
  path: string,
  init: { upload: FileUpload | null; replacedBytes: number | null; maxBytes: number | null; mode: number | null },
): WriteHandle {
  return {
    kind: 'write',
    path,
    ...init,
    keptBytes: 0,
    acceptedBytes: 0,
    writeBehind: newWriteBehind(),
    nextOffset: 0,
    append: false,
    failure: null,
    early: new Map(),
    earlyBytes: 0,
    modified: null,
  };
}

const close: RequestHandler = async (session, id, req) => {
  const handleId = req.bytes();
  const handle = session.handle(handleId);
  session.removeHandle(handleId);
  if (handle.kind === 'read') {
    await endReadAhead(session, handle);
    await handle.reader.close();
    await session.ok(id);
    return;
  }
  if (handle.kind === 'directory') {
    await session.ok(id);
    return;
  }
  if (handle.failure) {
    // The upload was given up when a WRITE failed: CLOSE must not look like success, and
    // answers once the giving up is done (no temporary file, or the partial one kept).
    await handle.givingUp;
    await session.status(id, handle.failure.status, handle.failure.message);
    return;
  }
  if (!handle.upload) {
    // Opened for rewriting but nothing written: the file stays as it was.
    await session.ok(id);
    return;
  }
  if (handle.early.size > 0) {
    // Bytes after a hole cannot be stored, and keeping those before it would pass for the file.
    await settleUpload(session, handle, false);
    await handle.upload.abort({ keepPartial: false }).catch(() => {});
    const gapAt = handle.nextOffset;
    throw new SftpError(Status.FAILURE, `the data written has a gap at offset ${gapAt}; nothing was stored`);
  }
  // The bytes still gathered are written first; a failed write gives the upload up (its status is the answer).
  await flushUpload(session, handle);
  let info: FileInfo;
  try {
    info = await handle.upload.commit();
  } catch (err) {
    await handle.upload.abort({ keepPartial: false }).catch(() => {});
    throw err;
  }
  session.log.info('file uploaded', { path: handle.path, bytes: handle.keptBytes + handle.acceptedBytes });
  await applyAttrs(session, handle, info);
  await session.ok(id);
};

/**
 * Permissions and time asked for at OPEN or by FSETSTAT (`put -p`) are set once the file
 * exists under its name. The data is committed by then, so a failure here is logged, not
 * reported as a failed upload.
 */
async function applyAttrs(session: SftpSession, handle: WriteHandle, committed: FileInfo): Promise<void> {
  const { files, space } = session.ctx;
  try {
    // Clients send the usual 0644 with every OPEN, which the new file has already.
    if (handle.mode !== null && handle.mode !== committed.mode) await files.setMode(space, handle.path, handle.mode);
    if (handle.modified !== null) await files.setModified(space, handle.path, handle.modified);
  } catch (err) {
    session.log.warn('setting attributes after upload failed', { path: handle.path, error: (err as Error).message });
  }
}

const read: RequestHandler = async (session, id, req) => {
  const handle = session.handle(req.bytes());
  const offset = req.uint64();
  const length = req.uint32();
  if (handle.kind !== 'read') throw new SftpError(Status.FAILURE, 'the handle is not open for reading');
  const room = session.earlierRepliesCopied ? DATA_HEADER_BYTES : 0;
  const { pieces, length: got, roomInFront } = await readAt(session, handle, offset, Math.min(length, MAX_READ_BYTES), room);
  if (got === 0) await session.status(id, Status.EOF, 'end of file');
  // The channel is asked again: the wait for the block may have let a reply queue meanwhile.
  else if (roomInFront && session.earlierRepliesCopied) await session.sendDataInPlace(id, pieces[0]!);
  else await session.sendData(id, pieces);
};

/**
 * WRITEs ahead of the next expected offset held back per upload, waiting for the bytes before
 * them. A client with several WRITEs in flight may send a later block before the rest of an
 * earlier one (ssh2's fastPut splits blocks to fit the server's packet size); more than this
 * is no longer a reordering but a file with holes, which the store cannot write.
 */
export const MAX_EARLY_BYTES = 4 * 1024 * 1024;

const write: RequestHandler = async (session, id, req) => {
  const handle = session.handle(req.bytes());
  const offset = req.uint64();
  const data = req.bytes();
  await writeAt(session, handle, offset, data);
  await session.ok(id);
};

/**
 * What a WRITE does, also for copy-data: the bytes at `offset` of the upload on `handle`,
 * accepted now and written behind (write-behind.ts); a failure gives the whole upload up.
 * `data` is kept (not copied) when it arrives ahead of the bytes before it.
 */
export async function writeAt(session: SftpSession, handle: OpenHandle, offset: number, data: Buffer): Promise<void> {
  if (handle.kind !== 'write') throw new SftpError(Status.FAILURE, 'the handle is not open for writing');
  if (handle.failure) throw new SftpError(handle.failure.status, handle.failure.message);
  if (!handle.upload) {
    // The first WRITE of a rewrite: the old bytes before its offset stay.
    const { maxBytes } = handle;
    handle.upload = await session.ctx.files.createUpload(session.ctx.space, handle.path, { mode: 'resume', offset, maxBytes });
    handle.keptBytes = offset;
    handle.nextOffset = offset;
  }
  if (handle.nextOffset !== null && offset !== handle.nextOffset) {
    const early = offset > handle.nextOffset && !handle.early.has(offset) && handle.earlyBytes + data.length <= MAX_EARLY_BYTES;
    if (!early) {
      // The store writes at the end only, which is what every client's pipelined upload does.
      throw new SftpError(Status.OP_UNSUPPORTED, `writes must be sequential: expected offset ${handle.nextOffset}, got ${offset}`);
    }
    // Accepted now, written once the gap before it is filled; CLOSE fails if it never is.
    handle.early.set(offset, data);
    handle.earlyBytes += data.length;
    return;
  }
  await acceptWrite(session, handle, data);
  while (handle.nextOffset !== null && handle.early.has(handle.nextOffset)) {
    const next = handle.early.get(handle.nextOffset)!;
    handle.early.delete(handle.nextOffset);
    handle.earlyBytes -= next.length;
    await acceptWrite(session, handle, next);
  }
  writeSmallUploadNow(session, handle);
}

const fstat: RequestHandler = async (session, id, req) => {
  const handle = session.handle(req.bytes());
  if (handle.kind === 'read') {
    await session.sendAttrs(id, replyAttrs(handle.reader.info));
    return;
  }
  if (handle.kind === 'directory') {
    const info = await session.ctx.files.stat(session.ctx.space, handle.path);
    if (!info) throw new SftpError(Status.NO_SUCH_FILE, 'no such directory');
    await session.sendAttrs(id, replyAttrs(info));
    return;
  }
  // An upload in progress: what the file will be when closed.
  const seconds = Math.floor(Date.now() / 1000);
  await session.sendAttrs(id, {
    size: handle.keptBytes + handle.acceptedBytes,
    permissions: S_IFREG | (handle.mode ?? 0o644),
    atime: seconds,
    mtime: seconds,
  });
};

const fsetstat: RequestHandler = async (session, id, req) => {
  const handle = session.handle(req.bytes());
  const attrs = req.attrs();
  const { mode, modified } = settableAttrs(attrs);
  if (handle.kind === 'write') {
    const size = handle.keptBytes + handle.acceptedBytes;
    if (attrs.size !== undefined && attrs.size !== size) {
      throw new SftpError(Status.OP_UNSUPPORTED, 'changing the size of an open file is not supported');
    }
    if (mode !== null) handle.mode = mode;
    if (modified !== null) handle.modified = modified;
    await session.ok(id);
    return;
  }
  await setAttributes(session, handle.path, attrs);
  await session.ok(id);
};

export const fileRequests: Array<[PacketType, RequestHandler]> = [
  [PacketType.OPEN, open],
  [PacketType.CLOSE, close],
  [PacketType.READ, read],
  [PacketType.WRITE, write],
  [PacketType.FSTAT, fstat],
  [PacketType.FSETSTAT, fsetstat],
];
