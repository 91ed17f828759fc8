/**
 * Mailboxes and their entries: what IMAP, POP3 and delivery see of a user's mail. One facet of the
 * storage contract (../types.ts says what every implementation keeps to).
 */

import type { BodyWriter } from './blobs.js';

export type MailboxRole = 'inbox' | 'sent' | 'drafts' | 'trash' | 'junk' | 'archive';

/** The special-use mailboxes every new user gets, in display order. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; role: MailboxRole }> = [
  { name: 'INBOX', role: 'inbox' },
  { name: 'Sent', role: 'sent' },
  { name: 'Drafts', role: 'drafts' },
  { name: 'Trash', role: 'trash' },
  { name: 'Junk', role: 'junk' },
  { name: 'Archive', role: 'archive' },
];

export interface Mailbox {
  id: number;
  userId: number;
  /** Full hierarchical name, '/' as separator; INBOX is always spelled 'INBOX'. */
  name: string;
  role: MailboxRole | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Whether the user's subscriptions hold this mailbox's name. */
  subscribed: boolean;
  /** Number of entries and their total size, kept current by the store. */
  messageCount: number;
  totalBytes: number;
}

/** Header fields kept in the index for listing and searching (raw header values, unfolded). */
export interface HeaderSummary {
  from?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  replyTo?: string;
  subject?: string;
  date?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
}

/** One message in one mailbox. The body is shared between entries (stored once). */
export interface MailboxEntry {
  mailboxId: number;
  uid: number;
  /** The stored message this entry points at. */
  messageId: number;
  /** System flags (\Seen, \Answered, \Flagged, \Deleted, \Draft) and keywords, as IMAP spells them. */
  flags: string[];
  modseq: number;
  size: number;
  internalDate: Date;
}

export interface Envelope {
  /** Reverse path without brackets; '' for the null sender <>. */
  mailFrom: string;
  /** Forward paths as given in RCPT TO (without brackets). */
  rcptTo: string[];
}

export interface DeliveryRequest {
  body: BodyWriter;
  internalDate: Date;
  /** Index fields; when omitted, those the store parsed from the body are used. */
  headers?: HeaderSummary;
  envelope: Envelope;
  /**
   * Users who get a copy in their INBOX (or their Junk mailbox with `folder: 'junk'`, e.g.
   * DMARC p=quarantine). Each user gets exactly one entry even if listed twice. May be empty
   * when `outbound` or `copies` say where the message goes.
   */
  userIds: number[];
  /** Which of the users' mailboxes the entries go to; 'inbox' when omitted. */
  folder?: 'inbox' | 'junk';
  /**
   * Further entries in given mailboxes, in the same transaction (the sender's Sent copy of a
   * submitted message): flags as given (e.g. \Seen). Quota is not checked for these.
   */
  copies?: Array<{ mailboxId: number; flags: string[] }>;
  /** Recipients for the outbound queue, queued in the same transaction (see QueueStore). */
  outbound?: OutboundRequest;
}

export interface DeliveryResult {
  messageId: number;
  /** Entries made for `userIds` and then for `copies`, in that order. */
  entries: Array<{ userId: number; mailboxId: number; uid: number }>;
  /** The queue id when `outbound` was given, else null. */
  queueId: number | null;
}

/** What the outbound queue needs to know about a message besides its body and envelope sender. */
export interface OutboundRequest {
  /** Remote forward paths (lower-cased domain), one queue recipient each; duplicates are merged. */
  recipients: string[];
  /**
   * The local user who submitted it (a delivery status notification then goes straight into
   * their INBOX), or null (a DSN goes through the queue to envelope.mailFrom, or nowhere for <>).
   */
  senderUserId: number | null;
  /** The body has 8-bit octets (the client said BODY=8BITMIME): a peer without 8BITMIME cannot take it raw. */
  eightBit: boolean;
  /** The envelope or headers need SMTPUTF8 (RFC 6531) at the next hop. */
  smtputf8: boolean;
  /**
   * The recipients' first attempt; now when omitted. A caller that delivers at once itself
   * may set it later to keep other nodes' workers off it for a moment.
   */
  notBefore?: Date;
}

export interface AppendRequest {
  body: BodyWriter;
  internalDate: Date;
  /** Index fields; when omitted, those the store parsed from the body are used. */
  headers?: HeaderSummary;
  flags: string[];
}

export type FlagOperation = 'add' | 'remove' | 'replace';

/** What changed in a mailbox after a given modseq (for IMAP CONDSTORE/QRESYNC and IDLE). */
export interface MailboxChanges {
  highestModseq: number;
  /** Entries added or whose flags changed after the modseq (current state). */
  changed: MailboxEntry[];
  /** UIDs expunged after the modseq (as far as the expunge records still go back). */
  expunged: number[];
  /**
   * False when expunge records newer than the asked modseq may have been pruned
   * (pruneExpunged), so `expunged` may miss UIDs: the caller must find out what vanished
   * another way (e.g. compare with the UIDs it knows, or resynchronise fully).
   */
  complete: boolean;
}

/** Which UIDs of a mailbox to list: an inclusive UID range, optionally capped in count. */
export interface EntryRange {
  fromUid?: number;
  toUid?: number;
  limit?: number;
}

/** What opening a mailbox needs, without reading every entry (IMAP SELECT on 100,000 messages). */
export interface MailboxSummary {
  /** Every UID, ascending. */
  uids: number[];
  /** The lowest UID without \Seen, or null when every message is seen. */
  firstUnseenUid: number | null;
  /** Keywords set on at least one entry (flags not starting with a backslash). */
  keywords: string[];
}

