/**
 * Copying the users' files along with the store (`wharf store copy`): moving up to PostgreSQL
 * with `files.kind` "auto" moves the files into the database too, and a user must find them
 * there. Through the FileStore contract alone, so any two implementations can be the sides.
 *
 * Each user's space is walked folder by folder; a file already in the target with the same
 * size and modification time is left alone, so running the copy again resumes where it
 * stopped and brings changed files up to date. Files are streamed, never held whole, and each
 * is committed (durable) before the next starts; modification times and permission bits come
 * along. Nothing is ever deleted from the target. The verification compares both trees:
 * every folder and file present, same size and mode, and the same SHA-256 of the bytes.
 */
import { createHash } from 'node:crypto';
import type { FileInfo, FileSpace, FileStore } from './file-store.js';
import { StoreError, type AccountStore } from './types.js';

export interface FileCopySide {
  accounts: Pick<AccountStore, 'listUsers' | 'getUser'>;
  files: FileStore;
}

export interface FileCopyCounts {
  spaces: number;
  foldersMade: number;
  filesCopied: number;
  bytesCopied: number;
  /** Already in the target with the same size and modification time. */
  filesSkipped: number;
  /** Removed from the source while the copy reached them. */
  filesVanished: number;
  /** Files compared byte for byte by the verification. */
  filesVerified: number;
}

export interface FileCopyReport {
  counts: FileCopyCounts;
  /** What could not be copied, or differs after the copy (empty when all is well). */
  differences: string[];
}

export interface FileCopyOptions {
  signal?: AbortSignal;
  /** Compare both trees afterwards, checksums included (default true). */
  verify?: boolean;
  /** Called when a space is done. */
  onSpace?: (label: string, counts: Readonly<FileCopyCounts>) => void | Promise<void>;
}

interface SpacePair {
  label: string;
  from: FileSpace;
  to: FileSpace;
}

/** The spaces to copy: every source user's (by address in the target), and the anonymous area. */
async function spacePairs(source: FileCopySide, target: FileCopySide, differences: string[]): Promise<SpacePair[]> {
  const pairs: SpacePair[] = [{ label: 'anonymous area', from: { kind: 'anonymous' }, to: { kind: 'anonymous' } }];
  for (const user of await source.accounts.listUsers()) {
    const there = await target.accounts.getUser(user.address);
    if (!there) {
      differences.push(`files of ${user.address}: no such user in the target`);
      continue;
    }
    pairs.push({
      label: user.address,
      from: { kind: 'user', userId: user.id, address: user.address },
      to: { kind: 'user', userId: there.id, address: there.address },
    });
  }
  return pairs;
}

function childPath(folder: string, name: string): string {
  return folder === '/' ? `/${name}` : `${folder}/${name}`;
}

function isMissing(err: unknown): boolean {
  return err instanceof StoreError && err.code === 'not-found';
}

/** Every folder (parents first) and file of a space, as it is listed now. */
async function* walk(files: FileStore, space: FileSpace, signal?: AbortSignal): AsyncGenerator<{ path: string; info: FileInfo }> {
  const folders = ['/'];
  while (folders.length > 0) {
    signal?.throwIfAborted();
    const folder = folders.shift()!;
    let entries: FileInfo[];
    try {
      entries = await files.list(space, folder);
    } catch (err) {
      // Removed meanwhile (a live source): nothing below it to copy.
      if (isMissing(err)) continue;
      throw err;
    }
    for (const info of entries) {
      const path = childPath(folder, info.name);
      yield { path, info };
      if (info.type === 'directory') folders.push(path);
    }
  }
}

function sameFile(a: FileInfo, b: FileInfo | null): boolean {
  return b !== null && b.type === 'file' && b.size === a.size && Math.floor(b.modified.getTime() / 1000) === Math.floor(a.modified.getTime() / 1000);
}

class FileCopyRun {
  readonly counts: FileCopyCounts = { spaces: 0, foldersMade: 0, filesCopied: 0, bytesCopied: 0, filesSkipped: 0, filesVanished: 0, filesVerified: 0 };
  readonly differences: string[] = [];

