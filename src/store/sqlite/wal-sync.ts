/**
 * Makes commits durable without blocking the event loop.
 *
 * The connection runs with synchronous=NORMAL, so COMMIT appends the transaction to the WAL
 * file (a write into the page cache) but does not fsync it; then this class fsyncs the WAL
 * on libuv's thread pool, and only after that does the write queue resolve the operations of
 * the batch (an SMTP 250 / IMAP OK is sent only then). fsync flushes the file, whichever
 * descriptor asks, so the durability is that of synchronous=FULL.
 *
 * Syncs are coalesced: a commit that lands while a sync is running waits for the next one
 * (the running one may have started before its frames were written), and every commit that
 * landed meanwhile shares that next sync: group commit across batches, not only within one.
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

export class WalSync {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  /** Counters for tests and benchmarks. */
  readonly stats = { syncs: 0 };

  constructor(
    private readonly walPath: string,
    /** Injectable for tests: the fsync of one file path. */
    private readonly syncFile: (path: string) => Promise<void> = fsyncPath,
  ) {}

  /** Resolves once everything committed before this call is on disk. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.start();
      return this.running;
    }
    // A sync is under way; it may not cover this commit. Share the one after it.
    this.next ??= this.running.then(
      () => this.promoteNext(),
      () => this.promoteNext(),
    );
    return this.next;
  }

  /** Syncs the folder, so a newly created WAL file's directory entry is durable too. */
  async syncDirectory(): Promise<void> {
    await this.syncFile(dirname(this.walPath));
  }

  private promoteNext(): Promise<void> {
    this.next = null;
    this.running = this.start();
    return this.running;
  }

  private start(): Promise<void> {
    const run = this.syncFile(this.walPath).then(() => {
      this.stats.syncs++;
    });
    const clear = () => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, clear);
    return run;
  }
}

async function fsyncPath(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    // No WAL file yet: nothing has been committed through it.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
