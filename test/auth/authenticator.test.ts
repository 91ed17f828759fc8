import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword, needsRehash, verifyPassword } from '../../src/auth/password.js';
import { createAuthThrottle } from '../../src/net/auth-throttle.js';
import { createAuthenticator, resolveLoginName } from '../../src/net/authenticator.js';
import { createLogger } from '../../src/net/log.js';
import { MemoryCounters } from '../helpers/memory-counters.js';
import { openTestStore } from '../helpers/test-store.js';
import type { Store } from '../../src/store/types.js';

const throttleConfig = { freeFailures: 2, baseDelayMs: 100, maxDelayMs: 400, windowMs: 60_000 };

describe('authenticator', () => {
  let dir: string;
  let store: Store;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-auth-'));
    store = await openTestStore(dir);
    await store.addDomain('hamburger.edu');
    await store.addUser({ address: 'bob@hamburger.edu', passwordHash: await hashPassword('hungry') });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** An authenticator whose waits are recorded and move a fake clock instead of sleeping. */
  function make(auth: { allowInsecure: boolean; defaultDomain?: string } = { allowInsecure: false }) {
    const waits: number[] = [];
    const lines: string[] = [];
    let now = 1_000_000;
    const throttle = createAuthThrottle(throttleConfig, new MemoryCounters(() => now));
    const authenticator = createAuthenticator({
      store,
      auth,
      throttle,
      log: createLogger({ write: (l) => lines.push(l) }),
      wait: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    return { authenticator, throttle, waits, lines };
  }

  it('drops a check whose client has gone before its turn: null, and no failure counted', async () => {
    const { authenticator, waits } = make();
    const gone = AbortSignal.abort(new Error('client gone'));
    // Past the free failures (2): counted, these would make the next attempts wait.
    for (let i = 0; i < 4; i++) assert.equal(await authenticator.verify('bob@hamburger.edu', 'wrong', '192.0.2.20', gone), null);
    assert.deepEqual(waits, []);
    assert.ok(await authenticator.verify('bob@hamburger.edu', 'hungry', '192.0.2.20', new AbortController().signal));
    assert.deepEqual(waits, []);
  });

  it('accepts the right password, by full address or by bare name in the only domain', async () => {
    const { authenticator } = make();
    const byAddress = await authenticator.verify('bob@hamburger.edu', 'hungry', '127.0.0.1');
    assert.ok(byAddress);
    assert.equal(byAddress.address, 'bob@hamburger.edu');
    assert.equal(typeof byAddress.userId, 'number');
    assert.deepEqual(await authenticator.verify('BOB', 'hungry', '127.0.0.1'), byAddress);
    assert.deepEqual(await authenticator.verify('Bob@Hamburger.EDU', 'hungry', '127.0.0.1'), byAddress);
  });

  it('remembers a successful login for a while: the same password is not hashed again, a wrong one always is', async () => {
    let now = 5_000_000;
    let checks = 0;
    const authenticator = createAuthenticator({
      store,
      auth: { allowInsecure: false },
      throttle: createAuthThrottle(throttleConfig, new MemoryCounters(() => now)),
      wait: async () => {},
      now: () => now,
      verifiedCacheMs: 60_000,
      checkPassword: (password, stored) => {
        checks++;
        return verifyPassword(password, stored);
      },
    });
    assert.ok(await authenticator.verify('bob@hamburger.edu', 'hungry', '127.0.0.1'));
    assert.equal(checks, 1);
    assert.ok(await authenticator.verify('bob@hamburger.edu', 'hungry', '127.0.0.2'));
    assert.ok(await authenticator.verify('BOB', 'hungry', '127.0.0.1'));
    assert.equal(checks, 1, 'the second and third logins came from the cache');
    // A wrong password is never answered from the cache, and does not evict the right one.
    assert.equal(await authenticator.verify('bob@hamburger.edu', 'hungry!', '127.0.0.1'), null);
    assert.equal(checks, 2);
    assert.ok(await authenticator.verify('bob@hamburger.edu', 'hungry', '127.0.0.1'));
    assert.equal(checks, 2);
    // After the time-to-live the password is checked again.
    now += 60_001;
    assert.ok(await authenticator.verify('bob@hamburger.edu', 'hungry', '127.0.0.1'));
    assert.equal(checks, 3);
    // A changed password takes effect at once: the cached entry was for the old hash.
    const original = await store.getPasswordHash('bob@hamburger.edu');
    try {
      await store.setPasswordHash('bob@hamburger.edu', await hashPassword('fed'));
      assert.equal(await authenticator.verify('bob@hamburger.edu', 'hungry', '127.0.0.1'), null);
      assert.ok(await authenticator.verify('bob@hamburger.edu', 'fed', '127.0.0.1'));
    } finally {
      await store.setPasswordHash('bob@hamburger.edu', original!);
    }
  });

  it('rejects a wrong password, an unknown user and an empty name', async () => {
    const { authenticator } = make();
    assert.equal(await authenticator.verify('bob', 'Hungry', '192.0.2.9'), null);
    assert.equal(await authenticator.verify('alice@hamburger.edu', 'hungry', '192.0.2.9'), null);
    assert.equal(await authenticator.verify('bob@crepes.fr', 'hungry', '192.0.2.9'), null);
    assert.equal(await authenticator.verify('', 'hungry', '192.0.2.9'), null);
  });

  it('an unknown user costs about as much time as a wrong password', async () => {
    const { authenticator } = make();
    await authenticator.verify('nobody', 'x', '192.0.2.10'); // warm up the dummy hash
    const time = async (user: string) => {
      const start = process.hrtime.bigint();
      await authenticator.verify(user, 'wrong', '192.0.2.10');
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const known = await time('bob');
    const unknown = await time('nobody');
    // Both pay for a full scrypt; without the dummy check the unknown user would be ~0 ms.
    assert.ok(unknown > known / 3, `unknown ${unknown.toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
  });

  it('throttles failures from one address and waits before answering', async () => {
    const { authenticator, waits, lines } = make();
    for (let i = 0; i < 5; i++) await authenticator.verify('bob', 'wrong', '198.51.100.7');
    assert.deepEqual(waits, [100, 200, 400]);
    assert.ok(lines.some((l) => l.includes('login throttled')));
    assert.ok(lines.every((l) => !l.includes('wrong') && !l.includes('hungry')), 'no password in the logs');
  });

  it('makes an attempt wait while a delay is pending, even with the right password', async () => {
    const { authenticator, throttle, waits } = make();
    for (let i = 0; i < 3; i++) await throttle.recordFailure('198.51.100.8');
    const ok = await authenticator.verify('bob', 'hungry', '198.51.100.8');
    assert.ok(ok);
    assert.deepEqual(waits, [100]);
    assert.equal(await throttle.pendingDelay('198.51.100.8'), 0, 'success clears the record');
  });

  it('serialises attempts from a throttled address, so parallel connections gain nothing', async () => {
    const throttle = createAuthThrottle({ freeFailures: 0, baseDelayMs: 150, maxDelayMs: 150, windowMs: 60_000 }, new MemoryCounters());
    const authenticator = createAuthenticator({ store, auth: { allowInsecure: false }, throttle });
    await throttle.recordFailure('203.0.113.5');
    const start = Date.now();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => authenticator.verify('bob', 'wrong', '203.0.113.5')),
    );
    const elapsed = Date.now() - start;
    assert.deepEqual(results, [null, null, null, null, null]);
    // Each of the 5 waits out a 150 ms delay in turn; in parallel they would share one wait.
    assert.ok(elapsed >= 5 * 150, `took ${elapsed} ms`);
  });

  it('uses the configured default domain for bare names', async () => {
    assert.equal(await resolveLoginName('Bob', { allowInsecure: false, defaultDomain: 'Example.ORG' }, store), 'bob@example.org');
    assert.equal(await resolveLoginName('bob', { allowInsecure: false }, store), 'bob@hamburger.edu');
    await store.addDomain('crepes.fr');
    try {
      // Two domains and no default: a bare name is ambiguous.
      assert.equal(await resolveLoginName('bob', { allowInsecure: false }, store), null);
      const { authenticator } = make({ allowInsecure: false, defaultDomain: 'hamburger.edu' });
      assert.ok(await authenticator.verify('bob', 'hungry', '127.0.0.1'));
    } finally {
      await store.removeDomain('crepes.fr');
    }
  });

  it('upgrades a hash made with weaker parameters at the next successful login', async () => {
    await store.addUser({ address: 'old@hamburger.edu', passwordHash: await hashPassword('legacy', { ln: 10, r: 8, p: 1 }) });
    try {
      const { authenticator, lines } = make();
      assert.equal(await authenticator.verify('old@hamburger.edu', 'wrong', '127.0.0.1'), null);
      assert.ok(needsRehash((await store.getPasswordHash('old@hamburger.edu'))!), 'not upgraded on a failure');
      assert.ok(await authenticator.verify('old@hamburger.edu', 'legacy', '127.0.0.1'));
      for (let i = 0; i < 200 && !lines.some((l) => l.includes('password hash upgraded')); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const upgraded = (await store.getPasswordHash('old@hamburger.edu'))!;
      assert.equal(needsRehash(upgraded), false);
      assert.equal(await verifyPassword('legacy', upgraded), true);
      assert.ok(!lines.some((l) => l.includes('legacy')), 'the password is not logged');
    } finally {
      await store.removeUser('old@hamburger.edu');
    }
  });
});
