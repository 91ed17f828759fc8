/**
 * A raw TCP client for line protocols, used to replay dialogues exactly as a person would
 * type them into telnet: one line out, read the reply, check it.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface SmtpReply {
  code: number;
  /** Every line of the reply, with its code. */
  lines: string[];
}

export class LineClient {
  private buffer = '';
  private queue: string[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        this.queue.push(this.buffer.slice(0, i).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(i + 1);
      }
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<LineClient> {
    const host = opts.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tls.connect({ port, host, rejectUnauthorized: false }, () => resolve(new LineClient(socket)))
        : net.connect({ port, host }, () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The next line (without CRLF), or null once the server has closed and all lines are read. */
  async readLine(timeoutMs = 10_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from the server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.queue.shift()!;
  }

  /** A line that must be there (an error if the server closed instead). */
  async line(timeoutMs?: number): Promise<string> {
    const line = await this.readLine(timeoutMs);
    if (line === null) throw new Error('the server closed the connection');
    return line;
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** One SMTP reply, multi-line replies ("250-...") included. */
  async smtpReply(timeoutMs?: number): Promise<SmtpReply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      lines.push(line);
      if (!/^\d{3}-/.test(line)) return { code: Number(line.slice(0, 3)), lines };
    }
  }

  /** Sends an SMTP command and returns the reply. */
  async smtp(command: string): Promise<SmtpReply> {
    this.send(command);
    return this.smtpReply();
  }

  /** Sends a POP3 command and returns the one status line. */
  async pop3(command: string): Promise<string> {
    this.send(command);
    return this.line();
  }

  /** The body of a POP3 multi-line response, up to the lone ".", dot-unstuffed. */
  async pop3Lines(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === '.') return out;
      out.push(line.startsWith('..') ? line.slice(1) : line);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
