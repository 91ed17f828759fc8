/** File store failures as FTP replies (RFC 959 section 4.2: 450/550 file, 451 local error, 452/552 space, 553 name). */
import { storeFailureKind } from '../store/failure.js';
import { StoreError } from '../store/types.js';

/** What the command was doing: a bad name is 553 only where a name is being created. */
export type FileAction = 'read' | 'create';

/**
 * The reply for an error from the file store, or null when it is not one we expect (the
 * caller rethrows it: a bug or a broken store is a 451, logged).
 */
export function storeErrorReply(err: unknown, action: FileAction): string | null {
  const failure = storeFailureKind(err);
  if (failure === 'no-space') return '452 Insufficient storage space in system';
  // An I/O error or the database away: nothing was stored, the client may try again later.
  if (failure !== null) return '451 Requested action aborted: local error in processing';
  if (!(err instanceof StoreError)) return null;
  switch (err.code) {
    case 'not-found':
      return '550 No such file or directory';
    case 'conflict':
      return '550 Not possible here: it exists already, is not empty, or is not the right kind (file or folder)';
    case 'invalid':
      return action === 'create' ? '553 File name not allowed' : '550 Invalid path';
    case 'quota':
      return '552 Exceeded storage allocation (quota)';
  }
}

/** The disk (or the database's disk) under the file store is full: ENOSPC, EDQUOT, SQLITE_FULL, PostgreSQL's disk_full. */
export function isDiskFull(err: unknown): boolean {
  return storeFailureKind(err) === 'no-space';
}
