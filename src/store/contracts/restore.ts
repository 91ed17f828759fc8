/**
 * Recreating mailboxes, entries and queued messages as they were in another store (`wharf store
 * copy`). One facet of the storage contract (../types.ts says what every implementation keeps to).
 */

import type { BodyWriter } from './blobs.js';
import type { HeaderSummary, Mailbox, MailboxEntry } from './mail.js';
import type { QueuedMessage, QueuedRecipient } from './queue.js';

/**
 * A mailbox as `restoreMailbox` recreates it: what IMAP clients cache about it (uidValidity
 * 1 .. 2^32-1), and whether the user's subscriptions hold its name.
 */
export type MailboxRestore = Pick<Mailbox, 'name' | 'role' | 'uidValidity' | 'uidNext' | 'highestModseq' | 'subscribed'>;

/** One entry as `restoreEntries` recreates it, with the UID and modseq it had elsewhere. */
export interface EntryRestore {
  uid: number;
  flags: string[];
  modseq: number;
  internalDate: Date;
  /**
   * A new body streamed in through createBody() (analysed for MIME structure and search like
   * any other), or a message already in this store (shared, as copyEntries shares it; its
   * internal date must then be `internalDate`).
   */
  body: BodyWriter | { messageId: number };
  /** Index fields; when omitted, those the store parsed from the body are used. */
  headers?: HeaderSummary;
}

/** A queued message as `restoreQueued` recreates it, with its recipients' states (`wharf store copy`). */
export interface QueuedRestore {
  /**
   * A new body streamed in through createBody() (its internal date is `createdAt`), or a
   * message already in this store (shared, e.g. with the mailbox entry copied before).
   */
  body: BodyWriter | { messageId: number };
  /** Index fields for a new body; when omitted, those the store parsed from the body are used. */
  headers?: HeaderSummary;
  mailFrom: string;
  /** The submitting user in THIS store (users have other ids in another store), or null. */
  senderUserId: number | null;
  eightBit: boolean;
  smtputf8: boolean;
  createdAt: Date;
  delayNotified: boolean;
  /** In order; at least one of them 'pending' or 'held' (else there is nothing to queue). */
  recipients: Array<Omit<QueuedRecipient, 'domain'>>;
}

/**
 * Recreating mailboxes and entries with the UIDVALIDITY, UIDs and modseqs they had in another
 * store (`wharf store copy`), so IMAP clients keep their caches. Not for normal service: the
 * target of a restore must not be serving clients meanwhile (an entry restored with an old
 * modseq is invisible to a client or cache that already saw a higher one).
 */
export interface RestoreStore {
  /**
   * Makes the user's mailbox `name` match `mailbox` and resolves with it:
   * - no such mailbox: it is created with these values (and no entries);
   * - same UIDVALIDITY: uidNext and highestModseq rise to the given ones if below, the role
   *   and the subscription are set as given;
   * - another UIDVALIDITY and no entries (e.g. a default mailbox addUser just made): it takes
   *   the given UIDVALIDITY, uidNext and highestModseq; its expunge records are dropped;
   * - another UIDVALIDITY with entries: 'conflict', nothing changes.
   * Expunges made before the restore are not carried over, so afterwards changesSince from a
   * modseq below `highestModseq` answers complete = false. UIDVALIDITY values the store hands
   * out later stay above every restored one. 'not-found' without such a user; 'invalid' for
   * a bad name, role or number.
   */
  restoreMailbox(userId: number, mailbox: MailboxRestore): Promise<Mailbox>;
  /**
   * Adds entries with the given UIDs, flags, modseqs and internal dates, atomically (all or
   * none), durable when it resolves. UIDs must ascend strictly in the list ('invalid'), and
   * the first must be above every UID the mailbox holds ('conflict': a UID below one a client
   * may have seen would break IMAP's ordering; a caller resuming lists the entries and
   * continues above the last). The mailbox's uidNext rises to at least uid + 1 and its
   * highestModseq to at least the modseq; message count, total bytes and the user's
   * usedBytes grow. Quota is not checked (the copy must be whole even for a user over quota).
   * Bodies are consumed as by append; on failure the caller may abort them.
   * 'not-found' for a missing mailbox or message; 'invalid' for a bad UID, modseq, flag or date.
   */
  restoreEntries(mailboxId: number, entries: EntryRestore[]): Promise<MailboxEntry[]>;
  /**
   * Queues a message with its recipients' states as given (attempts, next attempt, last reply,
   * DSN sent), unclaimed, atomically; durable when it resolves, and queue watchers are woken.
   * Resolves with the queued message. 'not-found' for a missing shared message or sender
   * user; 'invalid' for a bad value or when no recipient is 'pending' or 'held'.
   */
  restoreQueued(message: QueuedRestore): Promise<QueuedMessage>;
}
