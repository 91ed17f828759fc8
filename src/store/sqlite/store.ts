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
 * StoreFacade (../store-facade.ts) maps the Store contract's methods onto them.
 */
import { StoreFacade } from '../store-facade.js';
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

export class SqliteStore extends StoreFacade {
  private readonly queue: WriteQueue;
  protected readonly bodies: BodyStore;
  protected readonly mailboxes: Mailboxes;
  protected readonly subscriptions: Subscriptions;
  protected readonly search: SearchIndex;
  protected readonly messages: Messages;
  protected readonly entries: Entries;
  protected readonly transfers: Transfers;
  protected readonly tree: MailboxTree;
  protected readonly accounts: Accounts;
  protected readonly leases: Leases;
  protected readonly dkimKeys: DkimKeys;
  protected readonly sshKeys: SshKeys;
  protected readonly counters: Counters;
  protected readonly restores: Restores;
  protected readonly watchers: Watchers;
  protected readonly outbound: SqliteQueue;
  protected readonly queueRestores: SqliteQueueRestore;
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
    super();
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
  protected tracked<T>(start: () => Promise<T>): Promise<T> {
    const operation = start();
    this.inflight.add(operation);
    operation.then(
      () => this.inflight.delete(operation),
      () => this.inflight.delete(operation),
    );
    return operation;
  }
}
