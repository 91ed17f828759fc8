/**
 * Housekeeping of the local-disk store: counting a space's bytes, naming temporary upload
 * files, and removing the ones a crash left behind.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from './local-paths.js';

/** How many entries are looked at (lstat) at once while counting. */
const SCAN_BATCH = 64;
/** A temporary upload file untouched this long is left over, whoever made it. */
const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

/** Temporary files of uploads in progress in this process (any store instance). */
export const activeUploads = new Set<string>();

/**
 * A temporary file's name: the process id first, so a store opening the same data folder
 * (the CLI removing a user while the server runs) can tell another live process's upload
 * from a crash's leftover.
 */
export function tempName(): string {
  return `${process.pid}-${randomBytes(12).toString('hex')}.part`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return isErrno(err, 'EPERM');
  }
}

/**
 * Removes temporary upload files nobody is writing any more: those of a process that is gone,
 * those of this process id that this process does not know (a restarted container's server
 * often gets the same id), and any untouched for a day.
 */
export async function removeStaleUploads(uploadsDir: string): Promise<void> {
  for (const name of await readdir(uploadsDir)) {
    const path = join(uploadsDir, name);
    if (activeUploads.has(path)) continue;
    const pid = Number(/^(\d+)-/.exec(name)?.[1] ?? NaN);
    let stale = !Number.isSafeInteger(pid) || pid === process.pid || !processAlive(pid);
    if (!stale) {
      const st = await lstat(path).catch(() => null);
      stale = st !== null && Date.now() - st.mtimeMs > STALE_UPLOAD_MS;
    }
    if (stale) await unlink(path).catch(() => undefined);
  }
}

/** Bytes of the regular files under `root` (links are not followed and count nothing). */
export async function scanUsage(root: string): Promise<number> {
  let total = 0;
  const folders = [root];
  while (folders.length > 0) {
    const folder = folders.pop()!;
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (err) {
      // A folder removed while counting (or a space never used) holds nothing.
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
      throw err;
    }
    for (let i = 0; i < names.length; i += SCAN_BATCH) {
      const paths = names.slice(i, i + SCAN_BATCH).map((name) => join(folder, name));
      const stats = await Promise.all(paths.map((p) => lstat(p).catch(() => null)));
      stats.forEach((st, j) => {
        if (st?.isFile()) total += st.size;
        else if (st?.isDirectory()) folders.push(paths[j]!);
      });
    }
  }
  return total;
}
