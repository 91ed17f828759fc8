/**
 * The file store on the local disk: each user's files are real files in their own folder,
 * <dataDir>/files/<domain>/<local>/, the anonymous area is <dataDir>/files-anonymous/, so an
 * admin backs them up (and looks at them) with the usual tools. Uploads are written in
 * <dataDir>/files-uploads/ and renamed into place when committed (see local-io.ts).
 *
 * Every path is checked (assertNormalizedFilePath) and walked without following links (see
 * local-paths.ts). Everything goes through fs/promises, so the event loop never waits on the
 * disk. Usage is counted by walking a space once and then kept up to date by this store's own
 * operations; changes made behind its back (an admin copying files in) show after a restart.
 */
import { constants, type Stats } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, rename, rm, rmdir, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileInfo, FileReader, FileSpace, FileStore, FileUpload, UploadOptions } from '../file-store.js';
import { StoreError } from '../types.js';
import { LocalUpload, openLocalReader, type UploadHost } from './local-io.js';
import {
  UPLOADS_FOLDER,
  assertParentFolders,
  fsStep,
  infoOf,
  isServed,
  lstatOrNull,
  openFolderForSync,
  parentFoldersExist,
  resolvePath,
  resolvedIn,
  spaceExists,
  spaceFolder,
  syncOpenedFolder,
  type Resolved,
} from './local-paths.js';
import { NEW_FILE_MODE, NEW_FOLDER_MODE, effectiveMode, keptBytesFor } from './modes.js';
import { assertNormalizedFilePath, isNormalizedFilePath } from './path.js';
import { activeUploads, removeStaleUploads, scanUsage, tempName } from './local-usage.js';

/** A new temporary file: made here and now, never through a link. */
const NEW_TEMP_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** How many entries of a folder are looked at (lstat) at once while listing it. */
const LIST_BATCH = 64;

interface UsageEntry {
  /** The walk's result once known. */
  value: number | null;
  pending: Promise<number> | null;
  /** The space changed while the walk ran: its result may be off, walk again next time. */
  stale: boolean;
}

export class LocalFileStore implements FileStore {
  private readonly usageBySpace = new Map<string, UsageEntry>();
  private readonly spaceLocks = new Map<string, Promise<void>>();
  private closed = false;

  private constructor(
    readonly dataDir: string,
    private readonly uploadsDir: string,
  ) {}

  /** Opens the store on `dataDir`, creating its folders and removing uploads a crash left behind. */
  static async open(dataDir: string): Promise<LocalFileStore> {
    const uploadsDir = join(dataDir, UPLOADS_FOLDER);
    await mkdir(uploadsDir, { recursive: true, mode: 0o700 });
    await removeStaleUploads(uploadsDir);
    return new LocalFileStore(dataDir, uploadsDir);
  }

  async stat(space: FileSpace, path: string): Promise<FileInfo | null> {
    const at = await this.resolve(space, path);
    if (!(await parentFoldersExist(at))) return null;
    const st = await lstatOrNull(at.full);
    return isServed(st) ? infoOf(at.name, st) : null;
  }

  async list(space: FileSpace, path: string): Promise<FileInfo[]> {
    const at = await this.resolve(space, path);
    const st = await this.existing(at);
    if (!st.isDirectory()) throw new StoreError('conflict', 'not a folder');
    const names = (await fsStep(() => readdir(at.full)))
      // A name the protocols could not spell (invalid UTF-8, not NFC, a backslash) would be
      // listed but could never be opened: it is left out, like links.
      .filter((name) => isNormalizedFilePath('/' + name))
      .sort();
    const out: FileInfo[] = [];
    for (let i = 0; i < names.length; i += LIST_BATCH) {
      const batch = names.slice(i, i + LIST_BATCH);
      const stats = await Promise.all(batch.map((name) => lstatOrNull(join(at.full, name))));
      stats.forEach((entry, j) => {
        if (isServed(entry)) out.push(infoOf(batch[j]!, entry));
      });
    }
    return out;
  }

