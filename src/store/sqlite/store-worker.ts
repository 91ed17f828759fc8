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
}

const { file, maxTextBytes, indexIntervalMs, checkpointIntervalMs } = workerData as StoreWorkerOptions;
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

const checkpoints = createCheckpoints(db, checkpointIntervalMs, (result) =>
  parentPort?.postMessage(result.type === 'error' ? { type: 'checkpoint-error', message: result.message } : result),
);
const indexing = createIndexing(
  db,
  maxTextBytes,
  () => checkpoints.runIfDue(),
  (message) => parentPort?.postMessage({ type: 'index-error', message }),
);

const checkpointTimer = setInterval(() => checkpoints.run(), checkpointIntervalMs);
const indexTimer = setInterval(() => indexing.drain(), indexIntervalMs);
parentPort?.on('message', (message: { type: string; id?: number }) => {
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
