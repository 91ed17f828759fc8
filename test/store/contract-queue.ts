/**
 * Store contract, QueueStore: the outbound queue. Messages enter through deliver with
 * `outbound` (atomically with local entries), are claimed with a lease, and leave when every
 * recipient is delivered or bounced. Some tests open a second store on the same data (another
 * process, another node) through `openPeer`.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DeliveryRequest, OutboundRequest, QueuedMessage, Store } from '../../src/store/types.js';
import type { StoreFixture } from './contract.js';
import { bodyOf, readAll, rejectsWith, setupUsers, sleep, waitFor } from './helpers.js';

export interface QueueFixture extends StoreFixture {
  /** Another store on the same data; the fixture's cleanup closes it. */
  openPeer(): Promise<Store>;
}

export type OpenQueueStores = () => Promise<QueueFixture>;

const HOUR = 60 * 60 * 1000;
const LEASE = 60_000;

/** Queues `text` for remote `recipients` (and the INBOX of `userIds`), from sender@local.example. */
async function enqueue(
  store: Store,
  recipients: string[],
  options: Partial<OutboundRequest> & { userIds?: number[]; text?: string; mailFrom?: string } = {},
) {
  const text = options.text ?? 'Subject: out\r\n\r\nhello there\r\n';
  const request: DeliveryRequest = {
    body: await bodyOf(store, text),
    internalDate: new Date(),
    envelope: { mailFrom: options.mailFrom ?? 'sender@local.example', rcptTo: recipients },
    userIds: options.userIds ?? [],
    outbound: {
      recipients,
      senderUserId: options.senderUserId ?? null,
      eightBit: options.eightBit ?? false,
      smtputf8: options.smtputf8 ?? false,
      notBefore: options.notBefore,
    },
  };
  const result = await store.deliver(request);
  assert.ok(result.queueId !== null, 'deliver with outbound returns a queue id');
  return { ...result, queueId: result.queueId, size: Buffer.byteLength(text) };
}

const statuses = (m: QueuedMessage | null) => m?.recipients.map((r) => `${r.address}:${r.status}`);

