/**
 * SqliteStore: the Store contract on one SQLite file (better-sqlite3), for a single host.
 *
 * better-sqlite3 is synchronous, so reads simply run prepared statements (cached at open) and
 * return resolved promises. All writes go through the WriteQueue, which commits everything
 * queued during one event-loop turn in a single transaction (one fsync for many deliveries).
 * The pieces live in their own modules: accounts (domains, users, aliases), mailboxes,
 * mailbox-tree (delete, rename), subscriptions, messages (storing messages and entries),
 * entries (listing, flags, expunge, changes), transfer (copy, move), bodies (chunked body
 * storage and its analysis), search (full-text index), watch, leases, counters (shared rate
 * limits), dkim-keys, and restore (mailboxes and entries with given UIDs, for copying a store).
 */
import type { MessageStructure } from '../../mime/analysis.js';
import type {
  Alias,
  CopyResult,
  EntryRange,
  MailboxSummary,
  FlagUpdate,
  TextField,
  AppendRequest,
  BodyWriter,
  DeliveryRequest,
  DeliveryResult,
  Domain,
  EntryRestore,
  FlagOperation,
  Mailbox,
  MailboxChanges,
  MailboxEntry,
  MailboxRestore,
  MailboxRole,
  MailboxWatch,
  RecipientResolution,
  Store,
  StoredMessage,
  User,
  DkimKey,
  SshKey,
  QueueAttemptResult,
  QueuedMessage,
  QueuedRestore,
} from '../types.js';
import { StoreError } from '../types.js';
import { Accounts } from './accounts.js';
import { BodyStore } from './bodies.js';
import { Entries } from './entries.js';
import { Leases } from './leases.js';
import { DkimKeys } from './dkim-keys.js';
import { SshKeys } from './ssh-keys.js';
import { Counters } from './counters.js';
import { MailboxTree } from './mailbox-tree.js';
import { Mailboxes } from './mailboxes.js';
import { Messages } from './messages.js';
import { SqliteQueue } from './queue.js';
import { SqliteQueueRestore } from './queue-restore.js';
import { QUEUE_WATCH_ID } from '../queue-normalize.js';
import { Restores } from './restore.js';
import { openDatabase, schemaCheck, type Db } from './schema.js';
import { SearchIndex } from './search.js';
import { Subscriptions } from './subscriptions.js';
import { Transfers } from './transfer.js';
import { Watchers } from './watch.js';
import { StoreBackground, type BackgroundTimings } from './background.js';
import { WalSync } from './wal-sync.js';
import { WriteQueue } from './write-queue.js';

export class SqliteStore implements Store {
  private readonly queue: WriteQueue;
  private readonly bodies: BodyStore;
  private readonly mailboxes: Mailboxes;
  private readonly subscriptions: Subscriptions;
  private readonly search: SearchIndex;
  private readonly messages: Messages;
  private readonly entries: Entries;
  private readonly transfers: Transfers;
  private readonly tree: MailboxTree;
  private readonly accounts: Accounts;
  private readonly leases: Leases;
  private readonly dkimKeys: DkimKeys;
  private readonly sshKeys: SshKeys;
  private readonly counters: Counters;
  private readonly restores: Restores;
  private readonly watchers: Watchers;
  private readonly outbound: SqliteQueue;
  private readonly queueRestores: SqliteQueueRestore;
  private closing: Promise<void> | null = null;
  /** Deliveries/appends still waiting for their body's chunk writes before they queue. */
  private readonly inflight = new Set<Promise<unknown>>();

