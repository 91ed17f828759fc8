/**
 * Store contract, RestoreStore: mailboxes and entries recreated with given UIDVALIDITY, UIDs,
 * modseqs, flags and internal dates (what `wharf store copy` relies on). Every backend runs it:
 *
 *   runRestoreContract('sqlite', async () => ({ store, cleanup }));
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BodyWriter, EntryRestore, MailboxRestore, Store } from '../../src/store/types.js';
import { contractSuite, type OpenStore } from './contract.js';
import { bodyOf, deliverText, pseudoRandomBytes, readAll, rejectsWith, setupUsers, uidsOf, waitFor } from './helpers.js';

const WORK: MailboxRestore = {
  name: 'Work/2024',
  role: null,
  uidValidity: 1_600_000_000,
  uidNext: 40,
  highestModseq: 90,
  subscribed: true,
};

const MESSAGE = [
  'From: Alice <alice@example.net>',
  'To: bob@example.com',
  'Subject: quarterly figures',
  'Message-ID: <figures@example.net>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'The pickles budget went up again.',
  '',
].join('\r\n');

/** An entry with a new body holding `data`; modseq and date follow the UID unless given. */
async function entry(
  store: Store,
  uid: number,
  data: Buffer | string,
  extra: Partial<Omit<EntryRestore, 'body'>> = {},
): Promise<EntryRestore & { body: BodyWriter }> {
  return {
    uid,
    flags: [],
    modseq: uid,
    internalDate: new Date(Date.UTC(2023, 0, uid)),
    ...extra,
    body: await bodyOf(store, data),
  };
}

