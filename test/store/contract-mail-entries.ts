/** Store contract, MailStore part 2: entries, flags, expunge, changes, copy and move. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../src/store/types.js';
import type { ContractContext } from './contract.js';
import { bodyOf, deliverText, readAll, rejectsWith, setupUsers, sleep, uidsOf } from './helpers.js';

export function runEntryContract(ctx: ContractContext): void {
  describe('append, flags, expunge, changes', () => {
    it('appends with flags and internal date; durable entries are listed', async () => {
      const { store } = ctx;
      const { alice } = await setupUsers(store);
      const sent = (await store.getMailbox(alice.id, 'Sent'))!;
      const date = new Date('2023-01-02T03:04:05.000Z');
      const entry = await store.append(sent.id, {
        body: await bodyOf(store, 'Subject: draft\r\n\r\nbody'),
        internalDate: date,
        headers: { subject: 'draft' },
        flags: ['\\seen', 'Work', '\\Seen', '$Label1'],
      });
      assert.equal(entry.mailboxId, sent.id);
      assert.equal(entry.uid, 1);
      assert.deepEqual([...entry.flags].sort(), ['$Label1', 'Work', '\\Seen'].sort());
      assert.equal(entry.internalDate.getTime(), date.getTime());
      assert.deepEqual(await store.listEntries(sent.id), [entry]);
      assert.deepEqual((await store.getMessage(entry.messageId))!.headers, { subject: 'draft' });
      await rejectsWith(
        store.append(999_999, { body: await bodyOf(store, 'x'), internalDate: new Date(), headers: {}, flags: [] }),
        'not-found',
      );
      await rejectsWith(
        store.append(sent.id, { body: await bodyOf(store, 'x'), internalDate: new Date(), headers: {}, flags: ['bad flag'] }),
        'invalid',
      );
    });

    it('tracks usedBytes and enforces the quota on append', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      await deliverText(store, [alice.id], 'x'.repeat(100));
      await store.append(inbox.id, { body: await bodyOf(store, 'y'.repeat(50)), internalDate: new Date(), headers: {}, flags: [] });
      assert.equal((await store.getUser('alice@example.com'))!.usedBytes, 150);
      await store.setQuota('alice@example.com', 200);
      await rejectsWith(
        store.append(inbox.id, { body: await bodyOf(store, 'z'.repeat(51)), internalDate: new Date(), headers: {}, flags: [] }),
        'quota',
      );
      await store.append(inbox.id, { body: await bodyOf(store, 'z'.repeat(50)), internalDate: new Date(), headers: {}, flags: [] });
      const user = (await store.getUser('alice@example.com'))!;
      assert.equal(user.usedBytes, 200);
      assert.equal(user.quotaBytes, 200);
      assert.equal((await store.listEntries(inbox.id)).length, 3);
    });

    it('adds, removes and replaces flags, bumping modseqs', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      for (let i = 0; i < 3; i++) await deliverText(store, [alice.id], `m${i}`);
      const before = (await store.getMailboxById(inbox.id))!;

      const added = (await store.setFlags(inbox.id, [1, 3, 99], 'add', ['\\Seen', 'todo'])).updated;
      assert.deepEqual(uidsOf(added), [1, 3], 'unknown UIDs are ignored');
      for (const e of added) {
        assert.deepEqual([...e.flags].sort(), ['\\Seen', 'todo']);
        assert.ok(e.modseq > before.highestModseq);
      }
      const afterAdd = (await store.getMailboxById(inbox.id))!;
      assert.ok(afterAdd.highestModseq > before.highestModseq);

      const removed = (await store.setFlags(inbox.id, [1], 'remove', ['TODO'])).updated;
      assert.deepEqual(removed[0]!.flags, ['\\Seen'], 'keywords compare case-insensitively');
      assert.ok(removed[0]!.modseq > added[0]!.modseq);

      const replaced = (await store.setFlags(inbox.id, [2, 3], 'replace', ['\\Flagged'])).updated;
      assert.deepEqual(replaced.map((e) => e.flags), [['\\Flagged'], ['\\Flagged']]);
      const listed = await store.listEntries(inbox.id);
      assert.deepEqual(listed.map((e) => e.flags), [['\\Seen'], ['\\Flagged'], ['\\Flagged']]);
      assert.equal((await store.getMailboxById(inbox.id))!.highestModseq, Math.max(...listed.map((e) => e.modseq)));

      await rejectsWith(store.setFlags(inbox.id, [1], 'add', ['\\Bogus']), 'invalid');
      await rejectsWith(store.setFlags(999_999, [1], 'add', ['\\Seen']), 'not-found');
    });

    it('expunges: counters shrink, UIDs are never reused, last reference deletes the message', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setupUsers(store);
      const r1 = await deliverText(store, [alice.id, bob.id], 'aaaa');
      await deliverText(store, [alice.id], 'bb');
      await deliverText(store, [alice.id], 'c');

      assert.deepEqual(await store.expunge(inbox.id, [3, 1, 77]), [1, 3]);
      const mailbox = (await store.getMailboxById(inbox.id))!;
      assert.equal(mailbox.messageCount, 1);
      assert.equal(mailbox.totalBytes, 2);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 2);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id)), [2]);
      assert.deepEqual(await store.expunge(inbox.id, [1]), [], 'already gone');

      // The first message is still bob's.
      assert.equal((await readAll(store.readBody(r1.messageId))).toString(), 'aaaa');
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      await store.expunge(bobInbox.id, [1]);
      assert.equal(await store.getMessage(r1.messageId), null, 'deleted with its last entry');
      await rejectsWith(readAll(store.readBody(r1.messageId)), 'not-found');

      const next = await deliverText(store, [alice.id], 'd');
      assert.equal(next.entries[0]!.uid, 4, 'the expunged highest UID is not reused');
      await store.expunge(inbox.id, [2, 4]);
      const last = await deliverText(store, [alice.id], 'e');
      assert.equal(last.entries[0]!.uid, 5);
      await rejectsWith(store.expunge(999_999, [1]), 'not-found');
    });

    it('assigns increasing modseqs and reports changes since a modseq', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      const start = (await store.getMailboxById(inbox.id))!.highestModseq;
      let previous = start;
      for (let i = 0; i < 4; i++) {
        await deliverText(store, [alice.id], `m${i}`);
        const [entry] = (await store.listEntries(inbox.id)).slice(-1);
        assert.ok(entry!.modseq > previous, 'each new entry gets a higher modseq');
        previous = entry!.modseq;
      }
      const afterDeliveries = (await store.getMailboxById(inbox.id))!.highestModseq;
      assert.equal(afterDeliveries, previous);

      await store.setFlags(inbox.id, [1], 'add', ['\\Seen']);
      await store.expunge(inbox.id, [2]);
      const changes = await store.changesSince(inbox.id, afterDeliveries);
      const now = (await store.getMailboxById(inbox.id))!.highestModseq;
      assert.ok(now > afterDeliveries);
      assert.equal(changes.highestModseq, now);
      assert.deepEqual(uidsOf(changes.changed), [1]);
      assert.deepEqual(changes.changed[0]!.flags, ['\\Seen']);
      assert.deepEqual(changes.expunged, [2]);

      const all = await store.changesSince(inbox.id, start);
      assert.deepEqual(uidsOf(all.changed), [1, 3, 4]);
      assert.deepEqual(all.expunged, [2]);

      const none = await store.changesSince(inbox.id, now);
      assert.deepEqual(none, { highestModseq: now, changed: [], expunged: [], complete: true });
      await rejectsWith(store.changesSince(999_999, 0), 'not-found');
    });
  });

  describe('listing entries by UID range', () => {
    it('summarizes a mailbox: UIDs, the first unseen and the keywords in use', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      assert.deepEqual(await store.summarizeMailbox(inbox.id), { uids: [], firstUnseenUid: null, keywords: [] });
      for (let i = 1; i <= 5; i++) await deliverText(store, [alice.id], `m${i}`);
      await store.setFlags(inbox.id, [1, 2, 4], 'add', ['\\Seen']);
      await store.setFlags(inbox.id, [2], 'add', ['$Work', 'urgent']);
      await store.setFlags(inbox.id, [5], 'add', ['\\Seen', '$Work']);
      await store.expunge(inbox.id, [3]);
      const summary = await store.summarizeMailbox(inbox.id);
      assert.deepEqual(summary.uids, [1, 2, 4, 5]);
      assert.equal(summary.firstUnseenUid, null, 'UID 3, the only unseen one, is gone');
      assert.deepEqual([...summary.keywords].sort(), ['$Work', 'urgent']);
      await deliverText(store, [alice.id], 'm6');
      assert.equal((await store.summarizeMailbox(inbox.id)).firstUnseenUid, 6);
      assert.deepEqual(await store.summarizeMailbox(999_999), { uids: [], firstUnseenUid: null, keywords: [] });
    });


    it('lists a UID range, capped by a limit, and pages through a mailbox', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      for (let i = 1; i <= 12; i++) await deliverText(store, [alice.id], `m${i}`);
      await store.expunge(inbox.id, [4, 5]);
      const all = await store.listEntries(inbox.id);
      assert.deepEqual(uidsOf(all), [1, 2, 3, 6, 7, 8, 9, 10, 11, 12]);
      assert.deepEqual(await store.listEntries(inbox.id, {}), all);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id, { fromUid: 3, toUid: 7 })), [3, 6, 7]);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id, { fromUid: 4, toUid: 5 })), []);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id, { fromUid: 11 })), [11, 12]);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id, { toUid: 2 })), [1, 2]);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id, { fromUid: 2, limit: 3 })), [2, 3, 6]);
      assert.deepEqual(await store.listEntries(inbox.id, { limit: 0 }), []);
      assert.deepEqual(await store.listEntries(inbox.id, { fromUid: 9, toUid: 3 }), []);
      assert.deepEqual(await store.listEntries(inbox.id, { fromUid: 100 }), []);

      const paged: number[] = [];
      for (let fromUid = 1; ; ) {
        const page = await store.listEntries(inbox.id, { fromUid, limit: 4 });
        if (page.length === 0) break;
        paged.push(...uidsOf(page));
        fromUid = page[page.length - 1]!.uid + 1;
      }
      assert.deepEqual(paged, uidsOf(all));
      assert.deepEqual(await store.listEntries(999_999), []);
      await rejectsWith(store.listEntries(inbox.id, { limit: -1 }), 'invalid');
      await rejectsWith(store.listEntries(inbox.id, { fromUid: 1.5 }), 'invalid');
    });
  });

  describe('conditional flag changes (UNCHANGEDSINCE)', () => {
    it('changes only entries not modified since the given modseq and reports the others', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      for (let i = 0; i < 4; i++) await deliverText(store, [alice.id], `m${i}`);
      const known = (await store.getMailboxById(inbox.id))!.highestModseq;
      // Another session changes message 2 after the client read `known`.
      await store.setFlags(inbox.id, [2], 'add', ['$Important']);

      const result = await store.setFlags(inbox.id, [1, 2, 3, 77], 'add', ['\\Deleted'], { unchangedSince: known });
      assert.deepEqual(uidsOf(result.updated), [1, 3]);
      assert.deepEqual(result.modified, [2]);
      const listed = await store.listEntries(inbox.id);
      assert.deepEqual(listed.map((e) => e.flags), [['\\Deleted'], ['$Important'], ['\\Deleted'], []]);
      assert.equal(result.updated[0]!.modseq, result.updated[1]!.modseq, 'one modseq for the whole command');

      // unchangedSince 0: every entry has a modseq above it.
      const zero = await store.setFlags(inbox.id, [4], 'add', ['\\Seen'], { unchangedSince: 0 });
      assert.deepEqual(zero, { updated: [], modified: [4] });
      await rejectsWith(store.setFlags(inbox.id, [1], 'add', ['x'], { unchangedSince: -1 }), 'invalid');
      // A client's 63-bit modseq is above every entry's: nothing is refused.
      const huge = await store.setFlags(inbox.id, [4], 'add', ['\\Seen'], { unchangedSince: 2 ** 63 });
      assert.deepEqual(uidsOf(huge.updated), [4]);
      assert.deepEqual((await store.changesSince(inbox.id, 2 ** 63)).changed, []);
    });

    it('neither bumps nor reports entries whose flags would not change', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      for (let i = 0; i < 3; i++) await deliverText(store, [alice.id], `m${i}`);
      await store.setFlags(inbox.id, [1, 2], 'add', ['\\Seen']);
      const before = await store.listEntries(inbox.id);
      const mailboxBefore = (await store.getMailboxById(inbox.id))!;

      const noop = await store.setFlags(inbox.id, [1, 2], 'add', ['\\seen']);
      assert.deepEqual(noop, { updated: [], modified: [] });
      const alsoNoop = await store.setFlags(inbox.id, [3], 'remove', ['\\Flagged'], {
        unchangedSince: mailboxBefore.highestModseq,
      });
      assert.deepEqual(alsoNoop, { updated: [], modified: [] });
      assert.deepEqual(await store.listEntries(inbox.id), before);
      assert.equal((await store.getMailboxById(inbox.id))!.highestModseq, mailboxBefore.highestModseq);

      const some = await store.setFlags(inbox.id, [1, 2, 3], 'replace', ['\\Seen']);
      assert.deepEqual(uidsOf(some.updated), [3], 'only the entry that changed');
      assert.deepEqual(
        (await store.changesSince(inbox.id, mailboxBefore.highestModseq)).changed.map((e) => e.uid),
        [3],
      );
    });
  });

  describe('expunge records', () => {
    it('prunes old expunge records and says when changes may be incomplete', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setupUsers(store);
      for (let i = 0; i < 5; i++) await deliverText(store, [alice.id, bob.id], `m${i}`);
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      const start = (await store.getMailboxById(inbox.id))!.highestModseq;
      await store.expunge(inbox.id, [1]);
      const afterFirst = (await store.getMailboxById(inbox.id))!.highestModseq;
      await store.expunge(inbox.id, [2]);
      const afterSecond = (await store.getMailboxById(inbox.id))!.highestModseq;
      await store.expunge(bobInbox.id, [5]);
      assert.equal((await store.changesSince(inbox.id, start)).complete, true);

      assert.equal(await store.pruneExpunged(new Date(Date.now() - 60_000)), 0, 'nothing that old');
      assert.deepEqual((await store.changesSince(inbox.id, start)).expunged, [1, 2]);
      await sleep(20);
      const cut = new Date();
      await sleep(20);
      await store.expunge(inbox.id, [3]);
      assert.equal(await store.pruneExpunged(cut), 3);

      const fromStart = await store.changesSince(inbox.id, start);
      assert.deepEqual(fromStart.expunged, [3]);
      assert.equal(fromStart.complete, false, 'UIDs 1 and 2 were expunged after `start` but forgotten');
      assert.equal((await store.changesSince(inbox.id, afterFirst)).complete, false);
      const fromSecond = await store.changesSince(inbox.id, afterSecond);
      assert.equal(fromSecond.complete, true, 'nothing after this modseq was forgotten');
      assert.deepEqual(fromSecond.expunged, [3]);
      assert.equal((await store.changesSince(bobInbox.id, 0)).complete, false);
      assert.equal(await store.pruneExpunged(new Date(Date.now() + 60_000)), 1);
      await rejectsWith(store.pruneExpunged(new Date(Number.NaN)), 'invalid');
    });
  });
}

/** Alice's INBOX with `count` entries (all sharing one stored message), built by copying. */
async function largeInbox(store: Store, count: number) {
  const users = await setupUsers(store);
  const { alice, inbox } = users;
  await deliverText(store, [alice.id], 'Subject: many\r\n\r\nthe same body');
  for (let have = 1; have < count; have *= 2) {
    const uids = Array.from({ length: Math.min(have, count - have) }, (_, i) => i + 1);
    await store.copyEntries(inbox.id, uids, inbox.id);
  }
  return users;
}

