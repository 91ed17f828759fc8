/**
 * Where the bytes of a message go while it is received (DATA or BDAT): straight into a store
 * body, behind our trace fields, while its header block is summarised on the way. Nothing is
 * buffered beyond the bounded header capture, and the store's back-pressure is honoured.
 */
import { isAscii } from 'node:buffer';
import { HeaderCollector } from '../mime/header-summary.js';
import type { BodyWriter, HeaderSummary, Store } from '../store/types.js';

/** A first line longer than this without a field name and colon is not a header field. */
const MAX_FIELD_NAME_PREFIX = 998;
const CRLF = Buffer.from('\r\n');

/**
 * Whether a message's first bytes open a header field (RFC 5322 2.2: printable US-ASCII
 * except ':' for the name, then the colon; obs-syntax allows white space before it), open
 * the body at once (an empty line), or are plain text. 'undecided' while too few bytes came.
 */
export function classifyStart(prefix: Buffer): 'header' | 'empty-line' | 'text' | 'undecided' {
  if (prefix.length === 0) return 'undecided';
  if (prefix[0] === 0x0d || prefix[0] === 0x0a) return 'empty-line';
  let i = 0;
  while (i < prefix.length && prefix[i] >= 0x21 && prefix[i] <= 0x7e && prefix[i] !== 0x3a) i++;
  if (i === 0) return 'text';
  while (i < prefix.length && (prefix[i] === 0x20 || prefix[i] === 0x09)) i++;
  if (i === prefix.length) return prefix.length > MAX_FIELD_NAME_PREFIX ? 'text' : 'undecided';
  return prefix[i] === 0x3a ? 'header' : 'text';
}

/**
 * Something that reads a message as it streams into the store and may put header fields in
 * front of it once it is complete: DKIM/SPF/DMARC verification (Authentication-Results),
 * DKIM signing (DKIM-Signature). It sees the client's message as stored (our trace fields are put in front at the end).
 */
export interface MessageObserver {
  /** Message bytes, in order. Must not throw (an observer that fails records it and goes quiet). */
  write(chunk: Buffer): void;
  /**
   * The message is complete: CRLF-terminated header lines to place in front of it, or null.
   * Observers end in the order given; each one's lines go in front of the previous ones'.
   */
  end(): Promise<Buffer | null>;
  /** The message was dropped (client gone, too big, store failure). */
  abort?(): void;
}

/**
 * Rewrites the client's bytes on their way into the store, before the observers see them
 * (submission's header rules: Bcc dropped, Date and Message-ID added, the senders checked).
 * Either method may throw MessageRefused to refuse the message.
 */
export interface MessageFilter {
  /** Client bytes in, the bytes to store out (possibly held back for now). */
  push(chunk: Buffer): Promise<Buffer[]>;
  /** The client's message is complete: whatever was held back, and anything to add. */
  end(): Promise<Buffer[]>;
}

/** A message refused, for what it contains or (4xx) for now; `reply` says why. */
export class MessageRefused extends Error {
  constructor(readonly reply: string) {
    super(reply.trimEnd());
    this.name = 'MessageRefused';
  }
}

export class MessageSink {
  private readonly body: BodyWriter;
  private readonly headers = new HeaderCollector();
  private received = 0;
  private oversized = false;
  private aborted = false;
  private started = false;
  private sawEightBit = false;
  /** The client's first bytes, held until we know whether they open a header field. */
  private held: Buffer | null = Buffer.alloc(0);
  private writeError: Error | null = null;
  private refused: MessageRefused | null = null;

  constructor(
    store: Store,
    /** Trace fields (Return-Path, Received) put in front of the client's bytes. */
    private readonly trace: Buffer,
    /** Largest message accepted (the client's bytes, without our trace fields). */
    private readonly maxBytes: number,
    private readonly observers: readonly MessageObserver[] = [],
    private readonly filter: MessageFilter | null = null,
  ) {
    this.body = store.createBody();
  }

  /** Writes to the store body and shows the same bytes to every observer. */
  private async put(chunk: Buffer): Promise<void> {
    for (const o of this.observers) o.write(chunk);
    await this.body.write(chunk);
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
   * The client's bytes include octets above 127, whatever its BODY= said: the queue must not
   * send such a message raw to a server without 8BITMIME (RFC 6152), and clients send 8-bit
   * text without declaring it.
   */
  get eightBit(): boolean {
    return this.sawEightBit;
  }

  /** The filter refused the message (its reply says why); the body is then already discarded. */
  get refusal(): string | null {
    return this.refused?.reply ?? null;
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
    if (this.oversized || this.writeError || this.refused) return;
    if (this.received > this.maxBytes) {
      this.oversized = true;
      await this.abort();
      return;
    }
    const chunk = segments.length === 1 ? segments[0] : Buffer.concat(segments, n);
    if (!this.sawEightBit && !isAscii(chunk)) this.sawEightBit = true;
    try {
      for (const c of this.filter ? await this.filter.push(chunk) : [chunk]) await this.store(c);
    } catch (err) {
      if (err instanceof MessageRefused) this.refused = err;
      else this.writeError = err instanceof Error ? err : new Error(String(err));
      await this.abort();
    }
  }

  /** Stores (filtered) client bytes; the first ones wait until they show how the message starts. */
  private async store(chunk: Buffer): Promise<void> {
    if (this.held) {
      chunk = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
      const start = classifyStart(chunk);
      if (start === 'undecided') {
        this.held = chunk;
        return;
      }
      this.held = null;
      await this.writeStart(start);
    }
    if (!this.headers.done) this.headers.push(chunk);
    await this.put(chunk);
  }

  /**
   * When the client's message does not begin with a header field (the seed's "Do you like
   * ketchup?" typed straight after DATA), the empty line that makes its text the body. Without
   * it the whole message would read as a broken header block. (Our trace fields go in front
   * at the end: see finish.)
   */
  private async writeStart(start: 'header' | 'empty-line' | 'text'): Promise<void> {
    this.started = true;
    if (start === 'text') {
      this.headers.push(CRLF);
      await this.put(CRLF);
    }
  }

  /**
   * The body ready for delivery: trace fields in front, even of an empty message. Throws
   * MessageRefused when the filter refuses the message at its end.
   */
  async finish(): Promise<{ body: BodyWriter; headers: HeaderSummary }> {
    if (this.refused) throw this.refused;
    if (this.filter) for (const c of await this.filter.end()) await this.store(c);
    if (!this.started) {
      const held = this.held ?? Buffer.alloc(0);
      this.held = null;
      // A message that ended while its first line was undecided ("Subject" alone) is text.
      await this.writeStart(held.length === 0 ? 'empty-line' : 'text');
      if (held.length > 0) {
        if (!this.headers.done) this.headers.push(held);
        await this.put(held);
      }
    }
    for (const o of this.observers) {
      const head = await o.end();
      if (head && head.length > 0) this.body.prepend(head);
    }
    // Return-Path and Received last, so they head the message above what the observers added
    // (Authentication-Results, DKIM-Signature), as a delivery agent's Return-Path heads it.
    this.body.prepend(this.trace);
    return { body: this.body, headers: this.headers.summary() };
  }

  /** Discards the body. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    for (const o of this.observers) o.abort?.();
    try {
      await this.body.abort();
    } catch {
      // Nothing useful to do: the store discards unfinished bodies itself when it opens.
    }
  }
}
