/** Store contract, CoordinationStore: mailbox watchers, leases and shared counters. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contractSuite, type OpenStore } from './contract.js';
import { deliverText, rejectsWith, setupUsers, sleep, waitFor } from './helpers.js';

export function runCoordinationContract(backend: string, open: OpenStore): void {
  contractSuite(`CoordinationStore contract: ${backend}`, open, (ctx) => {
    describe('watchMailbox', () => {
      it('fires after deliver, setFlags and expunge, and stops when closed', async () => {
        const { store } = ctx;
        const { alice, bob, inbox } = await setupUsers(store);
        let calls = 0;
        const watch = store.watchMailbox(inbox.id, () => calls++);
        let otherCalls = 0;
        const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
        const otherWatch = store.watchMailbox(bobInbox.id, () => otherCalls++);

        await deliverText(store, [alice.id], 'hello');
        await waitFor(() => calls >= 1, 'a call after deliver');
        let seen = calls;
        await store.setFlags(inbox.id, [1], 'add', ['\\Seen']);
        await waitFor(() => calls > seen, 'a call after setFlags');
        seen = calls;
        await store.expunge(inbox.id, [1]);
        await waitFor(() => calls > seen, 'a call after expunge');

        watch.close();
        watch.close();
        seen = calls;
        await deliverText(store, [alice.id], 'after close');
        await sleep(400);
        assert.equal(calls, seen, 'no calls after close');
        // The other watch is independent and still works.
        const otherSeen = otherCalls;
        await deliverText(store, [bob.id], 'for bob');
        await waitFor(() => otherCalls > otherSeen, 'the other watcher');
        otherWatch.close();
      });
    });

    describe('claimRecent', () => {
      it('gives each UID to one claimer only, never goes down, and refuses an unknown mailbox', async () => {
        const { store } = ctx;
        const { alice, inbox } = await setupUsers(store);
        for (let i = 0; i < 3; i++) await deliverText(store, [alice.id], `m${i}`);
        assert.equal(await store.claimRecent(inbox.id, 2), 0, 'nothing claimed yet: 1 and 2 are the caller\'s');
        assert.equal(await store.claimRecent(inbox.id, 3), 2, 'only 3 is new for the second claimer');
        assert.equal(await store.claimRecent(inbox.id, 3), 3, 'nothing left');
        assert.equal(await store.claimRecent(inbox.id, 1), 3, 'a lower claim changes nothing');
        // Concurrent claimers of the same new UIDs: exactly one gets them.
        await deliverText(store, [alice.id], 'm3');
        const answers = await Promise.all([store.claimRecent(inbox.id, 4), store.claimRecent(inbox.id, 4), store.claimRecent(inbox.id, 4)]);
        assert.deepEqual(answers.sort(), [3, 4, 4]);
        await assert.rejects(store.claimRecent(987654, 1), (err: Error & { code?: string }) => err.code === 'not-found');
      });
    });

    // What a node's readiness endpoint asks: a load balancer must stop sending work to a node
    // whose store is unusable.
    describe('checkHealth', () => {
      it('resolves on an open store and rejects once it is closed, with a message saying why', async () => {
        const { store } = ctx;
        await store.checkHealth();
        await store.checkHealth();
        await store.close();
        await assert.rejects(store.checkHealth(), (err: Error) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.length > 0);
          return true;
        });
      });
    });

    describe('leases', () => {
      it('is exclusive between owners and re-entrant for the holder', async () => {
        const { store } = ctx;
        assert.equal(await store.acquireLease('pop3:alice', 'node-a', 10_000), true);
        assert.equal(await store.acquireLease('pop3:alice', 'node-b', 10_000), false);
        assert.equal(await store.acquireLease('pop3:alice', 'node-a', 10_000), true);
        assert.equal(await store.acquireLease('pop3:bob', 'node-b', 10_000), true, 'names are independent');
        await store.releaseLease('pop3:alice', 'node-b'); // not the holder: no effect
        assert.equal(await store.acquireLease('pop3:alice', 'node-b', 10_000), false);
        await store.releaseLease('pop3:alice', 'node-a');
        assert.equal(await store.acquireLease('pop3:alice', 'node-b', 10_000), true);
      });

      it('expires after its ttl unless renewed', async () => {
        const { store } = ctx;
        // Lengths leave room for each store call taking 100+ ms on a loaded machine.
        assert.equal(await store.acquireLease('l1', 'a', 600), true);
        assert.equal(await store.renewLease('l1', 'b', 10_000), false, 'only the holder renews');
        await sleep(200);
        assert.equal(await store.renewLease('l1', 'a', 1500), true);
        await sleep(700);
        assert.equal(await store.acquireLease('l1', 'b', 10_000), false, 'the renewal kept it');
        await sleep(1000);
        assert.equal(await store.acquireLease('l1', 'b', 10_000), true, 'expired leases can be taken');
        assert.equal(await store.renewLease('l1', 'a', 10_000), false, 'the old holder lost it');
        assert.equal(await store.acquireLease('l1', 'a', 10_000), false);
      });
    });

    describe('counters', () => {
      it('counts events per name, peeks without counting and forgets on reset', async () => {
        const { store } = ctx;
        assert.equal(await store.peekCounter('login:alice'), 0);
        assert.equal(await store.hitCounter('login:alice', 60_000), 1);
        assert.equal(await store.hitCounter('login:alice', 60_000), 2);
        assert.equal(await store.hitCounter('login:bob', 60_000), 1, 'names are independent');
        assert.equal(await store.hitCounter('login:alice', 60_000), 3);
        assert.equal(await store.peekCounter('login:alice'), 3);
        assert.equal(await store.peekCounter('login:alice'), 3, 'peeking does not count');
        await store.resetCounter('login:alice');
        await store.resetCounter('never-seen');
        assert.equal(await store.peekCounter('login:alice'), 0);
        assert.equal(await store.hitCounter('login:alice', 60_000), 1);
        assert.equal(await store.peekCounter('login:bob'), 1);
        await rejectsWith(store.hitCounter('', 1000), 'invalid');
        await rejectsWith(store.hitCounter('x', 0), 'invalid');
        await rejectsWith(store.hitCounter('x', Number.NaN), 'invalid');
        await rejectsWith(store.peekCounter(''), 'invalid');
      });

      it('keeps a fixed window from the first event, then starts a new one', async () => {
        const { store } = ctx;
        // Lengths leave room for each store call taking 100+ ms on a loaded machine.
        assert.equal(await store.hitCounter('conn:192.0.2.1', 1500), 1);
        await sleep(700);
        assert.equal(await store.hitCounter('conn:192.0.2.1', 1500), 2, 'inside the window');
        await sleep(900);
        assert.equal(await store.peekCounter('conn:192.0.2.1'), 0, 'the window ended 1.5 s after its first event');
        assert.equal(await store.hitCounter('conn:192.0.2.1', 1500), 1, 'a new window');
      });

      it('is shared by every store instance on the database', async () => {
        const { store } = ctx;
        const other = await ctx.openAnother();
        assert.equal(await store.hitCounter('auth:203.0.113.9', 60_000), 1);
        assert.equal(await other.hitCounter('auth:203.0.113.9', 60_000), 2);
        assert.equal(await store.peekCounter('auth:203.0.113.9'), 2);
        const counts = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).hitCounter('auth:203.0.113.9', 60_000)),
        );
        assert.deepEqual(
          counts.sort((a, b) => a - b),
          Array.from({ length: 10 }, (_, i) => i + 3),
          'concurrent hits from both get distinct counts',
        );
        await other.resetCounter('auth:203.0.113.9');
        assert.equal(await store.peekCounter('auth:203.0.113.9'), 0);
      });
    });
  });
}
