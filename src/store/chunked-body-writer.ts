/**
 * The BodyWriter every backend hands out: bytes are cut into fixed-size chunks, each full
 * chunk is persisted as part of a 'pending' body (at most one chunk is held in memory), and
 * every byte goes through a MessageAnalyzer as it is written, so the MIME structure and the
 * search text are ready when a deliver/append commits the body: nothing re-reads it for them.
 *
 * Where chunks go is the backend's business (ChunkSink); the last, partial chunk is left for
 * the backend to write inside its deliver/append transaction (takeTail), so a small body
 * never touches the database before that transaction.
 *
 * Bytes prepended once the message went by (header fields such as DKIM-Signature) are the
 * body's head: held in memory and stored by the backend beside the chunks, in the same
 * transaction as the tail. The body's bytes are the head, then the chunks; chunks stay
 * fixed-size, so a backend finds logical offset o at o - head length in the chunks.
 */
import { shiftStructure, type MessageAnalysis, type MessageAnalyzer } from '../mime/analysis.js';
import { createMessageAnalyzer } from '../mime/analyzer.js';
import { decodeEncodedWords } from '../mime/decode.js';
import { parseHeaderFields } from '../mime/header-fields.js';
import { StoreError, type BodyWriter } from './types.js';

/** Bytes per stored chunk (the last chunk of a body may be shorter). */
export const CHUNK_SIZE = 256 * 1024;

/**
 * Decoded body text kept in the search index per message; beyond it search reads the body.
 * Trigram indexing costs grow faster than the text (about a second for 256 KiB of random
 * characters on a slow machine, far less for prose).
 */
export const SEARCH_TEXT_LIMIT = 256 * 1024;

/** Most bytes prepend() takes in all: a few header fields, kept in memory and in one column. */
export const HEAD_LIMIT = 64 * 1024;

/** Where a writer's full chunks go, as 'pending' rows nobody else can see. */
export interface ChunkSink {
  /** Persists chunk `seq`, creating the pending body first when `bodyId` is null; returns the body id. */
  persistChunk(bodyId: number | null, seq: number, data: Buffer): Promise<number>;
  /** Deletes a pending body (never a committed one) with its chunks. */
  deletePending(bodyId: number): Promise<void>;
}

type WriterState = 'open' | 'committing' | 'committed' | 'aborted' | 'failed';

export class ChunkedBodyWriter implements BodyWriter {
  private written = 0;
  /** Prepended bytes, first in front (a later prepend goes before an earlier one). */
  private headParts: Buffer[] = [];
  private headLength = 0;
  /** The partial chunk not yet persisted, as copies of the caller's buffers. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Set once the first full chunk is persisted (a 'pending' bodies row exists). */
  bodyId: number | null = null;
  private nextSeq = 0;
  state: WriterState = 'open';
  private abortRequested = false;
  /** Serialises writes so chunks are persisted in order even if the caller does not await. */
  private chain: Promise<void> = Promise.resolve();
  private inflightCommit: Promise<unknown> = Promise.resolve();
  private aborting: Promise<void> | null = null;
  private readonly analyzer: MessageAnalyzer = createMessageAnalyzer({ maxTextBytes: SEARCH_TEXT_LIMIT });
  /** The analyzer's result once taken (null: the analyzer failed); writing ends then. */
  private analysisResult: MessageAnalysis | null | undefined = undefined;
  private analyzerError: unknown = null;
  private failedError: unknown = null;

  constructor(
    /** The store's chunk sink; stores use it to recognise their own writers. */
    readonly sink: ChunkSink,
    private readonly chunkSize = CHUNK_SIZE,
  ) {}

