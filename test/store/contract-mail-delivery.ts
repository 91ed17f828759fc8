/** Store contract, MailStore part 4: where a delivery's entries go (folder, copies). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeliveryRequest, Store } from '../../src/store/types.js';
import type { ContractContext } from './contract.js';
import { bodyOf, readAll, rejectsWith, setupUsers, waitFor } from './helpers.js';

type Targets = Pick<DeliveryRequest, 'userIds' | 'folder' | 'copies' | 'outbound'>;

async function deliverTo(store: Store, targets: Targets, text = 'Subject: t\r\n\r\nbody\r\n') {
  return store.deliver({
    body: await bodyOf(store, text),
    internalDate: new Date(),
    envelope: { mailFrom: 'alice@example.com', rcptTo: ['bob@example.com'] },
    ...targets,
  });
}

export function runDeliveryContract(ctx: ContractContext): void {
  describe('delivery targets', () => {
    it("puts folder 'junk' entries in each user's Junk mailbox, or INBOX without one", async () => {
      const { store } = ctx;
      const { alice, bob, carol } = await setupUsers(store);
      const aliceJunk = (await store.getMailbox(alice.id, 'Junk'))!;
      await store.deleteMailbox((await store.getMailbox(bob.id, 'Junk'))!.id);
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      const woke = new Set<string>();
      const watches = [
        store.watchMailbox(aliceJunk.id, () => woke.add('alice junk')),
        store.watchMailbox(bobInbox.id, () => woke.add('bob inbox')),
      ];
      try {
        const result = await deliverTo(store, { userIds: [alice.id, bob.id, alice.id], folder: 'junk' });
        assert.deepEqual(result.entries, [
          { userId: alice.id, mailboxId: aliceJunk.id, uid: 1 },
          { userId: bob.id, mailboxId: bobInbox.id, uid: 1 },
        ]);
        assert.equal(result.queueId, null);
        await waitFor(() => woke.size === 2, 'watchers of both mailboxes');
      } finally {
        for (const watch of watches) watch.close();
      }
      assert.deepEqual(await store.listEntries((await store.getMailbox(alice.id, 'INBOX'))!.id), []);
      assert.equal((await store.getMailboxById(aliceJunk.id))!.messageCount, 1);
      // 'inbox' is the default and may be said.
      const inboxed = await deliverTo(store, { userIds: [carol.id], folder: 'inbox' });
      assert.equal(inboxed.entries[0]!.mailboxId, (await store.getMailbox(carol.id, 'INBOX'))!.id);
    });

    it('adds copies with their flags after the users, in one transaction and without a quota check', async () => {
      const { store } = ctx;
      const { alice, bob } = await setupUsers(store);
      const sent = (await store.getMailbox(alice.id, 'Sent'))!;
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      await store.setQuota(alice.address, 1);
      const text = 'Subject: to bob\r\n\r\nhello\r\n';
      const woke = new Set<number>();
      const watches = [sent, bobInbox].map((m) => store.watchMailbox(m.id, () => woke.add(m.id)));
      let result;
      try {
        result = await deliverTo(
          store,
          { userIds: [bob.id], copies: [{ mailboxId: sent.id, flags: ['\\seen', 'sent-by-wharf'] }] },
          text,
        );
        await waitFor(() => woke.size === 2, 'watchers of every touched mailbox');
      } finally {
        for (const watch of watches) watch.close();
      }
      assert.deepEqual(result.entries, [
        { userId: bob.id, mailboxId: bobInbox.id, uid: 1 },
        { userId: alice.id, mailboxId: sent.id, uid: 1 },
      ]);
      const [copy] = await store.listEntries(sent.id);
      assert.deepEqual(copy!.flags, ['\\Seen', 'sent-by-wharf']);
      assert.equal(copy!.messageId, result.messageId, 'the copy shares the stored body');
      assert.deepEqual((await store.listEntries(bobInbox.id))[0]!.flags, []);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, text.length, 'counted, though over the quota');
      assert.equal((await store.getMailboxById(sent.id))!.totalBytes, text.length);
      const changes = await store.changesSince(sent.id, 0);
      assert.deepEqual(changes.changed.map((e) => e.uid), [1]);
    });

    it('takes copies alone, several into one mailbox, and refuses a delivery to nowhere', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      const sent = (await store.getMailbox(alice.id, 'Sent'))!;
      const result = await deliverTo(store, {
        userIds: [],
        copies: [
          { mailboxId: sent.id, flags: ['\\Seen'] },
          { mailboxId: inbox.id, flags: [] },
          { mailboxId: sent.id, flags: [] },
        ],
      });
      assert.deepEqual(
        result.entries.map((e) => [e.mailboxId, e.uid]),
        [
          [sent.id, 1],
          [inbox.id, 1],
          [sent.id, 2],
        ],
      );
      assert.deepEqual(
        (await store.listEntries(sent.id)).map((e) => [e.uid, e.flags]),
        [
          [1, ['\\Seen']],
          [2, []],
        ],
      );
      assert.equal((await store.getMailboxById(sent.id))!.uidNext, 3);
      assert.equal((await readAll(store.readBody(result.messageId))).toString(), 'Subject: t\r\n\r\nbody\r\n');
      await rejectsWith(deliverTo(store, { userIds: [] }), 'invalid');
      await rejectsWith(deliverTo(store, { userIds: [], copies: [] }), 'invalid');
    });

    it('stores nothing when a copy or a user is unknown, and refuses bad flags and folders', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setupUsers(store);
      const sent = (await store.getMailbox(alice.id, 'Sent'))!;
      await rejectsWith(deliverTo(store, { userIds: [alice.id], copies: [{ mailboxId: 987_654, flags: [] }] }), 'not-found');
      await rejectsWith(deliverTo(store, { userIds: [987_654], copies: [{ mailboxId: sent.id, flags: [] }] }), 'not-found');
      await rejectsWith(deliverTo(store, { userIds: [bob.id], copies: [{ mailboxId: sent.id, flags: ['\\Bogus'] }] }), 'invalid');
      await rejectsWith(deliverTo(store, { userIds: [bob.id], folder: 'spam' as 'junk' }), 'invalid');
      for (const mailbox of [inbox, sent, (await store.getMailbox(bob.id, 'INBOX'))!]) {
        const now = (await store.getMailboxById(mailbox.id))!;
        assert.equal(now.messageCount, 0);
        assert.equal(now.uidNext, 1);
      }
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);
    });

    it('does not refuse a delivery whose only target is outbound recipients', async () => {
      const { store } = ctx;
      await setupUsers(store);
      const result = await deliverTo(store, {
        userIds: [],
        outbound: { recipients: ['someone@remote.test'], senderUserId: null, eightBit: false, smtputf8: false },
      });
      assert.deepEqual(result.entries, []);
    });
  });
}
