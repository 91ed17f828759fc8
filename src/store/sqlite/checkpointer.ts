/**
 * Owns the checkpoint worker (checkpoint-worker.ts): starts it with the store and stops it
 * on close.
 */
import { BackgroundWorker } from './background-worker.js';

/** How often the worker checkpoints. */
const INTERVAL_MS = 250;

export class Checkpointer {
  private readonly worker: BackgroundWorker;
  /** Counters for tests and benchmarks. */
  readonly stats = { checkpoints: 0, errors: 0 };

  constructor(file: string) {
    this.worker = new BackgroundWorker(
      new URL('./checkpoint-worker.js', import.meta.url),
      { file, intervalMs: INTERVAL_MS },
      (m) => {
        if (m.type === 'checkpointed') this.stats.checkpoints++;
        if (m.type === 'error') {
          this.stats.errors++;
          process.emitWarning(`store: checkpoint failed: ${m.message}`);
        }
      },
      'checkpoint worker',
    );
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }
}
