import type { AccountStore, SshKeyStore } from './contracts/accounts.js';
import type { BlobStore } from './contracts/blobs.js';
import type { CoordinationStore } from './contracts/coordination.js';
import type { MailStore } from './contracts/mail.js';
import type { QueueStore } from './contracts/queue.js';
import type { RestoreStore } from './contracts/restore.js';
import type { SearchStore } from './contracts/search.js';

/**
 * The storage contract. Every service talks to storage only through this interface, so a
 * PostgreSQL backend (several stateless Wharf nodes sharing one database) can drop in.
 *
 * The contract is split by kind of data (AccountStore, MailStore, BlobStore, SearchStore,
 * CoordinationStore, QueueStore, and RestoreStore for copying a store); `Store` is all of them together.
 *
 * Rules every implementation keeps (the contract suites in test/store/contract-*.ts check them):
 * - Everything is async; nothing here may rely on being in the same process as the caller.
 * - A promise that reports a delivery or an append resolves only after the body and its
 *   index entries are committed and fsync'd: an SMTP 250 / IMAP OK may be sent right after.
 * - UIDs are strictly ascending per mailbox and never reused while UIDVALIDITY stays the same.
 * - Every change to a mailbox (new entry, flag change, expunge) bumps the mailbox's modseq
 *   and is visible through `changesSince`, and wakes `watchMailbox` subscribers in every
 *   process sharing the store (not only this one).
 * - Addresses are compared case-insensitively in the domain part and (by default) in the
 *   local part too; they are stored lower-cased.
 */

export * from './contracts/accounts.js';
export * from './contracts/mail.js';
export * from './contracts/blobs.js';
export * from './contracts/search.js';
export * from './contracts/coordination.js';
export * from './contracts/queue.js';
export * from './contracts/restore.js';

/**
 * The whole storage contract. Services may take only the facets they use (e.g. an
 * authenticator only AccountStore); whoever opens the store holds a Store.
 */
export interface Store
  extends AccountStore,
    SshKeyStore,
    MailStore,
    BlobStore,
    SearchStore,
    CoordinationStore,
    QueueStore,
    RestoreStore {
  /**
   * Resolves when the database answers and its schema is the one this code expects (every
   * migration applied, none newer); rejects otherwise, and after close(). A node's readiness
   * endpoint calls it, so it must be cheap and must not write. The error's message is shown
   * to whoever asks the endpoint: it says what is wrong and never carries credentials.
   */
  checkHealth(): Promise<void>;
  /** Releases connections and stops watchers. */
  close(): Promise<void>;
}

export type StoreErrorCode = 'not-found' | 'conflict' | 'invalid' | 'quota';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
