/**
 * PostgresStore: the Store contract on a PostgreSQL database, which several stateless Wharf
 * nodes can share.
 *
 * Reads are single statements on a connection pool; every write is one transaction whose
 * promise resolves after COMMIT (synchronous_commit as the server has it: on by default, so
 * durable). Per-mailbox UID and modseq allocation is serialised by the mailbox row lock, so
 * nodes writing to one mailbox at once take turns. Changes wake watchers on every node through
 * LISTEN/NOTIFY; leases expire by the database's clock.
 *
 * The pieces live in their own modules: db (pool, transactions, NOTIFY), schema (migrations),
 * accounts, mailboxes (and subscriptions), mailbox-tree (delete, rename), messages (storing
 * messages and entries), entries (listing, flags, expunge, changes), transfer (copy, move),
 * bodies (chunked body storage), search (pg_trgm text index), restore (wharf store copy), watch,
 * leases, counters (shared rate limits) and dkim-keys.
 */
import { randomUUID } from 'node:crypto';
import type { MessageStructure } from '../../mime/analysis.js';
import type {
  Alias,
  AppendRequest,
  BodyWriter,
  CopyResult,
  DeliveryRequest,
  DeliveryResult,
  Domain,
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
  RecipientResolution,
  Store,
  StoredMessage,
  TextField,
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
import { Database, createPool } from './db.js';
import { Entries } from './entries.js';
import { Leases } from './leases.js';
import { DkimKeys } from './dkim-keys.js';
import { SshKeys } from './ssh-keys.js';
import { Counters } from './counters.js';
import { MailboxTree } from './mailbox-tree.js';
import { Mailboxes } from './mailboxes.js';
import { Messages } from './messages.js';
import { PostgresQueue } from './queue.js';
import { PostgresQueueRestore } from './queue-restore.js';
import { QUEUE_WATCH_ID } from '../queue-normalize.js';
import { Restores } from './restore.js';
import { LATEST_VERSION, migrate } from './schema.js';
import { SearchIndex } from './search.js';
import { TextIndexer } from './text-indexer.js';
import { Transfers } from './transfer.js';
import { Watchers } from './watch.js';

export interface PostgresStoreOptions {
  /** Connections in the pool (besides the one that listens for changes). */
  poolSize?: number;
}

const DEFAULT_POOL_SIZE = 10;

export class PostgresStore implements Store {
  private readonly db: Database;
  private readonly bodies: BodyStore;
  private readonly mailboxes: Mailboxes;
  private readonly search: SearchIndex;
  private readonly indexer: TextIndexer;
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
  private readonly outbound: PostgresQueue;
  private readonly queueRestores: PostgresQueueRestore;
  private closing: Promise<void> | null = null;

  /**
   * Connects to the database at `url` (postgres://...), brings its schema up to date (once,
   * however many nodes start together), starts listening for changes and discards bodies
   * that writers on dead nodes left behind.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    await migrate(url);
    const store = new PostgresStore(url, options.poolSize ?? DEFAULT_POOL_SIZE);
    try {
      await store.watchers.start();
      await store.bodies.sweepStale();
      store.bodies.startMaintenance();
      store.indexer.start();
      return store;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  private constructor(url: string, poolSize: number) {
    // Names this store instance: in NOTIFY payloads, and as the writer of its pending bodies.
    const token = randomUUID();
    this.watchers = new Watchers(url, token);
    this.db = new Database(createPool(url, poolSize), token, (touched) => this.watchers.notifyLocal(touched));
    this.bodies = new BodyStore(this.db, token);
    this.mailboxes = new Mailboxes(this.db);
    this.search = new SearchIndex(this.db, this.bodies);
    this.indexer = new TextIndexer(this.db);
    this.outbound = new PostgresQueue(this.db, (tx, ids) => this.messages.deleteUnusedInTx(tx, ids));
    this.messages = new Messages(this.db, this.bodies, this.mailboxes, this.search, this.outbound, () => this.indexer.wake());
    this.entries = new Entries(this.db, this.mailboxes, this.messages);
    this.transfers = new Transfers(this.db, this.mailboxes, this.messages, this.entries);
    this.tree = new MailboxTree(this.db, this.mailboxes, this.messages, this.entries, this.transfers);
    this.accounts = new Accounts(this.db, this.mailboxes, this.messages);
    this.leases = new Leases(this.db);
    this.dkimKeys = new DkimKeys(this.db);
    this.sshKeys = new SshKeys(this.db);
    this.counters = new Counters(this.db);
    this.restores = new Restores(this.db, this.bodies, this.mailboxes, this.messages);
    this.queueRestores = new PostgresQueueRestore(this.db, this.bodies, this.messages, this.outbound);
  }

  /** The connection pool, for the file store kept in the same database (PostgresFileStore). */
  get database(): Database {
    return this.db;
  }

  /**
   * What a node's /readyz asks: the database answers, at the schema version this code
   * expects (another node may have migrated it further). Reads only; the message never
   * carries the connection string.
   */
  async checkHealth(): Promise<void> {
    if (this.closing) throw new Error('the store is closed');
    let found: number;
    try {
      const row = await this.db.one<{ version: number }>('SELECT COALESCE(MAX(version), 0)::int AS version FROM schema_migrations');
      found = row?.version ?? 0;
    } catch (err) {
      throw new Error(`database unreachable: ${(err as Error).message}`);
    }
    if (found > LATEST_VERSION) throw new Error(`database schema version ${found} is newer than this Wharf (${LATEST_VERSION}); upgrade Wharf`);
    if (found < LATEST_VERSION) throw new Error(`database schema version ${found} is older than this Wharf (${LATEST_VERSION}); migrations not applied`);
  }

  /** Finishes every operation already started, then ends the pool and the listener. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.indexer.stop();
        await this.db.drain();
        await this.bodies.close();
        await this.db.drain();
      } finally {
        await this.watchers.close();
        await this.db.end();
      }
    })();
    return this.closing;
  }

  /** Resolves once the search text of every acknowledged message is in the trigram index (not part of Store; tests). */
  flushSearchIndex(): Promise<void> {
    return this.indexer.flush();
  }

  /** Times the listening connection was re-established (not part of Store). */
  listenerReconnects(): number {
    return this.watchers.stats.reconnects;
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
    return this.mailboxes.setSubscribed(userId, name, subscribed);
  }
  listSubscriptions(userId: number): Promise<string[]> {
    return this.mailboxes.listSubscriptions(userId);
  }

  // ---- entries -------------------------------------------------------------------------
  deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    // Tracked from the start: close() waits for a delivery still waiting for its body's chunks.
    return this.db.track(() => this.messages.deliver(request));
  }
  append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    return this.db.track(() => this.messages.append(mailboxId, request));
  }
  listEntries(mailboxId: number, range?: EntryRange): Promise<MailboxEntry[]> {
    return this.entries.list(mailboxId, range);
  }
  summarizeMailbox(mailboxId: number): Promise<MailboxSummary> {
    return this.entries.summarize(mailboxId);
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

  // ---- restore -------------------------------------------------------------------------
  restoreMailbox(userId: number, mailbox: MailboxRestore): Promise<Mailbox> {
    return this.restores.restoreMailbox(userId, mailbox);
  }
  restoreEntries(mailboxId: number, entries: EntryRestore[]): Promise<MailboxEntry[]> {
    // Tracked from the start, as append: close() waits for bodies still streaming in.
    return this.db.track(() => this.restores.restoreEntries(mailboxId, entries));
  }
  restoreQueued(message: QueuedRestore): Promise<QueuedMessage> {
    return this.db.track(() => this.queueRestores.restore(message));
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
  /** Queue changes travel as changes of QUEUE_WATCH_ID, with the mailbox notifications. */
  watchQueue(onChange: () => void): MailboxWatch {
    return this.watchers.watch(QUEUE_WATCH_ID, onChange);
  }
}
