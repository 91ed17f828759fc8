/**
 * `wharf store copy --to postgres://...` end to end: mail put in over IMAP on a server on
 * SQLite, the store copied into a PostgreSQL database while that server runs, a second server
 * started with WHARF_DATABASE_URL pointing at the copy, and an IMAP client (imapflow) seeing
 * the same UIDVALIDITY, UIDs, flags, dates, bodies and subscriptions on both, its cache still
 * valid (nothing changed since its HIGHESTMODSEQ, new mail above every UID it knows).
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { assertCacheStillValid, clientView, seedOverImap } from './client-view.js';
import { addBob } from './setup.js';

describe('wharf store copy from SQLite into PostgreSQL, seen through IMAP', () => {
  let source: WharfProcess;
  let target: WharfProcess | null = null;
  let database: TestDatabase;

  before(async () => {
    source = await startWharf({ sqlite: true });
    await addBob(source);
    database = await createTestDatabase();
    await seedOverImap(source.ports.imap!);
  });
  after(async () => {
    await source.stop();
    await source.removeData();
    if (target) {
      await target.stop();
      await target.removeData();
    }
    await database.drop();
  });

  it('a server on the PostgreSQL copy shows an IMAP client exactly what it cached from the SQLite original', async () => {
    const original = await clientView(source.ports.imap!);
    assert.deepEqual(original.find((m) => m.path === 'INBOX')!.messages.map((m) => m.uid), [2, 3, 4]);

    // Copied while the source server runs.
    const copied = await source.cli(['store', 'copy', '--to', database.url]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stdout, /to the PostgreSQL database /);
    assert.match(copied.stdout, /: identical$/m);

    target = await startWharf({ env: { WHARF_DATABASE_URL: database.url } });
    assert.deepEqual(await clientView(target.ports.imap!), original);
    await assertCacheStillValid(target.ports.imap!, original);
  });
});
