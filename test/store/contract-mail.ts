/** Store contract, MailStore: mailboxes, subscriptions, entries, flags, copy/move, changes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contractSuite, type OpenStore } from './contract.js';
import { runEntryContract } from './contract-mail-entries.js';
import { bodyOf, deliverText, rejectsWith, setupUsers, uidsOf } from './helpers.js';

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

      runEntryContract(ctx);
  });
}
