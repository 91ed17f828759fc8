/**
 * Message bodies, stored inside the database as fixed-size chunks.
 *
 * Keeping bodies in the database (rather than as files) means a message and its index
 * entries commit atomically with one fsync, and a crash can never leave a half-written or
 * orphaned body file. A body streams in as 'pending' chunk rows (at most one chunk is held in
 * memory) and becomes 'committed' in the same transaction as the deliver/append that uses it.
 * A small body (under one chunk) never touches the database before that transaction.
 *
 * The writer itself (chunking, and the MIME analysis of every byte as it is written) is the
 * one every backend shares: ../chunked-body-writer.ts; this module is where its chunks go.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { MessageAnalysis } from '../../mime/analysis.js';
import { createMessageAnalyzer } from '../../mime/analyzer.js';
import { CHUNK_SIZE, ChunkedBodyWriter, type ChunkSink } from '../chunked-body-writer.js';
import { StoreError, type BodyWriter } from '../types.js';
import { checkBodyRange } from '../normalize.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

export { CHUNK_SIZE, SEARCH_TEXT_LIMIT } from '../chunked-body-writer.js';

/** This store's body writers (the shared chunking writer, with this store as its sink). */
export type SqliteBodyWriter = ChunkedBodyWriter;

/** Pending bodies of another host cannot be checked for liveness; drop them after this long. */
const FOREIGN_PENDING_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Tokens of the stores open in this process: their pending bodies are still being written. */
const liveTokens = new Set<string>();

interface BodyRow {
  id: number;
  size: number;
  chunk_size: number;
  /** Bytes prepended in front of the chunks (0 when none). */
  head_length: number;
}

interface PendingRow {
  id: number;
  owner_host: string | null;
  owner_pid: number | null;
  owner_token: string | null;
  created_at: number;
}