  /** Opens (creating or migrating) the database file and discards crashed writers' bodies. */
  static open(file: string, timings: BackgroundTimings = {}): SqliteStore {
    const db = openDatabase(file);
    try {
      const store = new SqliteStore(db, file, timings);
      store.bodies.sweepOrphans();
      store.background.startIfNeeded();
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private readonly walSync: WalSync;
  /** Checkpoints and indexing, on a worker thread while there is work (background.ts). */
  private readonly background: StoreBackground;
  private readonly checkSchema: () => void;

  private constructor(
    private readonly db: Db,
    file: string,
    timings: BackgroundTimings,
  ) {
    this.walSync = new WalSync(`${file}-wal`);
    this.background = new StoreBackground(db, file, () => this.queue.stats.transactions, timings);
    this.queue = new WriteQueue(
      db,
      (touched) => {
        this.watchers.notifyCommitted(touched);
        this.background.indexer.nudge();
      },
      this.walSync,
    );
    this.bodies = new BodyStore(db, this.queue);
    this.mailboxes = new Mailboxes(db, this.queue);
    this.subscriptions = new Subscriptions(db, this.queue);
    this.search = new SearchIndex(db, this.bodies);
    this.outbound = new SqliteQueue(db, this.queue, (messageId) => this.messages.deleteIfUnusedInTx(messageId));
    this.messages = new Messages(db, this.queue, this.bodies, this.mailboxes, this.search, this.outbound);
    this.entries = new Entries(db, this.queue, this.mailboxes, this.messages);
    this.transfers = new Transfers(db, this.queue, this.mailboxes, this.messages, this.entries);
    this.tree = new MailboxTree(
      db,
      this.queue,
      this.mailboxes,
      this.messages,
      this.entries,
      this.transfers,
      this.subscriptions,
    );
    this.accounts = new Accounts(db, this.queue, this.mailboxes, this.messages, this.subscriptions);
    this.leases = new Leases(db, this.queue);
    this.dkimKeys = new DkimKeys(db, this.queue);
    this.sshKeys = new SshKeys(db, this.queue);
    this.counters = new Counters(db, this.queue);
    this.restores = new Restores(db, this.queue, this.bodies, this.mailboxes, this.messages, this.subscriptions);
    this.queueRestores = new SqliteQueueRestore(db, this.queue, this.bodies, this.messages, this.outbound);
    // The queue is watched like a mailbox whose "modseq" is the queue's change counter.
    this.watchers = new Watchers(db, (id) =>
      id === QUEUE_WATCH_ID ? this.outbound.version() : this.mailboxes.highestModseq(id),
    );
    this.checkSchema = schemaCheck(db);
  }

  /** Whether the worker thread runs, and how many were started (tests). */
  backgroundStats(): { running: boolean; started: number } {
    return this.background.stats();
  }

  async checkHealth(): Promise<void> {
    // After close() the connection is gone; say so rather than better-sqlite3's wording.
    if (this.closing) throw new Error('the store is closed');
    this.checkSchema();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.watchers.close();
      await Promise.allSettled([...this.inflight]);
      await this.queue.drain();
      await this.bodies.close();
      await this.queue.close();
      // Its last checkpoint runs as it stops (if it is running; otherwise closing the last
      // connection checkpoints).
      await this.background.stop();
      this.db.close();
    })();
    return this.closing;
  }

  /** Resolves once every message stored so far is in the full-text index (for tests). */
  searchIndexIdle(): Promise<void> {
    return this.background.indexer.idle();
  }

  /** Group-commit counters (not part of Store): transactions committed, operations in them. */
  writeStats(): { transactions: number; operations: number; syncs: number; checkpoints: number } {
    return { ...this.queue.stats, syncs: this.walSync.stats.syncs, checkpoints: this.background.checkpointer.stats.checkpoints };
  }

  /** Remembers an operation that may queue its write later, so close() can wait for it. */
  private track<T>(operation: Promise<T>): Promise<T> {
    this.inflight.add(operation);
    operation.then(
      () => this.inflight.delete(operation),
      () => this.inflight.delete(operation),
    );
    return operation;
  }

  // ---- domains -------------------------------------------------------------------------
  addDomain(name: string): Promise<Domain> {
    return this.accounts.addDomain(name);
  }
  removeDomain(name: string): Promise<void> {
    return this.accounts.removeDomain(name);
  }
  listDomains(): Promise<Domain[]> {
    return this.accounts.listDomains();
  }
  isLocalDomain(name: string): Promise<boolean> {
    return this.accounts.isLocalDomain(name);
  }

