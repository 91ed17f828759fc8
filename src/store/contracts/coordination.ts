/**
 * What lets sessions and nodes share a store: change notification, leases, counters. One facet of
 * the storage contract (../types.ts says what every implementation keeps to).
 */

/** A subscription made by watchMailbox or QueueStore.watchQueue; close() ends it. */
export interface MailboxWatch {
  close(): void;
}

/** What lets several sessions and processes share the store: change notifications and leases. */
export interface CoordinationStore {
  /**
   * Calls `onChange` (at least once, possibly coalesced) after any committed change to the
   * mailbox, made by this process or another sharing the store.
   */
  watchMailbox(mailboxId: number, onChange: () => void): MailboxWatch;
  /**
   * Takes the named lease for `owner` if it is free or expired; true if taken. A lease
   * expires after ttlMs unless renewed, so a crashed node cannot hold a maildrop forever.
   */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  renewLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Counts one event under `name` (login failures per address or account, connections per
   * client address per minute...) in a fixed window: the window starts with the first event
   * after the previous window ended and lasts `windowMs`. Resolves with the count in the
   * current window, this event included. Shared by every node using the store.
   */
  hitCounter(name: string, windowMs: number): Promise<number>;
  /** The count in the current window (0 when none or expired), without counting. */
  peekCounter(name: string): Promise<number>;
  /** Forgets the counter (e.g. after a successful login). */
  resetCounter(name: string): Promise<void>;
}