  async makeDirectory(space: FileSpace, path: string): Promise<FileInfo> {
    const at = await this.resolve(space, path);
    if (at.path === '/') throw new StoreError('conflict', 'the root folder exists');
    await assertParentFolders(at);
    await fsStep(() => mkdir(at.full, { mode: NEW_FOLDER_MODE }));
    // Independent of the process umask, so both store kinds report the same bits.
    await this.withHandle(at, (handle) => handle.chmod(NEW_FOLDER_MODE));
    await this.syncFolder(at.parent);
    return infoOf(at.name, await lstat(at.full));
  }

  async removeDirectory(space: FileSpace, path: string): Promise<void> {
    const at = await this.resolve(space, path);
    if (at.path === '/') throw new StoreError('invalid', 'the root folder cannot be removed');
    const st = await this.existing(at);
    if (!st.isDirectory()) throw new StoreError('conflict', 'not a folder');
    await fsStep(() => rmdir(at.full));
    await this.syncFolder(at.parent);
  }

  async removeFile(space: FileSpace, path: string): Promise<void> {
    const at = await this.resolve(space, path);
    if (at.path === '/') throw new StoreError('invalid', 'the root is a folder');
    await this.serialize(at.root, async () => {
      const st = await this.existing(at);
      if (st.isDirectory()) throw new StoreError('conflict', 'a folder is not removed as a file');
      await fsStep(() => unlink(at.full));
      this.adjustUsage(at.root, -st.size);
      await this.syncFolder(at.parent);
    });
  }

  async rename(space: FileSpace, from: string, to: string, options?: { overwrite?: boolean }): Promise<void> {
    const source = await this.resolve(space, from);
    const target = await this.resolve(space, to);
    if (source.path === '/' || target.path === '/') throw new StoreError('invalid', 'the root cannot be renamed');
    await this.serialize(source.root, () => this.renameResolved(source, target, options?.overwrite === true));
  }

  private async renameResolved(source: Resolved, target: Resolved, overwrite: boolean): Promise<void> {
    const st = await this.existing(source);
    if (source.path === target.path) return;
    if (target.path.startsWith(source.path + '/')) throw new StoreError('invalid', 'a folder cannot move into itself');
    await assertParentFolders(target);
    const parent = await lstatOrNull(target.parent);
    if (parent === null || !parent.isDirectory()) throw new StoreError('not-found', 'no such folder');
    const existing = await lstatOrNull(target.full);
    if (existing !== null) {
      if (!overwrite || !existing.isFile() || !st.isFile()) {
        throw new StoreError('conflict', 'the new name is taken');
      }
      await fsStep(() => rename(source.full, target.full));
      this.adjustUsage(source.root, -existing.size);
    } else if (st.isFile()) {
      // link() refuses an existing name atomically, so a file that appeared meanwhile is not replaced.
      await fsStep(() => link(source.full, target.full));
      await fsStep(() => unlink(source.full));
    } else {
      await fsStep(() => rename(source.full, target.full));
    }
    await this.syncFolder(target.parent);
    if (target.parent !== source.parent) await this.syncFolder(source.parent);
  }

  async setMode(space: FileSpace, path: string, mode: number): Promise<void> {
    const at = await this.resolve(space, path);
    const st = await this.existing(at);
    const bits = effectiveMode(st.isDirectory() ? 'directory' : 'file', mode);
    await this.withHandle(at, (handle) => handle.chmod(bits));
  }

  async setModified(space: FileSpace, path: string, modified: Date): Promise<void> {
    if (Number.isNaN(modified.getTime())) throw new StoreError('invalid', 'not a time');
    const at = await this.resolve(space, path);
    const st = await this.existing(at);
    await this.withHandle(at, (handle) => handle.utimes(st.atime, modified));
  }

