/**
 * What SqliteStore and PostgresStore have in common: each is assembled from the same parts
 * (accounts, mailboxes, entries, bodies, queue ...), and the Store contract is those parts'
 * methods under the contract's names. The mapping is written once here; a backend supplies its
 * parts, how a write that waits for a body's chunks is tracked for close(), its health check
 * and its close.
 */
import type { MessageStructure } from '../mime/analysis.js';
import { QUEUE_WATCH_ID } from './queue-normalize.js';
import type {
  AccountStore,
  AppendRequest,
  BodyWriter,
  CopyResult,
  DeliveryRequest,
  DeliveryResult,
  DkimKey,
  EntryRange,
  EntryRestore,
  FlagOperation,
  FlagUpdate,
  Mailbox,
  MailboxChanges,
  MailboxEntry,
  MailboxRestore,
  MailboxRole,
  MailboxSummary,
  MailboxWatch,
  QueueAttemptResult,
  QueuedMessage,
  QueuedRestore,
  QueueStore,
  SshKey,
  Store,
  StoredMessage,
  TextField,
} from './types.js';

// ---- what each part offers the facade (both backends' classes match these shapes) ----------

type AccountPart = Pick<
  AccountStore,
  | 'addDomain'
  | 'removeDomain'
  | 'listDomains'
  | 'isLocalDomain'
  | 'addUser'
  | 'getUser'
  | 'getUserById'
  | 'getPasswordHash'
  | 'setPasswordHash'
  | 'setQuota'
  | 'listUsers'
  | 'removeUser'
  | 'addAlias'
  | 'removeAlias'
  | 'listAliases'
  | 'resolveRecipient'
>;
interface DkimKeyPart {
  set(domain: string, key: DkimKey): Promise<void>;
  get(domain: string): Promise<DkimKey | null>;
}
interface SshKeyPart {
  add(address: string, key: { algorithm: string; publicKey: Buffer; comment: string }): Promise<SshKey>;
  list(address: string): Promise<SshKey[]>;
  remove(address: string, fingerprint: string): Promise<boolean>;
}
interface MailboxPart {
  list(userId: number): Promise<Mailbox[]>;
  get(userId: number, name: string): Promise<Mailbox | null>;
  getById(mailboxId: number): Promise<Mailbox | null>;
  create(userId: number, name: string, role: MailboxRole | null): Promise<Mailbox>;
}
interface MailboxTreePart {
  delete(mailboxId: number): Promise<void>;
  rename(userId: number, oldName: string, newName: string): Promise<Mailbox>;
}
interface SubscriptionPart {
  set(userId: number, name: string, subscribed: boolean): Promise<void>;
  list(userId: number): Promise<string[]>;
}
interface MessagePart {
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry>;
  getMessage(messageId: number): Promise<StoredMessage | null>;
  getStructure(messageId: number): Promise<MessageStructure | null>;
}
interface EntryPart {
  summarize(mailboxId: number): Promise<MailboxSummary>;
  list(mailboxId: number, range?: EntryRange): Promise<MailboxEntry[]>;
  setFlags(mailboxId: number, uids: number[], op: FlagOperation, flags: string[], options?: { unchangedSince?: number }): Promise<FlagUpdate>;
  expunge(mailboxId: number, uids: number[]): Promise<number[]>;
  claimRecent(mailboxId: number, upToUid: number): Promise<number>;
  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges>;
  pruneExpunged(before: Date): Promise<number>;
}
interface TransferPart {
  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
}
interface BodyPart {
  createWriter(): BodyWriter;
  read(messageId: number, range?: { start: number; end?: number }): AsyncIterable<Buffer>;
}
interface SearchPart {
  search(mailboxId: number, field: TextField, needle: string): Promise<number[]>;
}
interface RestorePart {
  restoreMailbox(userId: number, mailbox: MailboxRestore): Promise<Mailbox>;
  restoreEntries(mailboxId: number, entries: EntryRestore[]): Promise<MailboxEntry[]>;
}
interface QueueRestorePart {
  restore(message: QueuedRestore): Promise<QueuedMessage>;
}
interface WatchPart {
  /** Mailbox ids, and QUEUE_WATCH_ID for the queue. */
  watch(id: number, onChange: () => void): MailboxWatch;
}
interface LeasePart {
  acquire(name: string, owner: string, ttlMs: number): Promise<boolean>;
  renew(name: string, owner: string, ttlMs: number): Promise<boolean>;
  release(name: string, owner: string): Promise<void>;
}
interface CounterPart {
  hit(name: string, windowMs: number): Promise<number>;
  peek(name: string): Promise<number>;
  reset(name: string): Promise<void>;
}
type QueuePart = Omit<QueueStore, 'watchQueue'>;

