/**
 * Owns the index worker (index-worker.ts): starts it with the store, tells it when messages
 * were stored, and lets tests wait until everything stored so far is indexed.
 */
import { BackgroundWorker } from './background-worker.js';
import { SEARCH_TEXT_LIMIT } from './bodies.js';

/** How often the worker looks for work without being told (e.g. deliveries by the CLI). */
const INTERVAL_MS = 1000;

export class Indexer {
  private readonly worker: BackgroundWorker;
  private nudged = false;
  private drainSeq = 0;
  private readonly drains = new Map<number, () => void>();
  /** Counters for tests and benchmarks. */
  readonly stats = { errors: 0 };

  constructor(file: string) {
    this.worker = new BackgroundWorker(
      new URL('./index-worker.js', import.meta.url),
      { file, maxTextBytes: SEARCH_TEXT_LIMIT, intervalMs: INTERVAL_MS },
      (m) => {
        if (m.type === 'error') {
          this.stats.errors++;
          process.emitWarning(`store: indexing failed: ${m.message}`);
        }
        if (m.type === 'drained' && m.id !== undefined) {
          this.drains.get(m.id)?.();
          this.drains.delete(m.id);
          if (this.drains.size === 0) this.worker.release();
        }
      },
      'index worker',
    );
  }

  /** Messages were stored: index them soon (at most one nudge per event-loop turn). */
  nudge(): void {
    if (this.nudged || this.worker.stopped) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      this.worker.post({ type: 'nudge' });
    });
  }

  /** Resolves once everything committed before the call is indexed. */
  idle(): Promise<void> {
    if (this.worker.stopped) return Promise.resolve();
    const id = ++this.drainSeq;
    this.worker.hold();
    return new Promise<void>((resolve) => {
      this.drains.set(id, resolve);
      this.worker.post({ type: 'drain', id });
    });
  }

  stop(): Promise<void> {
    for (const resolve of this.drains.values()) resolve();
    this.drains.clear();
    return this.worker.stop();
  }
}
