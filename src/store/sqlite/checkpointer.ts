/**
 * The checkpoint side of the store's worker (store-worker.ts, checkpoint-worker.ts): counts
 * its checkpoints and reports its failures.
 */
import type { BackgroundWorker } from './background-worker.js';

/** How often the worker checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 250;

export class Checkpointer {
  /** Counters for tests and benchmarks. */
  readonly stats = { checkpoints: 0, errors: 0 };

  constructor(worker: BackgroundWorker) {
    worker.onMessage((m) => {
      if (m.type === 'checkpointed') this.stats.checkpoints++;
      if (m.type === 'checkpoint-error') {
        this.stats.errors++;
        process.emitWarning(`store: checkpoint failed: ${m.message}`);
      }
    });
  }
}
