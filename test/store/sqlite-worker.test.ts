/**
 * The SQLite store's worker thread (checkpoints, indexing) runs only while there is work: mail
 * stored starts it at once, other commits only once enough of them wait for a checkpoint, and
 * so do commits of another process on the same file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DATABASE_FILE, SqliteStore } from '../../src/store/index.js';
import { deliverText, waitFor } from './helpers.js';

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Other commits start the thread only past `afterCommits` or `afterMs` (default: never). */
async function openQuick(wake = { afterCommits: 1_000_000, afterMs: 1_000_000 }): Promise<{ store: SqliteStore; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-worker-'));
  tempDirs.push(dir);
  const file = join(dir, DATABASE_FILE);
  const store = SqliteStore.open(file, { workerIdleMs: 100, wake: { ...wake, checkMs: 20 } });
  return { store, file };
}

const running = (store: SqliteStore) => store.backgroundStats().running;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SqliteStore worker thread', () => {
  it('starts for mail stored, indexes it, and stops when idle', async () => {
    const { store } = await openQuick();
    try {
      // A new file's schema was just written: the first thread checkpoints it and stops.
      await waitFor(() => !running(store), 'the thread that checkpointed the new schema to stop');
      await store.addDomain('example.com');
      const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h', quotaBytes: 10_000_000 });
      const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
      await waitFor(() => !running(store), 'the thread to stop again', 5000);
      const started = store.backgroundStats().started;
      await deliverText(store, [alice.id], 'Subject: zebra crossing\r\n\r\nhello');
      await waitFor(() => running(store), 'mail stored to start the thread', 1000);
      await store.searchIndexIdle();
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'zebra'), [1]);
      await waitFor(() => !running(store), 'the thread to stop once idle', 5000);
      assert.equal(store.backgroundStats().started, started + 1);
      const checkpoints = store.writeStats().checkpoints;
      assert.ok(checkpoints > 0);
    } finally {
      await store.close();
    }
  });

  it('leaves a few other commits in the WAL for a while, then checkpoints them', async () => {
    const { store } = await openQuick({ afterCommits: 5, afterMs: 1500 });
    try {
      await waitFor(() => !running(store), 'the first thread to stop');
      const started = store.backgroundStats().started;
      // Logins counted: commits, but no mail. Not enough to start the thread at once...
      await store.hitCounter('login:a', 60_000);
      await store.hitCounter('login:b', 60_000);
      await wait(150);
      assert.equal(running(store), false);
      assert.equal(store.backgroundStats().started, started);
      // ...but within afterMs.
      await waitFor(() => store.backgroundStats().started === started + 1, 'the thread to start for the old commits', 5000);
      await waitFor(() => !running(store), 'it to stop again', 5000);
      // Many commits start it before afterMs.
      for (let i = 0; i < 6; i++) await store.hitCounter(`login:${i}`, 60_000);
      await waitFor(() => store.backgroundStats().started === started + 2, 'many commits to start the thread', 300);
    } finally {
      await store.close();
    }
  });

  it('starts for mail another process stored in the same file, and indexes it', async () => {
    const { store, file } = await openQuick();
    try {
      await store.addDomain('example.com');
      const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h', quotaBytes: 10_000_000 });
      const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
      await waitFor(() => !running(store), 'the thread to stop', 5000);
      const other = SqliteStore.open(file, { workerIdleMs: 100_000, wake: { afterCommits: 1000, afterMs: 100_000, checkMs: 100_000 } });
      try {
        await deliverText(other, [alice.id], 'Subject: okapi\r\n\r\nfrom elsewhere');
      } finally {
        // Closing stops its worker before it may have indexed the message.
        await other.close();
      }
      await waitFor(() => running(store), 'the commit of the other process to start this thread', 2000);
      await store.searchIndexIdle();
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.prepare(`SELECT COUNT(*) FROM messages WHERE text_state = 'missing'`).pluck().get(), 0);
      } finally {
        db.close();
      }
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'okapi'), [1]);
    } finally {
      await store.close();
    }
  });
});