  get size(): number {
    return this.headLength + this.written;
  }

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open' || this.abortRequested || this.analysisResult !== undefined) {
      return Promise.reject(new StoreError('invalid', `cannot write to a body that is ${this.describeState()}`));
    }
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    this.written += data.length;
    this.analyze(data);
    const result = this.chain.then(() => this.append(data));
    this.chain = result.catch(() => undefined);
    return result;
  }

  prepend(bytes: Buffer): void {
    // Refused once the analysis is taken (a deliver/append began): its offsets count the head.
    if (this.state !== 'open' || this.abortRequested || this.analysisResult !== undefined) {
      throw new StoreError('invalid', `cannot prepend to a body that is ${this.describeState()}`);
    }
    if (!Buffer.isBuffer(bytes)) throw new StoreError('invalid', 'prepend takes a Buffer');
    if (this.headLength + bytes.length > HEAD_LIMIT) {
      throw new StoreError('invalid', `prepended bytes exceed ${HEAD_LIMIT} in all`);
    }
    if (bytes.length === 0) return;
    this.headParts.unshift(Buffer.from(bytes));
    this.headLength += bytes.length;
  }

  /** The prepended bytes (stored beside the chunks), or null when nothing was prepended. */
  takeHead(): Buffer | null {
    return this.headLength > 0 ? Buffer.concat(this.headParts, this.headLength) : null;
  }

  abort(): Promise<void> {
    this.abortRequested = true;
    this.aborting ??= this.doAbort();
    return this.aborting;
  }

  /**
   * Runs `commit` (a deliver/append) with exclusive use of this writer, after all pending
   * chunk writes have finished. On failure the writer is usable again (it can be aborted).
   */
  async commitWith<T>(commit: () => Promise<T>): Promise<T> {
    if (this.state !== 'open' || this.abortRequested) {
      throw new StoreError('invalid', `cannot deliver a body that is ${this.describeState()}`);
    }
    this.state = 'committing';
    const run = (async () => {
      await this.chain;
      if (this.abortRequested) throw new StoreError('invalid', 'the body was aborted');
      if (this.failedError) throw this.failedError;
      return commit();
    })();
    this.inflightCommit = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      if (this.state === 'committing') this.state = this.failedError ? 'failed' : 'open';
    }
  }

  /**
   * What the analyzer learnt from the whole body; null if it failed (the message is still
   * stored: losing mail to a parser fault would be worse than a message without structure).
   * Once taken, no more bytes can be written.
   */
  analysis(): MessageAnalysis | null {
    if (this.analysisResult === undefined) {
      if (this.analyzerError === null) {
        try {
          this.analysisResult = this.withHead(this.analyzer.end());
        } catch (err) {
          this.analyzerError = err;
        }
      }
      if (this.analyzerError !== null) {
        process.emitWarning(`store: message analysis failed: ${String(this.analyzerError)}`);
        this.analysisResult = null;
      }
    }
    return this.analysisResult ?? null;
  }

  /** The partial last chunk (what is not persisted yet); the same bytes however often asked. */
  takeTail(): Buffer | null {
    return this.partsLength > 0 ? Buffer.concat(this.parts, this.partsLength) : null;
  }

  get tailSeq(): number {
    return this.nextSeq;
  }

  /** Called once the deliver/append holding this body is committed. */
  markCommitted(): void {
    this.state = 'committed';
    this.parts = [];
    this.partsLength = 0;
  }

  /**
   * The analysis of the written bytes made to describe the head too: offsets move by its
   * length (it joins the top-level header block) and its fields are searchable like the
   * others. The header summary and envelope stay: prepended fields are none of theirs.
   */
  private withHead(analysis: MessageAnalysis): MessageAnalysis {
    const head = this.takeHead();
    if (!head) return analysis;
    const fields = parseHeaderFields(head);
    const headText = fields.map((f) => `${f.name}: ${decodeEncodedWords(f.value)}\n`).join('');
    return {
      ...analysis,
      root: shiftStructure(analysis.root, head.length),
      text: { ...analysis.text, headers: headText + analysis.text.headers },
    };
  }

  private analyze(data: Buffer): void {
    if (this.analyzerError !== null) return;
    try {
      this.analyzer.write(data);
    } catch (err) {
      this.analyzerError = err;
    }
  }

  private async append(data: Buffer): Promise<void> {
    if (this.failedError) throw this.failedError;
    let offset = 0;
    while (offset < data.length) {
      const take = Math.min(this.chunkSize - this.partsLength, data.length - offset);
      // Copy: the caller may reuse its buffer once write() resolves.
      this.parts.push(Buffer.from(data.subarray(offset, offset + take)));
      this.partsLength += take;
      offset += take;
      if (this.partsLength === this.chunkSize) {
        const chunk = Buffer.concat(this.parts, this.chunkSize);
        this.parts = [];
        this.partsLength = 0;
        try {
          this.bodyId = await this.sink.persistChunk(this.bodyId, this.nextSeq, chunk);
          this.nextSeq++;
        } catch (err) {
          // The chunk is lost: the body can no longer be completed, only aborted.
          this.failedError = err;
          this.state = 'failed';
          throw err;
        }
      }
    }
  }

  private async doAbort(): Promise<void> {
    await this.chain;
    await this.inflightCommit;
    if (this.state === 'committed') return;
    this.state = 'aborted';
    this.parts = [];
    this.partsLength = 0;
    const id = this.bodyId;
    this.bodyId = null;
    if (id !== null) {
      try {
        await this.sink.deletePending(id);
      } catch {
        // Best effort: the store sweeps pending bodies of dead writers.
      }
    }
  }

  private describeState(): string {
    if (this.abortRequested) return 'aborted';
    return this.state === 'open' && this.analysisResult !== undefined ? 'already handed to a delivery' : this.state;
  }
}

/**
 * Runs `commit` (one transaction storing several bodies, e.g. a restore) with exclusive use of
 * every writer, once all their chunk writes are done.
 */
export function commitWithAll<T>(writers: readonly ChunkedBodyWriter[], commit: () => Promise<T>): Promise<T> {
  return writers.reduceRight<() => Promise<T>>((inner, writer) => () => writer.commitWith(inner), commit)();
}
