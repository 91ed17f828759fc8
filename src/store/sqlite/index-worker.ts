/**
 * Runs in the store's worker thread (store-worker.ts): builds the full-text index (search.ts)
 * for messages stored without it. Storing a message only marks it 'missing'; this reads its
 * body on the worker's own connection, extracts the decoded text with the same analyzer, and
 * inserts the trigram rows in short transactions of its own, so the costliest part of storing
 * a message runs beside the event loop, not on it. A crash loses nothing: the queue is the
 * messages still marked 'missing', picked up again when the store opens.
 */
import type { Database } from 'better-sqlite3';
import { createMessageAnalyzer } from '../../mime/analyzer.js';
import { columnsOf } from './search.js';

/** Messages per transaction: short, so a delivery waiting for the write lock waits little. */
const BATCH = 4;

interface Indexed {
  id: number;
  columns: ReturnType<typeof columnsOf>;
  state: 'complete' | 'truncated';
}

export interface Indexing {
  /** Indexes until nothing is missing; true if it did anything. */
  drain(): boolean;
}

/**
 * The indexing work on `db`. `betweenBatches` runs after every committed batch (the thread's
 * other work, checkpoints, must not wait for a long backlog); `report` gets error messages.
 */
export function createIndexing(db: Database, maxTextBytes: number, betweenBatches: () => void, report: (message: string) => void): Indexing {
  const next = db.prepare(`SELECT id FROM messages WHERE text_state = 'missing' ORDER BY id LIMIT ${BATCH}`).pluck();
  const head = db.prepare('SELECT head FROM bodies WHERE id = ?').pluck();
  const chunks = db.prepare('SELECT data FROM body_chunks WHERE body_id = ? ORDER BY seq').pluck();
  const stillMissing = db.prepare(`SELECT 1 FROM messages WHERE id = ? AND text_state = 'missing'`).pluck();
  const insert = db.prepare(
    `INSERT INTO message_text (rowid, subject, from_addr, to_addr, cc_addr, bcc_addr, headers, body)
     VALUES (@id, @subject, @from_addr, @to_addr, @cc_addr, @bcc_addr, @headers, @body)`,
  );
  const mark = db.prepare('UPDATE messages SET text_state = ? WHERE id = ?');

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
              report(`message ${id}: ${String(err)}`);
              mark.run('truncated', id);
            }
          }
          store.immediate(batch);
          did = true;
          betweenBatches();
        }
      } while (again);
    } catch (err) {
      report(String(err));
    } finally {
      running = false;
    }
    return did;
  }

  return { drain };
}
