/**
 * A small IMAP client for benchmarking, over a raw socket: tagged commands that may be
 * pipelined (each resolves when its own tagged reply arrives), server literals read exactly,
 * synchronizing literals for APPEND (so it needs nothing beyond RFC 3501 from a server), IDLE.
 * Every wait is bounded by a timeout except an IDLE's, which its caller ends. Loopback only.
 *
 * Untagged responses are handed to the oldest command still waiting for its tagged reply (with
 * one command in flight that is exactly its own), and to `onUntagged` when set.
 */
import type { Socket } from 'node:net';
import { connectLoopback } from './smtp-client.js';

/** One untagged response: its text with each literal left as its `{n}` marker, and the literals. */
export interface ImapResponse {
  line: string;
  literals: Buffer[];
}

export interface TaggedReply {
  status: 'OK' | 'NO' | 'BAD';
  /** The rest of the tagged line after the status, e.g. "[APPENDUID 1 7] Append completed." */
  text: string;
  untagged: ImapResponse[];
  /** Untagged responses counted but not kept (see `send`'s `keepUntagged`). */
  counted: number;
}

export class ImapError extends Error {
  constructor(
    message: string,
    readonly reply?: TaggedReply,
  ) {
    super(message);
  }
}

interface Pending {
  tag: string;
  untagged: ImapResponse[];
  /** False: count untagged responses (without literals) instead of keeping them. */
  keep: boolean;
  counted: number;
  resolve: (r: TaggedReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

const CRLF = Buffer.from('\r\n');
const NO_LITERALS: Buffer[] = Object.freeze([]) as unknown as Buffer[];

/** The IMAP quoted form of a string without CR, LF or NUL. */
export function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export class ImapConnection {
  /** Received and not yet parsed, as latin1 text (one character per byte). */
  private text = '';
  /** The response being assembled: text parts so far, literals, and bytes still owed to a literal. */
  private partLine = '';
  private partLiterals: Buffer[] = [];
  private literalLeft = -1;
  private pending: Pending[] = [];
  private continuationWaiters: ((err: Error | null) => void)[] = [];
  private greetingWaiter: ((err: Error | null, line?: string) => void) | null = null;
  private greetingLine: string | null = null;
  private failure: Error | null = null;
  private tagSeq = 0;
  /** Called with every untagged response as it arrives (after attribution). */
  onUntagged: ((r: ImapResponse) => void) | null = null;
  bytesIn = 0;

  private constructor(
    private readonly sock: Socket,
    readonly timeoutMs: number,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new Error('connection closed by server')));
  }

  static async open(host: string, port: number, timeoutMs = 30_000): Promise<ImapConnection> {
    return new ImapConnection(await connectLoopback(host, port, timeoutMs), timeoutMs);
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  /**
   * Parses on latin1 text, where one character is one byte: string scanning is much cheaper
   * than Buffer scanning per line, and a 100,000-line FETCH reply must cost the client little.
   */
  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    const more = chunk.toString('latin1');
    this.text = this.text.length === 0 ? more : this.text + more;
    let pos = 0;
    for (;;) {
      if (this.literalLeft >= 0) {
        if (this.text.length - pos < this.literalLeft) break;
        this.partLiterals.push(Buffer.from(this.text.slice(pos, pos + this.literalLeft), 'latin1'));
        pos += this.literalLeft;
        this.literalLeft = -1;
        continue;
      }
      const eol = this.text.indexOf('\r\n', pos);
      if (eol < 0) break;
      const head = this.pending[0];
      if (head && !head.keep && this.partLine.length === 0 && this.text.charCodeAt(pos) === 0x2a /* * */ && this.text.charCodeAt(eol - 1) !== 0x7d && !this.onUntagged) {
        // An untagged line the command asked only to count: skip it without copying it.
        head.counted++;
        pos = eol + 2;
        continue;
      }
      const text = this.text.slice(pos, eol);
      pos = eol + 2;
      if (text.charCodeAt(text.length - 1) === 0x7d /* } */) {
        const lit = /\{(\d+)\}$/.exec(text);
        if (lit) {
          this.partLine += text;
          this.literalLeft = Number(lit[1]);
          continue;
        }
      }
      const line = this.partLine.length === 0 ? text : this.partLine + text;
      const literals = this.partLiterals.length === 0 ? NO_LITERALS : this.partLiterals;
      if (literals !== NO_LITERALS) this.partLiterals = [];
      this.partLine = '';
      this.dispatch(line, literals);
    }
    this.text = pos >= this.text.length ? '' : this.text.slice(pos);
  }

