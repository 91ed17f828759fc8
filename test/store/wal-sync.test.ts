/**
 * Durability without blocking: a write is acknowledged only after the WAL's fsync, which
 * runs off the event loop, and commits landing during a running fsync share the next one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/store/sqlite/schema.js';
import { WalSync } from '../../src/store/sqlite/wal-sync.js';
import { NotDurableError, WriteQueue } from '../../src/store/sqlite/write-queue.js';
import { storeFailureKind } from '../../src/store/failure.js';

/** A controllable fsync: each call waits until the test releases it. */
function heldSync() {
  const calls: Array<{ path: string; release: () => void }> = [];
  const syncFile = (p: string) => new Promise<void>((resolve) => calls.push({ path: p, release: resolve }));
  return { calls, syncFile };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('WalSync', () => {
  it('coalesces: commits during a running sync share exactly one next sync', async () => {
    const { calls, syncFile } = heldSync();
    const sync = new WalSync('/nowhere/db-wal', syncFile);
    const first = sync.sync();
    const second = sync.sync();
    const third = sync.sync();
    assert.equal(calls.length, 1);
    let secondDone = false;
    void second.then(() => (secondDone = true));
    calls[0]!.release();
    await first;
    await tick();
    assert.equal(secondDone, false, 'a commit during the first sync is not covered by it');
    assert.equal(calls.length, 2, 'the waiting commits share one sync');
    calls[1]!.release();
    await Promise.all([second, third]);
    assert.equal(sync.stats.syncs, 2);
  });

  it('the write queue acknowledges a write only after the WAL fsync', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wharf-walsync-'));
    const db = openDatabase(path.join(dir, 'w.db'));
    try {
      const { calls, syncFile } = heldSync();
      const queue = new WriteQueue(db, () => {}, new WalSync(path.join(dir, 'w.db-wal'), syncFile));
      let acknowledged = false;
      const write = queue.run(() => db.prepare('INSERT INTO domains (name, created_at) VALUES (?, ?)').run('a.org', 1));
      void write.then(() => (acknowledged = true));
      while (calls.length === 0) await tick();
      assert.equal(calls[0]!.path, path.join(dir, 'w.db-wal'));
      // Committed (visible) but not yet durable: not acknowledged.
      assert.equal(db.prepare('SELECT COUNT(*) FROM domains').pluck().get(), 1);
      await tick();
      assert.equal(acknowledged, false);
      calls[0]!.release();
      await write;
      assert.equal(acknowledged, true);
    } finally {
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed fsync fails the writes instead of acknowledging them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wharf-walsync-'));
    const db = openDatabase(path.join(dir, 'w.db'));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      const queue = new WriteQueue(db, () => {}, new WalSync('x', () => Promise.reject(eio)));
      await assert.rejects(
        queue.run(() => db.prepare('INSERT INTO domains (name, created_at) VALUES (?, ?)').run('b.org', 1)),
        (err: unknown) => {
          // Committed yet not durable: the caller learns what was committed, to take it back.
          assert.ok(err instanceof NotDurableError);
          assert.equal(err.cause, eio);
          assert.equal((err.committed as { changes: number }).changes, 1);
          assert.equal(storeFailureKind(err), 'io');
          return true;
        },
      );
    } finally {
      process.off('warning', onWarning);
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
