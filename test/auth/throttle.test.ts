import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuthThrottle } from '../../src/net/auth-throttle.js';

const config = { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 15_000, windowMs: 15 * 60_000 };

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('auth throttle', () => {
  it('lets the first failures through, then doubles the delay up to the cap', () => {
    const c = clock();
    const throttle = createAuthThrottle(config, { now: c.now });
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      delays.push(throttle.recordFailure('192.0.2.1'));
      c.advance(delays[i]);
    }
    assert.deepEqual(delays, [0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it('reports the delay still owed, counting down with the clock', () => {
    const c = clock();
    const throttle = createAuthThrottle({ ...config, freeFailures: 0 }, { now: c.now });
    assert.equal(throttle.pendingDelay('192.0.2.1'), 0);
    assert.equal(throttle.recordFailure('192.0.2.1'), 250);
    assert.equal(throttle.pendingDelay('192.0.2.1'), 250);
    c.advance(100);
    assert.equal(throttle.pendingDelay('192.0.2.1'), 150);
    c.advance(1000);
    assert.equal(throttle.pendingDelay('192.0.2.1'), 0);
  });

  it('keeps addresses apart', () => {
    const c = clock();
    const throttle = createAuthThrottle({ ...config, freeFailures: 0 }, { now: c.now });
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.1');
    assert.equal(throttle.pendingDelay('192.0.2.1'), 500);
    assert.equal(throttle.pendingDelay('192.0.2.2'), 0);
    assert.equal(throttle.recordFailure('192.0.2.2'), 250);
  });

  it('forgets an address once the window has passed without another failure', () => {
    const c = clock();
    const throttle = createAuthThrottle(config, { now: c.now });
    for (let i = 0; i < 6; i++) throttle.recordFailure('192.0.2.1');
    assert.ok(throttle.pendingDelay('192.0.2.1') > 0);
    c.advance(config.windowMs - 1);
    // Still inside the window: the next failure keeps escalating.
    assert.equal(throttle.recordFailure('192.0.2.1'), 2000);
    c.advance(config.windowMs);
    assert.equal(throttle.pendingDelay('192.0.2.1'), 0);
    assert.equal(throttle.recordFailure('192.0.2.1'), 0, 'counting starts over');
    assert.equal(throttle.size, 1);
  });

  it('a success clears the record', () => {
    const c = clock();
    const throttle = createAuthThrottle(config, { now: c.now });
    for (let i = 0; i < 5; i++) throttle.recordFailure('192.0.2.1');
    throttle.recordSuccess('192.0.2.1');
    assert.equal(throttle.pendingDelay('192.0.2.1'), 0);
    assert.equal(throttle.recordFailure('192.0.2.1'), 0);
  });

  it('bounds its memory, evicting the address that failed least recently', () => {
    const c = clock();
    const throttle = createAuthThrottle({ ...config, freeFailures: 0 }, { now: c.now, maxEntries: 3 });
    for (const a of ['a', 'b', 'c']) throttle.recordFailure(a);
    throttle.recordFailure('a'); // 'a' is now the most recent; 'b' the oldest
    throttle.recordFailure('d');
    assert.equal(throttle.size, 3);
    assert.equal(throttle.pendingDelay('b'), 0, 'b was evicted');
    assert.equal(throttle.pendingDelay('a'), 500);
    assert.equal(throttle.pendingDelay('c'), 250);
    assert.equal(throttle.pendingDelay('d'), 250);
  });

  it('never computes an unbounded delay, however many failures', () => {
    const c = clock();
    const throttle = createAuthThrottle(config, { now: c.now });
    let last = 0;
    for (let i = 0; i < 5000; i++) last = throttle.recordFailure('192.0.2.1');
    assert.equal(last, config.maxDelayMs);
  });
});
