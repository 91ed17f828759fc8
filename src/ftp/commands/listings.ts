/** What LIST, NLST, MLSD and STAT <path> list: a folder's entries, one file, or the names a pattern matches. */
import type { FileInfo } from '../../store/file-store.js';
import { baseName } from '../../store/files/path.js';
import { StoreError } from '../../store/types.js';
import type { FtpSession } from '../session.js';

export interface ListingEntry {
  info: FileInfo;
  name: string;
}

/**
 * The path in a LIST/NLST/STAT argument. Clients pass `ls` options ("LIST -la", "LIST -a
 * dir"); they are dropped, so a name that begins with "-" cannot be listed this way (as with
 * vsftpd); "" means the current folder.
 */
export function listingTarget(argument: string): string {
  let rest = argument;
  while (rest.startsWith('-')) {
    const space = rest.indexOf(' ');
    rest = space < 0 ? '' : rest.slice(space + 1).trimStart();
  }
  return rest;
}

/** What a listing command lists, and how NLST names its entries. */
export interface Listing {
  entries: ListingEntry[];
  /**
   * What NLST puts before each name so that it is a path the client can use as it is (RFC 959
   * gives NLST for a "multiple get"): the folder part of the argument as the client wrote it,
   * "sub/" for "NLST sub" or "NLST sub/*.txt", "" for the current folder, as vsftpd does.
   */
  prefix: string;
}

/**
 * A folder's entries sorted by name, or the one file `target` names; StoreError when neither.
 * With `glob`, a last segment with "*" or "?" that names nothing lists the matching entries
 * of its folder (LIST, NLST and STAT, as vsftpd; none is then an empty listing, not an error).
 * MLSD and MLST never glob (RFC 3659 section 2.2.2).
 */
export async function readListing(session: FtpSession, target: string, options: { glob: boolean }): Promise<Listing> {
  const space = session.user!.space;
  const path = session.resolvePath(target);
  const info = await session.files.stat(space, path);
  const slash = target.lastIndexOf('/');
  const folderPart = target.slice(0, slash + 1);
  if (info?.type === 'file') return { entries: [{ info, name: baseName(path) }], prefix: folderPart };
  if (info) {
    const entries = await session.files.list(space, path);
    const prefix = target === '' || target === '.' || target === './' ? '' : target.endsWith('/') ? target : `${target}/`;
    return { entries: entries.map((e) => ({ info: e, name: e.name })), prefix };
  }
  const pattern = target.slice(slash + 1);
  if (!options.glob || !/[*?]/.test(pattern)) throw new StoreError('not-found', 'no such file or folder');
  const folder = session.resolvePath(folderPart);
  const folderInfo = await session.files.stat(space, folder);
  if (folderInfo?.type !== 'directory') throw new StoreError('not-found', 'no such folder');
  const entries = (await session.files.list(space, folder)).filter((e) => globMatches(pattern, e.name));
  return { entries: entries.map((e) => ({ info: e, name: e.name })), prefix: folderPart };
}

/**
 * Whether `name` matches `pattern`, where "*" stands for any run of characters and "?" for
 * one, compared by code point. Greedy with one remembered star, so the time is at most the
 * product of the two lengths whatever the pattern (a regular expression built from
 * "*a*a*a..." backtracks exponentially on a name that does not match).
 */
export function globMatches(pattern: string, name: string): boolean {
  const p = Array.from(pattern);
  const n = Array.from(name);
  let pi = 0;
  let ni = 0;
  let star = -1;
  let resume = 0;
  while (ni < n.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === n[ni])) {
      pi++;
      ni++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = ni;
    } else if (star >= 0) {
      pi = star + 1;
      ni = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