  // ---- users ---------------------------------------------------------------------------
  addUser(input: { address: string; passwordHash: string; quotaBytes?: number | null }): Promise<User> {
    return this.accounts.addUser(input);
  }
  getUser(address: string): Promise<User | null> {
    return this.accounts.getUser(address);
  }
  getUserById(id: number): Promise<User | null> {
    return this.accounts.getUserById(id);
  }
  getPasswordHash(address: string): Promise<string | null> {
    return this.accounts.getPasswordHash(address);
  }
  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.accounts.setPasswordHash(address, passwordHash);
  }
  setQuota(address: string, quotaBytes: number | null): Promise<void> {
    return this.accounts.setQuota(address, quotaBytes);
  }
  listUsers(domain?: string): Promise<User[]> {
    return this.accounts.listUsers(domain);
  }
  removeUser(address: string): Promise<void> {
    return this.accounts.removeUser(address);
  }

  // ---- aliases -------------------------------------------------------------------------
  addAlias(source: string, targets: string[]): Promise<Alias> {
    return this.accounts.addAlias(source, targets);
  }
  removeAlias(source: string, targets?: string[]): Promise<void> {
    return this.accounts.removeAlias(source, targets);
  }
  listAliases(domain?: string): Promise<Alias[]> {
    return this.accounts.listAliases(domain);
  }
  resolveRecipient(address: string): Promise<RecipientResolution> {
    return this.accounts.resolveRecipient(address);
  }
  setDkimKey(domain: string, key: DkimKey): Promise<void> {
    return this.dkimKeys.set(domain, key);
  }
  getDkimKey(domain: string): Promise<DkimKey | null> {
    return this.dkimKeys.get(domain);
  }
  addSshKey(address: string, key: { algorithm: string; publicKey: Buffer; comment: string }): Promise<SshKey> {
    return this.sshKeys.add(address, key);
  }
  listSshKeys(address: string): Promise<SshKey[]> {
    return this.sshKeys.list(address);
  }
  removeSshKey(address: string, fingerprint: string): Promise<boolean> {
    return this.sshKeys.remove(address, fingerprint);
  }

  // ---- mailboxes -----------------------------------------------------------------------
  listMailboxes(userId: number): Promise<Mailbox[]> {
    return this.mailboxes.list(userId);
  }
  getMailbox(userId: number, name: string): Promise<Mailbox | null> {
    return this.mailboxes.get(userId, name);
  }
  getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    return this.mailboxes.getById(mailboxId);
  }
  createMailbox(userId: number, name: string, role?: MailboxRole | null): Promise<Mailbox> {
    return this.mailboxes.create(userId, name, role ?? null);
  }

  deleteMailbox(mailboxId: number): Promise<void> {
    return this.tree.delete(mailboxId);
  }
  renameMailbox(userId: number, oldName: string, newName: string): Promise<Mailbox> {
    return this.tree.rename(userId, oldName, newName);
  }
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    return this.subscriptions.set(userId, name, subscribed);
  }
  listSubscriptions(userId: number): Promise<string[]> {
    return this.subscriptions.list(userId);
  }

  // ---- entries -------------------------------------------------------------------------
  deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    return this.track(this.messages.deliver(request));
  }
  append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    return this.track(this.messages.append(mailboxId, request));
  }
  summarizeMailbox(mailboxId: number): Promise<MailboxSummary> {
    return this.entries.summarize(mailboxId);
  }
  listEntries(mailboxId: number, range?: EntryRange): Promise<MailboxEntry[]> {
    return this.entries.list(mailboxId, range);
  }
  copyEntries(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.transfers.copy(fromMailboxId, uids, toMailboxId);
  }
  moveEntries(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.transfers.move(fromMailboxId, uids, toMailboxId);
  }
  setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    options?: { unchangedSince?: number },
  ): Promise<FlagUpdate> {
    return this.entries.setFlags(mailboxId, uids, op, flags, options);
  }
  expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    return this.entries.expunge(mailboxId, uids);
  }
  claimRecent(mailboxId: number, upToUid: number): Promise<number> {
    return this.entries.claimRecent(mailboxId, upToUid);
  }

  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    return this.entries.changesSince(mailboxId, modseq);
  }
  pruneExpunged(before: Date): Promise<number> {
    return this.entries.pruneExpunged(before);
  }

  // ---- bodies --------------------------------------------------------------------------
  createBody(): BodyWriter {
    return this.bodies.createWriter();
  }
  getMessage(messageId: number): Promise<StoredMessage | null> {
    return this.messages.getMessage(messageId);
  }
  readBody(messageId: number, range?: { start: number; end?: number }): AsyncIterable<Buffer> {
    return this.bodies.read(messageId, range);
  }
  getStructure(messageId: number): Promise<MessageStructure | null> {
    return this.messages.getStructure(messageId);
  }

  // ---- search --------------------------------------------------------------------------
  searchText(mailboxId: number, field: TextField, needle: string): Promise<number[]> {
    return this.search.search(mailboxId, field, needle);
  }

  // ---- restore --------------------------------------------------------------------------
  restoreMailbox(userId: number, mailbox: MailboxRestore): Promise<Mailbox> {
    return this.restores.restoreMailbox(userId, mailbox);
  }
  restoreEntries(mailboxId: number, entries: EntryRestore[]): Promise<MailboxEntry[]> {
    return this.track(this.restores.restoreEntries(mailboxId, entries));
  }
  restoreQueued(message: QueuedRestore): Promise<QueuedMessage> {
    return this.track(this.queueRestores.restore(message));
  }

  // ---- coordination --------------------------------------------------------------------
  watchMailbox(mailboxId: number, onChange: () => void): MailboxWatch {
    return this.watchers.watch(mailboxId, onChange);
  }

  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.leases.acquire(name, owner, ttlMs);
  }
  renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.leases.renew(name, owner, ttlMs);
  }
  releaseLease(name: string, owner: string): Promise<void> {
    return this.leases.release(name, owner);
  }
  hitCounter(name: string, windowMs: number): Promise<number> {
    return this.counters.hit(name, windowMs);
  }
  peekCounter(name: string): Promise<number> {
    return this.counters.peek(name);
  }
  resetCounter(name: string): Promise<void> {
    return this.counters.reset(name);
  }

  // ---- outbound queue ------------------------------------------------------------------
  claimDue(owner: string, now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
    return this.outbound.claimDue(owner, now, limit, leaseMs);
  }
  renewClaim(queueId: number, owner: string, leaseMs: number): Promise<boolean> {
    return this.outbound.renewClaim(queueId, owner, leaseMs);
  }
  recordAttempts(queueId: number, owner: string, results: QueueAttemptResult[], options?: { release?: boolean }): Promise<void> {
    return this.outbound.recordAttempts(queueId, owner, results, options);
  }
  markNotified(queueId: number, change: { dsnFor?: string[]; delayNotified?: boolean }): Promise<void> {
    return this.outbound.markNotified(queueId, change);
  }
  nextDue(): Promise<Date | null> {
    return this.outbound.nextDue();
  }
  getQueued(queueId: number): Promise<QueuedMessage | null> {
    return this.outbound.getQueued(queueId);
  }
  listQueue(): Promise<QueuedMessage[]> {
    return this.outbound.listQueue();
  }
  retryNow(queueId?: number): Promise<number> {
    return this.outbound.retryNow(queueId);
  }
  setHeld(queueId: number, held: boolean): Promise<number> {
    return this.outbound.setHeld(queueId, held);
  }
  deleteQueued(queueId: number): Promise<boolean> {
    return this.outbound.deleteQueued(queueId);
  }
  watchQueue(onChange: () => void): MailboxWatch {
    return this.watchers.watch(QUEUE_WATCH_ID, onChange);
  }
}
