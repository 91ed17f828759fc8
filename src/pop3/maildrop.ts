import type { Logger } from '../net/types.js';
import type { Mailbox, MailboxEntry, Store } from '../store/types.js';

/** A message number's entry, or why there is none. */
export type MessageLookup =
  | { kind: 'found'; entry: MailboxEntry }
  | { kind: 'no-such-message' }
  | { kind: 'deleted' };

/** Pending \Seen flags that trigger a store write before the session ends. */
const SEEN_BATCH = 500;
/** Longest a \Seen flag waits in a long session. */
const SEEN_FLUSH_DELAY_MS = 10_000;

/** Lease names are per user: one POP3 session per maildrop at a time, on any node. */
export function maildropLeaseName(userId: number): string {
  return `pop3:${userId}`;
}

/**
 * A locked POP3 maildrop: the user's INBOX as it was at login (RFC 1939 section 5: message
 * numbers 1..n over a fixed snapshot; mail that arrives later waits for the next session),
 * the deletion marks of this session, and the lease that keeps other POP3 sessions out.
 *
 * The lease expires unless renewed, so a crashed node cannot lock a maildrop forever; this
 * session renews it every third of its lifetime.
 */
export class Maildrop {
  private readonly deleted: Uint8Array;
  private deletedCount = 0;
  private deletedBytes = 0;
  private readonly totalBytes: number;
  private renewTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  /** Set when a renewal found the lease gone: another session may now own the maildrop. */
  leaseLost = false;
  /** UIDs retrieved whose \Seen flag is still to be stored. */
  private seenPending: number[] = [];
  private seenTimer: NodeJS.Timeout | null = null;
  /** The latest batch of flag writes (they never reject). */
  private seenFlush: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    readonly mailbox: Mailbox,
    private readonly entries: MailboxEntry[],
    private readonly leaseOwner: string,
    private readonly leaseTtlMs: number,
    private readonly log: Logger,
  ) {
    this.deleted = new Uint8Array(entries.length);
    this.totalBytes = entries.reduce((sum, e) => sum + e.size, 0);
    this.renewTimer = setInterval(() => void this.renewLease(), Math.max(1, Math.floor(leaseTtlMs / 3)));
    // The session's socket keeps the process alive; the renewal timer must not.
    this.renewTimer.unref();
  }

  /**
   * Takes the user's maildrop lease and snapshots INBOX. 'in-use' when another session holds
   * the lease (RFC 2449 [IN-USE]). Throws on store failures, with the lease released.
   */
  static async open(
    store: Store,
    userId: number,
    leaseOwner: string,
    leaseTtlMs: number,
    log: Logger,
  ): Promise<Maildrop | 'in-use'> {
    const lease = maildropLeaseName(userId);
    if (!(await store.acquireLease(lease, leaseOwner, leaseTtlMs))) return 'in-use';
    try {
      const mailbox = await store.getMailbox(userId, 'INBOX');
      if (!mailbox) throw new Error(`user ${userId} has no INBOX`);
      const entries = await store.listEntries(mailbox.id);
      return new Maildrop(store, mailbox, entries, leaseOwner, leaseTtlMs, log);
    } catch (err) {
      await store.releaseLease(lease, leaseOwner).catch(() => {});
      throw err;
    }
  }

  /** Messages at login, deleted ones included (message numbers run 1..size). */
  get size(): number {
    return this.entries.length;
  }

  /** STAT / LIST figures: messages not marked deleted and their octets. */
  get visibleCount(): number {
    return this.entries.length - this.deletedCount;
  }

  get visibleBytes(): number {
    return this.totalBytes - this.deletedBytes;
  }

  get markedForDeletion(): number {
    return this.deletedCount;
  }

  lookup(messageNumber: number): MessageLookup {
    if (!Number.isInteger(messageNumber) || messageNumber < 1 || messageNumber > this.entries.length) {
      return { kind: 'no-such-message' };
    }
    if (this.deleted[messageNumber - 1]) return { kind: 'deleted' };
    return { kind: 'found', entry: this.entries[messageNumber - 1] };
  }

  /** The entry of a message number regardless of deletion marks (listings check marks first). */
  entryAt(messageNumber: number): MailboxEntry {
    return this.entries[messageNumber - 1];
  }

  isDeleted(messageNumber: number): boolean {
    return this.deleted[messageNumber - 1] === 1;
  }

  /**
   * The UIDL unique-id (RFC 1939 section 7): the same for a message across sessions, never
   * reused in this maildrop, 1 to 70 characters in 0x21..0x7E. UIDVALIDITY is part of it so
   * that, should the mailbox's UIDs ever be renumbered, clients see new ids rather than
   * mistaking a different message for one they already have.
   */
  uniqueId(entry: MailboxEntry): string {
    return `${this.mailbox.uidValidity}.${entry.uid}`;
  }

  markDeleted(messageNumber: number): void {
    if (this.deleted[messageNumber - 1]) return;
    this.deleted[messageNumber - 1] = 1;
    this.deletedCount++;
    this.deletedBytes += this.entries[messageNumber - 1].size;
  }

  /** RSET: forget every deletion mark. */
  unmarkAll(): void {
    this.deleted.fill(0);
    this.deletedCount = 0;
    this.deletedBytes = 0;
  }

  /**
   * Records that a message was retrieved, like Dovecot does, so an IMAP client of the same
   * account sees it as read. The flags are stored in batches (at the end of the session, or
   * when many or old ones are pending): one store write per RETR would cost a disk sync per
   * message, and losing a \Seen flag in a crash is harmless.
   */
  markSeen(entry: MailboxEntry): void {
    if (entry.flags.includes('\\Seen')) return;
    entry.flags = [...entry.flags, '\\Seen'];
    this.seenPending.push(entry.uid);
    if (this.seenPending.length >= SEEN_BATCH) {
      void this.flushSeen();
    } else if (!this.seenTimer && !this.closing) {
      this.seenTimer = setTimeout(() => void this.flushSeen(), SEEN_FLUSH_DELAY_MS);
      this.seenTimer.unref();
    }
  }

  /**
   * The UPDATE state (RFC 1939 section 6): removes the messages marked deleted. Returns how
   * many were marked. Throws when the store fails or the lease was lost (then another session
   * may be working on this maildrop, and numbers marked here may mean nothing to it).
   */
  async expungeMarked(): Promise<number> {
    const uids: number[] = [];
    for (let i = 0; i < this.entries.length; i++) if (this.deleted[i]) uids.push(this.entries[i].uid);
    if (uids.length === 0) return 0;
    if (this.leaseLost) throw new Error('the maildrop lease was lost');
    const doomed = new Set(uids);
    this.seenPending = this.seenPending.filter((uid) => !doomed.has(uid));
    // Started together, the flag update and the expunge can share one store commit.
    const seen = this.flushSeen();
    await this.store.expunge(this.mailbox.id, uids);
    await seen;
    return uids.length;
  }

  /** Stops renewing, stores pending flags and releases the lease. Safe to call repeatedly. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.renewTimer) clearInterval(this.renewTimer);
      this.renewTimer = null;
      try {
        await this.flushSeen();
      } finally {
        await this.store
          .releaseLease(maildropLeaseName(this.mailbox.userId), this.leaseOwner)
          .catch((err) => this.log.warn('maildrop lease release failed', { error: err as Error }));
      }
    })();
    return this.closing;
  }

  /** Stores the pending \Seen flags; resolves when every flag marked so far is stored. */
  private flushSeen(): Promise<void> {
    if (this.seenTimer) clearTimeout(this.seenTimer);
    this.seenTimer = null;
    if (this.seenPending.length > 0) {
      const uids = this.seenPending;
      this.seenPending = [];
      // Chained, so flags are written in order and `seenFlush` covers every batch.
      this.seenFlush = this.seenFlush.then(() =>
        this.store.setFlags(this.mailbox.id, uids, 'add', ['\\Seen']).then(
          () => undefined,
          // Losing a \Seen flag is harmless; failing the RETR or the QUIT for it would not be.
          (err) => this.log.warn('could not mark retrieved messages seen', { error: err as Error, count: uids.length }),
        ),
      );
    }
    return this.seenFlush;
  }

  private async renewLease(): Promise<void> {
    if (this.closing || this.leaseLost) return;
    const name = maildropLeaseName(this.mailbox.userId);
    try {
      if (await this.store.renewLease(name, this.leaseOwner, this.leaseTtlMs)) return;
      // Expired before we renewed it (e.g. the event loop stalled): take it back if still free.
      if (await this.store.acquireLease(name, this.leaseOwner, this.leaseTtlMs)) return;
      this.leaseLost = true;
      this.log.warn('maildrop lease lost to another session; deletions will be refused');
    } catch (err) {
      this.log.warn('maildrop lease renewal failed', { error: err as Error });
    }
  }
}
