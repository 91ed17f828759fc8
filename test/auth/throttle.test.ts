import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { createAuthThrottle } from '../../src/net/auth-throttle.js';
import { createAuthenticator } from '../../src/net/authenticator.js';
import { MemoryCounters, testClock } from '../helpers/memory-counters.js';
import { openTestStore } from '../helpers/test-store.js';

const config = { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 15_000, windowMs: 15 * 60_000 };

function make(cfg = config) {
  const c = testClock();
  const counters = new MemoryCounters(c.now);
  return { clock: c, counters, throttle: createAuthThrottle(cfg, counters) };
}

describe('auth throttle', () => {
  it('lets the first failures through, then doubles the delay up to the cap', async () => {
    const { clock, throttle } = make();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      delays.push(await throttle.recordFailure('192.0.2.1'));
      clock.advance(delays[i]);
    }
    assert.deepEqual(delays, [0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it('makes attempts during a delay owe it too, until it has passed', async () => {
    const { clock, throttle } = make({ ...config, freeFailures: 0 });
    assert.equal(await throttle.pendingDelay('192.0.2.1'), 0);
    assert.equal(await throttle.recordFailure('192.0.2.1'), 250);
    assert.equal(await throttle.pendingDelay('192.0.2.1'), 250);
    clock.advance(100);
    // The shared counters know the count, not the time left: the whole delay is owed.
    assert.equal(await throttle.pendingDelay('192.0.2.1'), 250);
    clock.advance(150);
    assert.equal(await throttle.pendingDelay('192.0.2.1'), 0);
  });

  it('keeps addresses apart', async () => {
    const { throttle } = make({ ...config, freeFailures: 0 });
    await throttle.recordFailure('192.0.2.1');
    await throttle.recordFailure('192.0.2.1');
    assert.equal(await throttle.pendingDelay('192.0.2.1'), 500);
    assert.equal(await throttle.pendingDelay('192.0.2.2'), 0);
    assert.equal(await throttle.recordFailure('192.0.2.2'), 250);
  });

  it('counts failures against the account too, from whatever address', async () => {
    const { clock, throttle } = make();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(await throttle.recordFailure(`198.51.100.${i}`, 'bob@hamburger.edu'));
      clock.advance(delays[i]);
    }
    assert.deepEqual(delays, [0, 0, 0, 250, 500, 1000]);
    // Another account from a fresh address is not slowed down.
    assert.equal(await throttle.recordFailure('198.51.100.99', 'carol@hamburger.edu'), 0);
    // Bob's account owes its delay to a new address as well, while the delay runs.
    await throttle.recordFailure('198.51.100.50', 'bob@hamburger.edu');
    assert.equal(await throttle.pendingDelay('203.0.113.1', 'bob@hamburger.edu'), 2000);
    assert.equal(await throttle.pendingDelay('203.0.113.1', 'carol@hamburger.edu'), 0);
  });

  it('forgets the count once its window has passed', async () => {
    const { clock, throttle } = make();
    for (let i = 0; i < 6; i++) await throttle.recordFailure('192.0.2.1');
    assert.ok((await throttle.pendingDelay('192.0.2.1')) > 0);
    clock.advance(config.windowMs - 1);
    // Still inside the window: the next failure keeps escalating.
    assert.equal(await throttle.recordFailure('192.0.2.1'), 2000);
    clock.advance(config.windowMs);
    assert.equal(await throttle.pendingDelay('192.0.2.1'), 0);
    assert.equal(await throttle.recordFailure('192.0.2.1'), 0, 'counting starts over');
  });

  it('a success clears the address and the account', async () => {
    const { throttle } = make();
    for (let i = 0; i < 5; i++) await throttle.recordFailure('192.0.2.1', 'bob@hamburger.edu');
    await throttle.recordSuccess('192.0.2.1', 'bob@hamburger.edu');
    assert.equal(await throttle.pendingDelay('192.0.2.1', 'bob@hamburger.edu'), 0);
    assert.equal(await throttle.recordFailure('192.0.2.1', 'bob@hamburger.edu'), 0);
  });

  it('a success after no failure writes nothing to the store', async () => {
    const { counters, throttle } = make();
    const resets: string[] = [];
    const reset = counters.resetCounter.bind(counters);
    counters.resetCounter = (name) => {
      resets.push(name);
      return reset(name);
    };
    await throttle.recordSuccess('192.0.2.1', 'bob@hamburger.edu');
    assert.deepEqual(resets, []);
    // One failure on the account only: only the account's count is cleared.
    await throttle.recordFailure('198.51.100.7', 'bob@hamburger.edu');
    await throttle.recordSuccess('192.0.2.1', 'bob@hamburger.edu');
    assert.deepEqual(resets, ['login:user:bob@hamburger.edu:failures']);
  });

  it('never computes an unbounded delay, however many failures', async () => {
    const { throttle } = make();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = await throttle.recordFailure('192.0.2.1');
    assert.equal(last, config.maxDelayMs);
  });

  it('keeps counter names short, whatever login name is typed', async () => {
    const { counters, throttle } = make({ ...config, freeFailures: 0 });
    const names: string[] = [];
    const hit = counters.hitCounter.bind(counters);
    counters.hitCounter = (name, windowMs) => {
      names.push(name);
      return hit(name, windowMs);
    };
    await throttle.recordFailure('192.0.2.1', 'x'.repeat(5000));
    assert.ok(names.length > 0);
    for (const n of names) assert.ok(n.length < 300, n);
  });
});

describe('auth throttle in the store', () => {
  it('is shared by two authenticators on one store (two nodes)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-throttle-'));
    const store = await openTestStore(dir);
    try {
      await store.addDomain('hamburger.edu');
      await store.addUser({ address: 'bob@hamburger.edu', passwordHash: await hashPassword('hungry') });
      const throttleConfig = { freeFailures: 2, baseDelayMs: 40, maxDelayMs: 160, windowMs: 60_000 };
      const node = (waits: number[]) =>
        createAuthenticator({
          store,
          auth: { allowInsecure: false },
          throttle: createAuthThrottle(throttleConfig, store),
          wait: async (ms) => {
            waits.push(ms);
            await new Promise((r) => setTimeout(r, ms));
          },
        });
      const waitsA: number[] = [];
      const waitsB: number[] = [];
      const a = node(waitsA);
      const b = node(waitsB);
      // Two free failures on node A...
      assert.equal(await a.verify('bob', 'wrong-1', '192.0.2.7'), null);
      assert.equal(await a.verify('bob', 'wrong-2', '192.0.2.7'), null);
      assert.deepEqual(waitsA, []);
      // ...so the third, on node B, is already delayed, and the fourth, on A, twice as long.
      assert.equal(await b.verify('bob', 'wrong-3', '192.0.2.7'), null);
      assert.deepEqual(waitsB, [40]);
      assert.equal(await a.verify('bob', 'wrong-4', '192.0.2.7'), null);
      assert.deepEqual(waitsA, [80]);
      // The account is throttled from another address too.
      assert.equal(await b.verify('bob@hamburger.edu', 'wrong-5', '198.51.100.1'), null);
      assert.deepEqual(waitsB, [40, 160]);
      // The right password works and clears the count for both nodes.
      assert.ok(await b.verify('bob', 'hungry', '192.0.2.7'));
      assert.equal(await store.peekCounter('login:addr:192.0.2.7:failures'), 0);
      assert.equal(await store.peekCounter('login:user:bob@hamburger.edu:failures'), 0);
      waitsA.length = 0;
      assert.equal(await a.verify('bob', 'wrong-6', '192.0.2.7'), null);
      assert.deepEqual(waitsA, []);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