  async openRead(space: FileSpace, path: string): Promise<FileReader> {
    const at = await this.resolve(space, path);
    if (at.path === '/') throw new StoreError('conflict', 'the root is a folder');
    return openLocalReader(at);
  }

  async createUpload(space: FileSpace, path: string, options: UploadOptions): Promise<FileUpload> {
    if (options.mode === 'replace') {
      const upload = await this.createUploadAtOnce(space, path, options);
      if (upload) return upload;
    }
    const at = await this.resolve(space, path);
    if (at.path === '/') throw new StoreError('invalid', 'the root is a folder');
    // The folders above (the space folder itself was checked by resolve) and the name, at once.
    const [, existing] = await Promise.all([assertParentFolders(at), lstatOrNull(at.full)]);
    if (existing !== null && !existing.isFile()) {
      throw new StoreError('conflict', existing.isDirectory() ? 'a folder has that name' : 'the name is taken');
    }
    if (existing !== null && options.exclusive) throw new StoreError('conflict', 'the file exists');
    const keptBytes = keptBytesFor(options, existing?.size ?? 0);
    const tempPath = join(this.uploadsDir, tempName());
    activeUploads.add(tempPath);
    try {
      if (keptBytes > 0) {
        // The kept bytes are copied (a reflink where the file system has them): the visible file
        // must stay as it is until commit, and a crash must not leave it half appended.
        await fsStep(() => copyFile(at.full, tempPath, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE));
      }
      const handle = await open(tempPath, keptBytes > 0 ? constants.O_RDWR | constants.O_NOFOLLOW : NEW_TEMP_FLAGS, 0o600);
      try {
        if (keptBytes > 0) {
          const copied = await handle.stat();
          if (copied.size < keptBytes) throw new StoreError('conflict', 'the file changed meanwhile');
          await handle.truncate(keptBytes);
        }
      } catch (err) {
        await handle.close();
        throw err;
      }
      return this.newUpload(at, tempPath, handle, keptBytes, existing, options);
    } catch (err) {
      activeUploads.delete(tempPath);
      await unlink(tempPath).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The common upload, a file made or replaced whole, in one round through the thread pool:
   * the space folder, the folders above the name, the name and the new temporary file are
   * looked at and made at once (one after another they were three rounds, most of what a
   * small file's OPEN or STOR cost). Null, having made nothing, when any of it is not as
   * expected: the step-by-step path then runs, creating the space folder on first use or
   * giving the error.
   */
  private async createUploadAtOnce(space: FileSpace, path: string, options: UploadOptions): Promise<FileUpload | null> {
    if (this.closed) throw new Error('the file store is closed');
    assertNormalizedFilePath(path);
    const at = resolvedIn(spaceFolder(this.dataDir, space).root, path);
    if (at.path === '/') return null;
    const tempPath = join(this.uploadsDir, tempName());
    activeUploads.add(tempPath);
    const [spaceOk, parentsOk, existing, handle] = await Promise.allSettled([
      spaceExists(this.dataDir, space),
      parentFoldersExist(at),
      lstatOrNull(at.full),
      open(tempPath, NEW_TEMP_FLAGS, 0o600),
    ]);
    const found = existing.status === 'fulfilled' ? existing.value : undefined;
    const usable =
      spaceOk.status === 'fulfilled' &&
      spaceOk.value &&
      parentsOk.status === 'fulfilled' &&
      parentsOk.value &&
      found !== undefined &&
      (found === null || (found.isFile() && !options.exclusive)) &&
      handle.status === 'fulfilled';
    if (!usable) {
      activeUploads.delete(tempPath);
      if (handle.status === 'fulfilled') {
        await handle.value.close().catch(() => undefined);
        await unlink(tempPath).catch(() => undefined);
      }
      return null;
    }
    return this.newUpload(at, tempPath, handle.value, 0, found, options);
  }

  /** An upload of `at` into the temporary file `handle` holds; `existing` is the file it replaces. */
  private newUpload(at: Resolved, tempPath: string, handle: FileHandle, keptBytes: number, existing: Stats | null, options: UploadOptions): LocalUpload {
    const root = at.root;
    const host: UploadHost = {
      adjustUsage: (delta) => this.adjustUsage(root, delta),
      released: (temp) => activeUploads.delete(temp),
      serialize: (step) => this.serialize(root, step),
    };
    return new LocalUpload(host, {
      target: at,
      tempPath,
      handle,
      keptBytes,
      replacedBytes: existing?.size ?? 0,
      mode: existing ? existing.mode & 0o7777 : NEW_FILE_MODE,
      exclusive: options.exclusive === true,
      maxBytes: options.maxBytes,
    });
  }

  async usage(space: FileSpace): Promise<number> {
    const { root } = spaceFolder(this.dataDir, space);
    let entry = this.usageBySpace.get(root);
    if (entry?.value != null) return entry.value;
    if (entry?.pending) return entry.pending;
    entry = { value: null, pending: null, stale: false };
    this.usageBySpace.set(root, entry);
    const walking = entry;
    walking.pending = scanUsage(root).then(
      (bytes) => {
        walking.pending = null;
        if (walking.stale) this.usageBySpace.delete(root);
        else walking.value = bytes;
        return bytes;
      },
      (err: unknown) => {
        this.usageBySpace.delete(root);
        throw err;
      },
    );
    return walking.pending;
  }

  async capacity(_space: FileSpace): Promise<{ totalBytes: number; freeBytes: number }> {
    const fs = await statfs(this.dataDir);
    // bavail, not bfree: what an unprivileged process (this server) can still write.
    return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  }

  async removeSpace(space: FileSpace): Promise<void> {
    const { root } = spaceFolder(this.dataDir, space);
    await this.serialize(root, async () => {
      // rm removes links themselves, never what they point at.
      await rm(root, { recursive: true, force: true });
      this.usageBySpace.delete(root);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.usageBySpace.clear();
  }

  private async resolve(space: FileSpace, path: string): Promise<Resolved> {
    if (this.closed) throw new Error('the file store is closed');
    assertNormalizedFilePath(path);
    return resolvePath(this.dataDir, space, path);
  }

  /** What is at `at`, which must be a served file or folder ('not-found' otherwise). */
  private async existing(at: Resolved): Promise<Stats> {
    await assertParentFolders(at);
    const st = await lstatOrNull(at.full);
    if (!isServed(st)) throw new StoreError('not-found', 'no such file or folder');
    return st;
  }

  /** Runs `step` on the file or folder opened without following a link (fchmod, futimes). */
  private async withHandle(at: Resolved, step: (handle: FileHandle) => Promise<void>): Promise<void> {
    const handle = await fsStep(() => open(at.full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
    try {
      await step(handle);
    } finally {
      await handle.close();
    }
  }

  /**
   * Runs `step` after every earlier change to the space's names (this process's): a usage
   * adjustment reads a size and then changes the name, and two of them interleaved (two
   * uploads to one new name) would count a file twice.
   */
  private serialize<T>(root: string, step: () => Promise<T>): Promise<T> {
    const previous = this.spaceLocks.get(root) ?? Promise.resolve();
    const run = previous.then(step);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.spaceLocks.set(root, tail);
    void tail.then(() => {
      if (this.spaceLocks.get(root) === tail) this.spaceLocks.delete(root);
    });
    return run;
  }

  private adjustUsage(root: string, delta: number): void {
    const entry = this.usageBySpace.get(root);
    if (!entry) return;
    if (entry.value !== null) entry.value = Math.max(0, entry.value + delta);
    else entry.stale = true;
  }

  /** fsync of a folder: makes the names created, renamed or removed in it durable. */
  private async syncFolder(folder: string): Promise<void> {
    // Null: another session removed the folder meanwhile (SFTP REMOVE of its last file racing
    // an RMDIR); whoever removed it synced its parent, which makes this change durable too.
    await syncOpenedFolder(await openFolderForSync(folder));
  }
}
