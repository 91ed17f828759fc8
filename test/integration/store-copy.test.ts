/**
 * `wharf store copy` end to end: mail put in over IMAP on a running server, the store copied
 * into a data folder while that server runs, a second server started on the copy (SQLite),
 * and an IMAP client (imapflow) seeing the same UIDVALIDITY, UIDs, flags, dates, bodies and
 * subscriptions on both, with nothing changed since the HIGHESTMODSEQ it learnt from the
 * original. The source is the test backend's store: SQLite, or PostgreSQL in the second pass
 * (a copy back into a folder). Into PostgreSQL: store-copy-postgres.test.ts.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { assertCacheStillValid, clientView, seedOverImap } from './client-view.js';
import { addBob } from './setup.js';

describe('wharf store copy into a folder, seen through IMAP', () => {
  let source: WharfProcess;
  let target: WharfProcess | null = null;
  let targetDir: string;

  before(async () => {
    source = await startWharf();
    await addBob(source);
    targetDir = path.join(await makeTempDir('wharf-copy-target-'), 'data');
    await seedOverImap(source.ports.imap!);
  });
  after(async () => {
    await source.stop();
    await source.removeData();
    if (target) await target.stop();
    await removeDir(path.dirname(targetDir));
  });

  it('an IMAP client finds on the copy exactly what it cached from the original', async () => {
    const original = await clientView(source.ports.imap!);
    const inbox = original.find((m) => m.path === 'INBOX')!;
    assert.deepEqual(inbox.messages.map((m) => m.uid), [2, 3, 4], 'the expunged UID 1 leaves a gap');

    // Copied while the source server runs.
    const copied = await source.cli(['store', 'copy', '--to', targetDir]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stdout, /: identical$/m);

    target = await startWharf({ dataDir: targetDir, sqlite: true });
    assert.deepEqual(await clientView(target.ports.imap!), original);
    await assertCacheStillValid(target.ports.imap!, original);
  });
});
