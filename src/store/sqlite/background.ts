/**
 * The store's background work on its worker thread (store-worker.ts): checkpoints
 * (checkpointer.ts) and full-text indexing (indexer.ts). The thread runs only while there is
 * work (background-worker.ts); this starts it at open when work was left.
 */
import { statSync } from 'node:fs';
import { BackgroundWorker } from './background-worker.js';
import { SEARCH_TEXT_LIMIT } from './bodies.js';
import { Checkpointer, CHECKPOINT_INTERVAL_MS, WAKE, type WakeTimings } from './checkpointer.js';
import { Indexer, INDEX_INTERVAL_MS } from './indexer.js';
import type { Db } from './schema.js';
import type { StoreWorkerOptions } from './store-worker.js';

/**
 * With nothing to do for this long, the worker thread stops (it starts again when needed).
 * Starting one takes about 45 ms and 60 ms of CPU: long enough idle that mail arriving every
 * few seconds keeps the same thread, short enough that a quiet server gives its memory back.
 */
export const WORKER_IDLE_MS = 30_000;

/** The worker's timings, shortened by tests. */
export interface BackgroundTimings {
  workerIdleMs?: number;
  wake?: WakeTimings;
}

export class StoreBackground {
  private readonly worker: BackgroundWorker;
  readonly checkpointer: Checkpointer;
  readonly indexer: Indexer;

  constructor(
    private readonly db: Db,
    private readonly file: string,
    /** This process's commits so far. */
    commits: () => number,
    timings: BackgroundTimings = {},
  ) {
    const options: StoreWorkerOptions = {
      file,
      maxTextBytes: SEARCH_TEXT_LIMIT,
      indexIntervalMs: INDEX_INTERVAL_MS,
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
      idleMs: timings.workerIdleMs ?? WORKER_IDLE_MS,
    };
    this.worker = new BackgroundWorker(new URL('./store-worker.js', import.meta.url), options, 'store worker');
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.checkpointer = new Checkpointer(this.worker, commits, () => dataVersion.get() as number, timings.wake ?? WAKE);
    this.indexer = new Indexer(this.worker);
  }

  /**
   * Starts the worker when work was left at open: messages not yet indexed (a crash, or mail
   * stored by another process) or a WAL not checkpointed. Otherwise it starts with the first
   * mail stored.
   */
  startIfNeeded(): void {
    const unindexed = this.db.prepare(`SELECT 1 FROM messages WHERE text_state = 'missing' LIMIT 1`).pluck().get();
    let walBytes = 0;
    try {
      walBytes = statSync(`${this.file}-wal`).size;
    } catch {
      // No WAL: nothing to checkpoint.
    }
    if (unindexed !== undefined || walBytes > 0) this.worker.post({ type: 'checkpoint' });
  }

  /** Whether the thread runs, and how many were started (tests). */
  stats(): { running: boolean; started: number } {
    return { running: this.worker.running, started: this.worker.stats.started };
  }

  /** Stops asking for work and waits for the thread's last checkpoint, if it runs. */
  async stop(): Promise<void> {
    this.indexer.stop();
    this.checkpointer.stop();
    await this.worker.stop();
  }
}
