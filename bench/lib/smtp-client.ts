/**
 * A minimal SMTP client for benchmarking: one command at a time (no PIPELINING), replies read
 * and checked, every wait bounded by a timeout. Loopback only.
 */
import { connect, type Socket } from 'node:net';

export interface Reply {
  code: number;
  text: string;
}

export class SmtpError extends Error {
  constructor(
    message: string,
    readonly reply?: Reply,
  ) {
    super(message);
  }
}

export function assertLoopback(host: string): void {
  if (!(host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))) {
    throw new Error(`refusing to connect to ${host}: benchmarks only talk to loopback addresses`);
  }
}

/** A TCP connection to a loopback address, or an error once `timeoutMs` has passed. */
export function connectLoopback(host: string, port: number, timeoutMs: number): Promise<Socket> {
  assertLoopback(host);
  return new Promise((res, rej) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      rej(new Error(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      res(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
  });
}

export class SmtpConnection {
  private buf = '';
  private lines: string[] = [];
  private replies: Reply[] = [];
  private waiter: ((r: Reply | Error) => void) | null = null;
  private failure: Error | null = null;
  private constructor(
    private readonly sock: Socket,
    private readonly timeoutMs: number,
  ) {
    sock.setEncoding('latin1');
    sock.setNoDelay(true);
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new Error('connection closed by server')));
  }

  static async open(host: string, port: number, timeoutMs = 30_000): Promise<SmtpConnection> {
    return new SmtpConnection(await connectLoopback(host, port, timeoutMs), timeoutMs);
  }


  private onData(chunk: string): void {
    this.buf += chunk;
    let idx: number;
    while ((idx = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, idx).replace(/\r$/, '');
      this.buf = this.buf.slice(idx + 1);
      this.lines.push(line);
      if (line.length < 4 || line[3] !== '-') {
        const reply: Reply = { code: Number.parseInt(line.slice(0, 3), 10) || 0, text: this.lines.join('\n') };
        this.lines = [];
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w(reply);
        } else {
          this.replies.push(reply);
        }
      }
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(err);
    }
  }

  /** The next reply from the server (bounded by the timeout). */
  read(): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.sock.destroy();
        rej(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) rej(r);
        else res(r);
      };
    });
  }

  /** Sends `data` (a command line without CRLF, or raw text when `raw`) and reads the reply. */
  async command(line: string): Promise<Reply> {
    this.sock.write(line + '\r\n', 'latin1');
    return this.read();
  }

  /** Sends a command and requires a reply code in [lo, hi]. */
  async expect(line: string, lo: number, hi = lo + 99): Promise<Reply> {
    const r = await this.command(line);
    if (r.code < lo || r.code > hi) throw new SmtpError(`${line.split(' ')[0]} -> ${r.text}`, r);
    return r;
  }

  async greeting(): Promise<Reply> {
    const r = await this.read();
    if (r.code !== 220) throw new SmtpError(`greeting -> ${r.text}`, r);
    return r;
  }

  /**
   * One mail transaction: MAIL FROM, RCPT TO, DATA, message, '.'. Resolves with the final reply
   * (throws SmtpError on any unexpected reply, with the reply attached).
   */
  async send(from: string, to: string, message: string): Promise<Reply> {
    await this.expect(`MAIL FROM:<${from}>`, 250, 259);
    await this.expect(`RCPT TO:<${to}>`, 250, 259);
    await this.expect('DATA', 354, 354);
    // message ends in CRLF and contains no line starting with '.'
    this.sock.write(message + '.\r\n', 'utf8');
    const r = await this.read();
    if (r.code !== 250) throw new SmtpError(`end of DATA -> ${r.text}`, r);
    return r;
  }

  /** AUTH PLAIN (RFC 4954, RFC 4616) in one line; requires 235. */
  async authPlain(user: string, password: string): Promise<void> {
    const token = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    const r = await this.command(`AUTH PLAIN ${token}`);
    // The reply is reported without the command, which carries the password.
    if (r.code !== 235) throw new SmtpError(`AUTH PLAIN -> ${r.text}`, r);
  }

  async quit(): Promise<void> {
    try {
      await this.command('QUIT');
    } catch {
      // ignore
    }
    this.sock.destroy();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Opens a session: greeting and EHLO, then AUTH PLAIN when `auth` is given (submission). */
export async function openSession(
  host: string,
  port: number,
  helo: string,
  timeoutMs = 30_000,
  auth?: { user: string; password: string },
): Promise<SmtpConnection> {
  const c = await SmtpConnection.open(host, port, timeoutMs);
  try {
    await c.greeting();
    await c.expect(`EHLO ${helo}`, 250, 250);
    if (auth) await c.authPlain(auth.user, auth.password);
  } catch (err) {
    c.destroy();
    throw err;
  }
  return c;
}

/**
 * Delivers every message to one recipient over `sessions` parallel SMTP sessions (each message
 * once, in about the order given). Used to fill a Wharf mailbox through its own delivery path.
 */
export async function deliverMessages(port: number, from: string, to: string, messages: Iterable<string>, sessions = 4): Promise<number> {
  const it = messages[Symbol.iterator]();
  let sent = 0;
  const worker = async () => {
    const c = await openSession('127.0.0.1', port, 'client.sender.example');
    try {
      for (let next = it.next(); !next.done; next = it.next()) {
        await c.send(from, to, next.value);
        sent++;
      }
    } finally {
      await c.quit();
    }
  };
  await Promise.all(Array.from({ length: sessions }, worker));
  return sent;
}
