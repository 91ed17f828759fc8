import type { MessageStructure } from '../mime/analysis.js';

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

export interface Domain {
  name: string;
  createdAt: Date;
}

export interface User {
  id: number;
  /** Lower-cased full address, local@domain. It is also the login name. */
  address: string;
  domain: string;
  /** Maximum bytes of stored mail; null means unlimited. */
  quotaBytes: number | null;
  /** Bytes currently stored across all the user's mailboxes. */
  usedBytes: number;
  createdAt: Date;
}

export interface Alias {
  /** `local@domain`, or `@domain` for the domain's catch-all. Lower-cased. */
  source: string;
  /** Addresses of local users (or other aliases; expansion is recursive, loop-safe). */
  targets: string[];
}

export type RecipientResolution =
  /** A local address: the users (after alias expansion, de-duplicated) who get a copy. */
  | { kind: 'local'; users: User[] }
  /** The domain is ours but no user or alias (nor catch-all) matches: 550 5.1.1. */
  | { kind: 'unknown' }
  /** Not one of our domains: relaying rules apply. */
  | { kind: 'remote' };

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

export interface StoredMessage {
  id: number;
  size: number;
  internalDate: Date;
  headers: HeaderSummary;
}

/**
 * Streams a new message body into the store. The body is not visible anywhere until it is
 * passed to `deliver` (or `append`); an aborted or never-delivered writer leaves nothing behind
 * (after a crash, the store discards unfinished bodies when it opens).
 */
export interface BodyWriter {
  /** Bytes written so far. */
  readonly size: number;
  /** Adds bytes. Resolves when the store can take more (back-pressure). */
  write(chunk: Buffer): Promise<void>;
  /** Discards everything written. Safe to call more than once, and after a failed deliver. */
  abort(): Promise<void>;
  /**
   * Places `bytes` before everything written (before and after this call): header fields a
   * server can only compute once the whole message went by (Authentication-Results after
   * verifying DKIM/SPF/DMARC, DKIM-Signature after signing). A later call goes in front of an
   * earlier one. `size`, the stored size, the MIME structure's offsets and readBody all count
   * the prepended bytes; the header summary does not change (none of its fields is prepended).
   * Only before the body is handed to deliver/append; 'invalid' afterwards. Meant for a few
   * header lines (at most 64 KiB in all; 'invalid' beyond).
   */
  prepend(bytes: Buffer): void;
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

export interface MailboxWatch {
  close(): void;
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

/** Fields of the full-text index (decoded text, RFC 2047 / transfer encoding / charset undone). */
export type TextField = 'body' | 'text' | 'subject' | 'from' | 'to' | 'cc' | 'bcc';

/** Domains, users (with password hashes and quotas), aliases and recipient resolution. */
export interface AccountStore {
  // ---- domains -------------------------------------------------------------------------
  addDomain(name: string): Promise<Domain>;
  /** Removes a domain; fails with StoreError('conflict') while it still has users or aliases. */
  removeDomain(name: string): Promise<void>;
  listDomains(): Promise<Domain[]>;
  isLocalDomain(name: string): Promise<boolean>;

  // ---- users ---------------------------------------------------------------------------
  /**
   * Creates the user and its default mailboxes in one transaction, subscribed to each of
   * them. The domain must exist.
   */
  addUser(input: { address: string; passwordHash: string; quotaBytes?: number | null }): Promise<User>;
  getUser(address: string): Promise<User | null>;
  getUserById(id: number): Promise<User | null>;
  /** The stored password hash for login checks; null if no such user. */
  getPasswordHash(address: string): Promise<string | null>;
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  setQuota(address: string, quotaBytes: number | null): Promise<void>;
  listUsers(domain?: string): Promise<User[]>;
  /** Removes the user with all its mailboxes, entries and subscriptions (bodies shared with others stay). */
  removeUser(address: string): Promise<void>;

