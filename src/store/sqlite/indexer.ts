/**
 * Owns the index worker (index-worker.ts): starts it with the store, tells it when messages
 * were stored, and lets tests wait until everything stored so far is indexed.
 */
import { Worker } from 'node:worker_threads';
import { SEARCH_TEXT_LIMIT } from './bodies.js';

/** How often the worker looks for work without being told (e.g. deliveries by the CLI). */
const INTERVAL_MS = 1000;

export class Indexer {
  private readonly worker: Worker;
  private stopped: Promise<void> | null = null;
  private nudged = false;
  private drainSeq = 0;
  private readonly drains = new Map<number, () => void>();
  /** Counters for tests and benchmarks. */
  readonly stats = { errors: 0 };

  constructor(file: string) {
    this.worker = new Worker(new URL('./index-worker.js', import.meta.url), {
      // Not the parent's command-line flags (e.g. --input-type of a `node -e` parent).
      execArgv: [],
      workerData: { file, maxTextBytes: SEARCH_TEXT_LIMIT, intervalMs: INTERVAL_MS },
    });
    this.worker.on('message', (m: { type: string; message?: string; id?: number }) => {
      if (m.type === 'error') {
        this.stats.errors++;
        process.emitWarning(`store: indexing failed: ${m.message}`);
      }
      if (m.type === 'drained' && m.id !== undefined) {
        this.drains.get(m.id)?.();
        this.drains.delete(m.id);
        if (this.drains.size === 0 && !this.stopped) this.worker.unref();
      }
    });
    this.worker.on('error', (err) => process.emitWarning(`store: index worker failed: ${String(err)}`));
    this.worker.unref();
  }

  /** Messages were stored: index them soon (one message per event-loop turn at most). */
  nudge(): void {
    if (this.nudged || this.stopped) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      if (!this.stopped) this.worker.postMessage({ type: 'nudge' });
    });
  }

  /** Resolves once everything committed before the call is indexed. */
  idle(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const id = ++this.drainSeq;
    this.worker.ref();
    return new Promise<void>((resolve) => {
      this.drains.set(id, resolve);
      this.worker.postMessage({ type: 'drain', id });
    });
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      this.worker.ref();
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'stop' });
      setTimeout(() => void this.worker.terminate(), 5000).unref();
    });
    for (const resolve of this.drains.values()) resolve();
    this.drains.clear();
    return this.stopped;
  }
}
