/**
 * The durable outbound queue. One facet of the storage contract (../types.ts says what every
 * implementation keeps to).
 */

import type { MailboxWatch } from './coordination.js';

/** One recipient of a queued message and how its delivery goes. */
export type QueueRecipientStatus =
  /** Waiting for its next attempt (`nextAttemptAt`). */
  | 'pending'
  /** Held by an administrator (`wharf queue hold`): not tried until released. */
  | 'held'
  /** The next hop answered 250 for it. */
  | 'delivered'
  /** Failed for good (5xx, or retried until the queue gave up): a DSN goes to the sender. */
  | 'bounced';

export interface QueuedRecipient {
  /** Forward path as given (domain lower-cased). */
  address: string;
  /** The domain after the last '@', lower-cased: recipients are grouped by it for delivery. */
  domain: string;
  status: QueueRecipientStatus;
  attempts: number;
  /** The next attempt (for 'pending'). */
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  /** The last reply or error, e.g. "550 5.1.1 <bob@x>: user unknown" or "connection refused by mx.x:25". */
  lastReply: string | null;
  /** Set once a DSN about this recipient's failure (or a delay notice) has been issued. */
  dsnSent: boolean;
}

export interface QueuedMessage {
  /** Queue id (also shown by `wharf queue list`). */
  id: number;
  /** The stored body (readBody / getMessage). */
  messageId: number;
  /** Envelope sender; '' for <>. */
  mailFrom: string;
  senderUserId: number | null;
  eightBit: boolean;
  smtputf8: boolean;
  size: number;
  createdAt: Date;
  /** Set once a delay notice went to the sender (RFC 3464 action=delayed). */
  delayNotified: boolean;
  /** Every recipient, in the order given. */
  recipients: QueuedRecipient[];
}

/** The outcome of one attempt for one recipient of a claimed message. */
export interface QueueAttemptResult {
  address: string;
  /** 'delivered' and 'bounced' are final; 'deferred' sets the recipient back to 'pending' for `nextAttemptAt`. */
  outcome: 'delivered' | 'deferred' | 'bounced';
  /** The reply or error to show (lastReply). */
  reply: string;
  /** Required for 'deferred'. */
  nextAttemptAt?: Date;
}

/**
 * The durable outbound queue. Messages enter it through MailStore.deliver with `outbound`
 * (atomically with local copies); a message leaves it when every recipient is delivered or
 * bounced (the body stays while mailbox entries point at it). Workers on any node take due
 * messages with a lease (`claimDue`), so two nodes never attempt the same message at once and
 * a message claimed by a node that died is taken again once the lease expires.
 */
export interface QueueStore {
  /**
   * Leases up to `limit` messages that have a 'pending' recipient due at `now` and no live
   * lease, oldest due first, for `leaseMs`; resolves with them (all recipients, every status).
   */
  claimDue(owner: string, now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]>;
  /** Extends the lease on a claimed message; false when the lease was lost (another owner took it). */
  renewClaim(queueId: number, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Records attempt outcomes for recipients of a message the caller has claimed (attempts + 1,
   * lastAttemptAt = now, lastReply), and releases the lease with `release`. Recipients not
   * named keep their state. When no recipient is 'pending' or 'held' any more the message
   * leaves the queue. Durable when it resolves. 'conflict' when the caller no longer holds
   * the lease (nothing recorded).
   */
  recordAttempts(queueId: number, owner: string, results: QueueAttemptResult[], options?: { release?: boolean }): Promise<void>;
  /** Marks recipients' DSN as issued and/or the message's delay notice as sent. */
  markNotified(queueId: number, change: { dsnFor?: string[]; delayNotified?: boolean }): Promise<void>;
  /** The earliest nextAttemptAt of a 'pending' recipient (leased or not), or null when none. */
  nextDue(): Promise<Date | null>;
  getQueued(queueId: number): Promise<QueuedMessage | null>;
  /** Every queued message, ascending id. */
  listQueue(): Promise<QueuedMessage[]>;
  /** `wharf queue retry`: pending recipients (of one message, or all) become due now. Returns how many. */
  retryNow(queueId?: number): Promise<number>;
  /** `wharf queue hold` / `release`: pending ⇄ held (release makes them due now). Returns how many recipients changed. */
  setHeld(queueId: number, held: boolean): Promise<number>;
  /** `wharf queue delete`: removes the message from the queue without a DSN; false if no such id. */
  deleteQueued(queueId: number): Promise<boolean>;
  /**
   * Calls `onChange` (at least once, possibly coalesced) after messages are queued, retried
   * or released, on this node or another sharing the store, so idle workers wake at once.
   */
  watchQueue(onChange: () => void): MailboxWatch;
}
