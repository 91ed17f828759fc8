/**
 * Message bodies, stored inside the database as fixed-size bytea chunks.
 *
 * A body streams in through the shared ChunkedBodyWriter: every full chunk is inserted at once
 * (its own small transaction) under a 'pending' bodies row nobody refers to; the last, partial
 * chunk and the switch to 'committed' happen inside the deliver/append transaction, so a body
 * is visible exactly when its entries are. An aborted writer deletes its pending body.
 *
 * A node that dies mid-write leaves a pending body behind. While a writer lives, its store
 * refreshes the body's touched_at now and then; pending bodies not touched for a while
 * belong to no live writer on any node and are swept (when a store opens, and periodically).
 */
import type { MessageAnalysis } from '../../mime/analysis.js';
import { createMessageAnalyzer } from '../../mime/analyzer.js';
import { CHUNK_SIZE, ChunkedBodyWriter, type ChunkSink } from '../chunked-body-writer.js';
import { StoreError, type BodyWriter } from '../types.js';
import { checkBodyRange } from '../normalize.js';
import type { Database, Tx } from './db.js';
import { isId } from './mailboxes.js';

/** How often a store refreshes its writers' pending bodies. */
const HEARTBEAT_MS = 60_000;
/** A pending body untouched this long has no live writer (several missed heartbeats). */
const STALE_PENDING_MINUTES = 10;
/** How often each store looks for stale pending bodies. */
const SWEEP_MS = 5 * 60_000;

interface BodyRow {
  id: number;
  size: number;
  chunk_size: number;
  /** Bytes prepended in front of the chunks (0 when none). */
  head_length: number;
}

