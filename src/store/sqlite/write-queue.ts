/**
 * Group commit for a synchronous SQLite connection.
 *
 * A commit is durable only once the WAL is fsync'd, and an fsync costs far more than the
 * writes themselves. So writes are not committed one by one: they are queued, and all the
 * operations queued during one event-loop turn run in ONE transaction flushed on the next
 * turn (setImmediate). Each operation runs inside its own SAVEPOINT, so one that throws is
 * rolled back alone and the others in its batch still commit. An operation's promise settles
 * only after the batch's COMMIT returned AND the WAL was fsync'd (WalSync, on the thread
 * pool: the event loop never waits for the disk), i.e. once it is durable.
 */
import type { Db } from './schema.js';
import type { WalSync } from './wal-sync.js';

/** Another process holds the write lock: retry after this long, doubling, up to the cap. */
const BUSY_RETRY_MS = 1;
const BUSY_RETRY_MAX_MS = 10;

/** What an operation can register while it runs inside the batch transaction. */
export interface TxContext {
  /** Marks a mailbox as changed: its watchers are notified after the commit. */
  touch(mailboxId: number): void;
  /** Runs after the commit succeeded (e.g. to update in-memory state mirroring the DB). */
  afterCommit(fn: () => void): void;
}

/**
 * A batch was committed but the fsync of the WAL failed: its changes are visible to this
 * process yet may not be on disk, so nothing of it may be acknowledged. `committed` is what
 * the operation returned, so that its caller can take the change back (an APPEND answered NO
 * must not leave the message in the mailbox). `cause` is the fsync's error (EIO, ENOSPC).
 */
export class NotDurableError extends Error {
  readonly code: string;
  constructor(
    readonly committed: unknown,
    override readonly cause: unknown,
  ) {
    super(`committed but not durable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'NotDurableError';
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : 'EIO';
  }
}

/** An operation: synchronous code running inside the batch transaction. */
export type WriteOp<T> = (tx: TxContext) => T;

interface Job {
  op: WriteOp<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

class JobContext implements TxContext {
  readonly touched = new Set<number>();
  readonly callbacks: Array<() => void> = [];
  touch(mailboxId: number): void {
    this.touched.add(mailboxId);
  }
  afterCommit(fn: () => void): void {
    this.callbacks.push(fn);
  }
}

export class WriteQueue {
  /** Counters for tests and benchmarks: committed transactions and the operations they held. */
  readonly stats = { transactions: 0, operations: 0 };
  private pending: Job[] = [];
  private scheduled = false;
  private closed = false;
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly savepoint;
  private readonly release;
  private readonly rollbackTo;

  private busyDelay = 0;
  /** Batches committed but not yet known durable (close() waits for them). */
  private syncing = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    /** Called after each durable commit with the mailboxes its operations touched. */
    private readonly onCommitted: (touched: Set<number>) => void,
    /** Makes commits durable; without it the connection must fsync in COMMIT itself. */
    private readonly walSync: WalSync | null = null,
  ) {
    // IMMEDIATE takes the write lock up front (waiting up to busy_timeout for another
    // process), so the COMMIT cannot fail with SQLITE_BUSY halfway through a batch.
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT op');
    this.release = db.prepare('RELEASE op');
    this.rollbackTo = db.prepare('ROLLBACK TO op');
  }

  /** Queues a write; resolves with its result once the batch holding it is committed. */
  run<T>(op: WriteOp<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once everything queued so far has been committed (or failed). */
  async drain(): Promise<void> {
    if (this.pending.length > 0) await this.run(() => undefined);
    await Promise.allSettled([...this.syncing]);
  }

  /** Flushes what is queued, then refuses new writes. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.runBatch(batch);
    } catch (err) {
      // SQLite failed where it should not (a SAVEPOINT, a ROLLBACK on a failing disk): this
      // runs from setImmediate, so a throw would end the process. Fail the batch instead
      // (settled jobs ignore a second settlement) and leave no transaction open.
      try {
        if (this.db.inTransaction) this.rollback.run();
      } catch {
        // Nothing more to undo: SQLite rolls back by itself when it cannot go on.
      }
      for (const job of batch) job.reject(err);
    }
  }

  private runBatch(batch: Job[]): void {

    try {
      this.begin.run();
      this.busyDelay = 0;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        // Another process (e.g. the CLI) is writing. Waiting here would stall every
        // session on this event loop, so wait on a timer instead and keep the order.
        this.pending = batch.concat(this.pending);
        this.busyDelay = Math.min(BUSY_RETRY_MAX_MS, this.busyDelay === 0 ? BUSY_RETRY_MS : this.busyDelay * 2);
        this.scheduled = true;
        setTimeout(() => this.flush(), this.busyDelay);
        return;
      }
      for (const job of batch) job.reject(err);
      return;
    }

    const done: Array<{ job: Job; value: unknown; ctx: JobContext }> = [];
    const failed: Array<{ job: Job; err: unknown }> = [];
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      const ctx = new JobContext();
      this.savepoint.run();
      try {
        const value = job.op(ctx);
        this.release.run();
        done.push({ job, value, ctx });
      } catch (err) {
        if (!this.db.inTransaction) {
          // Some errors (e.g. SQLITE_FULL, I/O errors) make SQLite roll back the whole
          // transaction: everything before this op is lost too. Requeue the ops not yet run.
          for (const d of done) d.job.reject(err);
          for (const f of failed) f.job.reject(f.err);
          job.reject(err);
          this.pending = batch.slice(i + 1).concat(this.pending);
          if (this.pending.length > 0) this.schedule();
          return;
        }
        this.rollbackTo.run();
        this.release.run();
        failed.push({ job, err });
      }
    }

    try {
      this.commit.run();
    } catch (err) {
      if (this.db.inTransaction) this.rollback.run();
      for (const d of done) d.job.reject(err);
      for (const f of failed) f.job.reject(f.err);
      return;
    }

    this.stats.transactions++;
    this.stats.operations += batch.length;
    const touched = new Set<number>();
    for (const { ctx } of done) {
      for (const fn of ctx.callbacks) {
        try {
          fn();
        } catch (err) {
          process.emitWarning(`store: afterCommit callback failed: ${String(err)}`);
        }
      }
      for (const id of ctx.touched) touched.add(id);
    }
    for (const { job, err } of failed) job.reject(err);
    const settle = () => {
      for (const { job, value } of done) job.resolve(value);
      if (touched.size > 0) this.onCommitted(touched);
    };
    if (!this.walSync || done.length === 0) {
      settle();
      return;
    }
    const durable = this.walSync.sync().then(settle, (err) => {
      // The data is committed but may not be on disk: nothing may be acknowledged.
      process.emitWarning(`store: fsync of the WAL failed: ${String(err)}`);
      for (const { job, value } of done) job.reject(new NotDurableError(value, err));
    });
    this.syncing.add(durable);
    void durable.finally(() => this.syncing.delete(durable));
  }
}
