/**
 * SqliteStore: opening a database made by an older Wharf. Migrations 2-4 must carry the data
 * over (subscriptions, expunge records), and messages stored before the structure and search
 * index existed must still have a structure and be found by search.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DATABASE_FILE, openStore } from '../../src/store/index.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { readAll } from './helpers.js';

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const LEGACY_MESSAGE =
  'From: Old Timer <old@remote.test>\r\nSubject: Stored long ago\r\nTo: alice@example.com\r\n\r\n' +
  'A body from before the index. Ünïcödé too.\r\n';

/** A database at schema version 1 with one user, one message, a flag and an expunge record. */
function createVersion1Database(file: string): void {
  const db = new Database(file);
  try {
    db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`);
    db.exec(MIGRATIONS[0]!.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (1, ?)').run(Date.now());
    db.exec(`
      INSERT INTO domains VALUES ('example.com', 0);
      INSERT INTO users (id, address, domain, password_hash, used_bytes, created_at)
        VALUES (1, 'alice@example.com', 'example.com', 'h', ${Buffer.byteLength(LEGACY_MESSAGE)}, 0);
      INSERT INTO mailboxes (id, user_id, name, role, uid_validity, uid_next, highest_modseq, subscribed,
          message_count, total_bytes)
        VALUES (1, 1, 'INBOX', 'inbox', 100, 3, 5, 1, 1, ${Buffer.byteLength(LEGACY_MESSAGE)}),
               (2, 1, 'Sent', 'sent', 101, 1, 1, 0, 0, 0),
               (3, 1, 'Lists', NULL, 102, 1, 1, 1, 0, 0);
      INSERT INTO bodies (id, state, size, chunk_size, created_at)
        VALUES (7, 'committed', ${Buffer.byteLength(LEGACY_MESSAGE)}, 262144, 0);
      INSERT INTO messages (id, size, internal_date, h_subject, created_at)
        VALUES (7, ${Buffer.byteLength(LEGACY_MESSAGE)}, 0, 'Stored long ago', 0);
      INSERT INTO mailbox_entries VALUES (1, 2, 7, '\\Seen', 4);
      INSERT INTO expunged VALUES (1, 1, 5);
    `);
    db.prepare('INSERT INTO body_chunks VALUES (7, 0, ?)').run(Buffer.from(LEGACY_MESSAGE));
  } finally {
    db.close();
  }
}

describe('SqliteStore (upgrading an older database)', () => {
  it('migrates subscriptions and expunge records, and serves old messages', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-store-'));
    tempDirs.push(dir);
    createVersion1Database(join(dir, DATABASE_FILE));

    const store = await openStore({ dataDir: dir });
    try {
      assert.deepEqual(await store.listSubscriptions(1), ['INBOX', 'Lists']);
      assert.deepEqual(
        (await store.listMailboxes(1)).map((m) => [m.name, m.subscribed]),
        [
          ['INBOX', true],
          ['Sent', false],
          ['Lists', true],
        ],
      );
      // The old expunge record is kept (it counts as made at the upgrade) and still reported.
      assert.equal(await store.pruneExpunged(new Date(Date.now() - 60_000)), 0);
      assert.deepEqual(await store.changesSince(1, 4), {
        highestModseq: 5,
        changed: [],
        expunged: [1],
        complete: true,
      });

      // Its structure is worked out from the body when asked for.
      const structure = (await store.getStructure(7))!;
      assert.equal(structure.envelope.subject, 'Stored long ago');
      assert.equal(structure.root.bodyEnd, Buffer.byteLength(LEGACY_MESSAGE));
      // Search finds it although the index has no text for it.
      assert.deepEqual(await store.searchText(1, 'subject', 'LONG AGO'), [2]);
      assert.deepEqual(await store.searchText(1, 'body', 'ünïcödé'), [2]);
      assert.deepEqual(await store.searchText(1, 'from', 'ol'), [2]);
      assert.deepEqual(await store.searchText(1, 'text', 'not in it'), []);
      assert.equal((await readAll(store.readBody(7))).toString(), LEGACY_MESSAGE);
      assert.deepEqual((await store.listEntries(1)).map((e) => [e.uid, e.flags]), [[2, ['\\Seen']]]);
    } finally {
      await store.close();
    }
  });
});

describe('SqliteStore.checkHealth (the schema changing under a running store)', () => {
  it('fails while the schema is newer or older than this code expects, and passes again after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-store-'));
    tempDirs.push(dir);
    const store = await openStore({ dataDir: dir });
    // Another process sharing the file (a newer node, an operator's restore) is what changes it.
    const other = new Database(join(dir, DATABASE_FILE));
    try {
      await store.checkHealth();
      other.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(LATEST_SCHEMA_VERSION + 1, Date.now());
      await assert.rejects(store.checkHealth(), new RegExp(`schema version ${LATEST_SCHEMA_VERSION + 1} is newer than this Wharf`));
      other.prepare('DELETE FROM schema_migrations WHERE version >= ?').run(LATEST_SCHEMA_VERSION);
      // The version before the latest: versions need not be consecutive.
      const previous = MIGRATIONS[MIGRATIONS.length - 2]!.version;
      await assert.rejects(store.checkHealth(), new RegExp(`schema version ${previous} is older than this Wharf`));
      other.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(LATEST_SCHEMA_VERSION, Date.now());
      await store.checkHealth();
    } finally {
      other.close();
      await store.close();
    }
    await assert.rejects(store.checkHealth(), /the store is closed/);
  });
});
