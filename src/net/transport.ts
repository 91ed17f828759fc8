/**
 * The byte side of a line-protocol session (SMTP, POP3, IMAP): reading command lines and raw
 * bytes with time limits, writing replies in batches with back-pressure, the STARTTLS/STLS
 * switch and closing politely. It knows nothing about any protocol's commands; the session
 * state machine drives it.
 */
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { StageDeadlines, type DeadlineStage } from './deadlines.js';
import { LineReader, type Line } from './line-reader.js';
import type { TlsMaterial } from './types.js';

/** A read that hit its time limit. */
export const TIMED_OUT = Symbol('timed out');
export type TimedOut = typeof TIMED_OUT;

/** The connection went away (or is closing) while a reply was being written. */
export class ConnectionClosedError extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionClosedError';
  }
}

/** A fixed-length read (`readExactly`) that ended before all of its bytes arrived. */
export class ReadInterruptedError extends Error {
  constructor(readonly reason: 'timeout' | 'closed') {
    super(reason === 'timeout' ? 'read timed out' : 'connection closed during read');
    this.name = 'ReadInterruptedError';
  }
}

/** Replies pile up while the client does not read them; past this, reading its commands waits. */
export const DEFAULT_MAX_UNREAD_REPLY_BYTES = 256 * 1024;
/** After our last reply, how long the client gets to close its side before we drop it. */
export const DEFAULT_LINGER_MS = 2000;
/** Time a client gets to complete the TLS handshake after STARTTLS/STLS. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** Chunk size of `readExactly`. */
const READ_CHUNK_BYTES = 64 * 1024;

export interface WireTransportOptions {
  /** Longest command line; longer ones are reported as `tooLong` (see LineReader). */
  maxLineBytes: number;
  /** True when the connection is TLS from the first byte (implicit-TLS ports). */
  secure: boolean;
  /** How long `write` waits for a client that does not read before dropping the connection. */
  stallTimeoutMs: number;
  /** Unread reply bytes past which reads wait for the client to catch up. */
  maxUnreadReplyBytes?: number;
  /** How long `close` waits for the client to close its side. */
  lingerMs?: number;
}

export class WireTransport {
  private current: Socket | TLSSocket;
  private readonly reader: LineReader;
  private tlsActive: boolean;
  private readonly stallTimeoutMs: number;
  private readonly maxUnreadReplyBytes: number;
  private readonly lingerMs: number;
  private corked = false;
  private flushScheduled = false;
  private closing = false;
  /** True while a read waits for the client. */
  private reading = false;
  /** True when the read in progress has a time limit. */
  private timedRead = false;
  /** Why the read in progress was ended early. */
  private interruption: 'timeout' | 'cancelled' | null = null;
  /** One timer per connection, re-armed with refresh() (cheaper than a new timer per read). */
  private readTimer: NodeJS.Timeout | null = null;
  private readTimerMs = 0;
  /**
   * Stage deadlines (see deadlines.ts): every read ends with TIMED_OUT at the earliest of
   * them, whatever its own time limit.
   */
  readonly deadlines = new StageDeadlines();
  /** The stage deadline bounding the read in progress (null: its own time limit, if any). */
  private readBoundBy: DeadlineStage | null = null;
  /** See expiredDeadline(). */
  private timedOutBy: DeadlineStage | null = null;
  /** Ends the wait for the client to read our replies (back-pressure) early. */
  private drainWaiter: (() => void) | null = null;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  private readonly flushNow = () => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly onReadTimeout = () => {
    if (this.reading && this.timedRead) this.interruptRead('timeout');
  };

  constructor(socket: Socket | TLSSocket, opts: WireTransportOptions) {
    this.current = socket;
    this.tlsActive = opts.secure;
    this.stallTimeoutMs = opts.stallTimeoutMs;
    this.maxUnreadReplyBytes = opts.maxUnreadReplyBytes ?? DEFAULT_MAX_UNREAD_REPLY_BYTES;
    this.lingerMs = opts.lingerMs ?? DEFAULT_LINGER_MS;
    this.reader = new LineReader(socket, opts.maxLineBytes);
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    this.watchClose(socket);
  }

  /** The socket in use: the TLSSocket after `upgradeToTls`. */
  get socket(): Socket | TLSSocket {
    return this.current;
  }

  /** TLS from the first byte, or after a successful `upgradeToTls`. */
  get secure(): boolean {
    return this.tlsActive;
  }

  /** True once we started closing or the peer went away. */
  get isClosing(): boolean {
    return this.closing || this.current.destroyed;
  }

  /** True while a read is waiting for the client. */
  get waitingForClient(): boolean {
    return this.reading;
  }

  /** Over-long lines the reader reported (the sessions close the connection after one). */
  get overlongLines(): number {
    return this.reader.overlongLines;
  }

