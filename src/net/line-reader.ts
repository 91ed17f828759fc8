import type { Duplex } from 'node:stream';

/** One command line, without its line ending. */
export interface Line {
  /** The line's bytes (CR LF or bare LF stripped). Empty when `tooLong`. */
  bytes: Buffer;
  /**
   * The line exceeded the limit; its bytes are discarded up to the next LF. Reported as soon
   * as more than the limit arrived without a line end, without waiting for that end.
   */
  tooLong: boolean;
  /**
   * When `tooLong`: the line's first bytes (at most HEAD_BYTES), so the reply can name what
   * it refuses (an IMAP tag); the rest is never kept.
   */
  head?: Buffer;
}

/** How much of an over-long line is kept for the reply (see Line.head). */
const HEAD_BYTES = 128;

function overlong(dropped: Buffer): Line {
  // A copy: a slice would keep the whole dropped buffer alive.
  return { bytes: Buffer.alloc(0), tooLong: true, head: Buffer.from(dropped.subarray(0, HEAD_BYTES)) };
}

/**
 * Pull-based reader over a socket: the session state machine asks for the next line (or raw
 * bytes, for SMTP DATA/BDAT) when it is ready for it, so pipelined commands queue up here in
 * order. Memory is bounded: the socket is paused while more than `highWaterBytes` are
 * buffered, and an over-long line is skipped rather than buffered.
 */
export class LineReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private error: Error | null = null;
  private waiter: (() => void) | null = null;
  /** Set by `interrupt`: the read waiting for data returns null without consuming anything. */
  private interrupted = false;
  /** True while skipping the rest of an over-long line. */
  private discarding = false;
  /** Over-long lines reported so far (sessions close the connection after one). */
  overlongLines = 0;
  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > this.highWaterBytes) this.socket.pause();
    this.wake();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.wake();
  };
  private readonly onError = (err: Error) => {
    this.error = err;
    this.ended = true;
    this.wake();
  };

  constructor(
    private socket: Duplex,
    private readonly maxLineBytes: number,
    private readonly highWaterBytes = Math.max(64 * 1024, maxLineBytes * 2),
  ) {
    this.attach(socket);
  }

  /** Bytes received and not yet consumed. */
  get pending(): number {
    return this.buffered;
  }

  /** True once the peer closed (or the socket failed) and every buffered byte is consumed. */
  get finished(): boolean {
    return this.ended && this.buffered === 0;
  }

  /**
   * Next line, or null at end of stream. A final unterminated fragment at end of stream is
   * dropped: a command is only a command once its line ending arrives.
   */
  async nextLine(): Promise<Line | null> {
    for (;;) {
      const line = this.takeLine();
      if (line) return line;
      if (this.ended) return null;
      await this.waitForData();
      if (this.takeInterrupt()) return null;
    }
  }

  /** Up to `max` raw bytes (at least one), or null at end of stream. */
  async nextBytes(max: number): Promise<Buffer | null> {
    while (this.buffered === 0) {
      if (this.ended) return null;
      await this.waitForData();
      if (this.takeInterrupt()) return null;
    }
    return this.take(Math.min(max, this.buffered));
  }

  /**
   * Makes the read now waiting for data (if any) return null at once, consuming nothing, so a
   * timeout or a shutdown can end a read without losing the line that might follow it.
   * Returns whether a read was waiting.
   */
  interrupt(): boolean {
    if (!this.waiter) return false;
    this.interrupted = true;
    this.wake();
    return true;
  }

  /** Puts bytes back in front of the buffer (a data decoder read past its end marker). */
  unshift(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.chunks.unshift(bytes);
    this.buffered += bytes.length;
  }

  /**
   * Drops whatever the client sent ahead (RFC 3207 and RFC 2595: data pipelined after
   * STARTTLS/STLS must not be acted on) and starts reading from a new socket, e.g. the
   * TLSSocket wrapped around the old one. Returns how many bytes were dropped.
   */
  switchTo(socket: Duplex): number {
    const dropped = this.buffered;
    this.detach();
    this.chunks = [];
    this.buffered = 0;
    this.discarding = false;
    this.interrupted = false;
    this.socket = socket;
    this.attach(socket);
    return dropped;
  }

  /** Stops listening to the socket (it is not closed). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
  }

  private attach(socket: Duplex): void {
    this.ended = false;
    this.error = null;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private takeLine(): Line | null {
    for (;;) {
      const lf = this.indexOfLf();
      if (this.discarding) {
        // The rest of a line already reported as too long: skip it up to its end.
        if (lf < 0) {
          if (this.buffered > 0) this.take(this.buffered);
          return null;
        }
        this.take(lf + 1);
        this.discarding = false;
        continue;
      }
      if (lf < 0) {
        // No line end buffered yet. A partial line already over the limit is reported now,
        // not when (if ever) its end arrives, so the session can answer and close instead of
        // waiting in silence; its bytes are dropped so a 10 MB "line" never sits in memory.
        if (this.buffered > this.maxLineBytes) {
          const dropped = this.take(this.buffered);
          this.discarding = true;
          this.overlongLines++;
          return overlong(dropped);
        }
        return null;
      }
      const raw = this.take(lf + 1);
      if (raw.length > this.maxLineBytes) {
        this.overlongLines++;
        return overlong(raw);
      }
      let end = raw.length - 1;
      if (end > 0 && raw[end - 1] === 0x0d) end--;
      return { bytes: raw.subarray(0, end), tooLong: false };
    }
  }

  private indexOfLf(): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      const i = chunk.indexOf(0x0a);
      if (i >= 0) return offset + i;
      offset += chunk.length;
    }
    return -1;
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0];
    if (first.length === n) {
      this.chunks.shift();
      out = first;
    } else if (first.length > n) {
      out = first.subarray(0, n);
      this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const need = n - filled;
        if (c.length <= need) {
          c.copy(out, filled);
          filled += c.length;
          this.chunks.shift();
        } else {
          c.copy(out, filled, 0, need);
          this.chunks[0] = c.subarray(need);
          filled += need;
        }
      }
    }
    this.buffered -= n;
    if (this.buffered <= this.highWaterBytes && this.socket.isPaused()) this.socket.resume();
    return out;
  }

  private waitForData(): Promise<void> {
    if (this.socket.isPaused()) this.socket.resume();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private takeInterrupt(): boolean {
    const was = this.interrupted;
    this.interrupted = false;
    return was;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
