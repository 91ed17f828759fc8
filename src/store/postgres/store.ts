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
 * leases, counters (shared rate limits) and dkim-keys. StoreFacade (../store-facade.ts) maps the
 * Store contract's methods onto them.
 */
import { randomUUID } from 'node:crypto';
import { StoreFacade } from '../store-facade.js';
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

export class PostgresStore extends StoreFacade {
  private readonly db: Database;
  protected readonly bodies: BodyStore;
  protected readonly mailboxes: Mailboxes;
  /** Subscriptions are kept with the mailboxes here. */
  protected readonly subscriptions = {
    set: (userId: number, name: string, subscribed: boolean) => this.mailboxes.setSubscribed(userId, name, subscribed),
    list: (userId: number) => this.mailboxes.listSubscriptions(userId),
  };
  protected readonly search: SearchIndex;
  private readonly indexer: TextIndexer;
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
  protected readonly outbound: PostgresQueue;
  protected readonly queueRestores: PostgresQueueRestore;
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
    super();
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

  protected tracked<T>(start: () => Promise<T>): Promise<T> {
    return this.db.track(start);
  }

  /** Times the listening connection was re-established (not part of Store). */
  listenerReconnects(): number {
    return this.watchers.stats.reconnects;
  }

}