  /** Bytes the client sent that were not read yet (pipelined commands). */
  get pendingInput(): number {
    return this.reader.pending;
  }

  /** Resolves when the socket is closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  // ---- writing -----------------------------------------------------------------------------

  /**
   * Queues reply bytes. Replies written in one turn of the event loop (the answers to a batch
   * of pipelined commands, the slices of a streamed message) leave together: the socket is
   * corked on the first write of a turn and uncorked at its end. Returns a promise only when
   * the caller should wait (the socket buffer is full), so hot loops can skip an `await`; the
   * promise rejects with ConnectionClosedError when the client goes away or does not read
   * for `stallTimeoutMs`. Throws ConnectionClosedError once the connection is closing.
   */
  write(data: string | Buffer): Promise<void> | undefined {
    if (this.isClosing || !this.current.writable) throw new ConnectionClosedError();
    this.cork();
    if (this.current.write(data)) return undefined;
    // Corked bytes are never sent, so 'drain' would never come: flush before waiting.
    this.flush();
    return this.drained();
  }

  /**
   * Queues reply bytes without waiting; dropped once the connection is closing. A client that
   * does not read these is held back at its next read instead (see `readLine`).
   */
  send(data: string | Buffer): void {
    if (this.isClosing || !this.current.writable) return;
    this.cork();
    this.current.write(data);
  }

  /** Sends everything queued now, without waiting for the end of the event-loop turn. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.current.uncork();
  }

  // ---- reading -----------------------------------------------------------------------------

  /**
   * Why the last read that returned TIMED_OUT did: the stage whose deadline it hit, or null
   * for the read's own time limit (idle).
   */
  expiredDeadline(): DeadlineStage | null {
    return this.timedOutBy;
  }

  /**
   * The next line; null at end of stream or when cancelled, TIMED_OUT when `timeoutMs` passed
   * first (nothing is lost: a line arriving later is returned by the next read).
   */
  readLine(timeoutMs?: number): Promise<Line | null | TimedOut> {
    return this.guard(() => this.reader.nextLine(), timeoutMs);
  }

  /** Up to `max` raw bytes (at least one); null at end of stream or when cancelled. */
  readBytes(max: number, timeoutMs?: number): Promise<Buffer | null | TimedOut> {
    return this.guard(() => this.reader.nextBytes(max), timeoutMs);
  }