export function runLargeMailboxContract(ctx: ContractContext): void {
  describe('a mailbox of 100,000 entries', () => {
    it('lists, flags, searches and expunges them all', async () => {
      const { store } = ctx;
      const count = 100_000;
      const { alice, inbox } = await largeInbox(store, count);
      const all = await store.listEntries(inbox.id);
      assert.equal(all.length, count);
      assert.deepEqual(uidsOf(all.slice(0, 3)), [1, 2, 3]);
      assert.equal(all[count - 1]!.uid, count);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id, { fromUid: 99_998 })), [99_998, 99_999, 100_000]);

      const uids = uidsOf(all);
      const flagged = await store.setFlags(inbox.id, uids, 'add', ['\\Seen']);
      assert.equal(flagged.updated.length, count);
      const modseq = flagged.updated[0]!.modseq;
      assert.equal((await store.changesSince(inbox.id, modseq - 1)).changed.length, count);
      assert.equal((await store.searchText(inbox.id, 'body', 'same')).length, count);
      assert.equal((await store.searchText(inbox.id, 'subject', 'y')).length, count);

      const used = 'Subject: many\r\n\r\nthe same body'.length * count;
      assert.equal((await store.getUserById(alice.id))!.usedBytes, used);
      assert.equal((await store.expunge(inbox.id, uids)).length, count);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);
      assert.equal((await store.changesSince(inbox.id, modseq)).expunged.length, count);
    });
  });
}