export abstract class StoreFacade implements Store {
  protected abstract readonly accounts: AccountPart;
  protected abstract readonly dkimKeys: DkimKeyPart;
  protected abstract readonly sshKeys: SshKeyPart;
  protected abstract readonly mailboxes: MailboxPart;
  protected abstract readonly tree: MailboxTreePart;
  protected abstract readonly subscriptions: SubscriptionPart;
  protected abstract readonly messages: MessagePart;
  protected abstract readonly entries: EntryPart;
  protected abstract readonly transfers: TransferPart;
  protected abstract readonly bodies: BodyPart;
  protected abstract readonly search: SearchPart;
  protected abstract readonly restores: RestorePart;
  protected abstract readonly queueRestores: QueueRestorePart;
  protected abstract readonly watchers: WatchPart;
  protected abstract readonly leases: LeasePart;
  protected abstract readonly counters: CounterPart;
  protected abstract readonly outbound: QueuePart;

  /**
   * Runs a write that may wait for a body still streaming in (deliver, append, restores), so
   * that close() waits for it: tracked from the start, not only once it reaches the database.
   */
  protected abstract tracked<T>(start: () => Promise<T>): Promise<T>;
  abstract checkHealth(): Promise<void>;
  abstract close(): Promise<void>;

  // ---- domains -------------------------------------------------------------------------
  addDomain(name: string) {
    return this.accounts.addDomain(name);
  }
  removeDomain(name: string) {
    return this.accounts.removeDomain(name);
  }
  listDomains() {
    return this.accounts.listDomains();
  }
  isLocalDomain(name: string) {
    return this.accounts.isLocalDomain(name);
  }

  // ---- users ---------------------------------------------------------------------------
  addUser(input: { address: string; passwordHash: string; quotaBytes?: number | null }) {
    return this.accounts.addUser(input);
  }
  getUser(address: string) {
    return this.accounts.getUser(address);
  }
  getUserById(id: number) {
    return this.accounts.getUserById(id);
  }
  getPasswordHash(address: string) {
    return this.accounts.getPasswordHash(address);
  }
  setPasswordHash(address: string, passwordHash: string) {
    return this.accounts.setPasswordHash(address, passwordHash);
  }
  setQuota(address: string, quotaBytes: number | null) {
    return this.accounts.setQuota(address, quotaBytes);
  }
  listUsers(domain?: string) {
    return this.accounts.listUsers(domain);
  }
  removeUser(address: string) {
    return this.accounts.removeUser(address);
  }

  // ---- aliases and keys ----------------------------------------------------------------
  addAlias(source: string, targets: string[]) {
    return this.accounts.addAlias(source, targets);
  }
  removeAlias(source: string, targets?: string[]) {
    return this.accounts.removeAlias(source, targets);
  }
  listAliases(domain?: string) {
    return this.accounts.listAliases(domain);
  }
  resolveRecipient(address: string) {
    return this.accounts.resolveRecipient(address);
  }
  setDkimKey(domain: string, key: DkimKey) {
    return this.dkimKeys.set(domain, key);
  }
  getDkimKey(domain: string) {
    return this.dkimKeys.get(domain);
  }
  addSshKey(address: string, key: { algorithm: string; publicKey: Buffer; comment: string }) {
    return this.sshKeys.add(address, key);
  }
  listSshKeys(address: string) {
    return this.sshKeys.list(address);
  }
  removeSshKey(address: string, fingerprint: string) {
    return this.sshKeys.remove(address, fingerprint);
  }

  // ---- mailboxes -----------------------------------------------------------------------
  listMailboxes(userId: number) {
    return this.mailboxes.list(userId);
  }
  getMailbox(userId: number, name: string) {
    return this.mailboxes.get(userId, name);
  }
  getMailboxById(mailboxId: number) {
    return this.mailboxes.getById(mailboxId);
  }
  createMailbox(userId: number, name: string, role?: MailboxRole | null) {
    return this.mailboxes.create(userId, name, role ?? null);
  }
  deleteMailbox(mailboxId: number) {
    return this.tree.delete(mailboxId);
  }
  renameMailbox(userId: number, oldName: string, newName: string) {
    return this.tree.rename(userId, oldName, newName);
  }
  setSubscribed(userId: number, name: string, subscribed: boolean) {
    return this.subscriptions.set(userId, name, subscribed);
  }
  listSubscriptions(userId: number) {
    return this.subscriptions.list(userId);
  }

