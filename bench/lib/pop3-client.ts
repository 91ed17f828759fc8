/**
 * A minimal POP3 client for benchmarking: one command at a time, every wait bounded by a
 * timeout. Loopback only.
 */
import type { Socket } from 'node:net';
import { connectLoopback } from './smtp-client.js';

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

export class Pop3Connection {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  /** Bytes received from the server so far. */
  bytesIn = 0;

  private constructor(
    private readonly sock: Socket,
    private readonly timeoutMs: number,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.notify();
    });
    sock.on('error', (err) => {
      this.failure ??= err;
      this.notify();
    });
    sock.on('close', () => {
      this.failure ??= new Error('connection closed by server');
      this.notify();
    });
  }

  static async open(host: string, port: number, timeoutMs = 30_000): Promise<Pop3Connection> {
    return new Pop3Connection(await connectLoopback(host, port, timeoutMs), timeoutMs);
  }


  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits until `find(buf)` returns an end offset, then consumes and returns buf[0, end). */
  private async take(find: (buf: Buffer) => number): Promise<Buffer> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const end = find(this.buf);
      if (end >= 0) {
        const out = this.buf.subarray(0, end);
        this.buf = this.buf.subarray(end);
        return out;
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.sock.destroy();
        throw new Error(`no complete response within ${this.timeoutMs} ms`);
      }
      await new Promise<void>((res) => {
        const timer = setTimeout(res, left);
        this.wake = () => {
          clearTimeout(timer);
          res();
        };
      });
    }
  }

  /** One status line ("+OK ..." / "-ERR ..."), without CRLF. */
  async statusLine(): Promise<string> {
    const line = await this.take((b) => {
      const i = b.indexOf('\r\n');
      return i < 0 ? -1 : i + 2;
    });
    return line.toString('latin1', 0, line.length - 2);
  }

  async command(line: string): Promise<string> {
    this.sock.write(line + '\r\n', 'latin1');
    return this.statusLine();
  }

  async ok(line: string): Promise<string> {
    const r = await this.command(line);
    if (!r.startsWith('+OK')) throw new Error(`${line.startsWith('PASS') ? 'PASS ****' : line} -> ${r}`);
    return r;
  }

  async greeting(): Promise<string> {
    const r = await this.statusLine();
    if (!r.startsWith('+OK')) throw new Error(`greeting -> ${r}`);
    return r;
  }

  async login(user: string, pass: string): Promise<void> {
    await this.ok(`USER ${user}`);
    await this.ok(`PASS ${pass}`);
  }

  async stat(): Promise<{ count: number; octets: number }> {
    const r = await this.ok('STAT');
    const [, count, octets] = r.split(/\s+/);
    return { count: Number(count), octets: Number(octets) };
  }

  /**
   * RETR n: returns the multi-line body as received (still dot-stuffed, without the status line
   * and the terminating ".\r\n").
   */
  async retr(n: number): Promise<Buffer> {
    const status = await this.command(`RETR ${n}`);
    if (!status.startsWith('+OK')) throw new Error(`RETR ${n} -> ${status}`);
    // The terminator is CRLF "." CRLF; for an empty body the first CRLF is the status line's,
    // which take() already consumed, so accept a leading ".\r\n" too.
    const data = await this.take((b) => {
      if (b.length >= 3 && b[0] === 0x2e && b[1] === 0x0d && b[2] === 0x0a) return 3;
      const i = b.indexOf(CRLF_DOT_CRLF);
      return i < 0 ? -1 : i + CRLF_DOT_CRLF.length;
    });
    return data.length === 3 ? Buffer.alloc(0) : data.subarray(0, data.length - 3);
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
