/**
 * The process-wide entry cache: every read must equal what the store says now, whoever changed
 * it (this cache's users, another store instance on the same file, pruned expunge records).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EntryCache } from '../../src/imap/entry-cache.js';
import { openStore, type Mailbox, type Store, type User } from '../../src/store/index.js';
import { bodyOf, deliverText, setupUsers } from '../store/helpers.js';

describe('EntryCache', () => {
  let dir: string;
  let store: Store;
  let other: Store;
  let alice: User;
  let inbox: Mailbox;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-entry-cache-'));
    store = await openStore({ dataDir: dir });
    ({ alice, inbox } = await setupUsers(store));
    // A second store on the same file stands for another process or node.
    other = await openStore({ dataDir: dir });
  });
  afterEach(async () => {
    await other.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function same(cache: EntryCache, mailboxId = inbox.id): Promise<void> {
    const cached = await cache.entriesOf(mailboxId);
    const stored = await store.listEntries(mailboxId);
    assert.deepEqual(
      cached.entries.map((e) => [e.uid, [...e.flags], e.modseq, e.size]),
      stored.map((e) => [e.uid, [...e.flags], e.modseq, e.size]),
    );
    assert.deepEqual(cached.uids(), stored.map((e) => e.uid));
  }

  it('follows deliveries, flag changes and expunges made through another store', async () => {
    const cache = new EntryCache(store);
    for (let i = 0; i < 5; i++) await deliverText(store, [alice.id], `Subject: ${i}\r\n\r\nbody ${i}\r\n`);
    await same(cache);
    const first = await cache.entriesOf(inbox.id);
    assert.equal(first.firstUnseenUid(), 1);

    await other.setFlags(inbox.id, [1, 2], 'add', ['\\Seen', '$Label']);
    await other.expunge(inbox.id, [3]);
    await deliverText(other, [alice.id], 'Subject: late\r\n\r\nlate\r\n');
    await same(cache);
    const second = await cache.entriesOf(inbox.id);
    assert.notEqual(second, first, 'a change makes a new snapshot');
    assert.deepEqual(first.uids(), [1, 2, 3, 4, 5], 'an old snapshot is never changed under its reader');
    assert.deepEqual(second.uids(), [1, 2, 4, 5, 6]);
    assert.equal(second.firstUnseenUid(), 4);
    assert.deepEqual(second.keywords(), ['$Label']);
    assert.equal(await cache.entriesOf(inbox.id), second, 'nothing changed: the same snapshot');
  });

  it('reloads when the expunge records it needs were pruned', async () => {
    const cache = new EntryCache(store);
    for (let i = 0; i < 3; i++) await deliverText(store, [alice.id], `Subject: ${i}\r\n\r\nx\r\n`);
    await same(cache);
    await other.expunge(inbox.id, [2]);
    await other.pruneExpunged(new Date(Date.now() + 60_000));
    await same(cache);
    assert.deepEqual((await cache.entriesOf(inbox.id)).uids(), [1, 3]);
  });

  it('starts afresh when UIDVALIDITY changes (RENAME INBOX) and answers nothing for a deleted mailbox', async () => {
    const cache = new EntryCache(store);
    await deliverText(store, [alice.id], 'Subject: a\r\n\r\nx\r\n');
    await same(cache);
    const moved = await other.renameMailbox(alice.id, 'INBOX', 'Old');
    await same(cache);
    assert.deepEqual((await cache.entriesOf(inbox.id)).uids(), []);
    await same(cache, moved.id);
    await other.deleteMailbox(moved.id);
    assert.equal(await cache.current(moved.id), null);
    assert.deepEqual((await cache.entriesOf(moved.id)).entries, []);
  });

  it('shares one store read between concurrent callers and one flag array between equal flag sets', async () => {
    let lists = 0;
    const counting = {
      getMailboxById: (id: number) => store.getMailboxById(id),
      changesSince: (id: number, modseq: number) => store.changesSince(id, modseq),
      listEntries: (id: number) => {
        lists++;
        return store.listEntries(id);
      },
    };
    const cache = new EntryCache(counting);
    for (let i = 0; i < 4; i++) await deliverText(store, [alice.id], `Subject: ${i}\r\n\r\nx\r\n`);
    await store.setFlags(inbox.id, [1, 2, 3, 4], 'add', ['\\Seen']);
    const [a, b] = await Promise.all([cache.entriesOf(inbox.id), cache.entriesOf(inbox.id)]);
    assert.equal(a, b);
    assert.equal(lists, 1);
    assert.equal(a.entries[0]!.flags, a.entries[3]!.flags);
  });

  it('drops the least recently used mailboxes beyond its entry budget', async () => {
    const cache = new EntryCache(store, 3);
    const sent = (await store.getMailbox(alice.id, 'Sent'))!;
    for (let i = 0; i < 2; i++) await deliverText(store, [alice.id], `Subject: ${i}\r\n\r\nx\r\n`);
    await store.append(sent.id, { body: await bodyOf(store, 'Subject: s\r\n\r\ns\r\n'), internalDate: new Date(), flags: [] });
    await same(cache);
    await same(cache, sent.id);
    assert.equal(cache.size, 3);
    await store.append(sent.id, { body: await bodyOf(store, 'Subject: t\r\n\r\nt\r\n'), internalDate: new Date(), flags: [] });
    await same(cache, sent.id);
    assert.equal(cache.size, 2, 'INBOX (least recently used) was dropped to stay within 3 entries');
    await same(cache);
  });
});