  private dispatch(line: string, literals: Buffer[]): void {
    if (line.startsWith('* ')) {
      if (this.greetingLine === null) {
        this.greetingLine = line;
        const w = this.greetingWaiter;
        this.greetingWaiter = null;
        w?.(null, line);
        return;
      }
      const r: ImapResponse = { line, literals };
      this.pending[0]?.untagged.push(r);
      this.onUntagged?.(r);
      return;
    }
    if (line.startsWith('+')) {
      const w = this.continuationWaiters.shift();
      w?.(null);
      return;
    }
    const sp = line.indexOf(' ');
    const tag = line.slice(0, sp);
    const idx = this.pending.findIndex((p) => p.tag === tag);
    if (idx < 0) return; // not ours; ignore
    const [p] = this.pending.splice(idx, 1);
    if (p!.timer) clearTimeout(p!.timer);
    const rest = line.slice(sp + 1);
    const sp2 = rest.indexOf(' ');
    const status = (sp2 < 0 ? rest : rest.slice(0, sp2)).toUpperCase();
    const text = sp2 < 0 ? '' : rest.slice(sp2 + 1);
    if (status !== 'OK' && status !== 'NO' && status !== 'BAD') {
      p!.reject(new Error(`malformed tagged reply: ${line.slice(0, 200)}`));
      return;
    }
    p!.resolve({ status, text, untagged: p!.untagged, counted: p!.counted });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.splice(0)) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    for (const w of this.continuationWaiters.splice(0)) w(err);
    const g = this.greetingWaiter;
    this.greetingWaiter = null;
    g?.(err);
  }

  /** The server greeting ("* OK ..."); throws on "* BYE" or "* PREAUTH" refusal shapes. */
  async greeting(): Promise<string> {
    const line = this.greetingLine ?? (await this.waitGreeting());
    if (!line.startsWith('* OK')) throw new ImapError(`greeting -> ${line}`);
    return line;
  }

  private waitGreeting(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<string>((res, rej) => {
      const timer = setTimeout(() => {
        this.sock.destroy();
        rej(new Error(`no greeting within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.greetingWaiter = (err, line) => {
        clearTimeout(timer);
        if (err) rej(err);
        else res(line!);
      };
    });
  }

  private nextTag(): string {
    return 'A' + (++this.tagSeq).toString();
  }

  /** Registers a pending tag; `timeout` false for IDLE, which its caller ends. */
  private expect(tag: string, timeout: boolean, keep = true): Promise<TaggedReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const p: Pending = { tag, untagged: [], keep, counted: 0, resolve, reject, timer: null };
      if (timeout) {
        p.timer = setTimeout(() => {
          this.sock.destroy();
          reject(new Error(`no reply to ${tag} within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      }
      this.pending.push(p);
    });
  }

  /**
   * Sends one command (without tag and CRLF) and resolves with its tagged reply, whatever the
   * status. Several may be in flight at once (pipelining). With `keepUntagged` false, untagged
   * responses without literals are only counted (`counted`), for replies of many thousand lines.
   */
  send(command: string, keepUntagged = true): Promise<TaggedReply> {
    const tag = this.nextTag();
    const done = this.expect(tag, true, keepUntagged);
    this.sock.write(`${tag} ${command}\r\n`, 'latin1');
    return done;
  }

  /** Sends a command and requires OK. */
  async ok(command: string, keepUntagged = true): Promise<TaggedReply> {
    const r = await this.send(command, keepUntagged);
    if (r.status !== 'OK') throw new ImapError(`${command.startsWith('LOGIN') ? 'LOGIN ****' : command.slice(0, 80)} -> ${r.status} ${r.text}`, r);
    return r;
  }

  async login(user: string, pass: string): Promise<TaggedReply> {
    return this.ok(`LOGIN ${quote(user)} ${quote(pass)}`);
  }

  /**
   * APPEND with a synchronizing literal: the command line, then the message once the server
   * says "+". Requires OK.
   */
  async append(mailbox: string, message: string | Buffer, flags = ''): Promise<TaggedReply> {
    const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    const tag = this.nextTag();
    const done = this.expect(tag, true);
    this.sock.write(`${tag} APPEND ${quote(mailbox)}${flags ? ` (${flags})` : ''} {${data.length}}\r\n`, 'latin1');
    const refused = await this.continuation(done, 'APPEND');
    if (refused) throw new ImapError(`APPEND -> ${refused.status} ${refused.text}`, refused);
    this.sock.write(data);
    this.sock.write(CRLF);
    const r = await done;
    if (r.status !== 'OK') throw new ImapError(`APPEND -> ${r.status} ${r.text}`, r);
    return r;
  }

  /**
   * Waits for the server's "+" to a command just sent (tagged `done`). Resolves null on "+",
   * or with the tagged reply when that came instead (a refusal).
   */
  private continuation(done: Promise<TaggedReply>, what: string): Promise<TaggedReply | null> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, v: TaggedReply | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const i = this.continuationWaiters.indexOf(onPlus);
        if (i >= 0) this.continuationWaiters.splice(i, 1);
        if (err) reject(err);
        else resolve(v);
      };
      const onPlus = (err: Error | null) => finish(err, null);
      const timer = setTimeout(() => {
        this.sock.destroy();
        finish(new Error(`no continuation for ${what} within ${this.timeoutMs} ms`), null);
      }, this.timeoutMs);
      this.continuationWaiters.push(onPlus);
      done.then(
        (r) => finish(null, r),
        (err: Error) => finish(err, null),
      );
    });
  }

  /**
   * Starts IDLE and resolves once the server's "+" arrived. The returned `done()` sends DONE and
   * resolves with IDLE's tagged reply. Untagged responses meanwhile reach `onUntagged`.
   */
  async idle(): Promise<{ done: () => Promise<TaggedReply> }> {
    const tag = this.nextTag();
    const finished = this.expect(tag, false);
    finished.catch(() => undefined); // reported by done(), if anyone calls it
    this.sock.write(`${tag} IDLE\r\n`, 'latin1');
    const refused = await this.continuation(finished, 'IDLE');
    if (refused) throw new ImapError(`IDLE -> ${refused.status} ${refused.text}`, refused);
    return {
      done: async () => {
        this.sock.write('DONE\r\n', 'latin1');
        const timer = setTimeout(() => this.sock.destroy(), this.timeoutMs);
        try {
          return await finished;
        } finally {
          clearTimeout(timer);
        }
      },
    };
  }

  async logout(): Promise<void> {
    try {
      await this.send('LOGOUT');
    } catch {
      // ignore
    }
    this.sock.destroy();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Connects, reads the greeting and logs in. */
export async function openImapSession(host: string, port: number, user: string, pass: string, timeoutMs = 30_000): Promise<ImapConnection> {
  const c = await ImapConnection.open(host, port, timeoutMs);
  try {
    await c.greeting();
    await c.login(user, pass);
  } catch (err) {
    c.destroy();
    throw err;
  }
  return c;
}

/** The numbers of an untagged "* SEARCH ..." response (empty when there was none). */
export function searchResult(r: TaggedReply): number[] {
  for (const u of r.untagged) {
    if (/^\* SEARCH\b/i.test(u.line)) return u.line.slice(8).trim().split(/\s+/).filter(Boolean).map(Number);
  }
  return [];
}

/** The untagged "* n FETCH" responses of a reply. */
export function fetchResponses(r: TaggedReply): ImapResponse[] {
  return r.untagged.filter((u) => /^\* \d+ FETCH /i.test(u.line));
}

/** EXISTS from a SELECT/EXAMINE/NOOP reply, or undefined. */
export function existsCount(r: TaggedReply): number | undefined {
  for (const u of r.untagged) {
    const m = /^\* (\d+) EXISTS/i.exec(u.line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The UID from an APPENDUID response code (RFC 4315), when the server sent one. */
export function appendUid(r: TaggedReply): number | undefined {
  const m = /\[APPENDUID \d+ (\d+)\]/i.exec(r.text);
  return m ? Number(m[1]) : undefined;
}
