/**
 * PostgresFileStore: the FileStore contract inside PostgreSQL, each test on a database of its
 * own; plus what only the database has: contents nobody points at are swept, a node's
 * uploads left behind are not visible, two stores (nodes) see the same files.
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { defaultConfig } from '../../src/config/defaults.js';
import { LocalFileStore, openFileStore } from '../../src/store/files/index.js';
import { PostgresFileStore } from '../../src/store/postgres/files.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { alice, getFile, putFile, runFileStoreContract, type OpenFileStore } from './contract-files.js';
import { runFileTransferContract } from './contract-files-transfer.js';

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

async function openPostgresFiles() {
  const db = await createTestDatabase({ template: (await migratedTemplate()).name });
  const store = await PostgresStore.open(db.url, { poolSize: 4 });
  const files = await PostgresFileStore.open(store.database);
  return {
    db,
    store,
    files,
    cleanup: async () => {
      await files.close();
      await store.close();
      await db.drop();
    },
  };
}
const openPostgres: OpenFileStore = openPostgresFiles;
runFileStoreContract('postgres', openPostgres);
runFileTransferContract('postgres', openPostgres);

async function sql<T extends pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgresFileStore in the database', () => {
  it("openFileStore gives the database file store on PostgreSQL, or local files when asked", async () => {
    const { db, store, cleanup } = await openPostgresFiles();
    const dir = await mkdtemp(join(tmpdir(), 'wharf-files-open-'));
    try {
      const config = defaultConfig();
      const base = { ...config, dataDir: dir, store: { kind: 'postgres' as const, url: db.url } };
      const inDb = await openFileStore(base, store);
      assert.ok(inDb instanceof PostgresFileStore);
      await inDb.close();
      const local = await openFileStore({ ...base, files: { ...config.files, kind: 'local' } }, store);
      assert.ok(local instanceof LocalFileStore);
      await local.close();
    } finally {
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two nodes see the same files', async () => {
    const { db, files, cleanup } = await openPostgresFiles();
    const other = await PostgresStore.open(db.url, { poolSize: 2 });
    const otherFiles = await PostgresFileStore.open(other.database);
    try {
      await putFile(files, alice, '/shared.txt', 'from node one');
      assert.equal((await getFile(otherFiles, alice, '/shared.txt')).toString(), 'from node one');
      await otherFiles.rename(alice, '/shared.txt', '/moved.txt');
      assert.equal(await files.stat(alice, '/shared.txt'), null);
      assert.equal(await files.usage(alice), 13);
    } finally {
      await otherFiles.close();
      await other.close();
      await cleanup();
    }
  });

  it('sweeps contents of dead uploads and of replaced files after their grace time, never a file in use', async () => {
    const { db, files, store, cleanup } = await openPostgresFiles();
    try {
      await putFile(files, alice, '/kept', 'kept');
      await putFile(files, alice, '/replaced', 'v1');
      await putFile(files, alice, '/replaced', 'v2');
      const dead = await files.createUpload(alice, '/dead', { mode: 'replace', maxBytes: null });
      await dead.write(Buffer.alloc(300 * 1024));
      const states = await sql<{ state: string; n: string }>(db.url, 'SELECT state, count(*) AS n FROM file_contents GROUP BY state ORDER BY state');
      assert.deepEqual(states.map((r) => [r.state, Number(r.n)]), [['committed', 2], ['pending', 1], ['released', 1]]);
      // As if the node writing it died two hours ago.
      await sql(db.url, `UPDATE file_contents SET touched_at = now() - interval '2 hours' WHERE state <> 'committed'`);
      const another = await PostgresFileStore.open(store.database);
      await another.close();
      const left = await sql<{ state: string }>(db.url, 'SELECT state FROM file_contents ORDER BY state');
      assert.deepEqual(left.map((r) => r.state), ['committed', 'committed']);
      assert.equal(Number((await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM file_chunks'))[0]!.n), 2);
      assert.equal((await getFile(files, alice, '/replaced')).toString(), 'v2');
      assert.equal((await getFile(files, alice, '/kept')).toString(), 'kept');
      assert.equal(await files.stat(alice, '/dead'), null);
      await dead.abort();
    } finally {
      await cleanup();
    }
  });

  it('an aborted upload and a removed file leave no chunks for long', async () => {
    const { db, files, cleanup } = await openPostgresFiles();
    try {
      const upload = await files.createUpload(alice, '/gone', { mode: 'replace', maxBytes: null });
      await upload.write(Buffer.alloc(600 * 1024));
      await upload.abort();
      assert.equal(Number((await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM file_contents'))[0]!.n), 0);
      await putFile(files, alice, '/f', 'x');
      await files.removeFile(alice, '/f');
      const rows = await sql<{ state: string }>(db.url, 'SELECT state FROM file_contents');
      assert.deepEqual(rows.map((r) => r.state), ['released']);
    } finally {
      await cleanup();
    }
  });
});
