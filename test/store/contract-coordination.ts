/** Store contract, CoordinationStore: mailbox watchers and leases. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contractSuite, type OpenStore } from './contract.js';
import { deliverText, setupUsers, sleep, waitFor } from './helpers.js';

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
  });
}
