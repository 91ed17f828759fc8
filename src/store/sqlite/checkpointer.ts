/**
 * Owns the checkpoint worker (checkpoint-worker.ts): starts it with the store, asks it for
 * an early checkpoint when the WAL grows fast (a big APPEND), and stops it on close.
 */
import { Worker } from 'node:worker_threads';

/** How often the worker checkpoints on its own. */
const INTERVAL_MS = 250;

export class Checkpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | null = null;
  /** Counters for tests and benchmarks. */
  readonly stats = { checkpoints: 0, errors: 0 };

  constructor(file: string) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      // Not the parent's command-line flags (e.g. --input-type of a `node -e` parent).
      execArgv: [],
      workerData: { file, intervalMs: INTERVAL_MS },
    });
    this.worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'checkpointed') this.stats.checkpoints++;
      if (m.type === 'error') {
        this.stats.errors++;
        process.emitWarning(`store: checkpoint failed: ${m.message}`);
      }
    });
    this.worker.on('error', (err) => process.emitWarning(`store: checkpoint worker failed: ${String(err)}`));
    // It must never keep the process alive on its own.
    this.worker.unref();
  }

  /** Asks for a checkpoint now (e.g. after many pages were written). */
  nudge(): void {
    if (!this.stopped) this.worker.postMessage({ type: 'checkpoint' });
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      // Held by the loop again until it has exited, so close() can wait for it.
      this.worker.ref();
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'stop' });
      setTimeout(() => void this.worker.terminate(), 5000).unref();
    });
    return this.stopped;
  }
}