export class BodyStore implements ChunkSink {
  /** Identifies this store instance as the writer of its pending bodies. */
  readonly token = randomUUID();
  private readonly host = hostname();
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
  ) {
    liveTokens.add(this.token);
    this.stmts = {
      insertBody: db.prepare(
        `INSERT INTO bodies (state, size, chunk_size, head, owner_host, owner_pid, owner_token, created_at)
         VALUES (?, ?, ${CHUNK_SIZE}, ?, ?, ?, ?, ?)`,
      ),
      insertChunk: db.prepare('INSERT INTO body_chunks (body_id, seq, data) VALUES (?, ?, ?)'),
      commitPending: db.prepare(
        `UPDATE bodies SET state = 'committed', size = ?, head = ?, owner_host = NULL, owner_pid = NULL,
           owner_token = NULL
         WHERE id = ? AND state = 'pending'`,
      ),
      deletePending: db.prepare(`DELETE FROM bodies WHERE id = ? AND state = 'pending'`),
      deleteBody: db.prepare('DELETE FROM bodies WHERE id = ?'),
      deleteOwnPending: db.prepare(`DELETE FROM bodies WHERE state = 'pending' AND owner_token = ?`),
      pending: db.prepare(
        `SELECT id, owner_host, owner_pid, owner_token, created_at FROM bodies WHERE state = 'pending'`,
      ),
      committedBody: db.prepare(
        `SELECT b.id, b.size, b.chunk_size, COALESCE(length(b.head), 0) AS head_length
         FROM messages m JOIN bodies b ON b.id = m.id
         WHERE m.id = ? AND b.state = 'committed'`,
      ),
      chunk: db.prepare('SELECT data FROM body_chunks WHERE body_id = ? AND seq = ?').pluck(),
      chunkPart: db.prepare('SELECT substr(data, ?, ?) FROM body_chunks WHERE body_id = ? AND seq = ?').pluck(),
      headPart: db.prepare('SELECT substr(head, ?, ?) FROM bodies WHERE id = ?').pluck(),
    };
  }

  createWriter(): SqliteBodyWriter {
    return new ChunkedBodyWriter(this, CHUNK_SIZE);
  }

  /** Checks that `writer` is one of this store's writers. */
  claim(writer: BodyWriter): SqliteBodyWriter {
    if (!(writer instanceof ChunkedBodyWriter) || writer.sink !== this) {
      throw new StoreError('invalid', 'the body was not created by this store');
    }
    return writer;
  }

  /** Persists one full chunk as pending (creating the pending body row first if needed). */
  persistChunk(bodyId: number | null, seq: number, data: Buffer): Promise<number> {
    return this.queue.run(() => {
      const id = bodyId ?? this.insertBody('pending', 0, null);
      this.stmts.insertChunk.run(id, seq, data);
      return id;
    });
  }

  deletePending(bodyId: number): Promise<void> {
    return this.queue.run(() => {
      this.stmts.deletePending.run(bodyId);
    });
  }

  /**
   * Inside a write transaction: writes the writer's last partial chunk and its head, and
   * marks its body committed. Returns the body id (which is also the message id). Does not touch the
   * writer's in-memory state: the caller does that in afterCommit, once this is durable.
   */
  commitInTx(writer: SqliteBodyWriter): { bodyId: number; size: number } {
    const size = writer.size;
    const head = writer.takeHead();
    let bodyId = writer.bodyId;
    if (bodyId === null) {
      bodyId = this.insertBody('committed', size, head);
    } else if (this.stmts.commitPending.run(size, head, bodyId).changes !== 1) {
      throw new StoreError('not-found', 'the pending body has been discarded');
    }
    const tail = writer.takeTail();
    if (tail) this.stmts.insertChunk.run(bodyId, writer.tailSeq, tail);
    return { bodyId, size };
  }

  /** Inside a write transaction: deletes a body, its chunks and its message row. */
  deleteInTx(bodyId: number): void {
    this.stmts.deleteBody.run(bodyId);
  }

  /** Streams a committed body, optionally only bytes [start, end). */
  async *read(messageId: number, range?: { start: number; end?: number }): AsyncGenerator<Buffer> {
    const body = this.stmts.committedBody.get(messageId) as BodyRow | undefined;
    if (!body) throw new StoreError('not-found', `no message ${messageId}`);
    const { start, end } = checkBodyRange(range, body.size);
    // The head comes first; the chunks hold the rest from logical offset head_length on.
    const head = body.head_length;
    if (start < head) {
      const data = this.stmts.headPart.get(start + 1, Math.min(end, head) - start, body.id) as Buffer | undefined;
      if (!data) throw new StoreError('not-found', `message ${messageId} was removed while being read`);
      if (data.length > 0) yield data;
    }
    const chunkStart = Math.max(start - head, 0);
    const chunkEnd = end - head;
    let seq = Math.floor(chunkStart / body.chunk_size);
    let pos = seq * body.chunk_size;
    while (pos < chunkEnd) {
      // One chunk per query: a concurrent expunge may delete the body between two chunks.
      // Only the part of the chunk that is wanted crosses into JavaScript (a header fetch
      // wants the first kilobyte of a 256 KiB chunk).
      const from = Math.max(chunkStart - pos, 0);
      const to = Math.min(chunkEnd - pos, body.chunk_size);
      const data = (
        from === 0 && to === body.chunk_size
          ? this.stmts.chunk.get(body.id, seq)
          : this.stmts.chunkPart.get(from + 1, to - from, body.id, seq)
      ) as Buffer | undefined;
      if (!data) throw new StoreError('not-found', `message ${messageId} was removed while being read`);
      if (data.length > 0) yield data;
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

  /**
   * Deletes pending bodies whose writer is gone (a crash, or a store closed mid-write).
   * Writers of other live processes sharing the file are left alone: SQLite in WAL mode is
   * shared only on one host, so a pid liveness check is exact there.
   */
  sweepOrphans(): number {
    const now = Date.now();
    let removed = 0;
    const sweep = this.db.transaction(() => {
      for (const row of this.stmts.pending.all() as PendingRow[]) {
        if (this.isOrphan(row, now)) removed += this.stmts.deleteBody.run(row.id).changes;
      }
    });
    sweep.immediate();
    return removed;
  }

  /** On close: drops this instance's unfinished bodies, then forgets the instance. */
  async close(): Promise<void> {
    try {
      await this.queue.run(() => {
        this.stmts.deleteOwnPending.run(this.token);
      });
    } finally {
      liveTokens.delete(this.token);
    }
  }

  private insertBody(state: 'pending' | 'committed', size: number, head: Buffer | null): number {
    const pending = state === 'pending';
    const info = this.stmts.insertBody.run(
      state,
      size,
      head,
      pending ? this.host : null,
      pending ? process.pid : null,
      pending ? this.token : null,
      Date.now(),
    );
    return Number(info.lastInsertRowid);
  }

  private isOrphan(row: PendingRow, now: number): boolean {
    if (row.owner_host !== this.host || row.owner_pid === null) {
      return now - row.created_at > FOREIGN_PENDING_MAX_AGE_MS;
    }
    if (row.owner_pid === process.pid) return !row.owner_token || !liveTokens.has(row.owner_token);
    return !isProcessAlive(row.owner_pid);
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
