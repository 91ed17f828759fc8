/** Store contract, MailStore: mailboxes, subscriptions, entries, flags, copy/move, changes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contractSuite, type OpenStore } from './contract.js';
import { runEntryContract, runLargeMailboxContract } from './contract-mail-entries.js';
import { runDeliveryContract } from './contract-mail-delivery.js';
import { runTransferContract } from './contract-mail-transfer.js';
import { bodyOf, deliverText, readAll, rejectsWith, setupUsers, uidsOf } from './helpers.js';

export function runMailContract(backend: string, open: OpenStore): void {
  contractSuite(`MailStore contract: ${backend}`, open, (ctx) => {
    describe('mailboxes', () => {
      it('creates, finds and lists mailboxes; INBOX is case-insensitive', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        assert.equal(inbox.name, 'INBOX');
        assert.equal(inbox.role, 'inbox');
        assert.deepEqual(await store.getMailbox(alice.id, 'inbox'), inbox);
        assert.deepEqual(await store.getMailboxById(inbox.id), inbox);

        const work = await store.createMailbox(alice.id, 'Work/Projects');
        assert.equal(work.name, 'Work/Projects');
        assert.equal(work.role, null);
        assert.equal(work.uidNext, 1);
        const spam = await store.createMailbox(alice.id, 'Spam2', 'junk');
        assert.equal(spam.role, 'junk');
        assert.deepEqual(await store.getMailbox(alice.id, 'Work/Projects'), work);
        assert.equal(await store.getMailbox(alice.id, 'work/projects'), null, 'other names are case-sensitive');
        assert.equal(await store.getMailbox(alice.id, 'Nope'), null);
        assert.equal(await store.getMailboxById(999_999), null);
        const names = (await store.listMailboxes(alice.id)).map((m) => m.name);
        assert.ok(names.includes('Work/Projects') && names.includes('Spam2') && names.includes('INBOX'));
        const validities = (await store.listMailboxes(alice.id)).map((m) => m.uidValidity);
        assert.equal(new Set(validities).size, validities.length, 'UIDVALIDITY values are distinct');
      });

      it('rejects duplicates, invalid names and unknown users', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        await rejectsWith(store.createMailbox(alice.id, 'Sent'), 'conflict');
        await rejectsWith(store.createMailbox(alice.id, 'inbox'), 'conflict');
        await rejectsWith(store.createMailbox(alice.id, ''), 'invalid');
        await rejectsWith(store.createMailbox(alice.id, 'a//b'), 'invalid');
        await rejectsWith(store.createMailbox(999_999, 'X'), 'not-found');
      });
    });

    describe('deleting mailboxes', () => {
      it('deletes a mailbox with its entries, not its children nor its subscription; quota shrinks', async () => {
        const { store } = ctx;
        const { alice, bob, inbox } = await setupUsers(store);
        const work = await store.createMailbox(alice.id, 'Work');
        const child = await store.createMailbox(alice.id, 'Work/2024');
        await store.setSubscribed(alice.id, 'Work', true);
        const shared = await deliverText(store, [alice.id, bob.id], 'shared body');
        await store.copyEntries(inbox.id, [1], work.id);
        const own = await store.append(work.id, { body: await bodyOf(store, 'own body'), internalDate: new Date(), flags: [] });
        await store.append(child.id, { body: await bodyOf(store, 'child'), internalDate: new Date(), flags: [] });
        const before = (await store.getUserById(alice.id))!.usedBytes;
        assert.equal(before, 2 * 'shared body'.length + 'own body'.length + 'child'.length);

        let woke = 0;
        const watch = store.watchMailbox(work.id, () => woke++);
        await store.deleteMailbox(work.id);
        watch.close();
        assert.ok(woke >= 1, 'watchers of the mailbox learn it is gone');
        assert.equal(await store.getMailboxById(work.id), null);
        assert.equal(await store.getMailbox(alice.id, 'Work'), null);
        assert.notEqual(await store.getMailbox(alice.id, 'Work/2024'), null, 'children stay');
        assert.deepEqual(await store.listEntries(work.id), []);
        await rejectsWith(store.changesSince(work.id, 0), 'not-found');
        assert.equal((await store.getUserById(alice.id))!.usedBytes, 'shared body'.length + 'child'.length);
        assert.ok((await store.listSubscriptions(alice.id)).includes('Work'), 'the subscription is a name: it stays');
        assert.equal(await store.getMessage(own.messageId), null, 'a body only that mailbox had is deleted');
        assert.notEqual(await store.getMessage(shared.messageId), null, 'a body still listed elsewhere stays');
        assert.equal((await store.listEntries(inbox.id)).length, 1);

        // The name can be created again, with a new UIDVALIDITY.
        const again = await store.createMailbox(alice.id, 'Work');
        assert.notEqual(again.uidValidity, work.uidValidity);
        assert.equal(again.uidNext, 1);
      });

      it('refuses INBOX and unknown mailboxes', async () => {
        const { store } = ctx;
        const { inbox } = await setupUsers(store);
        await rejectsWith(store.deleteMailbox(inbox.id), 'invalid');
        await rejectsWith(store.deleteMailbox(999_999), 'not-found');
        assert.notEqual(await store.getMailboxById(inbox.id), null);
      });
    });

    describe('renaming mailboxes', () => {
      it('renames a mailbox and its children, keeping UIDVALIDITY, entries and subscriptions', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const work = await store.createMailbox(alice.id, 'Work');
        const child = await store.createMailbox(alice.id, 'Work/2024');
        const grandchild = await store.createMailbox(alice.id, 'Work/2024/Q1');
        const lookalike = await store.createMailbox(alice.id, 'Workshop');
        await store.append(child.id, { body: await bodyOf(store, 'kept'), internalDate: new Date(), flags: ['\\Seen'] });
        await store.setSubscribed(alice.id, 'Work/2024', true);
        await store.setSubscribed(alice.id, 'Work/Gone', true);
        await store.setSubscribed(alice.id, 'Workshop', true);

        const renamed = await store.renameMailbox(alice.id, 'Work', 'Jobs/Old');
        assert.equal(renamed.id, work.id);
        assert.equal(renamed.name, 'Jobs/Old');
        assert.equal(renamed.uidValidity, work.uidValidity);
        assert.equal((await store.getMailboxById(child.id))!.name, 'Jobs/Old/2024');
        assert.equal((await store.getMailboxById(child.id))!.uidValidity, child.uidValidity);
        assert.equal((await store.getMailboxById(grandchild.id))!.name, 'Jobs/Old/2024/Q1');
        assert.equal((await store.getMailboxById(lookalike.id))!.name, 'Workshop', 'only names below Work/');
        assert.equal(await store.getMailbox(alice.id, 'Work'), null);
        const entries = await store.listEntries(child.id);
        assert.deepEqual(entries.map((e) => [e.uid, e.flags]), [[1, ['\\Seen']]]);
        assert.deepEqual(await store.listSubscriptions(alice.id), [
          ...['Archive', 'Drafts', 'INBOX'],
          'Jobs/Old/2024',
          'Jobs/Old/Gone',
          ...['Junk', 'Sent', 'Trash', 'Workshop'],
        ]);
        assert.equal((await store.getMailboxById(child.id))!.subscribed, true);
        assert.equal(renamed.subscribed, false);
      });

      it('can rename into a name its own subtree holds', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const ab = await store.createMailbox(alice.id, 'a/b');
        const abb = await store.createMailbox(alice.id, 'a/b/b');
        await store.setSubscribed(alice.id, 'a/b', true);
        await store.setSubscribed(alice.id, 'a/b/b', true);
        await store.renameMailbox(alice.id, 'a/b', 'a');
        assert.equal((await store.getMailboxById(ab.id))!.name, 'a');
        assert.equal((await store.getMailboxById(abb.id))!.name, 'a/b');
        const subscriptions = await store.listSubscriptions(alice.id);
        assert.ok(subscriptions.includes('a') && subscriptions.includes('a/b') && !subscriptions.includes('a/b/b'));
      });

      it('refuses existing targets, unknown sources and renaming below itself', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        await store.createMailbox(alice.id, 'A');
        await store.createMailbox(alice.id, 'A/x');
        await store.createMailbox(alice.id, 'B/x');
        await rejectsWith(store.renameMailbox(alice.id, 'A', 'Sent'), 'conflict');
        await rejectsWith(store.renameMailbox(alice.id, 'A', 'B'), 'conflict', );
        await rejectsWith(store.renameMailbox(alice.id, 'A', 'inbox'), 'conflict');
        await rejectsWith(store.renameMailbox(alice.id, 'Nope', 'C'), 'not-found');
        await rejectsWith(store.renameMailbox(alice.id, 'A', 'A/y'), 'invalid');
        await rejectsWith(store.renameMailbox(alice.id, 'A', 'bad//name'), 'invalid');
        assert.notEqual(await store.getMailbox(alice.id, 'A/x'), null, 'a refused rename changes nothing');
        assert.equal(await store.getMailbox(alice.id, 'B'), null);
      });

      it('renames INBOX by moving its entries to a new mailbox; INBOX stays, empty', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        const inboxChild = await store.createMailbox(alice.id, 'INBOX/Lists');
        for (const text of ['one', 'two', 'three', 'four']) await deliverText(store, [alice.id], text);
        await store.expunge(inbox.id, [2]);
        await store.setFlags(inbox.id, [3], 'add', ['\\Flagged', 'todo']);
        const usedBefore = (await store.getUserById(alice.id))!.usedBytes;
        const inboxBefore = (await store.getMailboxById(inbox.id))!;

        const moved = await store.renameMailbox(alice.id, 'inbox', 'Old Mail');
        assert.equal(moved.name, 'Old Mail');
        assert.notEqual(moved.id, inbox.id);
        assert.equal(moved.role, null);
        assert.ok(moved.uidValidity > inboxBefore.uidValidity);
        assert.equal(moved.messageCount, 3);
        assert.equal(moved.totalBytes, 'one'.length + 'three'.length + 'four'.length);
        const entries = await store.listEntries(moved.id);
        assert.deepEqual(uidsOf(entries), [1, 2, 3], 'UIDs 1..n in the old order');
        assert.deepEqual(entries.map((e) => [...e.flags].sort()), [[], ['\\Flagged', 'todo'], []]);
        const bodies = await Promise.all(entries.map(async (e) => (await readAll(store.readBody(e.messageId))).toString()));
        assert.deepEqual(bodies, ['one', 'three', 'four']);

        const after = (await store.getMailbox(alice.id, 'INBOX'))!;
        assert.equal(after.id, inbox.id);
        assert.equal(after.role, 'inbox');
        assert.equal(after.uidValidity, inboxBefore.uidValidity);
        assert.equal(after.messageCount, 0);
        assert.equal(after.totalBytes, 0);
        assert.equal(after.uidNext, inboxBefore.uidNext, 'INBOX UIDs are not reused');
        assert.deepEqual(await store.listEntries(inbox.id), []);
        const changes = await store.changesSince(inbox.id, inboxBefore.highestModseq);
        assert.deepEqual(changes.expunged, [1, 3, 4]);
        assert.equal((await store.getMailboxById(inboxChild.id))!.name, 'INBOX/Lists', "INBOX's children stay");
        assert.equal((await store.getUserById(alice.id))!.usedBytes, usedBefore);
        assert.ok((await store.listSubscriptions(alice.id)).includes('INBOX'));

        // New mail still arrives in INBOX.
        const next = await deliverText(store, [alice.id], 'five');
        assert.equal(next.entries[0]!.mailboxId, inbox.id);
        assert.equal(next.entries[0]!.uid, inboxBefore.uidNext);
        await rejectsWith(store.renameMailbox(alice.id, 'INBOX', 'Old Mail'), 'conflict');
      });
    });

    describe('subscriptions', () => {
      it('subscribes new users to their default mailboxes, not to created ones', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        assert.deepEqual(await store.listSubscriptions(alice.id), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        const created = await store.createMailbox(alice.id, 'Projects');
        assert.equal(created.subscribed, false);
        assert.ok(!(await store.listSubscriptions(alice.id)).includes('Projects'));
      });

      it('subscribes and unsubscribes names, whether or not the mailbox exists', async () => {
        const { store } = ctx;
        const { alice, bob } = await setupUsers(store);
        await store.setSubscribed(alice.id, 'Projects', true);
        await store.setSubscribed(alice.id, 'Projects', true);
        await store.setSubscribed(alice.id, 'inbox/news', true);
        await store.setSubscribed(alice.id, 'Sent', false);
        await store.setSubscribed(alice.id, 'Never There', false);
        assert.deepEqual(await store.listSubscriptions(alice.id), [
          'Archive',
          'Drafts',
          'INBOX',
          'INBOX/news',
          'Junk',
          'Projects',
          'Trash',
        ]);
        assert.equal((await store.getMailbox(alice.id, 'Sent'))!.subscribed, false);
        const projects = await store.createMailbox(alice.id, 'Projects');
        assert.equal(projects.subscribed, true, 'a mailbox created under a subscribed name is subscribed');
        assert.ok(!(await store.listSubscriptions(bob.id)).includes('Projects'), 'per user');
        await rejectsWith(store.setSubscribed(alice.id, '', true), 'invalid');
        await rejectsWith(store.setSubscribed(999_999, 'X', true), 'not-found');
        await store.removeUser('alice@example.com');
        assert.deepEqual(await store.listSubscriptions(alice.id), []);
      });
    });

    runEntryContract(ctx);
    runTransferContract(ctx);
    runDeliveryContract(ctx);
    runLargeMailboxContract(ctx);
  });
}
