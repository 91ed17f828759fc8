/** What LIST, NLST, MLSD and STAT <path> list: a folder's entries, or one file. */
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

/** A folder's entries sorted by name, or the one file `target` names; StoreError when neither. */
export async function readListing(session: FtpSession, target: string): Promise<ListingEntry[]> {
  const space = session.user!.space;
  const path = session.resolvePath(target);
  const info = await session.files.stat(space, path);
  if (!info) throw new StoreError('not-found', 'no such file or folder');
  if (info.type === 'file') return [{ info, name: baseName(path) }];
  const entries = await session.files.list(space, path);
  return entries.map((e) => ({ info: e, name: e.name }));
}
