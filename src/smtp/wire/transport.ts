/**
 * The byte side of an SMTP session: reading command lines and raw message bytes (with time
 * limits), writing replies (batched), the STARTTLS switch and closing politely. It knows
 * nothing about SMTP commands; the session state machine drives it.
 */
import type { Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { LineReader, type Line } from '../../net/line-reader.js';

/** A read that hit its time limit. */
export const TIMED_OUT = Symbol('timed out');
export type TimedOut = typeof TIMED_OUT;

/** Replies pile up while the client does not read them; past this, reading waits for it. */
const MAX_UNREAD_REPLY_BYTES = 256 * 1024;
/** After our last reply, how long the client gets to close its side before we drop it. */
const LINGER_MS = 2000;

export class SmtpTransport {
  private socket: Socket | TLSSocket;
  private readonly reader: LineReader;
  private corked = false;
  private closing = false;
  /** Resolves the read in progress with null (used to stop a session from outside). */
  private cancelRead: (() => void) | null = null;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  constructor(
    socket: Socket | TLSSocket,
    maxLineBytes: number,
    /** True when the connection is TLS from the first byte. */
    private tlsActive: boolean,
  ) {
    this.socket = socket;
    this.reader = new LineReader(socket, maxLineBytes);
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    this.watchClose(socket);
  }

  get secure(): boolean {
    return this.tlsActive;
  }

  /** True once we started closing or the peer went away. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** True while a read is waiting for the client. */
  get waitingForClient(): boolean {
    return this.cancelRead !== null;
  }

  /** Resolves when the socket is closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /**
   * Queues reply text. Replies written in one turn of the event loop (e.g. the answers to a
   * batch of pipelined commands, RFC 2920) leave in one TCP segment: the socket is corked
   * and uncorked once everything queued up to then has been handled.
   */
  send(text: string): void {
    if (this.closing) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => this.flush());
    }
    this.socket.write(text);
  }

  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** The next command line; null at end of stream or when cancelled. */
  readLine(timeoutMs: number): Promise<Line | null | TimedOut> {
    return this.guard(() => this.reader.nextLine(), timeoutMs);
  }

  /** Up to `max` raw bytes; null at end of stream or when cancelled. */
  readBytes(max: number, timeoutMs: number): Promise<Buffer | null | TimedOut> {
    return this.guard(() => this.reader.nextBytes(max), timeoutMs);
  }

  /** Gives back bytes read past the end of a message (pipelined commands). */
  unshift(bytes: Buffer): void {
    this.reader.unshift(bytes);
  }

  /**
   * RFC 3207: after our 220, the TLS handshake starts on the same connection. Anything the
   * client pipelined after STARTTLS is discarded (it was sent in the clear and could have been
   * injected by an attacker, CVE-2011-0411). Resolves to the number of bytes discarded, or
   * null when the handshake failed (the connection is then closed).
   */
  async startTls(secureContext: SecureContext, reply: string, timeoutMs: number): Promise<number | null> {
    this.flush();
    // The 220 must go out in the clear, before the socket is handed to TLS.
    this.socket.write(reply);
    const plain = this.socket;
    const secured = new tls.TLSSocket(plain as Socket, { isServer: true, secureContext });
    const dropped = this.reader.switchTo(secured);
    this.socket = secured;
    this.watchClose(secured);
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (result: boolean) => {
        clearTimeout(timer);
        secured.off('secure', onSecure);
        secured.off('error', onError);
        resolve(result);
      };
      const onSecure = () => done(true);
      const onError = () => done(false);
      secured.once('secure', onSecure);
      secured.once('error', onError);
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
   * Sends a last reply (if any) and closes. The client gets a moment to close first: closing
   * with unread input makes the kernel send a reset, which can destroy our last reply before
   * the client reads it.
   */
  close(lastReply?: string): void {
    if (this.closing) return;
    if (lastReply) this.send(lastReply);
    this.flush();
    this.closing = true;
    this.cancelRead?.();
    const socket = this.socket;
    this.reader.detach();
    socket.on('data', () => {});
    socket.resume();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  /** Closes at once, without a reply (the client is gone). */
  destroy(): void {
    this.closing = true;
    this.cancelRead?.();
    this.socket.destroy();
  }

  private watchClose(socket: Socket | TLSSocket): void {
    socket.once('close', () => {
      this.closing = true;
      this.markClosed();
    });
  }

  /** Runs a read with a time limit; `cancelRead` ends it early with null. */
  private async guard<T>(read: () => Promise<T | null>, timeoutMs: number): Promise<T | null | TimedOut> {
    if (this.closing) return null;
    if (this.socket.writableLength > MAX_UNREAD_REPLY_BYTES) {
      // A client that pipelines without reading our replies must not make us buffer them
      // without bound: stop reading until it catches up.
      this.flush();
      const drained = await this.wait(new Promise<true>((resolve) => this.socket.once('drain', () => resolve(true))), timeoutMs);
      if (drained !== true) return drained;
    }
    return this.wait(read(), timeoutMs);
  }

  private wait<T>(promise: Promise<T | null>, timeoutMs: number): Promise<T | null | TimedOut> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (value: T | null | TimedOut) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.cancelRead = null;
        resolve(value);
      };
      const timer = setTimeout(() => finish(TIMED_OUT), Math.max(0, timeoutMs));
      this.cancelRead = () => finish(null);
      promise.then(finish, () => finish(null));
    });
  }
}