  /**
   * Exactly `length` bytes (an IMAP literal, an SMTP BDAT chunk), as chunks of at most
   * `chunkBytes`, streamed as they arrive: a large upload is never held in memory whole, and
   * the client is only read from as fast as the consumer takes the chunks. `timeoutMs`
   * applies to each chunk. Throws ReadInterruptedError when the stream ends, the read is
   * cancelled or times out before `length` bytes came.
   */
  async *readExactly(length: number, timeoutMs?: number, chunkBytes = READ_CHUNK_BYTES): AsyncGenerator<Buffer, void, undefined> {
    let remaining = length;
    while (remaining > 0) {
      const chunk = await this.readBytes(Math.min(remaining, chunkBytes), timeoutMs);
      if (chunk === TIMED_OUT) throw new ReadInterruptedError('timeout');
      if (chunk === null) throw new ReadInterruptedError('closed');
      remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Gives back bytes read too far (commands pipelined after a message's end marker). */
  unshift(bytes: Buffer): void {
    this.reader.unshift(bytes);
  }

  /**
   * Ends the read in progress (if any) with null, from outside the session loop: shutdown,
   * or a protocol event that must wake an idle session. Nothing is consumed.
   */
  cancelRead(): void {
    this.interruptRead('cancelled');
  }

  // ---- TLS and closing ---------------------------------------------------------------------

  /**
   * Starts TLS on this connection, after the caller queued its "go ahead" reply (SMTP 220,
   * POP3 +OK, IMAP OK), which is flushed first, in the clear. Whatever the client pipelined
   * after its STARTTLS/STLS command is discarded unread: it was sent in the clear and could
   * have been injected by an attacker (RFC 3207 section 6, RFC 2595 section 3.1, RFC 9051
   * section 11.1; CVE-2011-0411). A client that does not complete the handshake within
   * `handshakeTimeoutMs` is dropped. Resolves to the number of bytes discarded, or null when
   * the handshake failed (the connection is then closed).
   */
  async upgradeToTls(material: TlsMaterial, handshakeTimeoutMs: number): Promise<number | null> {
    if (this.isClosing) return null;
    this.flush();
    const plain = this.current as Socket;
    // The current certificates, chosen by the client's SNI name like on the implicit-TLS ports.
    const secured = new tls.TLSSocket(plain, material.upgradeOptions());
    const dropped = this.reader.switchTo(secured);
    this.current = secured;
    this.watchClose(secured);
    const ok = await new Promise<boolean>((resolve) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        secured.off('secure', onSecure);
        secured.off('error', onError);
        secured.off('close', onError);
        resolve(result);
      };
      const timer = setTimeout(() => done(false), handshakeTimeoutMs);
      const onSecure = () => done(true);
      const onError = () => done(false);
      secured.once('secure', onSecure);
      secured.once('error', onError);
      secured.once('close', onError);
    });
    // Keep a late error from crashing the process; the reader sees it as end of stream.
    secured.on('error', () => {});
    if (!ok) {
      this.closing = true;
      secured.destroy();
      plain.destroy();
      return null;
    }
    this.tlsActive = true;
    return dropped;
  }

  /**
   * Sends a last reply (if any) and closes. The client gets `lingerMs` to close its side
   * first: closing with unread input makes the kernel send a reset, which can destroy our
   * last reply before the client reads it, so its input is read and dropped meanwhile.
   */
  close(lastReply?: string | Buffer): void {
    if (this.closing) return;
    if (lastReply !== undefined) this.send(lastReply);
    this.flush();
    this.closing = true;
    this.cancelRead();
    const socket = this.current;
    this.reader.detach();
    if (this.readTimer) clearTimeout(this.readTimer);
    if (socket.destroyed) return;
    socket.on('data', () => {});
    socket.resume();
    socket.end();
    setTimeout(() => socket.destroy(), this.lingerMs).unref();
  }

  /** Closes at once, without a reply (the client is gone, or a reply was cut short). */
  destroy(): void {
    this.closing = true;
    this.cancelRead();
    if (this.readTimer) clearTimeout(this.readTimer);
    this.current.destroy();
  }

  // ---- internals ---------------------------------------------------------------------------

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.current.cork();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  private watchClose(socket: Socket | TLSSocket): void {
    socket.once('close', () => {
      this.closing = true;
      this.markClosed();
      this.drainWaiter?.();
    });
  }

  /**
   * Runs a read with an optional time limit. A client that pipelines commands without reading
   * our replies must not make us buffer them without bound: while more than
   * `maxUnreadReplyBytes` wait in the socket, its next command is not read.
   */
  private async guard<T>(read: () => Promise<T | null>, timeoutMs: number | undefined): Promise<T | null | TimedOut> {
    if (this.isClosing) return null;
    const limit = this.deadlines.limit(timeoutMs);
    timeoutMs = limit.ms;
    this.readBoundBy = limit.stage;
    if (timeoutMs !== undefined && timeoutMs <= 0) return this.timedOut();
    this.reading = true;
    this.interruption = null;
    this.timedRead = timeoutMs !== undefined;
    if (timeoutMs !== undefined) this.armReadTimer(timeoutMs);
    try {
      // writableNeedDrain: only then will 'drain' come (the limit may be set below the
      // socket's own high-water mark).
      const socket = this.current;
      if (socket.writableNeedDrain && socket.writableLength > this.maxUnreadReplyBytes) {
        this.flush();
        await this.clientCaughtUp();
        if (this.interruption) return this.interruption === 'timeout' ? this.timedOut() : null;
        if (this.isClosing) return null;
      }
      const value = await read();
      if (value === null && this.interruption === 'timeout') return this.timedOut();
      return value;
    } finally {
      this.reading = false;
      this.timedRead = false;
    }
  }

  private timedOut(): TimedOut {
    this.timedOutBy = this.readBoundBy;
    return TIMED_OUT;
  }

  private armReadTimer(ms: number): void {
    if (this.readTimer && this.readTimerMs === ms) {
      this.readTimer.refresh();
      return;
    }
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimerMs = ms;
    this.readTimer = setTimeout(this.onReadTimeout, Math.max(0, ms));
    this.readTimer.unref();
  }

  private interruptRead(reason: 'timeout' | 'cancelled'): void {
    if (!this.reading) return;
    if (this.drainWaiter) {
      this.interruption = reason;
      this.drainWaiter();
    } else if (this.reader.interrupt()) {
      this.interruption = reason;
    }
  }

  /** Resolves when the socket drained its write buffer (or closed, or the read was interrupted). */
  private clientCaughtUp(): Promise<void> {
    const socket = this.current;
    return new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        if (this.drainWaiter === done) this.drainWaiter = null;
        resolve();
      };
      this.drainWaiter = done;
      socket.on('drain', done);
    });
  }

  /** Waits for 'drain' after a full write; rejects when the client is gone or stalls too long. */
  private drained(): Promise<void> {
    const socket = this.current;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        socket.off('error', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new ConnectionClosedError());
      const timer = setTimeout(() => {
        socket.destroy();
        done(new ConnectionClosedError());
      }, this.stallTimeoutMs);
      timer.unref();
      socket.on('drain', onDrain);
      socket.on('close', onClose);
      socket.on('error', onClose);
    });
  }
}
