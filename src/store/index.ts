/** The store: storage contract (types.ts) and the factory services use to open it. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from './types.js';
import { SqliteStore } from './sqlite/store.js';

export * from './types.js';
export { SqliteStore } from './sqlite/store.js';

/** The database file inside the data directory. */
export const DATABASE_FILE = 'wharf.db';

/** Opens the store in `dataDir` (created if missing): `<dataDir>/wharf.db`. */
export async function openStore(opts: { dataDir: string }): Promise<Store> {
  await mkdir(opts.dataDir, { recursive: true });
  return SqliteStore.open(join(opts.dataDir, DATABASE_FILE));
}