export class BodyStore implements ChunkSink {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly db: Database,
    /** Identifies this store instance as the writer of its pending bodies. */
    private readonly token: string,
  ) {}

  /** Starts refreshing this store's pending bodies and sweeping other nodes' dead ones. */
  startMaintenance(): void {
    const every = (ms: number, task: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        task().catch((err: unknown) => process.emitWarning(`store: ${what} failed: ${String(err)}`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(HEARTBEAT_MS, () => this.heartbeat(), 'refreshing pending bodies');
    every(SWEEP_MS, () => this.sweepStale(), 'sweeping abandoned bodies');
  }

  createWriter(): ChunkedBodyWriter {
    return new ChunkedBodyWriter(this, CHUNK_SIZE);
  }

  /** Checks that `writer` is one of this store's writers. */
  claim(writer: BodyWriter): ChunkedBodyWriter {
    if (!(writer instanceof ChunkedBodyWriter) || writer.sink !== this) {
      throw new StoreError('invalid', 'the body was not created by this store');
    }
    return writer;
  }

  async persistChunk(bodyId: number | null, seq: number, data: Buffer): Promise<number> {
    if (bodyId === null) {
      const row = await this.db.one<{ body_id: number }>(
        `WITH body AS (
           INSERT INTO bodies (state, chunk_size, owner_token) VALUES ('pending', $1, $2) RETURNING id
         )
         INSERT INTO body_chunks (body_id, seq, data) SELECT id, $3, $4 FROM body RETURNING body_id`,
        [CHUNK_SIZE, this.token, seq, data],
      );
      return row!.body_id;
    }
    const inserted = await this.db.count(
      `WITH body AS (
         UPDATE bodies SET touched_at = now() WHERE id = $1 AND state = 'pending' RETURNING id
       )
       INSERT INTO body_chunks (body_id, seq, data) SELECT id, $2, $3 FROM body`,
      [bodyId, seq, data],
    );
    if (inserted !== 1) throw new StoreError('not-found', 'the pending body has been discarded');
    return bodyId;
  }

  async deletePending(bodyId: number): Promise<void> {
    await this.db.count(`DELETE FROM bodies WHERE id = $1 AND state = 'pending'`, [bodyId]);
  }

  /**
   * Inside a transaction: writes the writer's last partial chunk and its head, and marks its
   * body committed. Returns the body id (which is also the message id). Does not touch the
   * writer's in-memory state: the caller does that after the commit.
   */
  async commitInTx(tx: Tx, writer: ChunkedBodyWriter): Promise<number> {
    const size = writer.size;
    const tail = writer.takeTail();
    const head = writer.takeHead();
    if (writer.bodyId === null) {
      const row = await tx.one<{ id: number }>(
        `WITH body AS (
           INSERT INTO bodies (state, size, chunk_size, head) VALUES ('committed', $1, $2, $4) RETURNING id
         ), chunk AS (
           INSERT INTO body_chunks (body_id, seq, data) SELECT id, 0, $3 FROM body WHERE $3::bytea IS NOT NULL
         )
         SELECT id FROM body`,
        [size, CHUNK_SIZE, tail, head],
      );
      return row!.id;
    }
    const bodyId = writer.bodyId;
    const committed = await tx.count(
      `UPDATE bodies SET state = 'committed', size = $1, head = $3, owner_token = NULL
       WHERE id = $2 AND state = 'pending'`,
      [size, bodyId, head],
    );
    if (committed !== 1) throw new StoreError('not-found', 'the pending body has been discarded');
    if (tail) await tx.rows('INSERT INTO body_chunks (body_id, seq, data) VALUES ($1, $2, $3)', [bodyId, writer.tailSeq, tail]);
    return bodyId;
  }

  /** Streams a committed body, optionally only bytes [start, end). */
  async *read(messageId: number, range?: { start: number; end?: number }): AsyncGenerator<Buffer> {
    const body = isId(messageId)
      ? await this.db.one<BodyRow>(
          `SELECT b.id, b.size, b.chunk_size, COALESCE(octet_length(b.head), 0) AS head_length
           FROM messages m JOIN bodies b ON b.id = m.id
           WHERE m.id = $1 AND b.state = 'committed'`,
          [messageId],
        )
      : undefined;
    if (!body) throw new StoreError('not-found', `no message ${messageId}`);
    const { start, end } = checkBodyRange(range, body.size);
    // The head comes first; the chunks hold the rest from logical offset head_length on.
    const head = body.head_length;
    if (start < head) {
      const row = await this.db.one<{ data: Buffer }>(
        'SELECT substring(head FROM $2 FOR $3) AS data FROM bodies WHERE id = $1',
        [body.id, start + 1, Math.min(end, head) - start],
      );
      if (!row) throw new StoreError('not-found', `message ${messageId} was removed while being read`);
      if (row.data.length > 0) yield row.data;
    }
    const chunkStart = Math.max(start - head, 0);
    const chunkEnd = end - head;
    let seq = Math.floor(chunkStart / body.chunk_size);
    let pos = seq * body.chunk_size;
    while (pos < chunkEnd) {
      // One chunk per query: at most one chunk is in memory, and a concurrent expunge may
      // delete the body between two chunks. Only the wanted part of a chunk is sent (a header
      // fetch wants the first kilobyte of a 256 KiB chunk; chunks are stored uncompressed, so
      // the server reads only that slice too).
      const from = Math.max(chunkStart - pos, 0);
      const to = Math.min(chunkEnd - pos, body.chunk_size);
      const row = await this.db.one<{ data: Buffer }>(
        from === 0 && to === body.chunk_size
          ? 'SELECT data FROM body_chunks WHERE body_id = $1 AND seq = $2'
          : 'SELECT substring(data FROM $3 FOR $4) AS data FROM body_chunks WHERE body_id = $1 AND seq = $2',
        from === 0 && to === body.chunk_size ? [body.id, seq] : [body.id, seq, from + 1, to - from],
      );
      if (!row) throw new StoreError('not-found', `message ${messageId} was removed while being read`);
      if (row.data.length > 0) yield row.data;
      pos += body.chunk_size;
      seq++;
    }
  }

  /**
   * Runs a committed body through a new analyzer (keeping up to `maxTextBytes` of text). Only
   * for what the analysis at delivery did not keep: it reads the whole body.
   */
  async analyze(messageId: number, maxTextBytes: number): Promise<MessageAnalysis> {
    const analyzer = createMessageAnalyzer({ maxTextBytes });
    for await (const chunk of this.read(messageId)) analyzer.write(chunk);
    return analyzer.end();
  }

  /** Deletes pending bodies no live writer has touched for a while; returns how many. */
  sweepStale(): Promise<number> {
    return this.db.count(
      `DELETE FROM bodies WHERE state = 'pending' AND touched_at < now() - make_interval(mins => $1)`,
      [STALE_PENDING_MINUTES],
    );
  }

  /** Stops the timers and drops this instance's unfinished bodies. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    await this.db.count(`DELETE FROM bodies WHERE state = 'pending' AND owner_token = $1`, [this.token]);
  }

  private heartbeat(): Promise<number> {
    return this.db.count(`UPDATE bodies SET touched_at = now() WHERE state = 'pending' AND owner_token = $1`, [
      this.token,
    ]);
  }
}
