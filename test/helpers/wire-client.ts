/**
 * A text-protocol client for limit and timeout tests: connects from a chosen loopback address,
 * collects everything the server says, waits for a pattern or for the server to close, and
 * can switch to TLS in the middle (STARTTLS, STLS, AUTH TLS).
 */
import net from 'node:net';
import tls from 'node:tls';

export class WireClient {
  /** Everything received so far (latin1), since the last `take`. */
  private text = '';
  private ended = false;
  private waiter: (() => void) | null = null;
  private readonly onData = (d: Buffer) => {
    this.text += d.toString('latin1');
    this.wake();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.wake();
  };

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  static connect(port: number, opts: { localAddress?: string; tls?: boolean } = {}): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const base = { port, host: '127.0.0.1', localAddress: opts.localAddress };
      const socket: net.Socket = opts.tls
        ? tls.connect({ ...base, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(new WireClient(socket)))
        : net.connect(base, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  /** True once the server closed the connection. */
  get isClosed(): boolean {
    return this.ended;
  }

  /** Writes without waiting; errors (a server that closed) are ignored, as `closed` tells. */
  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /**
   * Waits until what arrived matches `pattern` and returns it all (then forgets it). Throws
   * with what did arrive when the server closes first or `timeoutMs` passes.
   */
  async until(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pattern.test(this.text)) return this.take();
      if (this.ended) throw new Error(`closed before ${pattern}: ${JSON.stringify(this.text.slice(-300))}`);
      if (!(await this.wait(deadline))) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${JSON.stringify(this.text.slice(-300))}`);
    }
  }

  /** Waits for the server to close; returns everything it said first. Throws after `timeoutMs`. */
  async closed(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (!(await this.wait(deadline))) throw new Error(`still open after ${timeoutMs} ms: ${JSON.stringify(this.text.slice(-300))}`);
    }
    return this.take();
  }

  /** Starts TLS over the connection (after the server's go-ahead was read). */
  async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    this.detach(plain);
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }

  private take(): string {
    const t = this.text;
    this.text = '';
    return t;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', () => {});
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onEnd);
  }

  private wait(deadline: number): Promise<boolean> {
    const ms = deadline - Date.now();
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(false);
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** Sends `text` one byte at a time, `everyMs` apart, until it is all sent or `stop()` says so. */
export async function trickle(client: WireClient, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (client.isClosed) return;
    client.send(ch);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
