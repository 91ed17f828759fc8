/** The session pool on its own, with stand-in sessions: limits, waiting, reuse, idle expiry, abort. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionPool } from '../../src/queue/smtp-client/pool.js';

class FakeSession {
  alive = true;
  quits = 0;
  private listeners = new Set<() => void>();
  constructor(readonly name: string, readonly verified = false) {}
  conn = {
    onClose: (listener: () => void) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
  };
  async quit(): Promise<void> {
    this.quits++;
    this.hangUp();
  }
  hangUp(): void {
    this.alive = false;
    for (const l of [...this.listeners]) l();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('session pool', () => {
  it('hands out at most maxPerKey slots per key; a waiter gets the session given back', async () => {
    const pool = new SessionPool<FakeSession>({ maxPerKey: 2, idleMs: 10_000 });
    const a = await pool.acquire('mx:25', () => true);
    const b = await pool.acquire('mx:25', () => true);
    assert.equal(a.session, null);
    assert.deepEqual(pool.stats('mx:25'), { busy: 2, idle: 0 });
    const other = await pool.acquire('other:25', () => true);
    assert.equal(other.session, null, 'another key has its own limit');

    let third: { session: FakeSession | null } | null = null;
    void pool.acquire('mx:25', () => true).then((l) => (third = l));
    await tick();
    assert.equal(third, null, 'the third waits');
    const s = new FakeSession('s1');
    pool.release(a, s, true);
    await tick();
    assert.equal(third!.session, s, 'and gets the idle session');
    pool.release(b, null, false);
    await pool.close();
  });

  it('closes idle sessions after idleMs, and at once when the server hangs up', async () => {
    const pool = new SessionPool<FakeSession>({ maxPerKey: 2, idleMs: 50 });
    const lease = await pool.acquire('k', () => true);
    const s = new FakeSession('s');
    pool.release(lease, s, true);
    assert.deepEqual(pool.stats('k'), { busy: 0, idle: 1 });
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(s.quits, 1);
    assert.deepEqual(pool.stats('k'), { busy: 0, idle: 0 });

    const lease2 = await pool.acquire('k', () => true);
    const t = new FakeSession('t');
    pool.release(lease2, t, true);
    t.hangUp();
    assert.deepEqual(pool.stats('k'), { busy: 0, idle: 0 });
    await pool.close();
  });

  it('closes an unsuitable idle session to make room at the limit', async () => {
    const pool = new SessionPool<FakeSession>({ maxPerKey: 1, idleMs: 10_000 });
    const lease = await pool.acquire('k', () => true);
    const plain = new FakeSession('plain', false);
    pool.release(lease, plain, true);
    const verified = await pool.acquire('k', (s) => s.verified);
    assert.equal(verified.session, null, 'a new connection is to be opened');
    assert.equal(plain.quits, 1);
    pool.release(verified, null, false);
    await pool.close();
  });

  it('gives up waiting when the signal aborts, without losing the slot for others', async () => {
    const pool = new SessionPool<FakeSession>({ maxPerKey: 1, idleMs: 10_000 });
    const held = await pool.acquire('k', () => true);
    const controller = new AbortController();
    const aborted = pool.acquire('k', () => true, controller.signal);
    let next: { session: FakeSession | null } | null = null;
    void pool.acquire('k', () => true).then((l) => (next = l));
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    pool.release(held, null, false);
    await tick();
    assert.ok(next, 'the other waiter got the slot');
    await pool.close();
    await assert.rejects(pool.acquire('k', () => true), /closed/);
  });
});
