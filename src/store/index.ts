/** The store: storage contract (types.ts) and the factory services use to open it. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError, type Store } from './types.js';
import { SqliteStore } from './sqlite/store.js';

export * from './types.js';
export { SqliteStore } from './sqlite/store.js';

/** The database file inside the data directory. */
export const DATABASE_FILE = 'wharf.db';

/**
 * Opens the store in `dataDir` (created if missing): `<dataDir>/wharf.db`; or, with
 * `databaseUrl` (postgres://...), the PostgreSQL store there.
 */
export async function openStore(opts: { dataDir: string; databaseUrl?: string }): Promise<Store> {
  if (opts.databaseUrl !== undefined) {
    // TODO(postgres): open the PostgreSQL backend here once it is merged.
    throw new StoreError('invalid', 'this build of Wharf has no PostgreSQL backend yet');
  }
  await mkdir(opts.dataDir, { recursive: true });
  return SqliteStore.open(join(opts.dataDir, DATABASE_FILE));
}
