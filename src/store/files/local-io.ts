/**
 * Reading and writing files of the local-disk store. A reader holds the file open, so it keeps
 * seeing the bytes it opened even when an upload replaces the file meanwhile. An upload writes
 * to a temporary file in the uploads folder (on the same file system as the spaces, so the
 * final rename is atomic) and only commit() puts it under its name, after fsync of the data;
 * the folder is fsync'd after the rename, so once commit() resolves the new name survives a
 * power cut too.
 */
import { constants, type Stats } from 'node:fs';
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { FileInfo, FileReader, FileUpload } from '../file-store.js';
import { StoreError } from '../types.js';
import { assertParentFolders, fsStep, infoOf, lstatOrNull, openFolderForSync, syncOpenedFolder, type Resolved } from './local-paths.js';

/** The largest chunk stream() yields, and the most one read() returns. */
export const READ_CHUNK_BYTES = 256 * 1024;
const MAX_READ_BYTES = 1024 * 1024;

/** Opens a regular file for reading, never through a link: 'conflict' for a folder. */
export async function openLocalReader(resolved: Resolved): Promise<FileReader> {
  await assertParentFolders(resolved);
  const handle = await fsStep(() => open(resolved.full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new StoreError('conflict', 'a folder cannot be read as a file');
    // A FIFO or device planted by someone else is not served (O_NONBLOCK kept the open from waiting on it).
    if (!st.isFile()) throw new StoreError('not-found', 'no such file');
    return new LocalReader(handle, infoOf(resolved.name, st));
  } catch (err) {
    await handle.close();
    throw err;
  }
}

class LocalReader implements FileReader {
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    readonly info: FileInfo,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    if (this.closed) throw new Error('the file is closed');
    if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new StoreError('invalid', 'bad read range');
    }
    const buffer = Buffer.allocUnsafe(Math.min(length, MAX_READ_BYTES));
    if (buffer.length === 0) return buffer;
    const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, position);
    return buffer.subarray(0, bytesRead);
  }

  async readInto(target: Buffer, position: number): Promise<number> {
    if (this.closed) throw new Error('the file is closed');
    if (!Number.isSafeInteger(position) || position < 0) throw new StoreError('invalid', 'bad read range');
    // read(2) may return less than asked before the end (a signal, a network file system):
    // only 0 means the end, so read on until the buffer is full or the end is reached.
    let filled = 0;
    while (filled < target.length) {
      const { bytesRead } = await this.handle.read(target, filled, target.length - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
  }

  async *stream(start = 0): AsyncIterable<Buffer> {
    // One read ahead: the disk (or page cache) is read while the consumer writes the previous
    // chunk, instead of the two taking turns. A fresh buffer each time: the consumer may still
    // hold the previous one (a socket write).
    let position = start;
    let next: Promise<Buffer> | null = this.read(position, READ_CHUNK_BYTES);
    try {
      for (;;) {
        const chunk: Buffer = await next;
        next = null;
        if (chunk.length === 0) return;
        position += chunk.length;
        next = this.read(position, READ_CHUNK_BYTES);
        yield chunk;
      }
    } finally {
      // A consumer that stopped early: let the read in flight finish before close() runs.
      if (next) await next.catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** What an upload needs from its store. */
export interface UploadHost {
  /** The usage of the upload's space changed by `delta` bytes. */
  adjustUsage(delta: number): void;
  /** The temporary file is no longer in use (committed or removed). */
  released(tempPath: string): void;
  /** Runs `step` while no other change to the space's names runs (so usage stays exact). */
  serialize<T>(step: () => Promise<T>): Promise<T>;
}

export interface LocalUploadSetup {
  target: Resolved;
  tempPath: string;
  handle: FileHandle;
  /** Bytes already in the temporary file (kept from the existing file for 'append'/'resume'). */
  keptBytes: number;
  /** Size of the file being replaced when the upload started (0 for a new one), for the quota. */
  replacedBytes: number;
  mode: number;
  exclusive: boolean;
  maxBytes: number | null;
}

type UploadState = 'open' | 'committing' | 'done';

/**
 * While a large upload streams in, its bytes are flushed to disk every this many bytes in the
 * background, so the disk writes while the network reads, and the fsync before "accepted" has
 * only the last stretch left instead of the whole file.
 */
const BACKGROUND_FLUSH_BYTES = 64 * 1024 * 1024;

export class LocalUpload implements FileUpload {
  bytesWritten = 0;
  private state: UploadState = 'open';
  private handleOpen = true;
  private unflushedBytes = 0;
  /** The background flush in progress, if any (its failure is seen by the final sync). */
  private flushing: Promise<void> | null = null;
  /** A write failed part way: bytes past what was counted may be in the file. */
  private writeFailed = false;
  /**
   * The file's final mode, set while the bytes stream in rather than as one more step before
   * the sync; the sync waits for it (and reports its failure).
   */
  private modeSet: Promise<unknown>;
  /** The temporary file's handle being closed after its sync, alongside the rename. */
  private closing: Promise<void> | null = null;
  /** The temporary file as synced: what the committed file is. */
  private synced: Stats | null = null;

  constructor(
    private readonly host: UploadHost,
    private readonly setup: LocalUploadSetup,
  ) {
    this.modeSet = setup.handle.chmod(setup.mode).then(
      () => null,
      (err: unknown) => err,
    );
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') throw new Error('the upload is finished');
    const { keptBytes, replacedBytes, maxBytes } = this.setup;
    // What the space grows by if this chunk is written: the new file's size minus the one it replaces.
    const growth = keptBytes + this.bytesWritten + chunk.length - replacedBytes;
    if (maxBytes !== null && growth > maxBytes) throw new StoreError('quota', 'the upload would exceed the quota');
    let offset = 0;
    try {
      while (offset < chunk.length) {
        const { bytesWritten } = await this.setup.handle.write(
          chunk,
          offset,
          chunk.length - offset,
          keptBytes + this.bytesWritten + offset,
        );
        offset += bytesWritten;
      }
    } catch (err) {
      this.writeFailed = true;
      throw err;
    }
    this.bytesWritten += chunk.length;
    this.unflushedBytes += chunk.length;
    if (this.unflushedBytes >= BACKGROUND_FLUSH_BYTES && this.flushing === null) {
      this.unflushedBytes = 0;
      const handle = this.setup.handle;
      this.flushing = handle.datasync().then(
        () => {
          this.flushing = null;
        },
        () => {
          // The final sync reports what went wrong.
          this.flushing = null;
        },
      );
    }
  }

  async sync(): Promise<void> {
    if (this.state !== 'open') throw new Error('the upload is finished');
    await this.syncData();
  }

  async commit(): Promise<FileInfo> {
    if (this.state !== 'open') throw new Error('the upload is finished');
    this.state = 'committing';
    try {
      const info = await this.place();
      this.state = 'done';
      this.host.released(this.setup.tempPath);
      return info;
    } catch (err) {
      // A failed commit leaves the temporary file for abort() to remove.
      this.state = 'open';
      throw err;
    }
  }

  async abort(options?: { keepPartial?: boolean }): Promise<void> {
    if (this.state !== 'open') return;
    if (options?.keepPartial) {
      try {
        await this.commit();
        return;
      } catch {
        // Keeping the bytes failed (the folder went away, the disk is full): fall through and drop them.
      }
    }
    this.state = 'done';
    await this.modeSet;
    await (this.closing ?? this.closeHandle()).catch(() => undefined);
    await unlink(this.setup.tempPath).catch(() => undefined);
    this.host.released(this.setup.tempPath);
  }

  /**
   * fsync the data, then rename into place, then fsync the folder: only then is it durable.
   * The sync is started before the space's names are serialized, so concurrent uploads still
   * sync side by side; the checks before the rename run while it does (see rename()).
   */
  private async place(): Promise<FileInfo> {
    const synced = this.syncData();
    synced.catch(() => undefined);
    const info = await this.host.serialize(() => this.rename(synced));
    // The handle closed while the name was moved (a rename does not need it closed).
    await this.closing;
    return info;
  }

  /**
   * The temporary file's bytes and mode on disk (once); its handle is then closed in the
   * background (this.closing). Each step is a round through the thread pool, so only what is
   * needed runs, and what can runs at the same time.
   */
  private async syncData(): Promise<void> {
    const { handle } = this.setup;
    if (this.synced !== null || !this.handleOpen) return;
    await this.flushing;
    // A write that failed half way may have left bytes past what was counted: drop them.
    if (this.writeFailed) await handle.truncate(this.setup.keptBytes + this.bytesWritten);
    const modeFailure = await this.modeSet;
    if (modeFailure) throw modeFailure;
    const [, st] = await Promise.all([handle.sync(), handle.stat()]);
    this.synced = st;
    this.closing = this.closeHandle();
    // Awaited by place() or abort(); a failure must not go unhandled before then.
    this.closing.catch(() => undefined);
  }

  /**
   * Puts the synced file under its name, once `synced` resolves. Each step is a round through
   * the thread pool, and a small file's upload is mostly those rounds, so what does not depend
   * on the sync runs with it: the checks of the folders and the name, and opening the folder
   * whose fsync makes the rename durable. Then the rename, then that fsync: three rounds, not five.
   */
  private async rename(synced: Promise<void>): Promise<FileInfo> {
    const { target, tempPath, exclusive } = this.setup;
    const folder = openFolderForSync(target.parent);
    folder.catch(() => undefined);
    let folderTaken = false;
    const syncFolder = async () => {
      folderTaken = true;
      // Not there when opened, yet the rename into it worked: it was made again meanwhile.
      await syncOpenedFolder((await folder) ?? (await openFolderForSync(target.parent)));
    };
    try {
      const [, , existing] = await Promise.all([synced, assertParentFolders(target), lstatOrNull(target.full)]);
      if (existing !== null && !existing.isFile()) {
        throw new StoreError('conflict', existing.isDirectory() ? 'a folder has that name' : 'the name is taken');
      }
      if (exclusive) {
        // link() fails if the name exists, atomically: two exclusive uploads cannot both win.
        await fsStep(() => link(tempPath, target.full));
        await Promise.all([unlink(tempPath), syncFolder()]);
      } else {
        await fsStep(() => rename(tempPath, target.full));
        await syncFolder();
      }
      // The file under its name is the temporary file as synced (same inode).
      const placed = this.synced!;
      this.host.adjustUsage(placed.size - sizeOf(exclusive ? null : existing));
      return infoOf(target.name, placed);
    } finally {
      // Not synced (a check failed): the descriptor is closed unused.
      if (!folderTaken) void folder.then((handle) => handle?.close()).catch(() => undefined);
    }
  }

  private async closeHandle(): Promise<void> {
    if (!this.handleOpen) return;
    this.handleOpen = false;
    // Never close the descriptor under a flush or a chmod still running on it.
    await this.flushing;
    await this.modeSet;
    await this.setup.handle.close();
  }
}

function sizeOf(st: Stats | null): number {
  return st?.isFile() ? st.size : 0;
}
