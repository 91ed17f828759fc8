/**
 * A raw client socket for line protocols that reads bytes exactly: the base of the POP3 and
 * IMAP test clients. It buffers what arrives, hands it out by marker or by count, and can
 * switch to TLS in the middle (STLS, STARTTLS), refusing if the server sent cleartext after
 * its go-ahead.
 */
import net from 'node:net';
import tls from 'node:tls';

export class RawSocket {
  protected buffer = Buffer.alloc(0);
  protected ended = false;
  private waiter: (() => void) | null = null;

  private readonly onData = (d: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, d]);
    this.wake();
  };
  private readonly onClose = () => {
    this.ended = true;
    this.wake();
  };

  constructor(public socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  /** Connects and builds the client class it is called on. */
  static open<T extends RawSocket>(this: new (socket: net.Socket | tls.TLSSocket) => T, port: number, useTls = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const socket: net.Socket | tls.TLSSocket = useTls
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(new this(socket)))
        : net.connect({ port, host: '127.0.0.1' }, () => resolve(new this(socket)));
      socket.once('error', reject);
    });
  }

  /** True once the server closed the connection and everything was read. */
  get closed(): boolean {
    return this.ended && this.buffer.length === 0;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Starts TLS over the connection (after the server's go-ahead). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.onData);
    plain.off('close', this.onClose);
    if (this.buffer.length > 0) throw new Error(`cleartext bytes after the TLS go-ahead: ${this.buffer.toString('latin1')}`);
    const secure = tls.connect({ socket: plain as net.Socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await this.wait(deadline - Date.now());
    }
  }

  /** Everything up to and including `marker`. */
  protected async until(marker: Buffer, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.buffer.indexOf(marker);
      if (at >= 0) return this.take(at + marker.length);
      await this.waitUntil(deadline);
    }
  }

  /** Exactly `count` bytes. */
  protected async bytes(count: number, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length < count) await this.waitUntil(deadline);
    return this.take(count);
  }

  protected peekStartsWith(prefix: Buffer): boolean {
    return this.buffer.subarray(0, prefix.length).equals(prefix);
  }

  private take(n: number): Buffer {
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  private async waitUntil(deadline: number): Promise<void> {
    const unread = JSON.stringify(this.buffer.toString('latin1').slice(0, 200));
    if (this.ended) throw new Error(`connection closed; unread: ${unread}`);
    if (Date.now() > deadline) throw new Error(`timed out; unread: ${unread}`);
    await this.wait(deadline - Date.now());
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', () => {});
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve();
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
