/**
 * Which backend the service and integration tests run on. `npm test` runs them twice: on
 * SQLite (a data folder per test), and with WHARF_TEST_STORE=postgres on PostgreSQL (a
 * throwaway database per store, dropped when the store closes). A test that opens its store
 * through here runs unchanged on both.
 */
import { openStore, type Store } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type TestBackend = 'sqlite' | 'postgres';

export const TEST_BACKEND: TestBackend = process.env.WHARF_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** Databases made here and not dropped yet: whatever a test file left is dropped before it exits. */
const undropped = new Set<TestDatabase>();
let sweepOnExit = false;

function track(db: TestDatabase): TestDatabase {
  undropped.add(db);
  if (!sweepOnExit) {
    sweepOnExit = true;
    // 'beforeExit' may start async work; it fires again once that work is done, with nothing left.
    process.on('beforeExit', () => {
      if (undropped.size === 0) return;
      const left = [...undropped];
      undropped.clear();
      void Promise.allSettled(left.map((d) => d.drop()));
    });
  }
  return db;
}

async function drop(db: TestDatabase): Promise<void> {
  undropped.delete(db);
  await db.drop();
}

/** The store for a test: SQLite in `dataDir`, or a fresh PostgreSQL database dropped on close(). */
export async function openTestStore(dataDir: string): Promise<Store> {
  if (TEST_BACKEND === 'sqlite') return openStore({ dataDir });
  const db = track(await createTestDatabase());
  let store: Store;
  try {
    store = await openStore({ dataDir, databaseUrl: db.url });
  } catch (err) {
    await drop(db);
    throw err;
  }
  const close = store.close.bind(store);
  let closing: Promise<void> | null = null;
  store.close = () => (closing ??= close().finally(() => drop(db)));
  return store;
}

/** PostgreSQL databases of `wharf serve` processes, by data folder, so a restart finds its data. */
const processDatabases = new Map<string, TestDatabase>();

/**
 * Environment that gives a `wharf serve` (or CLI) process with this data folder its store:
 * nothing on SQLite (the data folder holds it), WHARF_DATABASE_URL of the folder's own
 * database on PostgreSQL (made on first use).
 */
export async function processStoreEnv(dataDir: string): Promise<Record<string, string>> {
  if (TEST_BACKEND === 'sqlite') return {};
  let db = processDatabases.get(dataDir);
  if (!db) {
    db = track(await createTestDatabase());
    processDatabases.set(dataDir, db);
  }
  return { WHARF_DATABASE_URL: db.url };
}

/** Drops the database made for this data folder, if any. */
export async function dropProcessStore(dataDir: string): Promise<void> {
  const db = processDatabases.get(dataDir);
  if (!db) return;
  processDatabases.delete(dataDir);
  await drop(db);
}
