/** What a failed request tells the client: a status code and a message a person can read. */
import { StoreError } from '../store/types.js';
import { Status } from './protocol.js';

/** A request refused with a specific status (raised by the request handlers). */
export class SftpError extends Error {
  constructor(
    readonly status: Status,
    message: string,
  ) {
    super(message);
    this.name = 'SftpError';
  }
}

/** The quota message every over-quota reply carries, as FTP's 552 says it too. */
export const QUOTA_MESSAGE = 'quota exceeded';

/**
 * The status for an error thrown while serving a request. Store errors map onto the v3 codes
 * (v3 has no "file exists" or "not empty": those are FAILURE with the store's message);
 * anything else is our bug or the backend's, reported as FAILURE without internals.
 */
export function statusForError(err: unknown): { status: Status; message: string; unexpected: boolean } {
  if (err instanceof SftpError) return { status: err.status, message: err.message, unexpected: false };
  if (err instanceof StoreError) {
    switch (err.code) {
      case 'not-found':
        return { status: Status.NO_SUCH_FILE, message: 'no such file or directory', unexpected: false };
      case 'quota':
        return { status: Status.FAILURE, message: QUOTA_MESSAGE, unexpected: false };
      case 'conflict':
      case 'invalid':
        return { status: Status.FAILURE, message: err.message, unexpected: false };
    }
  }
  return { status: Status.FAILURE, message: 'internal error', unexpected: true };
}