export function runRestoreContract(name: string, open: OpenStore): void {
  contractSuite(`RestoreStore contract: ${name}`, open, (ctx) => {
    describe('restoreMailbox', () => {
      it('creates a missing mailbox with the given UIDVALIDITY, UIDNEXT, modseq, role and subscription', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const work = await store.restoreMailbox(alice.id, WORK);
        assert.equal(work.name, 'Work/2024');
        assert.equal(work.userId, alice.id);
        assert.equal(work.role, null);
        assert.equal(work.uidValidity, WORK.uidValidity);
        assert.equal(work.uidNext, 40);
        assert.equal(work.highestModseq, 90);
        assert.equal(work.subscribed, true);
        assert.equal(work.messageCount, 0);
        assert.deepEqual(await store.getMailbox(alice.id, 'Work/2024'), work);
        assert.ok((await store.listSubscriptions(alice.id)).includes('Work/2024'));

        const quiet = await store.restoreMailbox(alice.id, { ...WORK, name: 'Quiet', role: 'archive', subscribed: false });
        assert.equal(quiet.role, 'archive');
        assert.equal(quiet.subscribed, false);
        assert.ok(!(await store.listSubscriptions(alice.id)).includes('Quiet'));
      });

      it('gives an empty default mailbox the source UIDVALIDITY, and forgets its expunge history', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        await deliverText(store, [alice.id], 'soon gone');
        await store.expunge(inbox.id, [1]);
        const restored = await store.restoreMailbox(alice.id, {
          name: 'inbox',
          role: 'inbox',
          uidValidity: 123,
          uidNext: 7,
          highestModseq: 50,
          subscribed: true,
        });
        assert.equal(restored.id, inbox.id, 'the same mailbox, not a new one');
        assert.equal(restored.name, 'INBOX');
        assert.equal(restored.uidValidity, 123);
        assert.equal(restored.uidNext, 7);
        assert.equal(restored.highestModseq, 50);
        const changes = await store.changesSince(inbox.id, 0);
        assert.deepEqual(changes.expunged, []);
        assert.equal(changes.complete, false, 'what was expunged before the restore is unknown');
        assert.equal((await store.changesSince(inbox.id, 50)).complete, true);
        // The next delivery continues the restored numbering.
        const delivered = await deliverText(store, [alice.id], 'after');
        assert.equal(delivered.entries[0]!.uid, 7);
        assert.ok((await store.getMailboxById(inbox.id))!.highestModseq > 50);
      });

      it('with the same UIDVALIDITY only raises UIDNEXT and modseq, and sets role and subscription', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const first = await store.restoreMailbox(alice.id, WORK);
        const lower = await store.restoreMailbox(alice.id, { ...WORK, uidNext: 10, highestModseq: 5, subscribed: false });
        assert.equal(lower.id, first.id);
        assert.equal(lower.uidNext, 40, 'UIDNEXT never goes down');
        assert.equal(lower.highestModseq, 90, 'nor the modseq');
        assert.equal(lower.subscribed, false);
        const higher = await store.restoreMailbox(alice.id, { ...WORK, uidNext: 45, highestModseq: 99, role: 'archive' });
        assert.equal(higher.uidNext, 45);
        assert.equal(higher.highestModseq, 99);
        assert.equal(higher.role, 'archive');
        assert.equal(higher.subscribed, true);
        assert.equal((await store.listMailboxes(alice.id)).filter((m) => m.name === 'Work/2024').length, 1);
      });

      it('refuses another UIDVALIDITY for a mailbox holding messages, changing nothing', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        await deliverText(store, [alice.id], 'keep me');
        await rejectsWith(store.restoreMailbox(alice.id, { ...WORK, name: 'INBOX', role: 'inbox' }), 'conflict');
        const after = (await store.getMailboxById(inbox.id))!;
        assert.equal(after.uidValidity, inbox.uidValidity);
        assert.equal(after.uidNext, 2);
        assert.equal(after.messageCount, 1);
      });

      it('refuses an unknown user and invalid values', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        await rejectsWith(store.restoreMailbox(alice.id + 1000, WORK), 'not-found');
        await rejectsWith(store.restoreMailbox(alice.id, { ...WORK, uidValidity: 0 }), 'invalid');
        await rejectsWith(store.restoreMailbox(alice.id, { ...WORK, uidValidity: 2 ** 32 }), 'invalid');
        await rejectsWith(store.restoreMailbox(alice.id, { ...WORK, uidNext: 0 }), 'invalid');
        await rejectsWith(store.restoreMailbox(alice.id, { ...WORK, highestModseq: -1 }), 'invalid');
        await rejectsWith(store.restoreMailbox(alice.id, { ...WORK, name: 'a//b' }), 'invalid');
        await rejectsWith(
          store.restoreMailbox(alice.id, { ...WORK, role: 'spam' as unknown as MailboxRestore['role'] }),
          'invalid',
        );
        assert.equal(await store.getMailbox(alice.id, WORK.name), null);
      });

      it('never hands out a restored UIDVALIDITY again', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const high = 4_000_000_000;
        await store.restoreMailbox(alice.id, { ...WORK, uidValidity: high });
        const created = await store.createMailbox(alice.id, 'Later');
        assert.ok(created.uidValidity > high, `${created.uidValidity} should be above ${high}`);
      });
    });

    describe('restoreEntries', () => {
      it('adds entries with the given UIDs, flags, modseqs and dates, keeping every counter right', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const work = await store.restoreMailbox(alice.id, { ...WORK, uidNext: 5, highestModseq: 8 });
        const usedBefore = (await store.getUserById(alice.id))!.usedBytes;
        const restored = await store.restoreEntries(work.id, [
          await entry(store, 3, MESSAGE, { flags: ['\\Seen', 'work'], modseq: 6 }),
          await entry(store, 7, 'Subject: second\r\n\r\nshort\r\n', { flags: ['\\flagged'], modseq: 12 }),
        ]);
        assert.deepEqual(uidsOf(restored), [3, 7]);
        assert.deepEqual(restored[1]!.flags, ['\\Flagged'], 'flags are normalised');

        const listed = await store.listEntries(work.id);
        assert.deepEqual(uidsOf(listed), [3, 7]);
        assert.deepEqual(listed[0]!.flags, ['\\Seen', 'work']);
        assert.equal(listed[0]!.modseq, 6);
        assert.equal(listed[1]!.modseq, 12);
        assert.equal(listed[0]!.internalDate.getTime(), Date.UTC(2023, 0, 3));
        assert.equal(listed[0]!.size, Buffer.byteLength(MESSAGE));
        assert.deepEqual(listed, restored);

        const mailbox = (await store.getMailboxById(work.id))!;
        assert.equal(mailbox.uidValidity, WORK.uidValidity);
        assert.equal(mailbox.uidNext, 8, 'UIDNEXT above the highest restored UID');
        assert.equal(mailbox.highestModseq, 12);
        assert.equal(mailbox.messageCount, 2);
        const bytes = listed[0]!.size + listed[1]!.size;
        assert.equal(mailbox.totalBytes, bytes);
        assert.equal((await store.getUserById(alice.id))!.usedBytes, usedBefore + bytes);

        // A later append continues above, with a modseq above every restored one.
        const appended = await store.append(work.id, { body: await bodyOf(store, 'new'), internalDate: new Date(), flags: [] });
        assert.equal(appended.uid, 8);
        assert.ok(appended.modseq > 12);
      });

      it('stores bodies like any message: bytes, headers, MIME structure and search', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        const big = pseudoRandomBytes(700 * 1024, 7);
        const [small, large] = await store.restoreEntries(inbox.id, [
          await entry(store, 1, MESSAGE),
          await entry(store, 2, Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), big])),
        ]);
        assert.equal((await readAll(store.readBody(small!.messageId))).toString(), MESSAGE);
        const largeBody = await readAll(store.readBody(large!.messageId));
        assert.equal(largeBody.length, large!.size);
        assert.ok(largeBody.subarray(largeBody.length - big.length).equals(big));
        assert.equal((await store.getMessage(small!.messageId))!.headers.subject, 'quarterly figures');
        const structure = (await store.getStructure(small!.messageId))!;
        assert.equal(structure.envelope.subject, 'quarterly figures');
        assert.deepEqual(await store.searchText(inbox.id, 'body', 'PICKLES budget'), [1]);
        assert.deepEqual(await store.searchText(inbox.id, 'subject', 'quarterly'), [1]);
        assert.equal((await store.getUserById(alice.id))!.usedBytes, small!.size + large!.size);
      });

      it('keeps header fields given with the entry', async () => {
        const { store } = ctx;
        const { inbox } = await setupUsers(store);
        const [restored] = await store.restoreEntries(inbox.id, [
          await entry(store, 1, MESSAGE, { headers: { subject: 'given' } }),
        ]);
        assert.equal((await store.getMessage(restored!.messageId))!.headers.subject, 'given');
      });

      it('shares a message already in the store, as COPY does', async () => {
        const { store } = ctx;
        const { alice, bob, inbox } = await setupUsers(store);
        const [original] = await store.restoreEntries(inbox.id, [await entry(store, 4, MESSAGE)]);
        const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
        const [shared] = await store.restoreEntries(bobInbox.id, [
          { uid: 9, flags: ['\\Answered'], modseq: 3, internalDate: original!.internalDate, body: { messageId: original!.messageId } },
        ]);
        assert.equal(shared!.messageId, original!.messageId);
        assert.equal(shared!.size, original!.size);
        assert.equal((await store.getUserById(bob.id))!.usedBytes, original!.size);
        assert.equal((await store.getMailboxById(bobInbox.id))!.totalBytes, original!.size);
        // The body stays while one entry still uses it.
        await store.expunge(inbox.id, [4]);
        assert.equal((await readAll(store.readBody(shared!.messageId))).toString(), MESSAGE);
        assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);

        await rejectsWith(
          store.restoreEntries(bobInbox.id, [
            { uid: 10, flags: [], modseq: 4, internalDate: new Date(0), body: { messageId: original!.messageId } },
          ]),
          'invalid',
        );
        await rejectsWith(
          store.restoreEntries(bobInbox.id, [
            { uid: 10, flags: [], modseq: 4, internalDate: new Date(0), body: { messageId: original!.messageId + 1000 } },
          ]),
          'not-found',
        );
      });

      it('refuses UIDs at or below one the mailbox holds, and adds nothing when one entry fails', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        await store.restoreEntries(inbox.id, [await entry(store, 5, 'five')]);
        for (const uid of [5, 2]) {
          const body = await entry(store, uid, 'again');
          await rejectsWith(store.restoreEntries(inbox.id, [body]), 'conflict');
          await body.body.abort();
        }
        const good = await entry(store, 6, 'six');
        const bad = { ...(await entry(store, 7, 'seven')), body: { messageId: 999_999 } };
        await rejectsWith(store.restoreEntries(inbox.id, [good, bad]), 'not-found');
        await good.body.abort();
        assert.deepEqual(uidsOf(await store.listEntries(inbox.id)), [5]);
        const mailbox = (await store.getMailboxById(inbox.id))!;
        assert.equal(mailbox.messageCount, 1);
        assert.equal(mailbox.uidNext, 6);
        assert.equal((await store.getUserById(alice.id))!.usedBytes, 4);
      });

      it('refuses entries out of order and invalid values', async () => {
        const { store } = ctx;
        const { inbox } = await setupUsers(store);
        const cases: Array<Partial<Omit<EntryRestore, 'body'>>> = [
          { uid: 0 },
          { uid: 2 ** 32 },
          { modseq: 0 },
          { internalDate: new Date(NaN) },
          { flags: ['\\Recent'] },
        ];
        for (const extra of cases) {
          const e = await entry(store, 1, 'x', extra);
          await rejectsWith(store.restoreEntries(inbox.id, [e]), 'invalid');
          await e.body.abort();
        }
        const a = await entry(store, 3, 'a');
        const b = await entry(store, 2, 'b');
        await rejectsWith(store.restoreEntries(inbox.id, [a, b]), 'invalid');
        await Promise.all([a.body.abort(), b.body.abort()]);
        const orphan = await entry(store, 1, 'x');
        await rejectsWith(store.restoreEntries(inbox.id + 1000, [orphan]), 'not-found');
        await orphan.body.abort();
        assert.equal((await store.getMailboxById(inbox.id))!.messageCount, 0);
      });

      it('does not check quota: a copy must be whole even for a user over quota', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        const tiny = await store.addUser({ address: 'tiny@example.com', passwordHash: 'h', quotaBytes: 10 });
        const inbox = (await store.getMailbox(tiny.id, 'INBOX'))!;
        await store.restoreEntries(inbox.id, [await entry(store, 1, MESSAGE)]);
        assert.equal((await store.getUserById(tiny.id))!.usedBytes, Buffer.byteLength(MESSAGE));
      });

      it('reports restored entries to changesSince and wakes watchers', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const work = await store.restoreMailbox(alice.id, { ...WORK, highestModseq: 20 });
        let woken = 0;
        const watch = store.watchMailbox(work.id, () => woken++);
        try {
          await store.restoreEntries(work.id, [await entry(store, 1, 'a', { modseq: 15 }), await entry(store, 2, 'b', { modseq: 25 })]);
          await waitFor(() => woken > 0, 'the watcher');
        } finally {
          watch.close();
        }
        const since = await store.changesSince(work.id, 16);
        assert.deepEqual(uidsOf(since.changed), [2]);
        assert.equal(since.highestModseq, 25);
        assert.equal(since.complete, false, 'expunges below the restored modseq are unknown');
        assert.equal((await store.changesSince(work.id, 20)).complete, true);
      });
    });
  });
}
