/**
 * The store's worker thread: checkpoints (checkpoint-worker.ts) and full-text indexing
 * (index-worker.ts) on one connection of its own. One thread for both, not one each: every
 * worker thread carries its own V8 heap and native allocations (several MB even when idle),
 * and neither job needs a thread to itself. Checkpoints run on their timer and, while a long
 * indexing backlog drains, between its batches, so the WAL never waits for the backlog.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { createCheckpoints } from './checkpoint-worker.js';
import { createIndexing } from './index-worker.js';

export interface StoreWorkerOptions {
  file: string;
  /** The full-text index's text limit per message (bodies.ts). */
  maxTextBytes: number;
  /** How often indexing looks for work without being told (e.g. deliveries by the CLI). */
  indexIntervalMs: number;
  /** How often to checkpoint. */
  checkpointIntervalMs: number;
  /** After this long with nothing to do, the thread offers to stop (background-worker.ts). */
  idleMs: number;
}

const { file, maxTextBytes, indexIntervalMs, checkpointIntervalMs, idleMs } = workerData as StoreWorkerOptions;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
// The index is derived data: rows lost in a power failure go with their 'complete' mark, so
// the message is simply indexed again. No fsync per batch is needed. (Checkpoints fsync the
// database file whatever this says.)
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
// Bodies are read once each and checkpoints copy the WAL without the page cache: the cache
// only needs the full-text index pages one short transaction touches. (The SQLite build's
// default, 16 MB, would sit in native memory for good.)
db.pragma('cache_size = -2048');

/** When the thread last did or was asked something, and when it last said it was idle. */
let lastWork = performance.now();
let idleSaid = -Infinity;
let received = 0;
/** The WAL's length at the last checkpoint: a change means frames were written since. */
let lastLog = -1;
const worked = () => {
  lastWork = performance.now();
};

const checkpoints = createCheckpoints(db, checkpointIntervalMs, (result) => {
  if (result.type === 'error') {
    worked();
    parentPort?.postMessage({ type: 'checkpoint-error', message: result.message });
    return;
  }
  // Frames written since the last one, or some not yet copied (a reader held them back).
  if (result.log !== lastLog || result.checkpointed < result.log) worked();
  lastLog = result.log;
  parentPort?.postMessage(result);
});
const indexing = createIndexing(
  db,
  maxTextBytes,
  () => checkpoints.runIfDue(),
  (message) => parentPort?.postMessage({ type: 'index-error', message }),
);

/** Says it is idle (again every idleMs while it is): the parent decides whether it stops. */
function offerToStop(): void {
  const now = performance.now();
  if (now - lastWork >= idleMs && now - idleSaid >= idleMs) {
    idleSaid = now;
    parentPort?.postMessage({ type: 'idle', received });
  }
}

const checkpointTimer = setInterval(() => {
  checkpoints.run();
  offerToStop();
}, checkpointIntervalMs);
const indexTimer = setInterval(() => {
  if (indexing.drain()) worked();
}, indexIntervalMs);
parentPort?.on('message', (message: { type: string; id?: number }) => {
  received++;
  worked();
  if (message.type === 'nudge') indexing.drain();
  if (message.type === 'drain') {
    indexing.drain();
    parentPort?.postMessage({ type: 'drained', id: message.id });
  }
  if (message.type === 'checkpoint') checkpoints.run();
  if (message.type === 'stop') {
    clearInterval(checkpointTimer);
    clearInterval(indexTimer);
    checkpoints.run();
    db.close();
    parentPort?.close();
  }
});
indexing.drain();
