/** Store contract, MailStore part 3: COPY and MOVE. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../src/store/types.js';
import type { ContractContext } from './contract.js';
import { deliverText, readAll, rejectsWith, setupUsers, uidsOf } from './helpers.js';

/** Alice's INBOX with UIDs 1..4 (UID 2 expunged, so 1, 3, 4, 5 remain), flags on some. */
async function seed(store: Store) {
  const users = await setupUsers(store);
  const { alice, inbox } = users;
  for (const text of ['one', 'two', 'three', 'four', 'five']) await deliverText(store, [alice.id], text);
  await store.expunge(inbox.id, [2]);
  await store.setFlags(inbox.id, [3], 'add', ['\\Flagged', 'work']);
  await store.setFlags(inbox.id, [5], 'add', ['\\Seen']);
  const archive = (await store.getMailbox(alice.id, 'Archive'))!;
  return { ...users, archive };
}

export function runTransferContract(ctx: ContractContext): void {
  describe('copy', () => {
    it('copies entries with new ascending UIDs, their flags, and the same stored body', async () => {
      const { store } = ctx;
      const { alice, inbox, archive } = await seed(store);
      await deliverText(store, [alice.id], 'x'); // UID 6 of INBOX, not copied
      const entries = await store.append(archive.id, {
        body: await (async () => {
          const body = store.createBody();
          await body.write(Buffer.from('already there'));
          return body;
        })(),
        internalDate: new Date(),
        flags: [],
      });
      assert.equal(entries.uid, 1);
      const usedBefore = (await store.getUserById(alice.id))!.usedBytes;
      const archiveBefore = (await store.getMailboxById(archive.id))!;

      const result = await store.copyEntries(inbox.id, [5, 3, 1, 2, 99, 3], archive.id);
      assert.equal(result.uidValidity, archive.uidValidity);
      assert.deepEqual(result.mapping, [
        [1, 2],
        [3, 3],
        [5, 4],
      ]);
      const source = await store.listEntries(inbox.id, { toUid: 5 });
      const copies = await store.listEntries(archive.id, { fromUid: 2 });
      assert.deepEqual(uidsOf(copies), [2, 3, 4]);
      for (const [i, copy] of copies.entries()) {
        const original = source.filter((e) => [1, 3, 5].includes(e.uid))[i]!;
        assert.equal(copy.messageId, original.messageId, 'the body is shared, not duplicated');
        assert.deepEqual(copy.flags, original.flags);
        assert.equal(copy.size, original.size);
        assert.equal(copy.internalDate.getTime(), original.internalDate.getTime());
        assert.ok(copy.modseq > archiveBefore.highestModseq);
      }
      const archiveAfter = (await store.getMailboxById(archive.id))!;
      const copiedBytes = 'one'.length + 'three'.length + 'five'.length;
      assert.equal(archiveAfter.messageCount, 4);
      assert.equal(archiveAfter.totalBytes, archiveBefore.totalBytes + copiedBytes);
      assert.equal(archiveAfter.uidNext, 5);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, usedBefore + copiedBytes);
      assert.deepEqual(uidsOf((await store.changesSince(archive.id, archiveBefore.highestModseq)).changed), [2, 3, 4]);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id)), [1, 3, 4, 5, 6], 'the source is unchanged');

      // Expunging the original keeps the copy's body.
      await store.expunge(inbox.id, [1]);
      assert.equal((await readAll(store.readBody(copies[0]!.messageId))).toString(), 'one');
    });

    it('copies into the same mailbox, and copies nothing for unknown UIDs', async () => {
      const { store } = ctx;
      const { inbox, archive } = await seed(store);
      const modseq = (await store.getMailboxById(archive.id))!.highestModseq;
      assert.deepEqual(await store.copyEntries(inbox.id, [2, 42], archive.id), {
        uidValidity: archive.uidValidity,
        mapping: [],
      });
      assert.equal((await store.getMailboxById(archive.id))!.highestModseq, modseq, 'no change, no new modseq');
      const same = await store.copyEntries(inbox.id, [4], inbox.id);
      assert.deepEqual(same.mapping, [[4, 6]]);
      assert.equal((await store.getMailboxById(inbox.id))!.messageCount, 5);
    });

    it('refuses a copy over quota, changing nothing', async () => {
      const { store } = ctx;
      const { alice, inbox, archive } = await seed(store);
      const used = (await store.getUserById(alice.id))!.usedBytes;
      await store.setQuota('alice@example.com', used + 'one'.length + 'three'.length);
      await rejectsWith(store.copyEntries(inbox.id, [1, 3, 4], archive.id), 'quota');
      assert.deepEqual(await store.listEntries(archive.id), []);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, used);
      assert.equal((await store.getMailboxById(archive.id))!.uidNext, 1);
      const fits = await store.copyEntries(inbox.id, [1, 3], archive.id);
      assert.deepEqual(fits.mapping, [
        [1, 1],
        [3, 2],
      ]);
      await rejectsWith(store.copyEntries(inbox.id, [4], archive.id), 'quota');
    });

    it('rejects unknown mailboxes and invalid UIDs', async () => {
      const { store } = ctx;
      const { inbox, archive } = await seed(store);
      await rejectsWith(store.copyEntries(999_999, [1], archive.id), 'not-found');
      await rejectsWith(store.copyEntries(inbox.id, [1], 999_999), 'not-found');
      await rejectsWith(store.copyEntries(inbox.id, [0], archive.id), 'invalid');
      await rejectsWith(store.moveEntries(inbox.id, [-1], archive.id), 'invalid');
      await rejectsWith(store.moveEntries(inbox.id, [1], 999_999), 'not-found');
      assert.equal((await store.listEntries(inbox.id)).length, 4);
    });
  });

  describe('move', () => {
    it('moves entries: copies them and records the source UIDs as expunged, in one step', async () => {
      const { store } = ctx;
      const { alice, inbox, archive } = await seed(store);
      const usedBefore = (await store.getUserById(alice.id))!.usedBytes;
      const inboxBefore = (await store.getMailboxById(inbox.id))!;
      const sourceEntries = await store.listEntries(inbox.id);
      let woke = 0;
      let targetWoke = 0;
      const watch = store.watchMailbox(inbox.id, () => woke++);
      const targetWatch = store.watchMailbox(archive.id, () => targetWoke++);

      const result = await store.moveEntries(inbox.id, [4, 3, 7], archive.id);
      watch.close();
      targetWatch.close();
      assert.ok(targetWoke >= 1, 'the destination mailbox watchers are woken');
      assert.deepEqual(result, {
        uidValidity: archive.uidValidity,
        mapping: [
          [3, 1],
          [4, 2],
        ],
      });
      assert.ok(woke >= 1, 'the source mailbox watchers are woken');
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id)), [1, 5]);
      const moved = await store.listEntries(archive.id);
      assert.deepEqual(
        moved.map((e) => [e.messageId, [...e.flags].sort()]),
        sourceEntries.filter((e) => e.uid === 3 || e.uid === 4).map((e) => [e.messageId, [...e.flags].sort()]),
      );
      const changes = await store.changesSince(inbox.id, inboxBefore.highestModseq);
      assert.deepEqual(changes.expunged, [3, 4]);
      assert.ok(changes.highestModseq > inboxBefore.highestModseq);
      const inboxAfter = (await store.getMailboxById(inbox.id))!;
      assert.equal(inboxAfter.messageCount, 2);
      assert.equal(inboxAfter.totalBytes, 'one'.length + 'five'.length);
      assert.equal((await store.getMailboxById(archive.id))!.totalBytes, 'three'.length + 'four'.length);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, usedBefore, 'moving within a user does not grow it');
      assert.equal((await readAll(store.readBody(moved[0]!.messageId))).toString(), 'three');
    });

    it('moves even when the user is at the quota (nothing grows)', async () => {
      const { store } = ctx;
      const { alice, inbox, archive } = await seed(store);
      await store.setQuota('alice@example.com', (await store.getUserById(alice.id))!.usedBytes);
      assert.equal((await store.moveEntries(inbox.id, [1, 3, 4, 5], archive.id)).mapping.length, 4);
      assert.deepEqual(await store.listEntries(inbox.id), []);
    });
  });
}
