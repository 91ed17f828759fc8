/**
 * Test harness for the SMTP service: a full test configuration, a real store in a temporary
 * folder, the handler on a free loopback port, a raw line client, and helpers to read what
 * the store holds and to run external clients (python3 smtplib, curl).
 */
import { createDnsResolver, type DnsResolver } from '../../src/net/dns.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { WharfConfig } from '../../src/config/types.js';
import { listen, type Listener } from '../../src/net/listener.js';
import { createLogger } from '../../src/net/log.js';
import type { Authenticator, ServiceContext } from '../../src/net/types.js';
import { createSmtpHandler } from '../../src/smtp/index.js';
import { openTestStore } from '../helpers/test-store.js';
import type { MailboxEntry, Store } from '../../src/store/types.js';
import { runProgram } from '../helpers/process.js';
import { testConfig as baseTestConfig, testTls, type DeepPartial } from '../helpers/service.js';

export const HOSTNAME = 'hamburger.edu';
export const DOMAIN = 'hamburger.edu';

/** The test configuration, as this server's own name. */
export function testConfig(dataDir: string, overrides: DeepPartial<WharfConfig> = {}): WharfConfig {
  return baseTestConfig(dataDir, { hostname: HOSTNAME, ...overrides });
}

/** Accepts `address` / `password` pairs given in the map (the store's hashes are not used). */
export function fakeAuthenticator(store: Store, passwords: Record<string, string>): Authenticator & { attempts: string[] } {
  const attempts: string[] = [];
  return {
    attempts,
    async verify(username, password) {
      attempts.push(username);
      const address = username.toLowerCase();
      if (passwords[address] === undefined || passwords[address] !== password) return null;
      const user = await store.getUser(address);
      return user ? { userId: user.id, address: user.address } : null;
    },
  };
}

export interface TestServer {
  port: number;
  store: Store;
  ctx: ServiceContext;
  listener: Listener;
  /** Every log record written so far. */
  logs: Array<Record<string, unknown>>;
  auth: ReturnType<typeof fakeAuthenticator>;
  close(): Promise<void>;
  /** INBOX entries of a user. */
  inbox(address: string): Promise<MailboxEntry[]>;
  /** A stored body, whole. */
  body(messageId: number): Promise<Buffer>;
}

