/**
 * Runs in a worker thread: copies the WAL back into the database file (a checkpoint, which
 * reads and fsyncs a lot) on its own connection, so the event loop that serves the sessions
 * never does it. PASSIVE checkpoints never block the writer; SQLite restarts the WAL from the
 * beginning by itself once a checkpoint has caught up and no reader needs the old frames.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

interface Options {
  file: string;
  intervalMs: number;
}

const { file, intervalMs } = workerData as Options;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

function run(): void {
  try {
    const [row] = checkpoint.all() as Array<{ busy: number; log: number; checkpointed: number }>;
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
