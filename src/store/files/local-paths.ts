/**
 * Where a file space lives on disk and how a store path is walked inside it without ever
 * following a symbolic link. The protocols cannot create links, but an admin (or anything else
 * with a shell on the host) can plant one inside a user's folder; a link pointing at /etc must
 * not turn into a way out of the jail. So every component of a path is checked with lstat, the
 * last one is opened with O_NOFOLLOW, and anything that is neither a regular file nor a folder
 * (links, sockets, FIFOs, devices) is treated as if it were not there: stat() says null, list()
 * leaves it out, reading or removing it is 'not-found', and creating something under its name
 * is 'conflict' (the name is taken by something the store does not serve).
 */
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileInfo, FileSpace } from '../file-store.js';
import { StoreError } from '../types.js';
import { MAX_NAME_BYTES, assertNormalizedFilePath, baseName, splitNormalized } from './path.js';

export const USERS_FOLDER = 'files';
export const ANONYMOUS_FOLDER = 'files-anonymous';
export const UPLOADS_FOLDER = 'files-uploads';

/** One address part as a folder name: refused when it could name anything but one folder. */
function folderName(part: string, what: string): string {
  if (
    part === '' ||
    part === '.' ||
    part === '..' ||
    /[/\\\u0000-\u001f\u007f]/.test(part) ||
    Buffer.byteLength(part) > MAX_NAME_BYTES
  ) {
    throw new StoreError('invalid', `the ${what} of the address cannot name a folder`);
  }
  return part;
}

/** The folder of a space, and the folders between the data folder and it that must be real. */
export function spaceFolder(dataDir: string, space: FileSpace): { root: string; checked: string[] } {
  if (space.kind === 'anonymous') {
    const root = join(dataDir, ANONYMOUS_FOLDER);
    return { root, checked: [root] };
  }
  const address = space.address.toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) throw new StoreError('invalid', 'not an address');
  const domain = folderName(address.slice(at + 1), 'domain');
  const local = folderName(address.slice(0, at), 'local part');
  const domainFolder = join(dataDir, USERS_FOLDER, domain);
  const root = join(domainFolder, local);
  return { root, checked: [domainFolder, root] };
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** lstat, with null for "nothing there" (a missing component or a file where a folder was needed). */
export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
    throw storeErrorOf(err);
  }
}

/** Whether the store serves what `st` describes (a regular file or a folder, never a link). */
export function isServed(st: Stats | null): st is Stats {
  return st !== null && (st.isFile() || st.isDirectory());
}

export function infoOf(name: string, st: Stats): FileInfo {
  const type = st.isDirectory() ? 'directory' : 'file';
  return { name, type, size: type === 'file' ? st.size : 0, modified: st.mtime, mode: st.mode & 0o7777 };
}

/** A path inside a space, resolved to disk. */
export interface Resolved {
  /** The space's folder. */
  root: string;
  /** The normalized store path. */
  path: string;
  /** Its disk path. */
  full: string;
  /** The disk path of the folder holding it. */
  parent: string;
  name: string;
}

/**
 * Makes sure the space's folder exists (created on first use, 0700) and that it and the
 * folders above it inside the data folder are real folders, not links to somewhere else.
 */
export async function ensureSpace(dataDir: string, space: FileSpace): Promise<string> {
  const { root, checked } = spaceFolder(dataDir, space);
  // The folders are looked at all at once: every file operation starts here, and each lstat
  // is a round through the thread pool.
  let stats = await Promise.all(checked.map((folder) => lstatOrNull(folder)));
  if (stats[stats.length - 1] === null) {
    await mkdir(root, { recursive: true, mode: 0o700 });
    stats = await Promise.all(checked.map((folder) => lstat(folder)));
  }
  if (!allRealFolders(stats)) throw new StoreError('invalid', 'the space folder is not a real folder');
  return root;
}

function allRealFolders(stats: (Stats | null)[]): boolean {
  return stats.every((st) => st !== null && st.isDirectory());
}

/** Resolves `path` in `space` (checking the path and the space folder; nothing below it yet). */
export async function resolvePath(dataDir: string, space: FileSpace, path: string): Promise<Resolved> {
  assertNormalizedFilePath(path);
  return resolvedIn(await ensureSpace(dataDir, space), path);
}

/** Where normalized `path` is below the space folder `root`; nothing is looked at. */
export function resolvedIn(root: string, path: string): Resolved {
  const segments = splitNormalized(path);
  const full = segments.length === 0 ? root : join(root, ...segments);
  const parent = segments.length <= 1 ? root : join(root, ...segments.slice(0, -1));
  return { root, path, full, parent, name: baseName(path) };
}

/** Whether the space folder and the folders above it are real folders (ensureSpace, without creating it). */
export async function spaceExists(dataDir: string, space: FileSpace): Promise<boolean> {
  return allRealFolders(await Promise.all(spaceFolder(dataDir, space).checked.map((folder) => lstatOrNull(folder))));
}

/**
 * A folder opened to be fsync'd, or null when it is gone (ENOENT, ENOTDIR). An fsync makes
 * the folder's entries durable whenever the descriptor was opened, so it may be opened before
 * the change it is to make durable.
 */
export async function openFolderForSync(folder: string): Promise<FileHandle | null> {
  try {
    return await open(folder, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
    throw err;
  }
}

/** fsync of a folder opened by openFolderForSync (nothing for null); its descriptor is then closed. */
export async function syncOpenedFolder(handle: FileHandle | null): Promise<void> {
  if (!handle) return;
  try {
    await handle.sync();
  } finally {
    // Closing a folder's descriptor cannot undo its sync: nobody waits for it.
    void handle.close().catch(() => undefined);
  }
}

/**
 * Checks that every folder above `resolved` (below the space folder) is a real folder:
 * 'not-found' when one is missing, is a file, or is a link.
 */
export async function assertParentFolders(resolved: Resolved): Promise<void> {
  const segments = splitNormalized(resolved.path);
  const folders: string[] = [];
  let current = resolved.root;
  for (const segment of segments.slice(0, -1)) {
    current = join(current, segment);
    folders.push(current);
  }
  // All at once: each must be a real folder, whatever the order they are looked at in.
  const stats = await Promise.all(folders.map((folder) => lstatOrNull(folder)));
  if (stats.some((st) => st === null || !st.isDirectory())) throw new StoreError('not-found', 'no such folder');
}

/** Whether the folders above `resolved` are all real folders (for stat(), which answers null). */
export async function parentFoldersExist(resolved: Resolved): Promise<boolean> {
  try {
    await assertParentFolders(resolved);
    return true;
  } catch (err) {
    if (err instanceof StoreError) return false;
    throw err;
  }
}

/** Turns the errors of a file system call into the store's codes; others pass through. */
export function storeErrorOf(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ELOOP':
      return new StoreError('not-found', 'no such file or folder');
    case 'EEXIST':
    case 'ENOTEMPTY':
    case 'EISDIR':
      return new StoreError('conflict', 'something is in the way');
    case 'ENAMETOOLONG':
      return new StoreError('invalid', 'the name is too long for this file system');
    default:
      return err;
  }
}

/** Runs a file system step, rethrowing its error as a StoreError where there is one. */
export async function fsStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw storeErrorOf(err);
  }
}
