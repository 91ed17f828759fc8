/**
 * copyStore between the two backends: SQLite into PostgreSQL (moving up to several nodes) and
 * back, with everything IMAP clients cache unchanged, bodies shared as in the source, and an
 * interrupted copy resumed without leaving unfinished bodies behind.
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { copyStore } from '../../src/store/copy.js';
import { verifyCopy } from '../../src/store/copy-verify.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/postgres.js';
import { dump, message, seed } from './copy-fixtures.js';
import { deliverText } from './helpers.js';

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function sqliteStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-pgcopy-'));
  tempDirs.push(dir);
  return openStore({ dataDir: dir });
}

describe('copyStore between SQLite and PostgreSQL', () => {
  let database: TestDatabase;
  let sqlite: Store;
  let postgres: Store;
  beforeEach(async () => {
    database = await createTestDatabase();
    sqlite = await sqliteStore();
    postgres = await openStore({ dataDir: tmpdir(), databaseUrl: database.url });
  });
  afterEach(async () => {
    await Promise.allSettled([sqlite.close(), postgres.close()]);
    await database.drop();
  });

  it('SQLite into PostgreSQL: identical to a client, bodies shared, searchable, and a second run changes nothing', async () => {
    const { alice } = await seed(sqlite);
    const report = await copyStore(sqlite, postgres);
    assert.deepEqual(report.problems, []);
    assert.ok(report.verification?.ok, JSON.stringify(report.verification?.differences));
    assert.equal(report.counts.messagesCopied, 9);
    assert.deepEqual(await dump(postgres), await dump(sqlite));

    const copiedAlice = (await postgres.getUser(alice.address))!;
    const copiedBob = (await postgres.getUser('bob@example.com'))!;
    const inbox = (await postgres.getMailbox(copiedAlice.id, 'INBOX'))!;
    const [aliceFive] = await postgres.listEntries(inbox.id, { fromUid: 5, toUid: 5 });
    const [bobOne] = await postgres.listEntries((await postgres.getMailbox(copiedBob.id, 'INBOX'))!.id);
    assert.equal(bobOne!.messageId, aliceFive!.messageId, 'a body shared in the source is shared in the target');
    assert.deepEqual(await postgres.searchText(inbox.id, 'subject', 'FOR BOTH'), [5]);
    assert.equal((await postgres.getStructure(aliceFive!.messageId))!.envelope.subject, 'for both');

    // Mailboxes the target makes later never take a UIDVALIDITY a copied one has.
    const highest = Math.max(...(await postgres.listMailboxes(copiedAlice.id)).map((m) => m.uidValidity));
    const later = await postgres.createMailbox(copiedAlice.id, 'Made after the move');
    assert.ok(later.uidValidity > highest, `${later.uidValidity} should be above ${highest}`);
    await postgres.deleteMailbox(later.id);

    const before = await dump(postgres);
    const again = await copyStore(sqlite, postgres);
    assert.ok(again.verification?.ok, JSON.stringify(again.verification?.differences));
    assert.equal(again.counts.messagesCopied, 0);
    assert.equal(again.counts.messagesSkipped, 9);
    assert.deepEqual(await dump(postgres), before);
  });

  it('SQLite into PostgreSQL resumes an interrupted copy, leaving no unfinished body behind', async () => {
    const { alice } = await seed(sqlite);
    for (let i = 0; i < 6; i++) await deliverText(sqlite, [alice.id], message(`more ${i}`));
    // Stopped right after the 600 KiB message streamed in (its full chunks are already in the
    // database as a pending body) and before its batch was committed.
    const stop = new AbortController();
    const source = new Proxy(sqlite, {
      get(store, property) {
        if (property === 'readBody') {
          return async function* (messageId: number) {
            let bytes = 0;
            for await (const chunk of store.readBody(messageId)) {
              bytes += chunk.length;
              yield chunk;
            }
            if (bytes > 500 * 1024) stop.abort(new Error('operator pressed ^C'));
          };
        }
        const value: unknown = Reflect.get(store, property);
        return typeof value === 'function' ? value.bind(store) : value;
      },
    });
    await assert.rejects(copyStore(source, postgres, { batchEntries: 2, signal: stop.signal }), /operator pressed \^C/);
    const copiedAlice = (await postgres.getUser(alice.address))!;
    const partial = (await postgres.getMailbox(copiedAlice.id, 'INBOX'))!;
    assert.equal(partial.uidValidity, (await sqlite.getMailbox(alice.id, 'INBOX'))!.uidValidity);
    assert.equal(partial.messageCount, 4, 'UIDs 1, 3, 4 and 5: the batch holding the large message was not committed');
    assert.equal((await verifyCopy(sqlite, postgres)).ok, false);
    const [pending] = await queryDatabase<{ n: number }>(database.url, `SELECT count(*)::int AS n FROM bodies WHERE state = 'pending'`);
    assert.equal(pending!.n, 0, 'the bodies of the batch that was not committed are gone');

    const resumed = await copyStore(sqlite, postgres, { batchEntries: 2 });
    assert.ok(resumed.verification?.ok, JSON.stringify(resumed.verification?.differences));
    assert.equal(resumed.counts.messagesSkipped, partial.messageCount);
    assert.equal(resumed.counts.messagesCopied, 15 - partial.messageCount);
    assert.deepEqual(await dump(postgres), await dump(sqlite));
  });

  it('PostgreSQL into SQLite: identical to a client, and a later run catches up with changes', async () => {
    const { alice, inbox } = await seed(postgres);
    const report = await copyStore(postgres, sqlite);
    assert.deepEqual(report.problems, []);
    assert.ok(report.verification?.ok, JSON.stringify(report.verification?.differences));
    assert.deepEqual(await dump(sqlite), await dump(postgres));

    await postgres.setFlags(inbox.id, [4], 'add', ['\\Answered']);
    await postgres.expunge(inbox.id, [3]);
    await deliverText(postgres, [alice.id], message('late news'));
    const next = await copyStore(postgres, sqlite);
    assert.ok(next.verification?.ok, JSON.stringify(next.verification?.differences));
    assert.equal(next.counts.flagsUpdated, 1);
    assert.equal(next.counts.messagesExpunged, 1);
    assert.equal(next.counts.messagesCopied, 1);
    assert.deepEqual(await dump(sqlite, { modseqs: false }), await dump(postgres, { modseqs: false }));
  });
});
