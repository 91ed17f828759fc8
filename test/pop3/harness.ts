/**
 * A POP3 server for tests: a real store in a temporary folder, a plain listener (STLS) and an
 * implicit-TLS listener, a fixed-password Authenticator, and helpers to deliver messages and
 * to talk to the server over raw sockets or with real clients (Python's poplib, curl).
 */
import { execFile, spawn } from 'node:child_process';
import type { WharfConfig } from '../../src/config/types.js';
import { type Listener } from '../../src/net/listener.js';
import type { Authenticator, ServiceContext } from '../../src/net/types.js';
import { createPop3Handler } from '../../src/pop3/index.js';
import type { DeliveryResult, MailboxEntry, Store, User } from '../../src/store/types.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { DOMAIN, fixedPasswordAuthenticator, startMailHarness } from '../helpers/mail-harness.js';
import { testConfig as baseTestConfig } from '../helpers/service.js';

export { DOMAIN, fixedPasswordAuthenticator };

/** The test configuration with a default domain, so "USER bob" works as in the seed. */
export function testConfig(dataDir: string): WharfConfig {
  return baseTestConfig(dataDir, {
    pop3: { idleTimeoutMs: 60_000, lockTtlMs: 30_000 },
    auth: { allowInsecure: false, defaultDomain: DOMAIN },
    authThrottle: { maxDelayMs: 50 },
  });
}

export interface Pop3Harness {
  ctx: ServiceContext;
  store: Store;
  config: WharfConfig;
  /** Plain POP3 (STLS available). */
  plain: Listener;
  /** Implicit TLS (POP3S). */
  secure: Listener;
  /** Every JSON log line written so far. */
  logLines: string[];
  addUser(local: string, password: string): Promise<User>;
  /** Delivers a message to users' INBOXes through the store, as SMTP would. */
  deliver(body: Buffer | string, users: User[]): Promise<DeliveryResult>;
  inbox(user: User): Promise<MailboxEntry[]>;
  close(): Promise<void>;
}

export async function startPop3Harness(
  configure: (config: WharfConfig) => void = () => {},
): Promise<Pop3Harness> {
  const h = await startMailHarness({
    names: ['pop3', 'pop3s'],
    config: (dataDir) => {
      const config = testConfig(dataDir);
      configure(config);
      return config;
    },
    handler: createPop3Handler,
    deliveryHeaders: {},
  });
  return {
    ...h,
    addUser: (local, password) => h.addUser(local, password),
    async inbox(user) {
      const mailbox = await h.store.getMailbox(user.id, 'INBOX');
      if (!mailbox) throw new Error('no INBOX');
      return h.store.listEntries(mailbox.id);
    },
  };
}

/** A message of exactly `size` octets with CRLF line endings (headers, blank line, filler). */
export function messageOfSize(size: number, subject: string): Buffer {
  const head = `From: alice@example.net\r\nTo: bob@${DOMAIN}\r\nSubject: ${subject}\r\n\r\n`;
  let body = '';
  let n = 0;
  while (head.length + body.length + 40 < size) body += `line ${n++} of the message body\r\n`;
  const filler = size - head.length - body.length - 2;
  if (filler < 0) throw new Error(`size ${size} too small`);
  return Buffer.from(head + body + 'x'.repeat(filler) + '\r\n', 'latin1');
}

/**
 * A raw POP3 client: sends bytes and reads replies, to check the wire exactly (single-line
 * replies as strings, multi-line ones as the raw bytes up to and including CRLF.CRLF).
 */
export class RawClient extends RawSocket {
  static connect(port: number, useTls = false): Promise<RawClient> {
    return RawClient.open(port, useTls);
  }

  /** Sends a line (CRLF, or a bare LF like a hand-typed session when `lineEnd` says so). */
  async command(text: string, lineEnd = '\r\n'): Promise<string> {
    this.send(text + lineEnd);
    return this.line();
  }

  /** The next reply line, without its CRLF. Rejects when the connection closes first. */
  async line(timeoutMs = 5_000): Promise<string> {
    const bytes = await this.until(Buffer.from('\r\n'), timeoutMs);
    return bytes.subarray(0, bytes.length - 2).toString('latin1');
  }

  /** The rest of a multi-line response, through its terminating CRLF.CRLF (status line already read). */
  async multiline(timeoutMs = 5_000): Promise<Buffer> {
    if (this.peekStartsWith(Buffer.from('.\r\n'))) return this.until(Buffer.from('.\r\n'), timeoutMs);
    return this.until(Buffer.from('\r\n.\r\n'), timeoutMs);
  }

  /** The lines of a multi-line response, without the final "." (no un-stuffing). */
  async listing(): Promise<string[]> {
    const raw = (await this.multiline()).toString('latin1');
    const lines = raw.split('\r\n');
    return lines.slice(0, lines.length - 2);
  }
}

/** Logs in with USER/PASS over a raw socket and checks each reply. */
export async function loginRaw(port: number, name: string, password: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  const greeting = await client.line();
  if (!greeting.startsWith('+OK')) throw new Error(`greeting: ${greeting}`);
  const u = await client.command(`USER ${name}`);
  if (!u.startsWith('+OK')) throw new Error(`USER: ${u}`);
  const p = await client.command(`PASS ${password}`);
  if (!p.startsWith('+OK')) throw new Error(`PASS: ${p}`);
  return client;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a Python script (argv after the script is `args`), returning its output. */
export function runPython(script: string, args: string[], timeoutMs = 20_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs curl with the given arguments (never with a shell), returning its output. */
export function runCurl(args: string[], timeoutMs = 20_000): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['--silent', '--show-error', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args],
      { encoding: 'latin1', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Polls `check` until it holds (for effects that follow a socket close asynchronously). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
