/**
 * How many bytes an upload may still add to a space: what UploadOptions.maxBytes is given.
 * With `files.quota` 'shared' one limit (the user's mail quota) covers mail and files
 * together; with 'separate' files have their own, `files.quotaBytes` per user.
 */
import type { FilesConfig } from '../../config/types.js';
import type { FileSpace, FileStore } from '../file-store.js';
import type { AccountStore, User } from '../types.js';

/**
 * Bytes of `user`'s quota taken by their files, which mail must leave room for: their space's
 * usage when `files.quota` is 'shared' (one limit for mail and files) and the user has a
 * quota; 0 otherwise.
 */
export async function filesUsageUnderMailQuota(files: FilesConfig, fileStore: FileStore, user: User): Promise<number> {
  if (files.quota !== 'shared' || user.quotaBytes === null) return 0;
  return fileStore.usage({ kind: 'user', userId: user.id, address: user.address });
}

/** Bytes an upload to `space` may add now; null for no limit; 0 for the (read-only) anonymous area. */
export async function uploadAllowance(
  files: FilesConfig,
  accounts: AccountStore,
  fileStore: FileStore,
  space: FileSpace,
): Promise<number | null> {
  if (space.kind === 'anonymous') return 0;
  if (files.quota === 'separate') {
    if (files.quotaBytes === 0) return null;
    return Math.max(0, files.quotaBytes - (await fileStore.usage(space)));
  }
  const user = await accounts.getUserById(space.userId);
  // A user removed meanwhile may store nothing more.
  if (user === null) return 0;
  if (user.quotaBytes === null) return null;
  return Math.max(0, user.quotaBytes - user.usedBytes - (await fileStore.usage(space)));
}