export interface StartOptions {
  mode?: 'mx' | 'submission';
  config?: DeepPartial<WharfConfig>;
  /** Local users to create (in DOMAIN unless they name another domain). */
  users?: Array<string | { address: string; quotaBytes?: number | null }>;
  domains?: string[];
  passwords?: Record<string, string>;
  implicitTls?: boolean;
  /** Pretend every client connects from this address (to test rules for non-loopback clients). */
  clientAddress?: string;
  /** The resolver the service asks (SPF/DKIM/DMARC, blocklists); see fake-dns.ts. */
  dns?: DnsResolver;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wharf-smtp-'));
  const config = testConfig(dataDir, opts.config);
  const store = await openTestStore(dataDir);
  for (const d of opts.domains ?? [DOMAIN]) await store.addDomain(d);
  for (const u of opts.users ?? []) {
    const spec = typeof u === 'string' ? { address: u } : u;
    await store.addUser({ address: spec.address, passwordHash: 'test-hash', quotaBytes: spec.quotaBytes ?? null });
  }
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
  const auth = fakeAuthenticator(store, opts.passwords ?? {});
  const tlsMat = await testTls();
  const ctx: ServiceContext = { config, store, log, tls: tlsMat, auth, dns: opts.dns ?? createDnsResolver(config.dns) };
  const handler = createSmtpHandler(ctx, opts.mode ?? 'mx');
  const fake = opts.clientAddress;
  const listener = await listen(fake ? { ...handler, open: (conn) => handler.open({ ...conn, remoteAddress: fake }) } : handler, {
    name: opts.mode === 'submission' ? 'submission' : 'smtp',
    host: '127.0.0.1',
    port: 0,
    limits: config.limits,
    log,
    implicitTls: opts.implicitTls ? tlsMat : undefined,
  });
  return {
    port: listener.port,
    store,
    ctx,
    listener,
    logs,
    auth,
    async close() {
      await listener.stopAccepting();
      await listener.shutdownSessions();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
    async inbox(address) {
      const user = await store.getUser(address);
      assert.ok(user, `no user ${address}`);
      const mailbox = await store.getMailbox(user.id, 'INBOX');
      assert.ok(mailbox);
      return store.listEntries(mailbox.id);
    },
    async body(messageId) {
      const parts: Buffer[] = [];
      for await (const chunk of store.readBody(messageId)) parts.push(chunk);
      return Buffer.concat(parts);
    },
  };
}

/** Splits a stored message into our trace fields and the client's bytes after them. */
export function splitTrace(stored: Buffer): { returnPath: string; received: string; rest: Buffer } {
  const text = stored.toString('latin1');
  const m = /^Return-Path: <([^>]*)>\r\n(Received: [^\r]*(?:\r\n\t[^\r]*)*)\r\n/.exec(text);
  assert.ok(m, `no trace fields in ${JSON.stringify(text.slice(0, 300))}`);
  return { returnPath: m[1], received: m[2], rest: stored.subarray(Buffer.byteLength(m[0], 'latin1')) };
}

/** Polls until `check` passes or the time is up. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One SMTP reply: its code and the text of each line (after "NNN-"/"NNN "). */
export interface Reply {
  code: number;
  lines: string[];
  /** The whole reply as received. */
  raw: string;
}

/** A raw SMTP client over a socket: send lines, read whole replies (multi-line aware). */
export class RawClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  static connect(port: number, opts: { tls?: boolean } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
        : net.connect(port, '127.0.0.1');
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('utf8');
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Writes raw bytes. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes a command line with CRLF. */
  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** The next complete reply; fails if the connection closes or nothing comes in time. */
  async reply(timeoutMs = 5000): Promise<Reply> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = /^((?:\d{3}-[^\n]*\n)*)(\d{3})(?: [^\n]*)?\n/.exec(this.buffer);
      if (m) {
        const raw = m[0];
        this.buffer = this.buffer.slice(raw.length);
        const lines = raw
          .split('\r\n')
          .filter((l) => l.length > 0)
          .map((l) => l.slice(4));
        assert.ok(raw.endsWith('\r\n'), `reply not CRLF-terminated: ${JSON.stringify(raw)}`);
        return { code: Number(m[2]), lines, raw };
      }
      if (this.closed) assert.fail(`connection closed; pending ${JSON.stringify(this.buffer)}`);
      const left = until - Date.now();
      if (left <= 0) assert.fail(`no reply in time; pending ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a command and returns its reply. */
  async command(line: string): Promise<Reply> {
    this.send(line);
    return this.reply();
  }

  /** Sends a command and asserts the reply's code (and its first line, when given). */
  async expect(line: string, code: number, text?: string | RegExp): Promise<Reply> {
    const r = await this.command(line);
    assert.equal(r.code, code, `${line} → ${r.raw}`);
    if (typeof text === 'string') assert.equal(r.lines[0], text, `${line} → ${r.raw}`);
    else if (text) assert.match(r.lines.join('\n'), text, `${line} → ${r.raw}`);
    return r;
  }

  /** Resolves once the server closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > until) assert.fail('connection still open');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, until - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Upgrades to TLS after a 220 to STARTTLS. */
  async startTls(): Promise<void> {
    assert.equal(this.buffer, '', 'bytes left before TLS');
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secured = tls.connect({ socket: plain as net.Socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', () => resolve());
      secured.once('error', reject);
    });
    this.socket = secured;
    this.attach(secured);
  }

  close(): void {
    this.socket.destroy();
  }
}

export { runProgram as run } from '../helpers/process.js';


/** Runs a Python script (python3 -c) with arguments; its stdout is parsed as JSON. */
export async function runPython(script: string, args: string[]): Promise<unknown> {
  const r = await runProgram('python3', ['-c', script, ...args]);
  assert.equal(r.code, 0, `python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
