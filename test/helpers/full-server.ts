/**
 * The whole server in this process (every service on a free port, as `wharf serve` runs
 * them), on a temporary data folder (and the test backend's store) with one domain and one
 * user, for tests of what the
 * services share: connection limits, timeouts, line limits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import type { WharfConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/net/log.js';
import { startServer } from '../../src/server.js';
import { openStore, storeOptions } from '../../src/store/index.js';
import { testConfig, type DeepPartial } from './service.js';
import { dropProcessStore, processStoreEnv } from './test-store.js';

export const FULL_DOMAIN = 'example.org';
export const FULL_USER = `bob@${FULL_DOMAIN}`;
export const FULL_PASSWORD = 'hungry';

export interface FullServer {
  ports: Readonly<Record<string, number>>;
  config: WharfConfig;
  /** Every JSON log line so far. */
  logLines: string[];
  stop(): Promise<void>;
}

export async function startFullServer(overrides: DeepPartial<WharfConfig> = {}): Promise<FullServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'wharf-full-'));
  const config = testConfig(dataDir, { logLevel: 'info', ...overrides, auth: { allowInsecure: false, defaultDomain: FULL_DOMAIN, ...overrides.auth } });
  // Other services' sections are taken whole from the base; merge the few tests set here.
  config.ftp = { ...testConfig(dataDir).ftp, ...overrides.ftp };
  config.sftp = { ...testConfig(dataDir).sftp, ...overrides.sftp };
  // The test backend: the data folder's SQLite file, or a throwaway PostgreSQL database.
  const databaseUrl = (await processStoreEnv(dataDir)).WHARF_DATABASE_URL;
  if (databaseUrl) config.store = { kind: 'postgres', url: databaseUrl };
  const store = await openStore(storeOptions(config));
  await store.addDomain(FULL_DOMAIN);
  // Cheap scrypt parameters: the logins of these tests are not what they measure.
  await store.addUser({ address: FULL_USER, passwordHash: await hashPassword(FULL_PASSWORD, { ln: 4, r: 8, p: 1 }), quotaBytes: null });
  await store.close();
  const logLines: string[] = [];
  let server;
  try {
    server = await startServer(config, createLogger({ level: 'info', write: (line) => logLines.push(line) }));
  } catch (err) {
    await dropProcessStore(dataDir);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    ports: server.ports,
    config,
    logLines,
    async stop() {
      await server.stop();
      await dropProcessStore(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