/** Result of setFlags: entries changed, and UIDs refused by UNCHANGEDSINCE (RFC 7162 3.1.3). */
export interface FlagUpdate {
  updated: MailboxEntry[];
  /** UIDs whose modseq was above `unchangedSince`: not changed. */
  modified: number[];
}

/** Result of copyEntries / moveEntries (for UIDPLUS COPYUID). */
export interface CopyResult {
  /** UIDVALIDITY of the destination. */
  uidValidity: number;
  /** [source UID, destination UID] pairs in ascending source-UID order. */
  mapping: Array<[number, number]>;
}

/**
 * Mailboxes and their entries: UIDs, flags, modseqs, copy/move, expunge records and
 * subscriptions. Quota accounting (User.usedBytes) follows every entry added or removed here.
 */
export interface MailStore {
  // ---- mailboxes -----------------------------------------------------------------------
  listMailboxes(userId: number): Promise<Mailbox[]>;
  getMailbox(userId: number, name: string): Promise<Mailbox | null>;
  getMailboxById(mailboxId: number): Promise<Mailbox | null>;
  /** Creates a mailbox (not subscribed: IMAP CREATE does not subscribe). */
  createMailbox(userId: number, name: string, role?: MailboxRole | null): Promise<Mailbox>;
  /**
   * Deletes one mailbox with its entries (not its children: IMAP DELETE leaves inferior
   * names alone, nor its subscription). INBOX cannot be deleted ('invalid'); user's usedBytes shrinks.
   */
  deleteMailbox(mailboxId: number): Promise<void>;
  /**
   * Renames a mailbox and every mailbox below it ('old/...' becomes 'new/...'), keeping their
   * UIDVALIDITY, and moves the subscriptions of those names with them. Renaming INBOX is
   * IMAP's special case: its entries move to a new mailbox `newName` (fresh UIDVALIDITY,
   * UIDs 1..n in the old UID order, flags kept) and INBOX stays, empty; INBOX's children and
   * subscriptions stay. 'conflict' if a target name exists, 'not-found' if the old one does
   * not, 'invalid' when renaming a mailbox below itself. Missing parent names of `newName`
   * are not created (the hierarchy is implied by the names).
   * Resolves with the renamed mailbox (for INBOX: the new one).
   */
  renameMailbox(userId: number, oldName: string, newName: string): Promise<Mailbox>;
  /** Subscriptions are names, independent of whether the mailbox exists (RFC 9051 6.3.7). */
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  /** Subscribed names, sorted. */
  listSubscriptions(userId: number): Promise<string[]>;

  // ---- entries -------------------------------------------------------------------------
  /**
   * Stores the body once and adds an entry to each user's INBOX, atomically: either every
   * recipient has it or none does. Resolves only after it is durable on disk. The MIME
   * structure and search text computed while the body streamed in are stored with it.
   */
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  /** Adds a message to one mailbox (IMAP APPEND); durable when it resolves; 'quota' when over quota. */
  append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry>;
  /**
   * Entries of a mailbox in ascending UID order: all of them, or a UID range (inclusive),
   * at most `limit` of them. Page through a large mailbox with `fromUid` = last UID + 1.
   */
  listEntries(mailboxId: number, range?: EntryRange): Promise<MailboxEntry[]>;
  /** UIDs, first unseen and keywords in use, from the entry index alone (empty if no such mailbox). */
  summarizeMailbox(mailboxId: number): Promise<MailboxSummary>;
  /**
   * Copies entries (same stored body, new UIDs in the destination allocated in ascending
   * source-UID order, flags kept; \Recent semantics are the session's) atomically. UIDs not in
   * the source are skipped. Quota is checked as for append ('quota') on the destination
   * user's total.
   */
  copyEntries(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /**
   * Copy and expunge from the source in one transaction (IMAP MOVE, RFC 6851): the source
   * UIDs are recorded as expunged with a new modseq of the source mailbox.
   */
  moveEntries(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /**
   * Changes flags of the given UIDs (UIDs not in the mailbox are skipped). With
   * `unchangedSince` (RFC 7162 3.1.3), entries whose modseq is above it are left alone and
   * reported in `modified`. Entries whose flags did not change keep their modseq and are not
   * in `updated`. All entries changed by one call share one new modseq.
   */
  setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    options?: { unchangedSince?: number },
  ): Promise<FlagUpdate>;
  /** Removes the given UIDs from the mailbox; returns the UIDs actually removed. */
  expunge(mailboxId: number, uids: number[]): Promise<number[]>;
  /**
   * \Recent (IMAP4rev1, RFC 3501 2.3.2): a new message is recent in exactly one session, the
   * first to select the mailbox (or be told of the message) after it arrived, on whichever node.
   * Claims every UID up to `upToUid` for the caller and resolves with the highest UID claimed
   * before this call: the caller's recent messages are those above it, up to `upToUid`. The
   * claim never goes down; a mailbox that takes another UIDVALIDITY starts again from 0.
   */
  claimRecent(mailboxId: number, upToUid: number): Promise<number>;
  /** What changed after `modseq`; see MailboxChanges.complete for pruned expunge records. */
  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges>;
  /**
   * Forgets expunge records made before `before` (QRESYNC can then no longer report them:
   * changesSince answers complete = false for a modseq below the newest forgotten one).
   * Returns the number of records removed.
   */
  pruneExpunged(before: Date): Promise<number>;
}
