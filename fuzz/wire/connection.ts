/**
 * One client connection of the wire fuzzer: plain TCP from a chosen loopback address, TLS from
 * the start or after a STARTTLS-style upgrade, and "what did the server say since I last
 * looked", with a time limit, instead of a protocol parser (the server's replies to mutated
 * input are not what is being tested; its staying up and sane is).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** Replies are read as they come; more than this is dropped unread (a client may not keep everything). */
const KEEP_BYTES = 256 * 1024;

export class WireConnection {
  private received = '';
  private readonly waiters = new Set<() => void>();
  closed = false;
  /** Everything received, in bytes (also what was not kept). */
  receivedBytes = 0;

  private constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  static open(opts: { host: string; port: number; localAddress?: string; tls: boolean; timeoutMs: number }): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const tcp = netConnect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
      const socket = opts.tls ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
      if (opts.tls) tcp.on('error', () => {});
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timeout'));
      }, opts.timeoutMs);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(new WireConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', this.onData);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private readonly onData = (chunk: Buffer) => {
    this.receivedBytes += chunk.length;
    if (this.received.length < KEEP_BYTES) this.received += chunk.toString('latin1');
    this.wake();
  };

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** What arrived since the last take(). */
  take(): string {
    const r = this.received;
    this.received = '';
    return r;
  }

  /**
   * Waits until the server has said something that `done` accepts (by default: anything ending
   * in a line end, then a short quiet), the connection closes, or `maxMs` passes.
   */
  async waitReply(maxMs: number, done: (text: string) => boolean = (t) => t.endsWith('\n')): Promise<string> {
    const deadline = Date.now() + maxMs;
    for (;;) {
      if (this.closed || done(this.received)) {
        // A reply in several packets (a multi-line one): wait for a short quiet.
        await this.quiet(15, deadline);
        return this.take();
      }
      const left = deadline - Date.now();
      if (left <= 0) return this.take();
      await this.until(left);
    }
  }

  private async quiet(ms: number, deadline: number): Promise<void> {
    let seen = this.receivedBytes;
    while (!this.closed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, ms));
      if (this.receivedBytes === seen) return;
      seen = this.receivedBytes;
    }
  }

  private until(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  write(bytes: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.socket.write(bytes);
    return true;
  }

  /** Bytes the socket could not send yet: a server that stopped reading. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  /** Continues inside TLS on the same connection (after STARTTLS, STLS, AUTH TLS). */
  async upgrade(timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(true);
      });
      secure.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    this.socket = secure;
    this.attach(secure);
    return ok;
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
