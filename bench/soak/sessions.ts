/**
 * The soak's long-lived client sessions, one small object per connection (thousands of them in
 * one process): each logs in or greets the way a real client does, then sits there the way a
 * real one sits — IMAP in IDLE, POP3 and FTP logged in, SMTP after EHLO — sending a NOOP now
 * and then so that no idle timeout ends it.
 */
import { connect, type Socket } from 'node:net';

export type Service = 'imap' | 'pop3' | 'smtp' | 'ftp';

export interface SessionTarget {
  service: Service;
  host: string;
  port: number;
  /** Client source address (one of many loopback addresses). */
  localAddress: string;
  user: string;
  pass: string;
}

/** Counters over every session, read by the sampler. */
export interface SessionStats {
  open: Record<Service, number>;
  /** Sessions the server ended (or that broke) while they should have been held. */
  lost: Record<Service, number>;
  /** Why sessions were lost or could not open: the first words of the error, counted. */
  reasons: Map<string, number>;
  /** IMAP untagged EXISTS seen while idling: new mail announced. */
  existsSeen: number;
  noopsSent: number;
  /** Slowest NOOP reply seen (ms), reset by each sample. */
  slowestNoopMs: number;
}

export function newStats(): SessionStats {
  const zero = (): Record<Service, number> => ({ imap: 0, pop3: 0, smtp: 0, ftp: 0 });
  return { open: zero(), lost: zero(), reasons: new Map(), existsSeen: 0, noopsSent: 0, slowestNoopMs: 0 };
}

export function countReason(stats: SessionStats, err: unknown): void {
  const why = (err instanceof Error ? err.message : String(err)).slice(0, 60);
  stats.reasons.set(why, (stats.reasons.get(why) ?? 0) + 1);
}

/** One line-oriented client connection: waits for lines matching a test, with a time limit. */
class LineSession {
  private buffer = '';
  private waiter: { test: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | null = null;
  private closedWith: Error | null = null;
  /** Lines nobody waits for (IMAP untagged responses while idling). */
  onUnsolicited: (line: string) => void = () => {};
  onClose: (err: Error) => void = () => {};

  constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let idx: number;
      while ((idx = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, idx).replace(/\r$/, '');
        this.buffer = this.buffer.slice(idx + 1);
        const w = this.waiter;
        if (w && w.test(line)) {
          this.waiter = null;
          clearTimeout(w.timer);
          w.resolve(line);
        } else if (!w) {
          this.onUnsolicited(line);
        }
      }
    });
    const end = (err: Error) => {
      if (this.closedWith) return;
      this.closedWith = err;
      const w = this.waiter;
      this.waiter = null;
      if (w) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      this.onClose(err);
    };
    socket.on('error', (err) => end(err));
    socket.on('close', () => end(new Error('closed by the server')));
  }

  /** The next line passing `test` (lines before it that fail the test are skipped). */
  expect(test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`timeout waiting for ${what}`));
      }, timeoutMs);
      this.waiter = { test, resolve, reject, timer };
    });
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  async command(line: string, test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const reply = this.expect(test, timeoutMs, what);
    this.send(line);
    return reply;
  }

  close(): void {
    this.closedWith ??= new Error('closed by the client');
    this.socket.destroy();
  }
}

function open(target: SessionTarget, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, localAddress: target.localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A final SMTP or FTP reply line: three digits and a space (continuations have a dash). */
const finalReply = (code: string) => (line: string) => /^\d{3} /.test(line) || line === code;
const startsWith = (prefix: string) => (line: string) => line.startsWith(prefix);

function check(line: string, ok: RegExp, what: string): void {
  if (!ok.test(line)) throw new Error(`${what}: ${line.slice(0, 40)}`);
}

export interface HeldSession {
  service: Service;
  /** Sends the service's NOOP and waits for its reply; resolves with the round trip in ms. */
  noop(timeoutMs: number): Promise<number>;
  close(): void;
}

/**
 * Opens one session and brings it to its resting state. `stats.open` counts it from then on;
 * when the server ends it later, `stats.lost` counts it and `onLost` is told.
 */
export async function holdSession(target: SessionTarget, stats: SessionStats, timeoutMs: number): Promise<HeldSession> {
  const socket = await open(target, timeoutMs);
  const s = new LineSession(socket);
  s.onClose = () => {}; // errors before the resting state surface through expect()
  try {
    switch (target.service) {
      case 'imap':
        check(await s.expect(startsWith('* '), timeoutMs, 'IMAP greeting'), /^\* OK/, 'IMAP greeting');
        check(await s.command(`a LOGIN "${target.user}" "${target.pass}"`, startsWith('a '), timeoutMs, 'LOGIN'), /^a OK/, 'LOGIN');
        check(await s.command('b SELECT INBOX', startsWith('b '), timeoutMs, 'SELECT'), /^b OK/, 'SELECT');
        await s.command('c IDLE', startsWith('+'), timeoutMs, 'IDLE');
        s.onUnsolicited = (line) => {
          if (/^\* \d+ EXISTS/.test(line)) stats.existsSeen++;
        };
        break;
      case 'pop3':
        check(await s.expect(() => true, timeoutMs, 'POP3 greeting'), /^\+OK/, 'POP3 greeting');
        check(await s.command(`USER ${target.user}`, () => true, timeoutMs, 'USER'), /^\+OK/, 'USER');
        check(await s.command(`PASS ${target.pass}`, () => true, timeoutMs, 'PASS'), /^\+OK/, 'PASS');
        break;
      case 'smtp':
        check(await s.expect(finalReply('220'), timeoutMs, 'SMTP greeting'), /^220 /, 'SMTP greeting');
        check(await s.command(`EHLO soak-${target.localAddress}.example`, finalReply('250'), timeoutMs, 'EHLO'), /^250 /, 'EHLO');
        break;
      case 'ftp':
        check(await s.expect(finalReply('220'), timeoutMs, 'FTP greeting'), /^220 /, 'FTP greeting');
        check(await s.command(`USER ${target.user}`, finalReply('331'), timeoutMs, 'USER'), /^331 /, 'USER');
        check(await s.command(`PASS ${target.pass}`, finalReply('230'), timeoutMs, 'PASS'), /^230 /, 'PASS');
        break;
    }
  } catch (err) {
    s.close();
    throw err;
  }
  stats.open[target.service]++;
  let held = true;
  s.onClose = (err) => {
    if (!held) return;
    held = false;
    stats.open[target.service]--;
    stats.lost[target.service]++;
    countReason(stats, `${target.service} lost: ${err.message}`);
  };
  // IMAP in IDLE says nothing (RFC 2177: the server may end IDLE after 29 minutes; a soak is shorter).
  const noopLine: Record<Service, [string, (l: string) => boolean, RegExp]> = {
    imap: ['', () => true, /./],
    pop3: ['NOOP', () => true, /^\+OK/],
    smtp: ['NOOP', finalReply('250'), /^250 /],
    ftp: ['NOOP', finalReply('200'), /^200 /],
  };
  return {
    service: target.service,
    async noop(limitMs) {
      if (target.service === 'imap') return 0;
      const [line, test, ok] = noopLine[target.service];
      const t0 = performance.now();
      stats.noopsSent++;
      check(await s.command(line, test, limitMs, 'NOOP'), ok, 'NOOP');
      const ms = performance.now() - t0;
      if (ms > stats.slowestNoopMs) stats.slowestNoopMs = ms;
      return ms;
    },
    close() {
      if (held) {
        held = false;
        stats.open[target.service]--;
      }
      s.close();
    },
  };
}
