/**
 * Reading and writing file contents in PostgreSQL, chunked as message bodies are. An upload
 * fills a 'pending' content row chunk by chunk (each chunk its own statement, so no
 * transaction stays open while a client is slow); commit() points the file at it in one
 * transaction, so a reader sees the old version or the new one, never a part. A reader reads
 * the content it opened, which stays (as 'released') a while after it was replaced.
 */
import type { FileInfo, FileReader, FileUpload } from '../file-store.js';
import { StoreError } from '../types.js';
import type { Database, Tx } from './db.js';

/** Bytes per stored chunk (as message bodies: large enough for few rows, small enough for flat memory). */
export const FILE_CHUNK_SIZE = 256 * 1024;
/** The largest chunk stream() yields, and the most one read() returns. */
const STREAM_CHUNK_BYTES = 64 * 1024;
const MAX_READ_BYTES = 1024 * 1024;

export interface ContentRef {
  id: number;
  size: number;
  chunkSize: number;
}

export class PostgresFileReader implements FileReader {
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly content: ContentRef,
    readonly info: FileInfo,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    if (this.closed) throw new Error('the file is closed');
    if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new StoreError('invalid', 'bad read range');
    }
    const end = Math.min(position + Math.min(length, MAX_READ_BYTES), this.content.size);
    const parts: Buffer[] = [];
    for (let pos = position; pos < end; ) {
      const { chunkSize } = this.content;
      const seq = Math.floor(pos / chunkSize);
      const from = pos - seq * chunkSize;
      const to = Math.min(end - seq * chunkSize, chunkSize);
      const part = await this.chunk(seq, from, to - from);
      if (part.length === 0) break;
      parts.push(part);
      pos += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async *stream(start = 0): AsyncIterable<Buffer> {
    const { chunkSize, size } = this.content;
    let pos = start;
    while (pos < size) {
      if (this.closed) throw new Error('the file is closed');
      // One stored chunk at a time (one query), handed out in slices of at most 64 KiB.
      const seq = Math.floor(pos / chunkSize);
      const from = pos - seq * chunkSize;
      const data = await this.chunk(seq, from, Math.min(chunkSize, size - seq * chunkSize) - from);
      if (data.length === 0) return;
      for (let off = 0; off < data.length; off += STREAM_CHUNK_BYTES) {
        yield data.subarray(off, off + STREAM_CHUNK_BYTES);
      }
      pos += data.length;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async chunk(seq: number, from: number, length: number): Promise<Buffer> {
    const whole = from === 0 && length >= this.content.chunkSize;
    const row = await this.db.one<{ data: Buffer }>(
      whole
        ? 'SELECT data FROM file_chunks WHERE content_id = $1 AND seq = $2'
        : 'SELECT substring(data FROM $3 FOR $4) AS data FROM file_chunks WHERE content_id = $1 AND seq = $2',
      whole ? [this.content.id, seq] : [this.content.id, seq, from + 1, length],
    );
    if (!row) throw new StoreError('not-found', 'the file was removed while being read');
    return row.data;
  }
}

/** What an upload needs from its store. */
export interface UploadHost {
  db: Database;
  /** Inside the commit transaction: puts the content under the upload's name; returns its info. */
  place(tx: Tx, contentId: number, size: number): Promise<FileInfo>;
}

export interface PostgresUploadSetup {
  contentId: number;
  /** Bytes of the kept part (resume/append) already in the content's chunks. */
  keptBytes: number;
  /** The kept part's last, partial chunk: the start of the next chunk to write. */
  keptTail: Buffer;
  replacedBytes: number;
  maxBytes: number | null;
}

export class PostgresUpload implements FileUpload {
  bytesWritten = 0;
  private state: 'open' | 'committing' | 'done' = 'open';
  /** Bytes not yet stored: less than one chunk, and the last chunk at commit. */
  private pending: Buffer[];
  private pendingBytes: number;
  private nextSeq: number;

  constructor(
    private readonly host: UploadHost,
    private readonly setup: PostgresUploadSetup,
  ) {
    this.pending = setup.keptTail.length > 0 ? [setup.keptTail] : [];
    this.pendingBytes = setup.keptTail.length;
    this.nextSeq = Math.floor(setup.keptBytes / FILE_CHUNK_SIZE);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') throw new Error('the upload is finished');
    const { keptBytes, replacedBytes, maxBytes } = this.setup;
    const growth = keptBytes + this.bytesWritten + chunk.length - replacedBytes;
    if (maxBytes !== null && growth > maxBytes) throw new StoreError('quota', 'the upload would exceed the quota');
    this.pending.push(Buffer.from(chunk));
    this.pendingBytes += chunk.length;
    this.bytesWritten += chunk.length;
    while (this.pendingBytes >= FILE_CHUNK_SIZE) {
      const all = Buffer.concat(this.pending);
      const full = all.subarray(0, FILE_CHUNK_SIZE);
      await this.storeChunk(full);
      // Only once stored: a failed insert leaves the bytes pending (and the upload abortable).
      this.pending = all.length > FILE_CHUNK_SIZE ? [all.subarray(FILE_CHUNK_SIZE)] : [];
      this.pendingBytes = all.length - FILE_CHUNK_SIZE;
      this.nextSeq++;
    }
  }

  async commit(): Promise<FileInfo> {
    if (this.state !== 'open') throw new Error('the upload is finished');
    this.state = 'committing';
    const size = this.setup.keptBytes + this.bytesWritten;
    const tail = this.pendingBytes > 0 ? Buffer.concat(this.pending) : null;
    try {
      const info = await this.host.db.transaction(async (tx) => {
        if (tail) {
          await tx.count('INSERT INTO file_chunks (content_id, seq, data) VALUES ($1, $2, $3)', [
            this.setup.contentId,
            this.nextSeq,
            tail,
          ]);
        }
        const committed = await tx.count(
          `UPDATE file_contents SET state = 'committed', size = $2, owner_token = NULL, touched_at = now()
           WHERE id = $1 AND state = 'pending'`,
          [this.setup.contentId, size],
        );
        if (committed !== 1) throw new StoreError('not-found', 'the upload was discarded');
        return this.host.place(tx, this.setup.contentId, size);
      });
      this.state = 'done';
      return info;
    } catch (err) {
      this.state = 'open';
      throw err;
    }
  }

  async abort(options?: { keepPartial?: boolean }): Promise<void> {
    if (this.state !== 'open') return;
    if (options?.keepPartial) {
      try {
        await this.commit();
        return;
      } catch {
        // Keeping the bytes failed (the folder went away, the database is gone): drop them.
      }
    }
    this.state = 'done';
    this.pending = [];
    await this.host.db
      .count(`DELETE FROM file_contents WHERE id = $1 AND state = 'pending'`, [this.setup.contentId])
      .catch(() => undefined);
  }

  private async storeChunk(data: Buffer): Promise<void> {
    const inserted = await this.host.db.count(
      `WITH content AS (
         UPDATE file_contents SET touched_at = now() WHERE id = $1 AND state = 'pending' RETURNING id
       )
       INSERT INTO file_chunks (content_id, seq, data) SELECT id, $2, $3 FROM content`,
      [this.setup.contentId, this.nextSeq, data],
    );
    if (inserted !== 1) throw new StoreError('not-found', 'the upload was discarded');
  }
}
