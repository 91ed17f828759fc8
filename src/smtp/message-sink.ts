/**
 * Where the bytes of a message go while it is received (DATA or BDAT): straight into a store
 * body, behind our trace fields, while its header block is summarised on the way. Nothing is
 * buffered beyond the bounded header capture, and the store's back-pressure is honoured.
 */
import { HeaderCollector } from '../mime/header-summary.js';
import type { BodyWriter, HeaderSummary, Store } from '../store/types.js';

export class MessageSink {
  private readonly body: BodyWriter;
  private readonly headers = new HeaderCollector();
  private received = 0;
  private oversized = false;
  private aborted = false;
  private started = false;
  private writeError: Error | null = null;

  constructor(
    store: Store,
    /** Trace fields written before the client's bytes. */
    private readonly trace: Buffer,
    /** Largest message accepted (the client's bytes, without our trace fields). */
    private readonly maxBytes: number,
  ) {
    this.body = store.createBody();
  }

  /** Message bytes received from the client so far (also counted past the limit). */
  get size(): number {
    return this.received;
  }

  /** True once the message went over the size limit; the body is then already discarded. */
  get tooBig(): boolean {
    return this.oversized;
  }

  /** The store failed to take the body; the client's bytes are then read and dropped. */
  get failure(): Error | null {
    return this.writeError;
  }

  /**
   * Adds message bytes. Resolves when the store can take more. Never throws: after a limit
   * or a store failure the bytes are only counted, because the client still sends up to the
   * end of the message and only then gets the error reply.
   */
  async write(segments: Buffer[]): Promise<void> {
    let n = 0;
    for (const s of segments) n += s.length;
    if (n === 0) return;
    this.received += n;
    if (this.oversized || this.writeError) return;
    if (this.received > this.maxBytes) {
      this.oversized = true;
      await this.abort();
      return;
    }
    const chunk = segments.length === 1 ? segments[0] : Buffer.concat(segments, n);
    if (!this.headers.done) this.headers.push(chunk);
    try {
      if (!this.started) {
        this.started = true;
        await this.body.write(this.trace);
      }
      await this.body.write(chunk);
    } catch (err) {
      this.writeError = err instanceof Error ? err : new Error(String(err));
      await this.abort();
    }
  }

  /** The body ready for delivery: trace fields written even for an empty message. */
  async finish(): Promise<{ body: BodyWriter; headers: HeaderSummary }> {
    if (!this.started) {
      this.started = true;
      await this.body.write(this.trace);
    }
    return { body: this.body, headers: this.headers.summary() };
  }

  /** Discards the body. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    try {
      await this.body.abort();
    } catch {
      // Nothing useful to do: the store discards unfinished bodies itself when it opens.
    }
  }
}
