/**
 * Runs in a worker thread: builds the full-text index (search.ts) for messages stored without
 * it. Storing a message only marks it 'missing'; this worker reads its body on its own
 * connection, extracts the decoded text with the same analyzer, and inserts the trigram rows
 * in short transactions of its own, so the costliest part of storing a message runs beside
 * the event loop, not on it. A crash loses nothing: the queue is the messages still marked
 * 'missing', picked up again when the store opens.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { createMessageAnalyzer } from '../../mime/analyzer.js';
import { columnsOf } from './search.js';

interface Options {
  file: string;
  maxTextBytes: number;
  intervalMs: number;
}

/** Messages per transaction: short, so a delivery waiting for the write lock waits little. */
const BATCH = 4;

const { file, maxTextBytes, intervalMs } = workerData as Options;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
// The index is derived data: rows lost in a power failure go with their 'complete' mark, so
// the message is simply indexed again. No fsync per batch is needed.
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');

const next = db.prepare(`SELECT id FROM messages WHERE text_state = 'missing' ORDER BY id LIMIT ${BATCH}`).pluck();
const head = db.prepare('SELECT head FROM bodies WHERE id = ?').pluck();
const chunks = db.prepare('SELECT data FROM body_chunks WHERE body_id = ? ORDER BY seq').pluck();
const stillMissing = db.prepare(`SELECT 1 FROM messages WHERE id = ? AND text_state = 'missing'`).pluck();
const insert = db.prepare(
  `INSERT INTO message_text (rowid, subject, from_addr, to_addr, cc_addr, bcc_addr, headers, body)
   VALUES (@id, @subject, @from_addr, @to_addr, @cc_addr, @bcc_addr, @headers, @body)`,
);
const mark = db.prepare('UPDATE messages SET text_state = ? WHERE id = ?');

interface Indexed {
  id: number;
  columns: ReturnType<typeof columnsOf>;
  state: 'complete' | 'truncated';
}

function analyse(id: number): Indexed | null {
  const analyzer = createMessageAnalyzer({ maxTextBytes });
  // The body's bytes are its head (prepended header fields, if any), then its chunks.
  const prepended = head.get(id) as Buffer | null | undefined;
  let any = false;
  if (prepended && prepended.length > 0) {
    analyzer.write(prepended);
    any = true;
  }
  for (const data of chunks.iterate(id) as IterableIterator<Buffer>) {
    analyzer.write(data);
    any = true;
  }
  if (!any) return null;
  const analysis = analyzer.end();
  return { id, columns: columnsOf(analysis), state: analysis.text.truncated ? 'truncated' : 'complete' };
}

const store = db.transaction((batch: Indexed[]) => {
  for (const item of batch) {
    // Expunged meanwhile, or indexed by another process sharing the file.
    if (!stillMissing.get(item.id)) continue;
    insert.run({ id: item.id, ...item.columns });
    mark.run(item.state, item.id);
  }
});

let running = false;
let again = false;

/** Indexes until nothing is missing; true if it did anything. */
function drain(): boolean {
  if (running) {
    again = true;
    return false;
  }
  running = true;
  let did = false;
  try {
    do {
      again = false;
      for (let ids = next.all() as number[]; ids.length > 0; ids = next.all() as number[]) {
        const batch: Indexed[] = [];
        for (const id of ids) {
          try {
            const item = analyse(id);
            if (item) batch.push(item);
            else mark.run('complete', id);
          } catch (err) {
            // A message the analyzer cannot take stays searchable by its body; do not retry it.
            parentPort?.postMessage({ type: 'error', message: `message ${id}: ${String(err)}` });
            mark.run('truncated', id);
          }
        }
        store.immediate(batch);
        did = true;
      }
    } while (again);
  } catch (err) {
    parentPort?.postMessage({ type: 'error', message: String(err) });
  } finally {
    running = false;
  }
  return did;
}

const timer = setInterval(() => drain(), intervalMs);
parentPort?.on('message', (message: { type: string; id?: number }) => {
  if (message.type === 'nudge') drain();
  if (message.type === 'drain') {
    drain();
    parentPort?.postMessage({ type: 'drained', id: message.id });
  }
  if (message.type === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort?.close();
  }
});
drain();
