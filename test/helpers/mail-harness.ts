/**
 * A mail-access service (POP3, IMAP) for tests: a real store in a temporary folder with one
 * domain, the plain and the implicit-TLS listener, a fixed-password Authenticator, and helpers
 * to add users and deliver messages through the store as SMTP would.
 */
import { createDnsResolver } from '../../src/net/dns.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WharfConfig } from '../../src/config/types.js';
import { listen, type Listener } from '../../src/net/listener.js';
import { createLogger } from '../../src/net/log.js';
import type { Authenticator, ServiceContext, SessionHandler } from '../../src/net/types.js';
import { openTestStore } from './test-store.js';
import type { DeliveryResult, HeaderSummary, Store, User } from '../../src/store/types.js';
import { testTls } from './service.js';

export const DOMAIN = 'example.org';

/**
 * Checks passwords against a fixed map. Like the real Authenticator, a name without '@'
 * gets the default domain; the user comes from the store.
 */
export function fixedPasswordAuthenticator(store: Store, passwords: Map<string, string>): Authenticator {
  return {
    async verify(username, password) {
      const address = (username.includes('@') ? username : `${username}@${DOMAIN}`).toLowerCase();
      if (passwords.get(address) !== password) return null;
      const user = await store.getUser(address);
      return user ? { userId: user.id, address: user.address } : null;
    },
  };
}

export interface MailHarness {
  ctx: ServiceContext;
  store: Store;
  config: WharfConfig;
  plain: Listener;
  secure: Listener;
  /** Every JSON log line written so far. */
  logLines: string[];
  addUser(local: string, password: string, quotaBytes?: number | null): Promise<User>;
  /** Delivers a message to users' INBOXes through the store, as SMTP would. */
  deliver(body: Buffer | string, users: User[]): Promise<DeliveryResult>;
  close(): Promise<void>;
}

export async function startMailHarness(opts: {
  /** Listener names, e.g. ['imap', 'imaps']. */
  names: [string, string];
  config: (dataDir: string) => WharfConfig;
  handler: (ctx: ServiceContext) => SessionHandler;
  /** Header summary given with each delivery; by default the store reads it from the body. */
  deliveryHeaders?: HeaderSummary;
  internalDate?: Date;
}): Promise<MailHarness> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `wharf-${opts.names[0]}-`));
  const config = opts.config(dataDir);
  const store = await openTestStore(dataDir);
  await store.addDomain(DOMAIN);
  const passwords = new Map<string, string>();
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
  const material = await testTls();
  const ctx: ServiceContext = { config, store, log, tls: material, auth: fixedPasswordAuthenticator(store, passwords), dns: createDnsResolver(config.dns) };
  const handler = opts.handler(ctx);
  const common = { host: '127.0.0.1', port: 0, limits: config.limits, log };
  const plain = await listen(handler, { ...common, name: opts.names[0] });
  const secure = await listen(handler, { ...common, name: opts.names[1], implicitTls: material });
  return {
    ctx,
    store,
    config,
    plain,
    secure,
    logLines,
    async addUser(local, password, quotaBytes = null) {
      const user = await store.addUser({ address: `${local}@${DOMAIN}`, passwordHash: 'unused-in-tests', quotaBytes });
      passwords.set(user.address, password);
      return user;
    },
    async deliver(body, users) {
      const writer = store.createBody();
      await writer.write(Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));
      return store.deliver({
        body: writer,
        internalDate: opts.internalDate ?? new Date(),
        ...(opts.deliveryHeaders ? { headers: opts.deliveryHeaders } : {}),
        envelope: { mailFrom: 'sender@example.net', rcptTo: users.map((u) => u.address) },
        userIds: users.map((u) => u.id),
      });
    },
    async close() {
      await plain.stopAccepting();
      await secure.stopAccepting();
      await plain.shutdownSessions();
      await secure.shutdownSessions();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
