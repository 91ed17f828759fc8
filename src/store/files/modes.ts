/** What both file store kinds decide alike: permission bits, and where an upload starts. */
import type { FileInfo, UploadOptions } from '../file-store.js';
import { StoreError } from '../types.js';

/** Default permission bits of what the protocols create (as a umask of 022 would leave them). */
export const NEW_FILE_MODE = 0o644;
export const NEW_FOLDER_MODE = 0o755;

/**
 * The permission bits a client may set. The owner (the server itself) always keeps read and
 * write (and search on folders): chmod 000 on a folder would otherwise lock the server out of
 * it for good, since changing it back needs the folder opened first. Set-user-ID and
 * set-group-ID are dropped: nothing uploaded should ever run with someone else's rights.
 */
export function effectiveMode(type: FileInfo['type'], mode: number): number {
  return (mode & 0o1777) | (type === 'directory' ? 0o700 : 0o600);
}

/** Bytes of the existing file (of `size` bytes) an upload keeps: 'invalid' for a resume past its end. */
export function keptBytesFor(options: UploadOptions, size: number): number {
  switch (options.mode) {
    case 'replace':
      return 0;
    case 'append':
      return size;
    case 'resume': {
      const offset = options.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
        throw new StoreError('invalid', 'the resume offset is past the end of the file');
      }
      return offset;
    }
    default:
      throw new StoreError('invalid', 'unknown upload mode');
  }
}