export function runQueueContract(backend: string, open: OpenQueueStores): void {
  describe(`QueueStore contract: ${backend}`, () => {
    let fixture: QueueFixture | null = null;
    const store = (): Store => {
      assert.ok(fixture, 'no store open');
      return fixture.store;
    };
    beforeEach(async () => {
      fixture = await open();
    });
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = null;
    });

    describe('enqueue through deliver', () => {
      it('queues every recipient once, with the message facts, beside the local entries', async () => {
        const s = store();
        const { alice, inbox } = await setupUsers(s);
        const before = Date.now();
        const result = await enqueue(s, ['Bob@Remote.EXAMPLE', 'carol@other.example', 'Bob@remote.example'], {
          userIds: [alice.id],
          senderUserId: alice.id,
          eightBit: true,
          smtputf8: true,
        });
        assert.equal(result.entries.length, 1);
        assert.equal((await s.listEntries(inbox.id)).length, 1);
        const queued = (await s.getQueued(result.queueId))!;
        assert.equal(queued.id, result.queueId);
        assert.equal(queued.messageId, result.messageId);
        assert.equal(queued.mailFrom, 'sender@local.example');
        assert.equal(queued.senderUserId, alice.id);
        assert.equal(queued.eightBit, true);
        assert.equal(queued.smtputf8, true);
        assert.equal(queued.size, result.size);
        assert.equal(queued.delayNotified, false);
        assert.ok(Math.abs(queued.createdAt.getTime() - before) < 60_000, 'createdAt is about now');
        assert.deepEqual(
          queued.recipients.map((r) => [r.address, r.domain, r.status, r.attempts, r.lastAttemptAt, r.lastReply, r.dsnSent]),
          [
            ['Bob@remote.example', 'remote.example', 'pending', 0, null, null, false],
            ['carol@other.example', 'other.example', 'pending', 0, null, null, false],
          ],
        );
        for (const r of queued.recipients) assert.ok(r.nextAttemptAt.getTime() <= Date.now() + 1000, 'due at once');
        assert.deepEqual(await s.listQueue(), [queued]);
        const due = await s.nextDue();
        assert.ok(due && due.getTime() === queued.recipients[0]!.nextAttemptAt.getTime());

        const local = await s.deliver({
          body: await bodyOf(s, 'x'),
          internalDate: new Date(),
          envelope: { mailFrom: '', rcptTo: [] },
          userIds: [alice.id],
        });
        assert.equal(local.queueId, null, 'no queue id without outbound');
      });

      it('queues a message for remote recipients only, and keeps its body while it waits', async () => {
        const s = store();
        await setupUsers(s);
        const text = 'Subject: only remote\r\n\r\nbody\r\n';
        const result = await enqueue(s, ['x@remote.example'], { text, mailFrom: '' });
        assert.deepEqual(result.entries, []);
        assert.equal((await s.getQueued(result.queueId))!.mailFrom, '');
        assert.equal((await readAll(s.readBody(result.messageId))).toString(), text);
        assert.equal((await s.getMessage(result.messageId))!.headers.subject, 'only remote');
      });

      it('honours notBefore', async () => {
        const s = store();
        await setupUsers(s);
        const later = new Date(Date.now() + HOUR);
        const { queueId } = await enqueue(s, ['x@remote.example'], { notBefore: later });
        assert.equal((await s.getQueued(queueId))!.recipients[0]!.nextAttemptAt.getTime(), later.getTime());
        assert.deepEqual(await s.claimDue('w', new Date(), 10, LEASE), []);
        assert.equal((await s.claimDue('w', new Date(later.getTime() + 1), 10, LEASE)).length, 1);
      });

      it('is atomic with the local entries: a failed delivery leaves no queue rows and no entries', async () => {
        const s = store();
        const { alice, inbox } = await setupUsers(s);
        await rejectsWith(enqueue(s, ['x@remote.example'], { userIds: [alice.id, 987654] }), 'not-found');
        await rejectsWith(enqueue(s, ['x@remote.example'], { userIds: [alice.id], senderUserId: 987654 }), 'not-found');
        await rejectsWith(enqueue(s, ['not an address'], { userIds: [alice.id] }), 'invalid');
        await rejectsWith(enqueue(s, [], { userIds: [alice.id] }), 'invalid');
        assert.deepEqual(await s.listQueue(), []);
        assert.equal(await s.nextDue(), null);
        assert.deepEqual(await s.listEntries(inbox.id), []);
        // Without outbound a delivery still needs a user.
        await rejectsWith(
          s.deliver({ body: await bodyOf(s, 'x'), internalDate: new Date(), envelope: { mailFrom: '', rcptTo: [] }, userIds: [] }),
          'invalid',
        );
      });

      it("forgets a removed sender (its DSNs then go to the envelope sender)", async () => {
        const s = store();
        const { bob } = await setupUsers(s);
        const { queueId } = await enqueue(s, ['x@remote.example'], { senderUserId: bob.id });
        await s.removeUser('bob@example.com');
        assert.equal((await s.getQueued(queueId))!.senderUserId, null);
      });
    });

    describe('claims and leases', () => {
      it('leases due messages to one owner, oldest due first, up to the limit', async () => {
        const s = store();
        await setupUsers(s);
        const now = Date.now();
        const late = await enqueue(s, ['a@remote.example'], { notBefore: new Date(now - 1000) });
        const early = await enqueue(s, ['b@remote.example'], { notBefore: new Date(now - 5000) });
        const future = await enqueue(s, ['c@remote.example'], { notBefore: new Date(now + HOUR) });
        const claimed = await s.claimDue('node-a', new Date(now), 1, LEASE);
        assert.deepEqual(claimed.map((m) => m.id), [early.queueId]);
        assert.deepEqual(claimed[0]!.recipients.map((r) => r.address), ['b@remote.example']);
        const rest = await s.claimDue('node-b', new Date(now), 10, LEASE);
        assert.deepEqual(rest.map((m) => m.id), [late.queueId], 'a leased message is not claimed again');
        assert.deepEqual(await s.claimDue('node-c', new Date(now), 10, LEASE), []);
        assert.deepEqual(await s.claimDue('node-c', new Date(now), 0, LEASE), []);
        // nextDue counts leased recipients too.
        assert.equal((await s.nextDue())!.getTime(), now - 5000);
        assert.ok(future.queueId > 0);
        await rejectsWith(s.claimDue('', new Date(now), 1, LEASE), 'invalid');
        await rejectsWith(s.claimDue('x', new Date(now), 1, 0), 'invalid');
      });

      it('renews only for the owner; an expired lease goes to the next claimer and the old owner cannot record', async () => {
        const s = store();
        await setupUsers(s);
        const { queueId } = await enqueue(s, ['a@remote.example']);
        assert.equal((await s.claimDue('node-a', new Date(), 10, 300)).length, 1);
        assert.equal(await s.renewClaim(queueId, 'node-a', 300), true);
        assert.equal(await s.renewClaim(queueId, 'node-b', 300), false);
        assert.equal(await s.renewClaim(987654, 'node-a', 300), false);
        assert.deepEqual(await s.claimDue('node-b', new Date(), 10, LEASE), [], 'still leased');
        await sleep(450);
        const taken = await s.claimDue('node-b', new Date(), 10, LEASE);
        assert.deepEqual(taken.map((m) => m.id), [queueId], 'taken over after expiry');
        assert.equal(await s.renewClaim(queueId, 'node-a', 300), false, 'the lease was lost');
        await rejectsWith(
          s.recordAttempts(queueId, 'node-a', [{ address: 'a@remote.example', outcome: 'delivered', reply: '250 ok' }]),
          'conflict',
        );
        const queued = (await s.getQueued(queueId))!;
        assert.equal(queued.recipients[0]!.status, 'pending', 'nothing recorded');
        assert.equal(queued.recipients[0]!.attempts, 0);
      });

      it('never gives one message to two stores on the same database', async () => {
        const s = store();
        await setupUsers(s);
        const peer = await fixture!.openPeer();
        const ids = [];
        for (let i = 0; i < 24; i++) ids.push((await enqueue(s, [`r${i}@remote.example`])).queueId);
        const claimedBy = new Map<number, string>();
        const drain = async (owner: string, from: Store) => {
          for (;;) {
            const batch = await from.claimDue(owner, new Date(), 3, LEASE);
            if (batch.length === 0) return;
            for (const m of batch) {
              assert.equal(claimedBy.get(m.id), undefined, `message ${m.id} claimed by ${claimedBy.get(m.id)} and ${owner}`);
              claimedBy.set(m.id, owner);
            }
          }
        };
        await Promise.all([drain('a1', s), drain('b1', peer), drain('a2', s), drain('b2', peer)]);
        assert.deepEqual([...claimedBy.keys()].sort((x, y) => x - y), ids);
      });
    });

    describe('recordAttempts', () => {
      it('records outcomes, keeps unnamed recipients, releases, and removes the message when done', async () => {
        const s = store();
        await setupUsers(s);
        const rcpts = ['a@one.example', 'b@one.example', 'c@two.example', 'd@two.example'];
        const { queueId, messageId } = await enqueue(s, rcpts);
        await s.claimDue('w1', new Date(), 10, LEASE);
        const retryAt = new Date(Date.now() + HOUR);
        await s.recordAttempts(
          queueId,
          'w1',
          [
            { address: 'a@one.example', outcome: 'delivered', reply: '250 2.0.0 ok' },
            { address: 'b@one.example', outcome: 'bounced', reply: '550 5.1.1 <b@one.example>: user unknown' },
            { address: 'c@two.example', outcome: 'deferred', reply: '451 4.7.1 greylisted', nextAttemptAt: retryAt },
          ],
          { release: true },
        );
        let queued = (await s.getQueued(queueId))!;
        assert.deepEqual(statuses(queued), ['a@one.example:delivered', 'b@one.example:bounced', 'c@two.example:pending', 'd@two.example:pending']);
        assert.deepEqual(queued.recipients.map((r) => r.attempts), [1, 1, 1, 0]);
        assert.deepEqual(queued.recipients.map((r) => r.lastReply), [
          '250 2.0.0 ok',
          '550 5.1.1 <b@one.example>: user unknown',
          '451 4.7.1 greylisted',
          null,
        ]);
        assert.ok(queued.recipients[0]!.lastAttemptAt instanceof Date);
        assert.equal(queued.recipients[3]!.lastAttemptAt, null);
        assert.equal(queued.recipients[2]!.nextAttemptAt.getTime(), retryAt.getTime());

        // Released: another owner takes it at once for d, which is still due.
        const again = await s.claimDue('w2', new Date(), 10, LEASE);
        assert.deepEqual(again.map((m) => m.id), [queueId]);
        await rejectsWith(s.recordAttempts(queueId, 'w1', []), 'conflict');
        await s.recordAttempts(queueId, 'w2', [{ address: 'd@two.example', outcome: 'delivered', reply: '250 ok' }]);
        // Not released: still w2's, c not due until retryAt.
        assert.deepEqual(await s.claimDue('w3', new Date(retryAt.getTime() + 1), 10, LEASE), []);
        assert.equal((await s.nextDue())!.getTime(), retryAt.getTime());
        await s.recordAttempts(queueId, 'w2', [{ address: 'c@two.example', outcome: 'delivered', reply: '250 ok' }]);

        assert.equal(await s.getQueued(queueId), null, 'left the queue once every recipient is final');
        assert.deepEqual(await s.listQueue(), []);
        assert.equal(await s.nextDue(), null);
        assert.equal(await s.getMessage(messageId), null, 'no mailbox entry uses the body: it went too');
        await rejectsWith(s.recordAttempts(queueId, 'w2', []), 'conflict');
      });

      it('keeps a body that a mailbox entry still uses, and keeps a queued body when its entry is expunged', async () => {
        const s = store();
        const { alice, inbox } = await setupUsers(s);
        const first = await enqueue(s, ['a@remote.example'], { userIds: [alice.id], text: 'Subject: one\r\n\r\n1\r\n' });
        await s.claimDue('w', new Date(), 10, LEASE);
        await s.recordAttempts(first.queueId, 'w', [{ address: 'a@remote.example', outcome: 'bounced', reply: '550 no' }]);
        assert.equal(await s.getQueued(first.queueId), null);
        assert.equal((await readAll(s.readBody(first.messageId))).toString(), 'Subject: one\r\n\r\n1\r\n');

        const second = await enqueue(s, ['a@remote.example'], { userIds: [alice.id], text: 'Subject: two\r\n\r\n2\r\n' });
        await s.expunge(inbox.id, [second.entries[0]!.uid]);
        assert.equal((await readAll(s.readBody(second.messageId))).toString(), 'Subject: two\r\n\r\n2\r\n', 'still queued');
        await s.claimDue('w', new Date(), 10, LEASE);
        await s.recordAttempts(second.queueId, 'w', [{ address: 'a@remote.example', outcome: 'delivered', reply: '250 ok' }]);
        assert.equal(await s.getMessage(second.messageId), null);
      });

      it('refuses bad results without recording anything', async () => {
        const s = store();
        await setupUsers(s);
        const { queueId } = await enqueue(s, ['a@remote.example']);
        await s.claimDue('w', new Date(), 10, LEASE);
        await rejectsWith(s.recordAttempts(queueId, 'w', [{ address: 'a@remote.example', outcome: 'deferred', reply: '451' }]), 'invalid');
        await rejectsWith(
          s.recordAttempts(queueId, 'w', [{ address: 'a@remote.example', outcome: 'gone' as 'delivered', reply: '' }]),
          'invalid',
        );
        assert.equal((await s.getQueued(queueId))!.recipients[0]!.attempts, 0);
        // A reply may hold anything a peer sent.
        await s.recordAttempts(queueId, 'w', [
          { address: 'a@remote.example', outcome: 'deferred', reply: '451 odd\u0000reply \u00e9', nextAttemptAt: new Date() },
        ]);
        assert.equal((await s.getQueued(queueId))!.recipients[0]!.lastReply, '451 oddreply \u00e9');
      });
    });

    describe('administration', () => {
      it('retryNow makes pending recipients due now, for one message or all', async () => {
        const s = store();
        await setupUsers(s);
        const later = new Date(Date.now() + HOUR);
        const one = await enqueue(s, ['a@remote.example', 'b@remote.example'], { notBefore: later });
        const two = await enqueue(s, ['c@remote.example'], { notBefore: later });
        assert.equal(await s.retryNow(one.queueId), 2);
        assert.deepEqual((await s.claimDue('w', new Date(), 10, LEASE)).map((m) => m.id), [one.queueId]);
        assert.equal(await s.retryNow(987654), 0);
        assert.equal(await s.retryNow(), 3);
        assert.deepEqual((await s.claimDue('w2', new Date(), 10, LEASE)).map((m) => m.id), [two.queueId]);
      });

      it('"due now" is never later than a claim made at the same millisecond (fresh, retried, released)', async () => {
        // The node asks with whole milliseconds; a due time the store keeps finer than that
        // would miss a claim made in the same millisecond. Claiming at exactly the time the
        // store reports shows it, whatever the machine's speed.
        const s = store();
        await setupUsers(s);
        const dueAt = async (queueId: number) => (await s.getQueued(queueId))!.recipients[0]!.nextAttemptAt;
        const claimAt = async (owner: string, at: Date) => (await s.claimDue(owner, at, 10, LEASE)).map((m) => m.id);

        const fresh = await enqueue(s, ['a@remote.example']);
        assert.deepEqual(await claimAt('w1', await dueAt(fresh.queueId)), [fresh.queueId]);

        const retried = await enqueue(s, ['b@remote.example'], { notBefore: new Date(Date.now() + HOUR) });
        assert.equal(await s.retryNow(retried.queueId), 1);
        assert.deepEqual(await claimAt('w2', await dueAt(retried.queueId)), [retried.queueId]);

        const held = await enqueue(s, ['c@remote.example'], { notBefore: new Date(Date.now() + HOUR) });
        assert.equal(await s.setHeld(held.queueId, true), 1);
        assert.equal(await s.setHeld(held.queueId, false), 1);
        assert.deepEqual(await claimAt('w3', await dueAt(held.queueId)), [held.queueId]);
      });

      it('setHeld holds pending recipients (kept, never due) and releases them due now', async () => {
        const s = store();
        await setupUsers(s);
        const { queueId } = await enqueue(s, ['a@remote.example', 'b@remote.example'], { notBefore: new Date(Date.now() + HOUR) });
        assert.equal(await s.setHeld(queueId, true), 2);
        assert.equal(await s.setHeld(queueId, true), 0);
        assert.deepEqual(statuses(await s.getQueued(queueId)), ['a@remote.example:held', 'b@remote.example:held']);
        assert.equal(await s.nextDue(), null);
        assert.deepEqual(await s.claimDue('w', new Date(Date.now() + 2 * HOUR), 10, LEASE), []);
        assert.equal(await s.retryNow(queueId), 0, 'held recipients are not retried');
        assert.equal(await s.setHeld(queueId, false), 2);
        assert.deepEqual(statuses(await s.getQueued(queueId)), ['a@remote.example:pending', 'b@remote.example:pending']);
        assert.equal((await s.claimDue('w', new Date(), 10, LEASE)).length, 1, 'due at once after release');
        // Held while an attempt runs: a deferral leaves it held, a final outcome is final.
        assert.equal(await s.setHeld(queueId, true), 2);
        const retry = new Date(Date.now() + HOUR);
        await s.recordAttempts(queueId, 'w', [
          { address: 'a@remote.example', outcome: 'deferred', reply: '421 busy', nextAttemptAt: retry },
          { address: 'b@remote.example', outcome: 'delivered', reply: '250 ok' },
        ], { release: true });
        assert.deepEqual(statuses(await s.getQueued(queueId)), ['a@remote.example:held', 'b@remote.example:delivered']);
        assert.equal(await s.setHeld(987654, false), 0);
      });

      it('deleteQueued removes a message without touching local copies', async () => {
        const s = store();
        const { alice, inbox } = await setupUsers(s);
        const kept = await enqueue(s, ['a@remote.example'], { userIds: [alice.id] });
        const dropped = await enqueue(s, ['b@remote.example']);
        await s.claimDue('w', new Date(), 10, LEASE);
        assert.equal(await s.deleteQueued(kept.queueId), true);
        assert.equal(await s.deleteQueued(kept.queueId), false);
        assert.equal(await s.deleteQueued(dropped.queueId), true);
        assert.deepEqual(await s.listQueue(), []);
        assert.equal((await s.listEntries(inbox.id)).length, 1);
        assert.ok(await s.getMessage(kept.messageId), 'the INBOX copy keeps its body');
        assert.equal(await s.getMessage(dropped.messageId), null);
        await rejectsWith(s.recordAttempts(kept.queueId, 'w', []), 'conflict');
      });

      it('markNotified records DSNs per recipient and the delay notice', async () => {
        const s = store();
        await setupUsers(s);
        const { queueId } = await enqueue(s, ['a@remote.example', 'b@remote.example']);
        await s.markNotified(queueId, { dsnFor: ['b@remote.example'] });
        await s.markNotified(queueId, { delayNotified: true });
        const queued = (await s.getQueued(queueId))!;
        assert.deepEqual(queued.recipients.map((r) => r.dsnSent), [false, true]);
        assert.equal(queued.delayNotified, true);
        await s.markNotified(987654, { delayNotified: true });
      });
    });

    describe('restoreQueued', () => {
      it('recreates a queued message with its recipients\' states, unclaimed', async () => {
        const s = store();
        const { alice } = await setupUsers(s);
        const created = new Date(Date.now() - 3 * HOUR);
        const tried = new Date(Date.now() - HOUR);
        const next = new Date(Date.now() + HOUR);
        const text = 'Subject: restored\r\n\r\nstill waiting\r\n';
        const queued = await s.restoreQueued({
          body: await bodyOf(s, text),
          mailFrom: 'alice@example.com',
          senderUserId: alice.id,
          eightBit: true,
          smtputf8: false,
          createdAt: created,
          delayNotified: true,
          recipients: [
            { address: 'a@one.example', status: 'delivered', attempts: 1, nextAttemptAt: created, lastAttemptAt: tried, lastReply: '250 ok', dsnSent: false },
            { address: 'b@two.example', status: 'pending', attempts: 3, nextAttemptAt: next, lastAttemptAt: tried, lastReply: '451 later', dsnSent: true },
            { address: 'c@two.example', status: 'held', attempts: 0, nextAttemptAt: created, lastAttemptAt: null, lastReply: null, dsnSent: false },
          ],
        });
        assert.deepEqual(await s.getQueued(queued.id), queued);
        assert.equal(queued.createdAt.getTime(), created.getTime());
        assert.equal(queued.delayNotified, true);
        assert.equal(queued.senderUserId, alice.id);
        assert.equal(queued.eightBit, true);
        assert.equal(queued.size, Buffer.byteLength(text));
        assert.deepEqual(
          queued.recipients.map((r) => [r.address, r.domain, r.status, r.attempts, r.nextAttemptAt.getTime(), r.lastAttemptAt?.getTime() ?? null, r.lastReply, r.dsnSent]),
          [
            ['a@one.example', 'one.example', 'delivered', 1, created.getTime(), tried.getTime(), '250 ok', false],
            ['b@two.example', 'two.example', 'pending', 3, next.getTime(), tried.getTime(), '451 later', true],
            ['c@two.example', 'two.example', 'held', 0, created.getTime(), null, null, false],
          ],
        );
        assert.equal((await readAll(s.readBody(queued.messageId))).toString(), text);
        assert.equal((await s.nextDue())!.getTime(), next.getTime());
        assert.deepEqual((await s.claimDue('w', new Date(next.getTime()), 10, LEASE)).map((m) => m.id), [queued.id]);
      });

      it('shares a message already stored, and refuses what cannot be queued, storing nothing', async () => {
        const s = store();
        const { alice, inbox } = await setupUsers(s);
        const local = await s.deliver({
          body: await bodyOf(s, 'Subject: sent copy\r\n\r\nx\r\n'),
          internalDate: new Date(),
          envelope: { mailFrom: 'alice@example.com', rcptTo: [] },
          userIds: [alice.id],
        });
        const base = {
          mailFrom: 'alice@example.com',
          senderUserId: null,
          eightBit: false,
          smtputf8: false,
          createdAt: new Date(),
          delayNotified: false,
        };
        const pending = { address: 'a@one.example', status: 'pending' as const, attempts: 0, nextAttemptAt: new Date(), lastAttemptAt: null, lastReply: null, dsnSent: false };
        await rejectsWith(s.restoreQueued({ ...base, body: { messageId: 987654 }, recipients: [pending] }), 'not-found');
        await rejectsWith(s.restoreQueued({ ...base, senderUserId: 987654, body: { messageId: local.messageId }, recipients: [pending] }), 'not-found');
        await rejectsWith(
          s.restoreQueued({ ...base, body: { messageId: local.messageId }, recipients: [{ ...pending, status: 'delivered' }] }),
          'invalid',
        );
        await rejectsWith(s.restoreQueued({ ...base, body: { messageId: local.messageId }, recipients: [] }), 'invalid');
        assert.deepEqual(await s.listQueue(), []);

        const queued = await s.restoreQueued({ ...base, body: { messageId: local.messageId }, recipients: [pending] });
        assert.equal(queued.messageId, local.messageId);
        await s.expunge(inbox.id, [local.entries[0]!.uid]);
        assert.ok(await s.getMessage(local.messageId), 'the queue keeps the shared body');
        await s.claimDue('w', new Date(), 10, LEASE);
        await s.recordAttempts(queued.id, 'w', [{ address: 'a@one.example', outcome: 'delivered', reply: '250 ok' }]);
        assert.equal(await s.getMessage(local.messageId), null);
      });
    });

    describe('watchQueue', () => {
      it('wakes watchers in this store and in another store on the same data, until closed', async () => {
        const s = store();
        await setupUsers(s);
        const peer = await fixture!.openPeer();
        let local = 0;
        let remote = 0;
        const watch = s.watchQueue(() => local++);
        const peerWatch = peer.watchQueue(() => remote++);
        const { queueId } = await enqueue(s, ['a@remote.example'], { notBefore: new Date(Date.now() + HOUR) });
        await waitFor(() => local >= 1, 'a local call after queueing');
        await waitFor(() => remote >= 1, "the other store's call after queueing");
        let [l, r] = [local, remote];
        await peer.retryNow(queueId);
        await waitFor(() => local > l && remote > r, 'calls after retryNow');
        await peer.setHeld(queueId, true);
        [l, r] = [local, remote];
        await peer.setHeld(queueId, false);
        await waitFor(() => local > l && remote > r, 'calls after a release');
        watch.close();
        peerWatch.close();
        [l, r] = [local, remote];
        await enqueue(s, ['b@remote.example']);
        await sleep(400);
        assert.deepEqual([local, remote], [l, r], 'no calls after close');
      });
    });
  });
}
