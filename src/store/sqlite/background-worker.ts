/**
 * The worker thread that does the store's background work (checkpoints, indexing: see
 * store-worker.ts) on its own database connection. It never keeps the process alive by
 * itself, except while someone waits for it (`hold`) or it is stopping.
 */
import { Worker } from 'node:worker_threads';

export interface WorkerMessage {
  type: string;
  message?: string;
  id?: number;
}

export class BackgroundWorker {
  private readonly worker: Worker;
  private readonly listeners: ((message: WorkerMessage) => void)[] = [];
  private stopping: Promise<void> | null = null;

  constructor(
    script: URL,
    workerData: unknown,
    /** What it is, for warnings. */
    private readonly what: string,
  ) {
    // Not the parent's command-line flags (e.g. --input-type of a `node -e` parent). A small
    // heap: the work streams one body chunk at a time, and every idle IMAP session on the main
    // thread competes for the same memory.
    this.worker = new Worker(script, {
      execArgv: [],
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
    });
    this.worker.on('message', (message: WorkerMessage) => {
      for (const listener of this.listeners) listener(message);
    });
    this.worker.on('error', (err) => process.emitWarning(`store: ${what} failed: ${String(err)}`));
    this.worker.unref();
  }

  /** Adds a listener for the worker's messages. */
  onMessage(listener: (message: WorkerMessage) => void): void {
    this.listeners.push(listener);
  }

  get stopped(): boolean {
    return this.stopping !== null;
  }

  post(message: unknown): void {
    if (!this.stopping) this.worker.postMessage(message);
  }

  /** Keeps the process alive while a caller waits for an answer (`release` undoes it). */
  hold(): void {
    this.worker.ref();
  }

  release(): void {
    if (!this.stopping) this.worker.unref();
  }

  /** Asks the worker to finish and waits for it to exit (terminating it after 5 s). */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.worker.ref();
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'stop' });
      setTimeout(() => void this.worker.terminate(), 5000).unref();
    });
    return this.stopping;
  }
}
