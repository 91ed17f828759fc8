/**
 * PostgresStore: the backend-agnostic contract suites against a real PostgreSQL server, each
 * test on a database of its own (copied from one migrated template: creating and dropping a
 * database costs about 0.3 s, truncating every table about 0.17 s, so the cleaner isolation
 * wins). What only a shared database has is in postgres-nodes.test.ts.
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import { after } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { runAccountContract } from './contract-accounts.js';
import { runBlobContract } from './contract-blobs.js';
import { runCoordinationContract } from './contract-coordination.js';
import { runMailContract } from './contract-mail.js';
import { runQueueContract } from './contract-queue.js';
import { runRestoreContract } from './contract-restore.js';
import { runSearchContract } from './contract-search.js';
import { runSshKeyContract } from './contract-ssh-keys.js';
import type { OpenStore } from './contract.js';

/** A migrated database every test's database is copied from (faster than migrating each). */
let template: Promise<TestDatabase> | null = null;
function migratedTemplate(): Promise<TestDatabase> {
  template ??= (async () => {
    const db = await createTestDatabase();
    const store = await PostgresStore.open(db.url);
    await store.close();
    return db;
  })();
  return template;
}
after(async () => {
  if (template) await (await template).drop();
});

const openPostgres: OpenStore = async () => {
  const db = await createTestDatabase({ template: (await migratedTemplate()).name });
  const store = await PostgresStore.open(db.url, { poolSize: 5 });
  return {
    store,
    openAnother: () => PostgresStore.open(db.url, { poolSize: 2 }),
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
};
runAccountContract('postgres', openPostgres);
runSshKeyContract('postgres', openPostgres);
runMailContract('postgres', openPostgres);
runBlobContract('postgres', openPostgres);
runSearchContract('postgres', openPostgres);
// Right after a delivery its text is still pending (searched by scanning); these runs search
// it once the indexer has moved it into message_text, through the trigram index.
runSearchContract('postgres, text indexed', async () => {
  const opened = await openPostgres();
  const store = opened.store as PostgresStore;
  const indexed = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      if (typeof name !== 'string' || !/^(deliver|append)/.test(name)) return value.bind(target);
      return async (...args: unknown[]) => {
        const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        await target.flushSearchIndex();
        return result;
      };
    },
  });
  return { ...opened, store: indexed };
});
runCoordinationContract('postgres', openPostgres);
runRestoreContract('postgres', openPostgres);
runQueueContract('postgres', async () => {
  const db = await createTestDatabase({ template: (await migratedTemplate()).name });
  const store = await PostgresStore.open(db.url, { poolSize: 5 });
  const peers: PostgresStore[] = [];
  return {
    store,
    openAnother: async () => {
      const peer = await PostgresStore.open(db.url, { poolSize: 3 });
      peers.push(peer);
      return peer;
    },
    // Another node sharing the database.
    openPeer: async () => {
      const peer = await PostgresStore.open(db.url, { poolSize: 3 });
      peers.push(peer);
      return peer;
    },
    cleanup: async () => {
      await Promise.allSettled([...peers, store].map((s) => s.close()));
      await db.drop();
    },
  };
});
