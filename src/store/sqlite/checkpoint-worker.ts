/**
 * Runs in a worker thread: copies the WAL back into the database file (a checkpoint, which
 * reads and fsyncs a lot) on its own connection, so the event loop that serves the sessions
 * never does it.
 *
 * PASSIVE checkpoints never block the writer, but under a steady stream of commits they never
 * quite catch up either, and SQLite only starts the WAL over once one has: the file would grow
 * without end (hundreds of MB after a few thousand deliveries) and every read would get slower.
 * So once the WAL is past RESTART_FRAMES, a RESTART checkpoint holds new writers back (they
 * retry on a timer, see write-queue.ts) for the moment it takes to copy the last frames, and
 * the next commit starts the WAL from the beginning.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

interface Options {
  file: string;
  intervalMs: number;
}

/** About 16 MiB of 4 KiB pages. */
const RESTART_FRAMES = 4096;

const { file, intervalMs } = workerData as Options;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');

type Result = { busy: number; log: number; checkpointed: number };

function run(): void {
  try {
    let [row] = passive.all() as Result[];
    if (row && row.log >= RESTART_FRAMES) [row] = restart.all() as Result[];
    parentPort?.postMessage({ type: 'checkpointed', log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 });
  } catch (err) {
    parentPort?.postMessage({ type: 'error', message: String(err) });
  }
}

const timer = setInterval(run, intervalMs);
parentPort?.on('message', (message: { type: string }) => {
  if (message.type === 'checkpoint') run();
  if (message.type === 'stop') {
    clearInterval(timer);
    run();
    db.close();
    parentPort?.close();
  }
});
