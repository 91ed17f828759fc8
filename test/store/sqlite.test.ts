/**
 * SqliteStore: the backend-agnostic contract suite, plus what only a file-backed SQLite store
 * has: durability across reopen, crash leftovers, several connections/processes on one file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DATABASE_FILE, SqliteStore, openStore, type Store } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { runAccountContract } from './contract-accounts.js';
import { runBlobContract } from './contract-blobs.js';
import { runCoordinationContract } from './contract-coordination.js';
import { runMailContract } from './contract-mail.js';
import { runQueueContract } from './contract-queue.js';
import { runRestoreContract } from './contract-restore.js';
import { runSearchContract } from './contract-search.js';
import { runSshKeyContract } from './contract-ssh-keys.js';
import type { OpenStore, StoreFixture } from './contract.js';
import { bodyOf, deliverBody, deliverText, pseudoRandomBytes, readAll, sleep, waitFor } from './helpers.js';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-store-'));
  tempDirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const openSqlite = async (): Promise<StoreFixture & { dir: string }> => {
  const dir = await tempDir();
  const store = await openStore({ dataDir: dir });
  return {
    store,
    dir,
    openAnother: () => openStore({ dataDir: dir }),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};
runAccountContract('sqlite', openSqlite);
runSshKeyContract('sqlite', openSqlite);
runMailContract('sqlite', openSqlite);
runBlobContract('sqlite', openSqlite);
runSearchContract('sqlite', openSqlite);
runCoordinationContract('sqlite', openSqlite);
runRestoreContract('sqlite', openSqlite);
runQueueContract('sqlite', async () => {
  const fixture = await openSqlite();
  const peers: Store[] = [];
  return {
    store: fixture.store,
    openAnother: fixture.openAnother,
    // Another process (or the CLI) opening the same data folder.
    openPeer: async () => {
      const peer = await openStore({ dataDir: fixture.dir });
      peers.push(peer);
      return peer;
    },
    cleanup: async () => {
      await Promise.allSettled(peers.map((p) => p.close()));
      await fixture.cleanup();
    },
  };
});

/** Counts rows with a separate connection, the way an operator's sqlite3 shell would. */
function countRows(dir: string, sql: string): number {
  const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

async function seed(store: Store) {
  await store.addDomain('example.com');
  const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h', quotaBytes: 10_000_000 });
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
  return { alice, inbox };
}

describe('SqliteStore (file-specific)', () => {
  it('creates the data directory and the database with WAL and versioned migrations', async () => {
    const dir = join(await tempDir(), 'nested', 'data');
    const store = await openStore({ dataDir: dir });
    try {
      assert.ok((await stat(join(dir, DATABASE_FILE))).isFile());
      const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
        assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
    // Reopening does not re-apply migrations.
    const again = await openStore({ dataDir: dir });
    await again.close();
    assert.equal(countRows(dir, 'SELECT COUNT(*) FROM schema_migrations'), MIGRATIONS.length);
  });

  it('keeps everything across a close and reopen', async () => {
    const dir = await tempDir();
    const big = pseudoRandomBytes(600 * 1024, 7);
    let store = await openStore({ dataDir: dir });
    const { alice, inbox } = await seed(store);
    await store.addAlias('@example.com', ['alice@example.com']);
    await deliverText(store, [alice.id], 'first');
    const r2 = await deliverText(store, [alice.id], big, { subject: 'big one' });
    await deliverText(store, [alice.id], 'third');
    await store.setFlags(inbox.id, [2], 'add', ['\\Flagged']);
    await store.expunge(inbox.id, [3]);
    await store.acquireLease('pop3:alice', 'node-a', 60_000);
    const entriesBefore = await store.listEntries(inbox.id);
    const mailboxBefore = await store.getMailboxById(inbox.id);
    const userBefore = await store.getUserById(alice.id);
    await store.close();

    store = await openStore({ dataDir: dir });
    try {
      assert.deepEqual(await store.listEntries(inbox.id), entriesBefore);
      assert.deepEqual(await store.getMailboxById(inbox.id), mailboxBefore);
      assert.deepEqual(await store.getUserById(alice.id), userBefore);
      assert.equal(await store.getPasswordHash('alice@example.com'), 'h');
      assert.deepEqual(await store.listAliases(), [{ source: '@example.com', targets: ['alice@example.com'] }]);
      assert.ok((await readAll(store.readBody(r2.messageId))).equals(big));
      assert.deepEqual((await store.getMessage(r2.messageId))!.headers, { subject: 'big one' });
      assert.equal(await store.acquireLease('pop3:alice', 'node-b', 60_000), false, 'leases persist');
      const changes = await store.changesSince(inbox.id, 0);
      assert.deepEqual(changes.expunged, [3]);
      const next = await deliverText(store, [alice.id], 'after restart');
      assert.equal(next.entries[0]!.uid, 4, 'uidNext survives the restart');
    } finally {
      await store.close();
    }
  });

  it('discards a pending body when the store closes without delivering it', async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir });
    await seed(store);
    const body = await bodyOf(store, pseudoRandomBytes(3 * 256 * 1024 + 10));
    assert.equal(countRows(dir, `SELECT COUNT(*) FROM bodies WHERE state = 'pending'`), 1);
    assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 3, 'full chunks are written as they fill');
    assert.equal(body.size, 3 * 256 * 1024 + 10);
    await store.close();
    assert.equal(countRows(dir, 'SELECT COUNT(*) FROM bodies'), 0);
    assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 0);
  });

  it('removes every row of an aborted body and of an expunged message', async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir });
    try {
      const { alice, inbox } = await seed(store);
      const aborted = await bodyOf(store, pseudoRandomBytes(600 * 1024));
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 2);
      await aborted.abort();
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM bodies'), 0);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 0);

      await deliverText(store, [alice.id], pseudoRandomBytes(600 * 1024));
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 3, 'two full chunks and the tail');
      await store.expunge(inbox.id, [1]);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM messages'), 0);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM bodies'), 0);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 0);
    } finally {
      await store.close();
    }
  });

  it('indexes search text after delivery, off the event loop, and drops it with the message', async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir });
    try {
      const { alice, inbox } = await seed(store);
      const long = `Subject: long\r\n\r\n${'x'.repeat(1100 * 1024)}`;
      await deliverText(store, [alice.id], 'Subject: short\r\n\r\nhello');
      await deliverText(store, [alice.id], long);
      // Searchable at once (confirmed from the bodies), indexed shortly after.
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'shor'), [1]);
      await (store as SqliteStore).searchIndexIdle();
      const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
      try {
        const states = db.prepare('SELECT text_state FROM messages ORDER BY id').pluck().all();
        assert.deepEqual(states, ['complete', 'truncated']);
      } finally {
        db.close();
      }
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 2);
      assert.equal(countRows(dir, `SELECT COUNT(*) FROM message_text WHERE subject = 'short'`), 1);
      assert.ok(countRows(dir, 'SELECT structure IS NOT NULL FROM messages LIMIT 1'));

      const archive = (await store.getMailbox(alice.id, 'Archive'))!;
      await store.copyEntries(inbox.id, [1, 2], archive.id);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 2, 'a copy shares the text');
      await store.expunge(inbox.id, [1, 2]);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 2, 'still in Archive');
      await store.expunge(archive.id, [1]);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 1);
      await store.deleteMailbox(archive.id);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 0);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM messages'), 0);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);

      await deliverText(store, [alice.id], 'Subject: gone with the user\r\n\r\nbye');
      await (store as SqliteStore).searchIndexIdle();
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 1);
      await store.removeUser('alice@example.com');
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM message_text'), 0);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM subscriptions'), 0);
    } finally {
      await store.close();
    }
  });

  it('discards the pending body of a crashed process when the store opens', async () => {
    const dir = await tempDir();
    const setup = await openStore({ dataDir: dir });
    await seed(setup);
    await setup.close();

    // A child process streams 3 chunks, then dies without closing anything.
    const storeUrl = new URL('../../src/store/index.js', import.meta.url).href;
    const code = `
      const { openStore } = await import(${JSON.stringify(storeUrl)});
      const store = await openStore({ dataDir: ${JSON.stringify(dir)} });
      const body = store.createBody();
      for (let i = 0; i < 12; i++) await body.write(Buffer.alloc(64 * 1024, i));
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    assert.equal(signal, 'SIGKILL');
    assert.equal(countRows(dir, `SELECT COUNT(*) FROM bodies WHERE state = 'pending'`), 1, 'the crash left a body');
    assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 3);

    const store = await openStore({ dataDir: dir });
    try {
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM bodies'), 0);
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM body_chunks'), 0);
      assert.equal((await store.getUser('alice@example.com'))!.usedBytes, 0);
    } finally {
      await store.close();
    }
  });

  it("does not discard another live store's pending body when a second store opens the file", async () => {
    const dir = await tempDir();
    const server = await openStore({ dataDir: dir });
    const { alice, inbox } = await seed(server);
    const data = pseudoRandomBytes(700 * 1024, 3);
    const body = await bodyOf(server, data.subarray(0, 600 * 1024));
    // E.g. the CLI opening the database while the server is receiving a message.
    const cli = await openStore({ dataDir: dir });
    try {
      await body.write(data.subarray(600 * 1024));
      const { messageId } = await server.deliver({
        body,
        internalDate: new Date(),
        headers: {},
        envelope: { mailFrom: '', rcptTo: [] },
        userIds: [alice.id],
      });
      assert.ok((await readAll(cli.readBody(messageId))).equals(data));
      assert.equal((await cli.listEntries(inbox.id)).length, 1);
    } finally {
      await cli.close();
      await server.close();
    }
  });

  it("wakes a watcher on another connection's change", async () => {
    const dir = await tempDir();
    const a = await openStore({ dataDir: dir });
    const b = await openStore({ dataDir: dir });
    try {
      const { alice, inbox } = await seed(a);
      let calls = 0;
      const watch = b.watchMailbox(inbox.id, () => calls++);
      await deliverText(a, [alice.id], 'from the other connection');
      await waitFor(() => calls >= 1, 'the watcher on the second connection (deliver)');
      const seen = calls;
      await a.setFlags(inbox.id, [1], 'add', ['\\Seen']);
      await waitFor(() => calls > seen, 'the watcher on the second connection (flags)');
      const seen2 = calls;
      // A change to another mailbox does not wake it.
      const sent = (await a.getMailbox(alice.id, 'Sent'))!;
      await a.append(sent.id, { body: await bodyOf(a, 'x'), internalDate: new Date(), headers: {}, flags: [] });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(calls, seen2);
      watch.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('commits concurrent deliveries in one group-commit transaction', async () => {
    const dir = await tempDir();
    const store = SqliteStore.open(join(dir, DATABASE_FILE));
    try {
      const { alice, inbox } = await seed(store);
      const bodies = await Promise.all(Array.from({ length: 40 }, (_, i) => bodyOf(store, `m${i}`)));
      const before = store.writeStats();
      const results = await Promise.allSettled(
        [...bodies.map((body) =>
          deliverBody(store, body, [alice.id]),
        ), deliverText(store, [999_999], 'fails alone')],
      );
      const after = store.writeStats();
      assert.deepEqual(results.map((r) => r.status), [...Array(40).fill('fulfilled'), 'rejected']);
      assert.equal((await store.listEntries(inbox.id)).length, 40);
      assert.ok(after.transactions - before.transactions <= 2, `took ${after.transactions - before.transactions} commits`);
      assert.equal(after.operations - before.operations, 41);

      // Operations started from separate event-loop callbacks (like 20 SMTP sessions whose
      // data arrived in the same poll phase) still share one commit.
      const separate = await Promise.all(Array.from({ length: 20 }, (_, i) => bodyOf(store, `s${i}`)));
      const mid = store.writeStats();
      await Promise.all(
        separate.map(
          (body) =>
            new Promise((resolve, reject) =>
              setImmediate(() => {
                store
                  .deliver({ body, internalDate: new Date(), headers: {}, envelope: { mailFrom: '', rcptTo: [] }, userIds: [alice.id] })
                  .then(resolve, reject);
              }),
            ),
        ),
      );
      const end = store.writeStats();
      assert.ok(end.transactions - mid.transactions <= 2, `took ${end.transactions - mid.transactions} commits`);
    } finally {
      await store.close();
    }
  });

  it('drops expired counters while counting', async () => {
    const dir = await tempDir();
    const first = await openStore({ dataDir: dir });
    try {
      await first.hitCounter('gone-soon', 50);
      await first.hitCounter('kept', 60_000);
    } finally {
      await first.close();
    }
    await sleep(150);
    const store = await openStore({ dataDir: dir });
    try {
      assert.equal(countRows(dir, 'SELECT COUNT(*) FROM counters'), 2);
      await store.hitCounter('new', 60_000);
      const names = countRows(dir, 'SELECT group_concat(name) FROM (SELECT name FROM counters ORDER BY name)') as unknown;
      assert.equal(names, 'kept,new');
    } finally {
      await store.close();
    }
  });
});
