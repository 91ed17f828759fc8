/**
 * Runs in the store's worker thread (store-worker.ts): copies the WAL back into the database
 * file (a checkpoint, which reads and fsyncs a lot) on the worker's own connection, so the
 * event loop that serves the sessions never does it.
 *
 * PASSIVE checkpoints never block the writer, but under a steady stream of commits they never
 * quite catch up either, and SQLite only starts the WAL over once one has: the file would grow
 * without end (hundreds of MB after a few thousand deliveries) and every read would get slower.
 * So once the WAL is past RESTART_FRAMES, a RESTART checkpoint holds new writers back (they
 * retry on a timer, see write-queue.ts) for the moment it takes to copy the last frames, and
 * the next commit starts the WAL from the beginning.
 */
import type { Database } from 'better-sqlite3';

/** About 16 MiB of 4 KiB pages. */
const RESTART_FRAMES = 4096;

type Result = { busy: number; log: number; checkpointed: number };

export interface Checkpoints {
  /** Checkpoints now. */
  run(): void;
  /** Checkpoints if the last one is `intervalMs` or more ago (between other work). */
  runIfDue(): void;
}

/** `report` gets each checkpoint's result, or the error that stopped it. */
export function createCheckpoints(
  db: Database,
  intervalMs: number,
  report: (result: { type: 'checkpointed'; log: number; checkpointed: number } | { type: 'error'; message: string }) => void,
): Checkpoints {
  const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
  let last = 0;

  function run(): void {
    last = performance.now();
    try {
      let [row] = passive.all() as Result[];
      if (row && row.log >= RESTART_FRAMES) [row] = restart.all() as Result[];
      report({ type: 'checkpointed', log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 });
    } catch (err) {
      report({ type: 'error', message: String(err) });
    }
  }

  return {
    run,
    runIfDue() {
      if (performance.now() - last >= intervalMs) run();
    },
  };
}
