/**
 * Moves search text from message_text_pending (written by each delivery, no text index) into
 * message_text (pg_trgm GIN indexes), in batches, beside the deliveries instead of inside
 * them. Measured on the multinode bench, the trigram index made up over half of the database
 * time of a delivery; one batched statement per up to BATCH messages costs the index work
 * once per row but the statement, the commit and the WAL flush once per batch.
 *
 * Any node moves any node's rows: SKIP LOCKED keeps two nodes off the same rows, and rows a
 * node left behind when it died are picked up by the next node's poll. Nothing here decides
 * what search finds (search.ts reads both tables in one snapshot); a failed batch is simply
 * tried again later.
 */
import { bodyWordsSql } from './body-words.js';
import type { Database } from './db.js';

/** Messages per statement: enough to share the commit, few enough to keep each one short. */
const BATCH = 200;
/** After a delivery, wait this long so that the deliveries around it share a batch. */
const SETTLE_MS = 100;
/** How often to look for rows nobody announced (another node's, or left by a dead one). */
const POLL_MS = 5_000;
/** After a failure (the database away), wait this long before trying again. */
const RETRY_MS = 2_000;

const COLUMNS = 'subject, from_addr, to_addr, cc_addr, bcc_addr, headers, body';

/**
 * The body's words as the delivery computed them; a row without them (written by a node from
 * before the words, during an upgrade) gets them here, split the same way.
 */
const BODY_WORDS = `COALESCE(body_words, ${bodyWordsSql('body')})`;

/**
 * One statement, so that the rows leave the pending table, enter message_text and the
 * message's state changes together: a search (one statement too) sees either side, never
 * neither.
 */
const MOVE = `
  WITH moved AS (
    DELETE FROM message_text_pending
    WHERE message_id IN (
      SELECT message_id FROM message_text_pending ORDER BY message_id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED
    )
    RETURNING *
  ), indexed AS (
    INSERT INTO message_text (message_id, ${COLUMNS}, body_words)
    SELECT message_id, ${COLUMNS}, ${BODY_WORDS} FROM moved
    ON CONFLICT (message_id) DO NOTHING
  ), marked AS (
    UPDATE messages m SET text_state = moved.state FROM moved WHERE m.id = moved.message_id
  )
  SELECT count(*)::int AS n FROM moved`;

export class TextIndexer {
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly db: Database) {}

  /** Starts the periodic poll; the first one runs at once (rows left from before a restart). */
  start(): void {
    this.poller = setInterval(() => this.schedule(0), POLL_MS);
    this.poller.unref();
    this.schedule(0);
  }

  /** A delivery committed pending text: index it soon, with whatever else arrives meanwhile. */
  wake(): void {
    this.schedule(SETTLE_MS);
  }

  /** Resolves once nothing is pending (for tests and `close`); never throws. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.run();
  }

  /** Stops the timers and waits for a batch in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    this.timer = this.poller = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, delayMs);
    this.timer.unref();
  }

  private run(): Promise<void> {
    // One drain at a time per node. A run asked for during a drain may concern rows committed
    // after the drain's last statement began: it gets one more pass.
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.drain();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped) {
        const row = await this.db.preparedOne<{ n: number }>(MOVE, []);
        if ((row?.n ?? 0) < BATCH) return;
      }
    } catch {
      // The database is away or the store closing: the rows stay pending (search still finds
      // them) and the next wake or poll tries again.
      if (!this.stopped) this.schedule(RETRY_MS);
    }
  }
}
