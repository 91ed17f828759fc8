/**
 * SqliteStore: the Store contract on one SQLite file (better-sqlite3), for a single host.
 *
 * better-sqlite3 is synchronous, so reads simply run prepared statements (cached at open) and
 * return resolved promises. All writes go through the WriteQueue, which commits everything
 * queued during one event-loop turn in a single transaction (one fsync for many deliveries).
 * The pieces live in their own modules: accounts (domains, users, aliases), mailboxes,
 * messages (entries, flags, expunge), bodies (chunked body storage), watch and leases.
 */
import type { MessageStructure } from '../../mime/analysis.js';
import type {
  Alias,
  CopyResult,
  EntryRange,
  FlagUpdate,
  TextField,
  AppendRequest,
  BodyWriter,
  DeliveryRequest,
  DeliveryResult,
  Domain,
  FlagOperation,
  Mailbox,
  MailboxChanges,
  MailboxEntry,
  MailboxRole,
  MailboxWatch,
  RecipientResolution,
  Store,
  StoredMessage,
  User,
} from '../types.js';
import { Accounts } from './accounts.js';
import { BodyStore } from './bodies.js';
import { Leases } from './leases.js';
import { Mailboxes } from './mailboxes.js';
import { Messages } from './messages.js';
import { openDatabase, type Db } from './schema.js';
import { Watchers } from './watch.js';
import { Checkpointer } from './checkpointer.js';
import { WalSync } from './wal-sync.js';
import { WriteQueue } from './write-queue.js';

/** Placeholder for contract methods whose SQLite implementation is still being written. */
function notYet(name: string): Promise<never> {
  return Promise.reject(new Error(`store: ${name} is not implemented yet`));
}

export class SqliteStore implements Store {
  private readonly queue: WriteQueue;
  private readonly bodies: BodyStore;
  private readonly mailboxes: Mailboxes;
  private readonly messages: Messages;
  private readonly accounts: Accounts;
  private readonly leases: Leases;
  private readonly watchers: Watchers;
  private closing: Promise<void> | null = null;
  /** Deliveries/appends still waiting for their body's chunk writes before they queue. */
  private readonly inflight = new Set<Promise<unknown>>();

  /** Opens (creating or migrating) the database file and discards crashed writers' bodies. */
  static open(file: string): SqliteStore {
    const db = openDatabase(file);
    try {
      const store = new SqliteStore(db, file);
      store.bodies.sweepOrphans();
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private readonly walSync: WalSync;
  private readonly checkpointer: Checkpointer;

  private constructor(
    private readonly db: Db,
    file: string,
  ) {
    this.walSync = new WalSync(`${file}-wal`);
    this.checkpointer = new Checkpointer(file);
    this.queue = new WriteQueue(db, (touched) => this.watchers.notifyCommitted(touched), this.walSync);
    this.bodies = new BodyStore(db, this.queue);
    this.mailboxes = new Mailboxes(db, this.queue);
    this.messages = new Messages(db, this.queue, this.bodies, this.mailboxes);
    this.accounts = new Accounts(db, this.queue, this.mailboxes, this.messages);
    this.leases = new Leases(db, this.queue);
    this.watchers = new Watchers(db, (id) => this.mailboxes.highestModseq(id));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.watchers.close();
      await Promise.allSettled([...this.inflight]);
      await this.queue.drain();
      await this.bodies.close();
      await this.queue.close();
      await this.checkpointer.stop();
      this.db.close();
    })();
    return this.closing;
  }

  /** Group-commit counters (not part of Store): transactions committed, operations in them. */
  writeStats(): { transactions: number; operations: number; syncs: number; checkpoints: number } {
    return { ...this.queue.stats, syncs: this.walSync.stats.syncs, checkpoints: this.checkpointer.stats.checkpoints };
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

  // ---- messages ------------------------------------------------------------------------
  createBody(): BodyWriter {
    return this.bodies.createWriter();
  }
  deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    return this.track(this.messages.deliver(request));
  }
  append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    return this.track(this.messages.append(mailboxId, request));
  }
  listEntries(mailboxId: number, _range?: EntryRange): Promise<MailboxEntry[]> {
    return this.messages.listEntries(mailboxId);
  }
  getMessage(messageId: number): Promise<StoredMessage | null> {
    return this.messages.getMessage(messageId);
  }
  readBody(messageId: number, range?: { start: number; end?: number }): AsyncIterable<Buffer> {
    return this.bodies.read(messageId, range);
  }
  setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    _options?: { unchangedSince?: number },
  ): Promise<FlagUpdate> {
    return this.messages.setFlags(mailboxId, uids, op, flags).then((updated) => ({ updated, modified: [] }));
  }
  deleteMailbox(_mailboxId: number): Promise<void> {
    return notYet('deleteMailbox');
  }
  renameMailbox(_userId: number, _oldName: string, _newName: string): Promise<Mailbox> {
    return notYet('renameMailbox');
  }
  setSubscribed(_userId: number, _name: string, _subscribed: boolean): Promise<void> {
    return notYet('setSubscribed');
  }
  listSubscriptions(_userId: number): Promise<string[]> {
    return notYet('listSubscriptions');
  }
  copyEntries(_from: number, _uids: number[], _to: number): Promise<CopyResult> {
    return notYet('copyEntries');
  }
  moveEntries(_from: number, _uids: number[], _to: number): Promise<CopyResult> {
    return notYet('moveEntries');
  }
  getStructure(_messageId: number): Promise<MessageStructure | null> {
    return notYet('getStructure');
  }
  searchText(_mailboxId: number, _field: TextField, _needle: string): Promise<number[]> {
    return notYet('searchText');
  }
  pruneExpunged(_before: Date): Promise<number> {
    return notYet('pruneExpunged');
  }
  expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    return this.messages.expunge(mailboxId, uids);
  }
  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    return this.messages.changesSince(mailboxId, modseq);
  }
  watchMailbox(mailboxId: number, onChange: () => void): MailboxWatch {
    return this.watchers.watch(mailboxId, onChange);
  }

  // ---- leases --------------------------------------------------------------------------
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.leases.acquire(name, owner, ttlMs);
  }
  renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.leases.renew(name, owner, ttlMs);
  }
  releaseLease(name: string, owner: string): Promise<void> {
    return this.leases.release(name, owner);
  }
}
