/**
 * The indexing side of the store's worker (store-worker.ts, index-worker.ts): tells it when
 * messages were stored, and lets tests wait until everything stored so far is indexed.
 */
import type { BackgroundWorker } from './background-worker.js';

/** How often the worker looks for work without being told (e.g. deliveries by the CLI). */
export const INDEX_INTERVAL_MS = 1000;

export class Indexer {
  private nudged = false;
  private stopped = false;
  private drainSeq = 0;
  private readonly drains = new Map<number, () => void>();
  /** Counters for tests and benchmarks. */
  readonly stats = { errors: 0 };

  constructor(private readonly worker: BackgroundWorker) {
    worker.onMessage((m) => {
      if (m.type === 'index-error') {
        this.stats.errors++;
        process.emitWarning(`store: indexing failed: ${m.message}`);
      }
      if (m.type === 'drained' && m.id !== undefined) {
        this.drains.get(m.id)?.();
        this.drains.delete(m.id);
        if (this.drains.size === 0) this.worker.release();
      }
    });
  }

  /** Messages were stored: index them soon (at most one nudge per event-loop turn). */
  nudge(): void {
    if (this.nudged || this.stopped || this.worker.stopped) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      this.worker.post({ type: 'nudge' });
    });
  }

  /** Resolves once everything committed before the call is indexed. */
  idle(): Promise<void> {
    if (this.stopped || this.worker.stopped) return Promise.resolve();
    const id = ++this.drainSeq;
    this.worker.hold();
    return new Promise<void>((resolve) => {
      this.drains.set(id, resolve);
      this.worker.post({ type: 'drain', id });
    });
  }

  /** Stops asking the worker for anything and lets every waiter go (the worker stops with the store). */
  stop(): void {
    this.stopped = true;
    for (const resolve of this.drains.values()) resolve();
    this.drains.clear();
  }
}