  // ---- entries -------------------------------------------------------------------------
  deliver(request: DeliveryRequest) {
    return this.tracked(() => this.messages.deliver(request));
  }
  append(mailboxId: number, request: AppendRequest) {
    return this.tracked(() => this.messages.append(mailboxId, request));
  }
  summarizeMailbox(mailboxId: number) {
    return this.entries.summarize(mailboxId);
  }
  listEntries(mailboxId: number, range?: EntryRange) {
    return this.entries.list(mailboxId, range);
  }
  copyEntries(fromMailboxId: number, uids: number[], toMailboxId: number) {
    return this.transfers.copy(fromMailboxId, uids, toMailboxId);
  }
  moveEntries(fromMailboxId: number, uids: number[], toMailboxId: number) {
    return this.transfers.move(fromMailboxId, uids, toMailboxId);
  }
  setFlags(mailboxId: number, uids: number[], op: FlagOperation, flags: string[], options?: { unchangedSince?: number }) {
    return this.entries.setFlags(mailboxId, uids, op, flags, options);
  }
  expunge(mailboxId: number, uids: number[]) {
    return this.entries.expunge(mailboxId, uids);
  }
  claimRecent(mailboxId: number, upToUid: number) {
    return this.entries.claimRecent(mailboxId, upToUid);
  }
  changesSince(mailboxId: number, modseq: number) {
    return this.entries.changesSince(mailboxId, modseq);
  }
  pruneExpunged(before: Date) {
    return this.entries.pruneExpunged(before);
  }

  // ---- bodies and search ---------------------------------------------------------------
  createBody() {
    return this.bodies.createWriter();
  }
  getMessage(messageId: number) {
    return this.messages.getMessage(messageId);
  }
  readBody(messageId: number, range?: { start: number; end?: number }) {
    return this.bodies.read(messageId, range);
  }
  getStructure(messageId: number) {
    return this.messages.getStructure(messageId);
  }
  searchText(mailboxId: number, field: TextField, needle: string) {
    return this.search.search(mailboxId, field, needle);
  }

  // ---- restore -------------------------------------------------------------------------
  restoreMailbox(userId: number, mailbox: MailboxRestore) {
    return this.restores.restoreMailbox(userId, mailbox);
  }
  restoreEntries(mailboxId: number, entries: EntryRestore[]) {
    return this.tracked(() => this.restores.restoreEntries(mailboxId, entries));
  }
  restoreQueued(message: QueuedRestore) {
    return this.tracked(() => this.queueRestores.restore(message));
  }

  // ---- coordination --------------------------------------------------------------------
  watchMailbox(mailboxId: number, onChange: () => void) {
    return this.watchers.watch(mailboxId, onChange);
  }
  acquireLease(name: string, owner: string, ttlMs: number) {
    return this.leases.acquire(name, owner, ttlMs);
  }
  renewLease(name: string, owner: string, ttlMs: number) {
    return this.leases.renew(name, owner, ttlMs);
  }
  releaseLease(name: string, owner: string) {
    return this.leases.release(name, owner);
  }
  hitCounter(name: string, windowMs: number) {
    return this.counters.hit(name, windowMs);
  }
  peekCounter(name: string) {
    return this.counters.peek(name);
  }
  resetCounter(name: string) {
    return this.counters.reset(name);
  }

  // ---- outbound queue ------------------------------------------------------------------
  claimDue(owner: string, now: Date, limit: number, leaseMs: number) {
    return this.outbound.claimDue(owner, now, limit, leaseMs);
  }
  renewClaim(queueId: number, owner: string, leaseMs: number) {
    return this.outbound.renewClaim(queueId, owner, leaseMs);
  }
  recordAttempts(queueId: number, owner: string, results: QueueAttemptResult[], options?: { release?: boolean }) {
    return this.outbound.recordAttempts(queueId, owner, results, options);
  }
  markNotified(queueId: number, change: { dsnFor?: string[]; delayNotified?: boolean }) {
    return this.outbound.markNotified(queueId, change);
  }
  nextDue() {
    return this.outbound.nextDue();
  }
  getQueued(queueId: number) {
    return this.outbound.getQueued(queueId);
  }
  listQueue() {
    return this.outbound.listQueue();
  }
  retryNow(queueId?: number) {
    return this.outbound.retryNow(queueId);
  }
  setHeld(queueId: number, held: boolean) {
    return this.outbound.setHeld(queueId, held);
  }
  deleteQueued(queueId: number) {
    return this.outbound.deleteQueued(queueId);
  }
  /** Queue changes travel with the mailboxes' notifications, under QUEUE_WATCH_ID. */
  watchQueue(onChange: () => void) {
    return this.watchers.watch(QUEUE_WATCH_ID, onChange);
  }
}
