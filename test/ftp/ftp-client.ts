/**
 * A raw FTP client for the tests: sends command lines exactly as written and reads replies
 * (multi-line ones whole), opens data connections by hand (from any loopback address, with or
 * without TLS session reuse), so every error path and attack can be driven byte by byte.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface FtpReply {
  code: number;
  /** Every line of the reply, with its code. */
  lines: string[];
  /** The text after the code on the last line. */
  text: string;
}

export interface ConnectOptions {
  host?: string;
  /** Source address of the connection (e.g. 127.0.0.2 to play another machine). */
  localAddress?: string;
  /** Implicit FTPS. */
  tls?: boolean;
}

export class FtpTestClient {
  private buffer = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  /** The TLS session of the control connection, for data connections that resume it. */
  tlsSession: Buffer | null = null;
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.attach(socket);
  }

  static async connect(port: number, opts: ConnectOptions = {}): Promise<FtpTestClient> {
    const host = opts.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const s: net.Socket | tls.TLSSocket = opts.tls
        ? tls.connect({ socket: net.connect({ port, host, localAddress: opts.localAddress }), rejectUnauthorized: false, servername: 'localhost' }, () => resolve(s))
        : net.connect({ port, host, localAddress: opts.localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new FtpTestClient(socket);
    if (socket instanceof tls.TLSSocket) client.watchSession(socket);
    const greeting = await client.reply();
    if (greeting.code !== 220) throw new Error(`unexpected greeting: ${greeting.lines.join(' / ')}`);
    return client;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  send(line: string | Buffer): void {
    this.socket.write(typeof line === 'string' ? line + '\r\n' : line);
  }

  /** The next complete reply. */
  async reply(timeoutMs = 20_000): Promise<FtpReply> {
    const first = await this.line(timeoutMs);
    const m = /^(\d{3})([ -])(.*)$/.exec(first);
    if (!m) throw new Error(`not a reply line: ${JSON.stringify(first)}`);
    const lines = [first];
    if (m[2] === '-') {
      for (;;) {
        const next = await this.line(timeoutMs);
        lines.push(next);
        if (next.startsWith(`${m[1]} `)) break;
      }
    }
    const last = lines[lines.length - 1];
    return { code: Number(m[1]), lines, text: last.slice(4) };
  }

  async cmd(line: string | Buffer, timeoutMs?: number): Promise<FtpReply> {
    this.send(line);
    return this.reply(timeoutMs);
  }

  /** Sends a command and checks the reply code. */
  async expect(line: string, code: number): Promise<FtpReply> {
    const r = await this.cmd(line);
    if (r.code !== code) throw new Error(`${line.split(' ')[0]}: expected ${code}, got ${r.lines.join(' / ')}`);
    return r;
  }

  async login(user: string, password: string): Promise<void> {
    await this.expect(`USER ${user}`, 331);
    await this.expect(`PASS ${password}`, 230);
  }

  /** AUTH TLS and the handshake; the session is kept for data connections. */
  async startTls(): Promise<void> {
    await this.expect('AUTH TLS', 234);
    const plain = this.socket as net.Socket;
    this.detach(plain);
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.watchSession(secure);
    this.attach(secure);
  }

  /** PASV: the address and port the server announced. */
  async pasv(): Promise<{ host: string; port: number }> {
    const r = await this.expect('PASV', 227);
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r.text);
    if (!m) throw new Error(`bad PASV reply ${r.text}`);
    const n = m.slice(1).map(Number);
    return { host: n.slice(0, 4).join('.'), port: n[4] * 256 + n[5] };
  }

  async epsv(): Promise<number> {
    const r = await this.expect('EPSV', 229);
    const m = /\(\|\|\|(\d+)\|\)/.exec(r.text);
    if (!m) throw new Error(`bad EPSV reply ${r.text}`);
    return Number(m[1]);
  }

  /** PASV and a connection to it (from `localAddress` when given). */
  async openPassive(localAddress?: string): Promise<net.Socket> {
    const { host, port } = await this.pasv();
    return connectData(host, port, localAddress);
  }

  /** Waits until the server closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.socket.destroy();
  }

  private watchSession(socket: tls.TLSSocket): void {
    // TLS 1.3 tickets come after the handshake; the latest is what a data connection resumes.
    socket.on('session', (session: Buffer) => (this.tlsSession = session));
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString('utf8');
    let i: number;
    while ((i = this.buffer.indexOf('\n')) >= 0) {
      this.lines.push(this.buffer.slice(0, i).replace(/\r$/, ''));
      this.buffer = this.buffer.slice(i + 1);
    }
    this.wake();
  };
  private readonly onClose = () => {
    this.ended = true;
    this.markClosed();
    this.wake();
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', () => {});
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onClose);
  }

  private async line(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.lines.shift()!;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** A TCP connection to a data port. */
export function connectData(host: string, port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

/** TLS over a data connection, resuming `session` when given (what a client must do for PROT P). */
export function secureData(socket: net.Socket, session: Buffer | null): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket, session: session ?? undefined, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the peer sends until it closes. */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Writes `data` and closes the write side (the end of a STOR in stream mode). */
export function writeAndEnd(socket: net.Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.end(data, () => resolve());
  });
}