  constructor(
    private readonly source: FileStore,
    private readonly target: FileStore,
    private readonly signal?: AbortSignal,
  ) {}

  async copySpace(pair: SpacePair): Promise<void> {
    for await (const { path, info } of walk(this.source, pair.from, this.signal)) {
      const there = await this.target.stat(pair.to, path);
      if (info.type === 'directory') {
        if (there === null) {
          await this.target.makeDirectory(pair.to, path);
          this.counts.foldersMade++;
        } else if (there.type !== 'directory') {
          this.differences.push(`${pair.label} ${path}: a folder in the source, a file in the target`);
          continue;
        }
        if ((there?.mode ?? -1) !== info.mode) await this.target.setMode(pair.to, path, info.mode);
        continue;
      }
      if (there !== null && there.type !== 'file') {
        this.differences.push(`${pair.label} ${path}: a file in the source, a folder in the target`);
        continue;
      }
      if (sameFile(info, there)) {
        if (there!.mode !== info.mode) await this.target.setMode(pair.to, path, info.mode);
        this.counts.filesSkipped++;
        continue;
      }
      await this.copyFile(pair, path);
    }
    this.counts.spaces++;
  }

  private async copyFile(pair: SpacePair, path: string): Promise<void> {
    let reader;
    try {
      reader = await this.source.openRead(pair.from, path);
    } catch (err) {
      if (isMissing(err)) {
        this.counts.filesVanished++;
        return;
      }
      throw err;
    }
    try {
      // The file as it was opened: its bytes, and the size and time that go with them.
      const info = reader.info;
      const upload = await this.target.createUpload(pair.to, path, { mode: 'replace', maxBytes: null });
      try {
        for await (const chunk of reader.stream()) {
          this.signal?.throwIfAborted();
          await upload.write(chunk);
        }
        await upload.commit();
      } catch (err) {
        await upload.abort();
        throw err;
      }
      await this.target.setModified(pair.to, path, info.modified);
      await this.target.setMode(pair.to, path, info.mode);
      this.counts.filesCopied++;
      this.counts.bytesCopied += info.size;
    } finally {
      await reader.close();
    }
  }

  async verifySpace(pair: SpacePair): Promise<void> {
    for await (const { path, info } of walk(this.source, pair.from, this.signal)) {
      const there = await this.target.stat(pair.to, path);
      const where = `${pair.label} ${path}`;
      if (there === null) {
        this.differences.push(`${where}: missing in the target`);
      } else if (there.type !== info.type) {
        this.differences.push(`${where}: a ${info.type} in the source, a ${there.type} in the target`);
      } else if (info.type === 'file') {
        if (there.size !== info.size) this.differences.push(`${where}: ${info.size} bytes in the source, ${there.size} in the target`);
        else if (there.mode !== info.mode) this.differences.push(`${where}: mode ${info.mode.toString(8)} in the source, ${there.mode.toString(8)} in the target`);
        else {
          const [a, b] = await Promise.all([checksum(this.source, pair.from, path), checksum(this.target, pair.to, path)]);
          // Changed or removed in the live source since it was copied: the next run takes it.
          if (a === null) continue;
          if (a !== b) this.differences.push(`${where}: the bytes differ`);
          else this.counts.filesVerified++;
        }
      }
    }
  }
}

/** SHA-256 of a file's bytes; null when it is gone. */
async function checksum(files: FileStore, space: FileSpace, path: string): Promise<string | null> {
  let reader;
  try {
    reader = await files.openRead(space, path);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  try {
    const hash = createHash('sha256');
    for await (const chunk of reader.stream()) hash.update(chunk);
    return hash.digest('hex');
  } finally {
    await reader.close();
  }
}

export async function copyFiles(source: FileCopySide, target: FileCopySide, options: FileCopyOptions = {}): Promise<FileCopyReport> {
  const run = new FileCopyRun(source.files, target.files, options.signal);
  const pairs = await spacePairs(source, target, run.differences);
  for (const pair of pairs) {
    await run.copySpace(pair);
    await options.onSpace?.(pair.label, run.counts);
  }
  if (options.verify !== false) {
    for (const pair of pairs) await run.verifySpace(pair);
  }
  return { counts: run.counts, differences: run.differences };
}