  // ---- aliases -------------------------------------------------------------------------
  /** Adds targets to an alias (creating it). The source's domain must be local. */
  addAlias(source: string, targets: string[]): Promise<Alias>;
  /** Removes the whole alias, or only the given targets. */
  removeAlias(source: string, targets?: string[]): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;
  /** Resolves an envelope recipient: user, then alias, then the domain's catch-all. */
  resolveRecipient(address: string): Promise<RecipientResolution>;

  // ---- DKIM keys (shared by every node, so any node signs a domain's mail) --------------
  /** Sets (replaces) the domain's DKIM signing key; 'not-found' without such a domain. */
  setDkimKey(domain: string, key: DkimKey): Promise<void>;
  /** The domain's DKIM signing key, or null when it has none (or no such domain). */
  getDkimKey(domain: string): Promise<DkimKey | null>;
}

/** Users' SSH public keys for SFTP login; in the store, so every node accepts them. */
export interface SshKeyStore {
  /**
   * Adds a public key for the user; 'not-found' without such a user, 'conflict' when the user
   * already has a key with the same fingerprint.
   */
  addSshKey(address: string, key: { algorithm: string; publicKey: Buffer; comment: string }): Promise<SshKey>;
  /** The user's keys, oldest first; empty for an unknown user. */
  listSshKeys(address: string): Promise<SshKey[]>;
  /** Removes the user's key with that fingerprint; false when there was none. */
  removeSshKey(address: string, fingerprint: string): Promise<boolean>;
}

/** A user's SSH public key (RFC 4253 6.6 wire form), for SFTP public-key login. */
export interface SshKey {
  /** e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256". */
  algorithm: string;
  /** The key blob as in authorized_keys' base64 field, decoded. */
  publicKey: Buffer;
  comment: string;
  /** OpenSSH's form: "SHA256:" + unpadded base64 of SHA-256 over the blob. */
  fingerprint: string;
  createdAt: Date;
}

/** A domain's DKIM signing key (RFC 6376): published as `<selector>._domainkey.<domain>` TXT. */
export interface DkimKey {
  /** DNS label(s), e.g. "wharf2026". */
  selector: string;
  /** 'rsa-sha256' (2048-bit key) or 'ed25519-sha256' (RFC 8463). */
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** PKCS#8 PEM. A secret: never logged. */
  privateKeyPem: string;
  createdAt: Date;
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

/** Message bodies and what was learnt about them while they streamed in. */
export interface BlobStore {
  /**
   * Starts a new body. Bodies can be large: they are never held whole in memory. The MIME
   * structure and search text are computed from the chunks as they are written.
   */
  createBody(): BodyWriter;
  getMessage(messageId: number): Promise<StoredMessage | null>;
  /**
   * Streams a stored body, optionally only bytes [start, end) of it. The stream yields
   * Buffers; the whole body is never loaded at once.
   */
  readBody(messageId: number, range?: { start: number; end?: number }): AsyncIterable<Buffer>;
  /** The MIME structure and envelope computed when the message was stored; null if no such message. */
  getStructure(messageId: number): Promise<MessageStructure | null>;
}

/** The full-text index, filled when a message is stored. */
export interface SearchStore {
  /**
   * UIDs (ascending) in the mailbox whose decoded `field` contains `needle`, case-insensitively
   * (each character lower-cased on its own; no other folding), exactly as a substring: the index
   * narrows the candidates, a check on the text confirms. An empty needle matches every entry
   * that has the field (a message without a Subject header does not match SUBJECT "").
   */
  searchText(mailboxId: number, field: TextField, needle: string): Promise<number[]>;
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

/** A mailbox as `restoreMailbox` recreates it: what IMAP clients cache about it. */
export interface MailboxRestore {
  name: string;
  role: MailboxRole | null;
  /** 1 .. 2^32-1. */
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Whether the user's subscriptions hold the name. */
  subscribed: boolean;
}

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
