/**
 * PostgresStore beyond the contract: what a database shared by several Wharf nodes needs.
 * Each PostgresStore instance here stands for one node; they share one throwaway database.
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, describe, it } from 'node:test';
import { LATEST_VERSION, MIGRATIONS } from '../../src/store/postgres/schema.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { LISTENER_APPLICATION_NAME } from '../../src/store/postgres/watch.js';
import { bodyWordsOf } from '../../src/store/postgres/body-words.js';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/postgres.js';
import { bodyOf, deliverText, pseudoRandomBytes, readAll, sleep, waitFor } from './helpers.js';

const CHUNK = 256 * 1024;

/** Everything a test opened, closed and dropped after it. */
const opened: PostgresStore[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((s) => s.close()));
  await Promise.all(databases.splice(0).map((d) => d.drop()));
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

async function node(url: string): Promise<PostgresStore> {
  const store = await PostgresStore.open(url, { poolSize: 4 });
  opened.push(store);
  return store;
}

async function count(url: string, sql: string): Promise<number> {
  const [row] = await queryDatabase<{ n: number }>(url, `SELECT (${sql})::int AS n`);
  return row!.n;
}

async function seed(store: PostgresStore) {
  await store.addDomain('example.com');
  const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
  return { alice, inbox };
}

describe('PostgresStore: schema', () => {
  it('migrates once when several nodes open a new database together', async () => {
    const db = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => node(db.url)));
    const versions = await queryDatabase<{ version: number }>(db.url, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      versions.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM pg_extension WHERE extname = 'pg_trgm'`), 1);
    // All four work on the one schema.
    const { alice } = await seed(stores[0]!);
    assert.equal((await stores[3]!.getUserById(alice.id))!.address, 'alice@example.com');
  });

  it('refuses a database whose schema is newer than this Wharf', async () => {
    const db = await freshDatabase();
    await (await node(db.url)).close();
    await queryDatabase(db.url, 'INSERT INTO schema_migrations (version) VALUES ($1)', [LATEST_VERSION + 1]);
    await assert.rejects(PostgresStore.open(db.url), /newer than this Wharf/);
  });

  it('is what openStore opens for a postgres:// URL', async () => {
    const db = await freshDatabase();
    const store = await openStore({ dataDir: '/nonexistent/not-used', databaseUrl: db.url });
    try {
      assert.ok(store instanceof PostgresStore);
      await store.addDomain('example.com');
      assert.equal(await count(db.url, 'SELECT COUNT(*) FROM domains'), 1);
    } finally {
      await store.close();
    }
    await assert.rejects(openStore({ dataDir: '/x', databaseUrl: 'mysql://h/db' }), /postgres:\/\//);
  });
});

describe('PostgresStore: bodies', () => {
  it('streams a body of several chunks in as pending rows, back byte-exact, and by range', async () => {
    const db = await freshDatabase();
    const store = await node(db.url);
    const { alice, inbox } = await seed(store);
    const data = pseudoRandomBytes(5 * CHUNK + 1234, 11);
    const body = await bodyOf(store, data, 100_000);
    // Full chunks are stored as they fill, invisible until delivered.
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM bodies WHERE state = 'pending'`), 1);
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM body_chunks'), 5);
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM messages'), 0);
    const { messageId } = await store.deliver({
      body,
      internalDate: new Date(),
      envelope: { mailFrom: '', rcptTo: [] },
      userIds: [alice.id],
    });
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM bodies WHERE state = 'committed'`), 1);
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM body_chunks'), 6, 'five full chunks and the tail');
    assert.equal(await count(db.url, 'SELECT MAX(length(data)) FROM body_chunks'), CHUNK);

    const other = await node(db.url);
    assert.ok((await readAll(other.readBody(messageId))).equals(data), 'byte-exact through another node');
    for (const [start, end] of [
      [0, 10],
      [CHUNK - 3, CHUNK + 3],
      [2 * CHUNK, 4 * CHUNK + 17],
      [5 * CHUNK + 1000, undefined],
      [CHUNK, CHUNK],
    ] as Array<[number, number | undefined]>) {
      const got = await readAll(other.readBody(messageId, { start, end }));
      assert.ok(got.equals(data.subarray(start, end)), `range ${start}-${end}`);
    }
    await store.expunge(inbox.id, [1]);
    for (const table of ['bodies', 'body_chunks', 'messages', 'message_text']) {
      assert.equal(await count(db.url, `SELECT COUNT(*) FROM ${table}`), 0, `${table} is empty after expunge`);
    }
  });

  it('deletes an aborted body, and a closing node deletes its unfinished ones', async () => {
    const db = await freshDatabase();
    const store = await node(db.url);
    await seed(store);
    const aborted = await bodyOf(store, pseudoRandomBytes(3 * CHUNK));
    const unfinished = await bodyOf(store, pseudoRandomBytes(2 * CHUNK));
    assert.equal(unfinished.size, 2 * CHUNK);
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM body_chunks'), 5);
    await aborted.abort();
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM body_chunks'), 2);
    await store.close();
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM bodies'), 0);
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM body_chunks'), 0);
  });

  it("sweeps a dead node's pending body once it is stale, never a live node's", async () => {
    const db = await freshDatabase();
    const live = await node(db.url);
    await seed(live);
    const liveBody = await bodyOf(live, pseudoRandomBytes(CHUNK + 5));

    // A node streams 3 chunks, then dies without closing anything.
    const storeUrl = new URL('../../src/store/postgres/store.js', import.meta.url).href;
    const code = `
      const { PostgresStore } = await import(${JSON.stringify(storeUrl)});
      const store = await PostgresStore.open(${JSON.stringify(db.url)});
      const body = store.createBody();
      for (let i = 0; i < 12; i++) await body.write(Buffer.alloc(64 * 1024, i));
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    assert.equal(signal, 'SIGKILL');
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM bodies WHERE state = 'pending'`), 2);

    // Freshly written bodies are left alone: their writer may be alive on another host.
    await (await node(db.url)).close();
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM bodies WHERE state = 'pending'`), 2);

    // Once nothing has touched it for long, it is swept by the next node that opens.
    await queryDatabase(
      db.url,
      `UPDATE bodies SET touched_at = now() - interval '1 hour'
       WHERE id IN (SELECT body_id FROM body_chunks GROUP BY body_id HAVING COUNT(*) = 3)`,
    );
    await (await node(db.url)).close();
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM bodies WHERE state = 'pending'`), 1, 'only the live one stays');
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM body_chunks'), 1);
    await liveBody.write(Buffer.from('the end'));
    const { messageId } = await live.deliver({
      body: liveBody,
      internalDate: new Date(),
      envelope: { mailFrom: '', rcptTo: [] },
      userIds: [(await live.getUser('alice@example.com'))!.id],
    });
    assert.equal((await live.getMessage(messageId))!.size, CHUNK + 5 + 'the end'.length);
  });

  it('stores and finds a message whose text holds a NUL character', async () => {
    const db = await freshDatabase();
    const store = await node(db.url);
    const { alice, inbox } = await seed(store);
    await deliverText(store, [alice.id], 'Subject: nul\u0000inside\r\n\r\nbody with a \u0000 in it and more\r\n');
    await deliverText(store, [alice.id], 'Subject: plain\r\n\r\nnothing special\r\n');
    // PostgreSQL text cannot hold NUL: that message's text is not indexed, search reads its body.
    await store.flushSearchIndex();
    const states = await queryDatabase<{ text_state: string }>(db.url, 'SELECT text_state FROM messages ORDER BY id');
    assert.deepEqual(
      states.map((r) => r.text_state),
      ['missing', 'complete'],
    );
    assert.deepEqual(await store.searchText(inbox.id, 'subject', 'NUL\u0000IN'), [1]);
    assert.deepEqual(await store.searchText(inbox.id, 'body', 'a \u0000 in'), [1]);
    assert.deepEqual(await store.searchText(inbox.id, 'body', 'special'), [2]);
    assert.deepEqual(await store.searchText(inbox.id, 'body', 'more'), [1]);
  });

  it('finds a message from its acknowledgement on, before and after its text is indexed', async () => {
    const db = await freshDatabase();
    const store = await node(db.url);
    const { alice, inbox } = await seed(store);
    // Hold the indexer off the rows: a transaction on another connection locks them, which
    // the indexer's SKIP LOCKED passes over, as it would rows another node is moving.
    const { default: pg } = await import('pg');
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await deliverText(store, [alice.id], 'Subject: Pending Words\r\n\r\nquartz body text\r\n');
      await blocker.query('BEGIN');
      await blocker.query('SELECT * FROM message_text_pending FOR UPDATE');
      await store.flushSearchIndex();
      assert.equal(await count(db.url, 'SELECT COUNT(*) FROM message_text_pending'), 1, 'still pending while locked');
      assert.equal(await count(db.url, `SELECT COUNT(*) FROM messages WHERE text_state = 'pending'`), 1);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'pending words'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'QUARTZ'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'qu'), [1], 'a short needle scans both tables');
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'granite'), []);
      await blocker.query('COMMIT');
    } finally {
      await blocker.end();
    }
    await store.flushSearchIndex();
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM message_text_pending'), 0);
    assert.equal(await count(db.url, 'SELECT COUNT(*) FROM message_text'), 1);
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM messages WHERE text_state = 'complete'`), 1);
    assert.deepEqual(await store.searchText(inbox.id, 'body', 'QUARTZ'), [1]);
    assert.deepEqual(await store.searchText(inbox.id, 'body', 'qu'), [1]);
  });

  it('indexes the body by its words, and migration 8 gives stored rows the words the server computes', async () => {
    const db = await freshDatabase();
    let store = await node(db.url);
    const { alice, inbox } = await seed(store);
    const body = 'Quarterly  report\tattached;\r\nthe REPORT is late,\u00a0the\u3000numbers  100%_done\r\n';
    await deliverText(store, [alice.id], `Subject: words\r\n\r\n${body}`);
    await deliverText(store, [alice.id], 'Subject: other\r\n\r\nweekly report\r\n');
    await store.flushSearchIndex();
    const words = async () => (await queryDatabase<{ body: string; body_words: string }>(db.url, 'SELECT body, body_words FROM message_text ORDER BY message_id'));
    for (const row of await words()) assert.equal(row.body_words, bodyWordsOf(row.body));
    const search = async () => ({
      phrase: await store.searchText(inbox.id, 'body', 'quarterly report'),
      across: await store.searchText(inbox.id, 'body', 'rly  report\tatt'),
      word: await store.searchText(inbox.id, 'text', 'REPORT'),
      escaped: await store.searchText(inbox.id, 'body', '100%_d'),
      spaces: await store.searchText(inbox.id, 'body', 'is late,\u00a0the\u3000num'),
      absent: await store.searchText(inbox.id, 'body', 'report attached; the'),
    });
    const expected = { phrase: [], across: [1], word: [1, 2], escaped: [1], spaces: [1], absent: [] };
    assert.deepEqual(await search(), expected);
    // The database as version 7 left it: no words, the index over the whole body.
    await store.close();
    await queryDatabase(
      db.url,
      `ALTER TABLE message_text DROP COLUMN body_words;
       ALTER TABLE message_text_pending DROP COLUMN body_words;
       CREATE INDEX message_text_trgm ON message_text USING gin (subject gin_trgm_ops, body gin_trgm_ops);
       DELETE FROM schema_migrations WHERE version = 8`,
    );
    store = await node(db.url);
    const migrated = await words();
    assert.equal(migrated.length, 2);
    for (const row of migrated) assert.deepEqual(new Set(row.body_words.split(' ')), new Set(bodyWordsOf(row.body).split(' ')));
    assert.deepEqual(await search(), expected);
  });

  it('indexes the text another node left pending when it stopped', async () => {
    const db = await freshDatabase();
    const first = await node(db.url);
    const { alice, inbox } = await seed(first);
    // Pending rows as a node leaves them when it dies between a delivery and its indexing.
    await deliverText(first, [alice.id], 'Subject: left behind\r\n\r\nbasalt\r\n');
    await first.close();
    await queryDatabase(db.url, `UPDATE messages SET text_state = 'pending'`);
    // Whether or not the first node got to index it before it closed.
    await queryDatabase(db.url, `DELETE FROM message_text`);
    await queryDatabase(db.url, `DELETE FROM message_text_pending`);
    await queryDatabase(
      db.url,
      `INSERT INTO message_text_pending (message_id, state, subject, body) SELECT id, 'complete', 'left behind', 'basalt' FROM messages`,
    );
    const second = await node(db.url);
    // Its first poll runs when it opens.
    const deadline = Date.now() + 10_000;
    while ((await count(db.url, 'SELECT COUNT(*) FROM message_text_pending')) > 0) {
      assert.ok(Date.now() < deadline, 'the pending text was never indexed');
      await sleep(20);
    }
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM messages WHERE text_state = 'complete'`), 1);
    // Left without body words (as a node from before them writes it): the indexer adds them.
    assert.equal(await count(db.url, `SELECT COUNT(*) FROM message_text WHERE body_words = ' basalt '`), 1);
    assert.deepEqual(await second.searchText(inbox.id, 'body', 'basalt'), [1]);
  });
});

describe('PostgresStore: several nodes', () => {
  it("wakes a watcher on another node within a second of a change", async () => {
    const db = await freshDatabase();
    const a = await node(db.url);
    const b = await node(db.url);
    const { alice, inbox } = await seed(a);
    let calls = 0;
    const watch = b.watchMailbox(inbox.id, () => calls++);
    const started = Date.now();
    await deliverText(a, [alice.id], 'from node a');
    await waitFor(() => calls >= 1, 'the watcher on node b (deliver)', 1000);
    assert.ok(Date.now() - started < 1000);
    let seen = calls;
    await a.setFlags(inbox.id, [1], 'add', ['\\Seen']);
    await waitFor(() => calls > seen, 'the watcher on node b (flags)', 1000);
    seen = calls;
    await a.expunge(inbox.id, [1]);
    await waitFor(() => calls > seen, 'the watcher on node b (expunge)', 1000);
    // A change to another mailbox does not wake it.
    seen = calls;
    const sent = (await a.getMailbox(alice.id, 'Sent'))!;
    await a.append(sent.id, { body: await bodyOf(a, 'x'), internalDate: new Date(), flags: [] });
    await sleep(300);
    assert.equal(calls, seen);
    watch.close();
  });

  it('gives concurrent deliveries from two nodes distinct ascending UIDs, each seen at once by the other', async () => {
    const db = await freshDatabase();
    const a = await node(db.url);
    const b = await node(db.url);
    const { alice, inbox } = await seed(a);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => deliverText(i % 2 === 0 ? a : b, [alice.id], `message ${i}`)),
    );
    const uids = results.map((r) => r.entries[0]!.uid).sort((x, y) => x - y);
    assert.deepEqual(uids, Array.from({ length: 30 }, (_, i) => i + 1));
    const mailbox = (await b.getMailboxById(inbox.id))!;
    assert.equal(mailbox.uidNext, 31);
    assert.equal(mailbox.messageCount, 30);
    const modseqs = (await a.listEntries(inbox.id)).map((e) => e.modseq);
    assert.equal(new Set(modseqs).size, 30, 'every delivery its own modseq');
    // A resolved delivery is committed: the other node reads it at once.
    const last = await deliverText(a, [alice.id], 'the last');
    assert.equal((await readAll(b.readBody(last.messageId))).toString(), 'the last');
  });

  it('refuses a lease another node holds, and hands it over once it expired', async () => {
    const db = await freshDatabase();
    const a = await node(db.url);
    const b = await node(db.url);
    assert.equal(await a.acquireLease('pop3:alice', 'node-a', 300), true);
    assert.equal(await b.acquireLease('pop3:alice', 'node-b', 10_000), false);
    assert.equal(await b.renewLease('pop3:alice', 'node-b', 10_000), false);
    const [row] = await queryDatabase<{ ahead: boolean }>(
      db.url,
      `SELECT expires_at > now() AS ahead FROM leases WHERE name = 'pop3:alice'`,
    );
    assert.equal(row!.ahead, true, 'expiry is kept by the database clock');
    await sleep(400);
    assert.equal(await b.acquireLease('pop3:alice', 'node-b', 10_000), true);
    assert.equal(await a.renewLease('pop3:alice', 'node-a', 10_000), false, 'node a lost it');
    assert.equal(await a.acquireLease('pop3:alice', 'node-a', 10_000), false);
    // Racing for a free lease: exactly one node gets it.
    const race = await Promise.all([a, b, a, b].map((s, i) => s.acquireLease('race', `owner-${i}`, 10_000)));
    assert.equal(race.filter(Boolean).length, 1);
  });

  it('re-opens a killed listening connection and calls every watcher once it listens again', async () => {
    const db = await freshDatabase();
    const a = await node(db.url);
    const b = await node(db.url);
    const { alice, inbox } = await seed(a);
    let calls = 0;
    b.watchMailbox(inbox.id, () => calls++);
    // Both nodes' listening connections are killed, as a database restart would.
    const killed = await queryDatabase<{ pid: number }>(
      db.url,
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN%'`,
      [LISTENER_APPLICATION_NAME],
    );
    assert.equal(killed.length, 2, 'one listener per node');
    const before = b.listenerReconnects();
    await queryDatabase(db.url, 'SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [killed.map((k) => k.pid)]);
    await waitFor(() => b.listenerReconnects() > before, "node b's listener to reconnect", 5000);
    await waitFor(() => calls >= 1, 'the catch-up call after reconnecting', 1000);
    await waitFor(() => a.listenerReconnects() >= 1, "node a's listener to reconnect", 5000);
    // And it hears changes again.
    const seen = calls;
    await deliverText(a, [alice.id], 'after the reconnect');
    await waitFor(() => calls > seen, 'a change after the reconnect', 1000);
  });
});
