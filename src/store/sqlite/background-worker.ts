/**
 * The worker thread that does the store's background work (checkpoints, indexing: see
 * store-worker.ts) on its own database connection. It never keeps the process alive by
 * itself, except while someone waits for it (`hold`) or it is stopping.
 *
 * The thread runs only while there is work, as Postfix's daemons exit after `max_idle`: it
 * starts when a message is posted to it, and when it has had nothing to do for a while it
 * says so ('idle', with how many messages it has received) and is asked to stop, unless a
 * message is on its way to it or someone is waiting for it. A worker thread carries its own
 * V8 heap and SQLite connection, about 16 MiB resident even when idle: a sixth of an idle
 * server's memory, kept for nothing between bursts of mail. Messages posted while it stops
 * are kept and go to the next thread.
 */
import { Worker } from 'node:worker_threads';

export interface WorkerMessage {
  type: string;
  message?: string;
  id?: number;
  /** In 'idle': how many messages the thread has received. */
  received?: number;
}

/** After this long without an answer to 'stop', the thread is terminated. */
const STOP_TIMEOUT_MS = 5000;

export class BackgroundWorker {
  private worker: Worker | null = null;
  /** Messages posted to the current thread (compared with what it says it received). */
  private posted = 0;
  private held = false;
  /** The current thread's stop after it said it was idle, until it has exited. */
  private retiring: Promise<void> | null = null;
  /** Posted while the thread was retiring: sent to the next one. */
  private readonly queued: unknown[] = [];
  private readonly listeners: ((message: WorkerMessage) => void)[] = [];
  private readonly retireListeners: (() => void)[] = [];
  private readonly exitListeners: (() => void)[] = [];
  private stopping: Promise<void> | null = null;
  /** Counters for tests: threads started. */
  readonly stats = { started: 0 };

  constructor(
    private readonly script: URL,
    private readonly workerData: unknown,
    /** What it is, for warnings. */
    private readonly what: string,
  ) {}

  /** Adds a listener for the worker's messages. */
  onMessage(listener: (message: WorkerMessage) => void): void {
    this.listeners.push(listener);
  }

  /** Adds a listener called when an idle thread is asked to stop (before its last checkpoint). */
  onRetire(listener: () => void): void {
    this.retireListeners.push(listener);
  }

  /** Adds a listener called whenever a thread has exited. */
  onExit(listener: () => void): void {
    this.exitListeners.push(listener);
  }

  get stopped(): boolean {
    return this.stopping !== null;
  }

  /** Whether a thread is there (running or on its way out). */
  get running(): boolean {
    return this.worker !== null;
  }

  /** Sends `message` to the thread, starting one if none is running. */
  post(message: unknown): void {
    if (this.stopping) return;
    if (this.retiring) {
      this.queued.push(message);
      return;
    }
    this.start().postMessage(message);
    this.posted++;
  }

  /** Keeps the process alive while a caller waits for an answer (`release` undoes it). */
  hold(): void {
    this.held = true;
    this.worker?.ref();
  }

  release(): void {
    this.held = false;
    if (!this.stopping) this.worker?.unref();
  }

  /** Asks the thread to finish and waits for it to exit (terminating it after 5 s). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.retiring) await this.retiring;
      this.queued.length = 0;
      const worker = this.worker;
      if (worker) await stopThread(worker);
    })();
    return this.stopping;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // Not the parent's command-line flags (e.g. --input-type of a `node -e` parent). A small
    // heap: the work streams one body chunk at a time, and every idle IMAP session on the main
    // thread competes for the same memory.
    const worker = new Worker(this.script, {
      execArgv: [],
      workerData: this.workerData,
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 },
    });
    this.stats.started++;
    this.posted = 0;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'idle') return this.retireIfIdle(worker, message.received ?? -1);
      for (const listener of this.listeners) listener(message);
    });
    worker.on('error', (err) => process.emitWarning(`store: ${this.what} failed: ${String(err)}`));
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = null;
      for (const listener of this.exitListeners) listener();
    });
    if (!this.held) worker.unref();
    this.worker = worker;
    return worker;
  }

  private retireIfIdle(worker: Worker, received: number): void {
    // Something is on its way to the thread, or somebody waits for its answer: not idle.
    if (this.stopping || this.retiring || this.held || worker !== this.worker || received !== this.posted) return;
    for (const listener of this.retireListeners) listener();
    this.retiring = stopThread(worker).then(() => {
      this.retiring = null;
      // The thread may have exited on its own (an error) before this: post() starts another.
      if (this.worker === worker) this.worker = null;
      for (const message of this.queued.splice(0)) this.post(message);
    });
  }
}

/** Asks `worker` to stop and resolves once it has exited (terminated after STOP_TIMEOUT_MS). */
function stopThread(worker: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    worker.ref();
    const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    timer.unref();
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // A thread that has already exited gets no message and emits no second 'exit'.
    if (worker.threadId === -1) {
      clearTimeout(timer);
      resolve();
      return;
    }
    worker.postMessage({ type: 'stop' });
  });
}
