/**
 * The checkpoint side of the store's worker (store-worker.ts, checkpoint-worker.ts): counts
 * its checkpoints, reports its failures, and starts the worker when commits wait for a
 * checkpoint while it is not running (it stops when idle, background-worker.ts).
 *
 * Every commit is durable once the WAL is fsync'd (wal-sync.ts); a checkpoint only copies it
 * into the database file so the WAL can start over. So commits that do not store mail (a
 * login counted, a lease renewed) need not start the thread each: the WAL keeps them until
 * `WAKE.afterCommits` of them have piled up or the oldest is `WAKE.afterMs` old. Mail stored
 * starts it at once, for indexing (indexer.ts). Commits by another process on the same file
 * (the `wharf` command delivering, say) are seen by the database's data_version.
 */
import type { BackgroundWorker } from './background-worker.js';

/** How often the running worker checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 250;

export interface WakeTimings {
  /** Commits of this process that start the stopped worker to checkpoint them. */
  afterCommits: number;
  /** The longest a commit waits for a checkpoint while the worker is stopped. */
  afterMs: number;
  /** How often the main thread looks whether the stopped worker has work. */
  checkMs: number;
}

/**
 * A small login or counter commit is a few WAL pages, so 256 of them are about 1,000 pages
 * (4 MB): reads are not slowed by it, and it is copied in a moment.
 */
export const WAKE: WakeTimings = { afterCommits: 256, afterMs: 30_000, checkMs: 1000 };

export class Checkpointer {
  /** Counters for tests and benchmarks. */
  readonly stats = { checkpoints: 0, errors: 0 };
  /** Commits and data_version when the worker last checkpointed everything before stopping. */
  private commitsSeen = 0;
  private versionSeen: number;
  private pendingSince: number | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly worker: BackgroundWorker,
    /** This process's commits so far (0 when constructed). */
    private readonly commits: () => number,
    /** The database's data_version on this connection (changes with other connections' commits). */
    private readonly dataVersion: () => number,
    private readonly wake: WakeTimings = WAKE,
  ) {
    this.versionSeen = dataVersion();
    worker.onMessage((m) => {
      if (m.type === 'checkpointed') this.stats.checkpoints++;
      if (m.type === 'checkpoint-error') {
        this.stats.errors++;
        process.emitWarning(`store: checkpoint failed: ${m.message}`);
      }
    });
    // Its last checkpoint, as it stops, covers every commit made before it was asked to.
    worker.onRetire(() => {
      this.commitsSeen = this.commits();
    });
    worker.onExit(() => {
      this.pendingSince = null;
      try {
        // Its own index rows are commits of another connection: not work for the next one.
        this.versionSeen = this.dataVersion();
      } catch {
        // The store is closing.
      }
    });
    this.timer = setInterval(() => this.check(), wake.checkMs);
    this.timer.unref();
  }

  /** Stops looking (the store is closing). */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Starts the stopped worker when commits have waited long enough for a checkpoint. */
  check(): void {
    if (this.worker.running || this.worker.stopped) return;
    if (this.dataVersion() !== this.versionSeen) {
      this.worker.post({ type: 'checkpoint' });
      return;
    }
    const pending = this.commits() - this.commitsSeen;
    if (pending <= 0) return;
    const now = performance.now();
    this.pendingSince ??= now;
    if (pending >= this.wake.afterCommits || now - this.pendingSince >= this.wake.afterMs) {
      this.worker.post({ type: 'checkpoint' });
    }
  }
}
