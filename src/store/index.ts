/** The store: storage contract (types.ts) and the factory services use to open it. */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from './types.js';
import { SqliteStore } from './sqlite/store.js';

// The PostgreSQL store (and the pg driver under it) is imported only when a database URL asks
// for it: on SQLite it would be a few MB of code and heap for nothing.
export * from './types.js';
export { SqliteStore } from './sqlite/store.js';

/** The database file inside the data directory. */
export const DATABASE_FILE = 'wharf.db';

/** Whether `url` names a PostgreSQL database (postgres:// or postgresql://). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url.trim());
}

export interface OpenStoreOptions {
  dataDir: string;
  /** A postgres:// or postgresql:// URL: use that PostgreSQL database instead of SQLite. */
  databaseUrl?: string;
}

/** What a (validated) configuration's `dataDir` and `store` section ask openStore for. */
export function storeOptions(config: {
  dataDir: string;
  store: { kind: 'sqlite' | 'postgres'; url?: string };
}): OpenStoreOptions {
  return {
    dataDir: config.dataDir,
    databaseUrl: config.store.kind === 'postgres' ? config.store.url : undefined,
  };
}

/**
 * Opens the store: the PostgreSQL database at `databaseUrl` when one is given, otherwise
 * the SQLite database in `dataDir` (created if missing): `<dataDir>/wharf.db`.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.databaseUrl !== undefined) {
    // Config validation refuses other URLs; a caller passing one by mistake must not get SQLite silently.
    if (!isPostgresUrl(opts.databaseUrl)) throw new Error('databaseUrl must be a postgres:// or postgresql:// URL');
    const { PostgresStore } = await import('./postgres/store.js');
    return PostgresStore.open(opts.databaseUrl.trim());
  }
  await mkdir(opts.dataDir, { recursive: true });
  return SqliteStore.open(join(opts.dataDir, DATABASE_FILE));
}

/**
 * Whether `opts` names a store that exists already, without creating it (openStore would):
 * the data folder's database file, or a PostgreSQL database holding Wharf's schema.
 */
export async function storeExists(opts: OpenStoreOptions): Promise<boolean> {
  if (opts.databaseUrl !== undefined) {
    if (!isPostgresUrl(opts.databaseUrl)) throw new Error('databaseUrl must be a postgres:// or postgresql:// URL');
    const { installedVersion } = await import('./postgres/schema.js');
    return (await installedVersion(opts.databaseUrl.trim())) > 0;
  }
  return access(join(opts.dataDir, DATABASE_FILE)).then(
    () => true,
    () => false,
  );
}
export * from './file-store.js';
