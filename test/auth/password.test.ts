import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { DEFAULT_PARAMS, hashConcurrency, hashPassword, needsRehash, parsePasswordHash, verifyPassword } from '../../src/auth/password.js';

/** Cheap parameters so the tests that only check the format stay fast. */
const FAST = { ln: 4, r: 8, p: 1 };

describe('password hashing', () => {
  it('produces a PHC-style scrypt string with the default parameters', async () => {
    const stored = await hashPassword('hungry');
    assert.match(stored, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const parsed = parsePasswordHash(stored);
    assert.ok(parsed);
    assert.deepEqual(parsed.params, DEFAULT_PARAMS);
    assert.equal(parsed.salt.length, 16);
    assert.equal(parsed.hash.length, 32);
    assert.equal(stored.includes('hungry'), false);
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('hungry');
    assert.equal(await verifyPassword('hungry', stored), true);
    assert.equal(await verifyPassword('Hungry', stored), false);
    assert.equal(await verifyPassword('', stored), false);
    assert.equal(await verifyPassword('hungry ', stored), false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const a = await hashPassword('same', FAST);
    const b = await hashPassword('same', FAST);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', a), true);
    assert.equal(await verifyPassword('same', b), true);
  });

  it('reads the parameters from the stored string, so they can change later', async () => {
    const weak = await hashPassword('pw', FAST);
    assert.match(weak, /^\$scrypt\$ln=4,r=8,p=1\$/);
    assert.equal(await verifyPassword('pw', weak), true);
    assert.equal(needsRehash(weak), true);
    assert.equal(needsRehash(await hashPassword('pw')), false);
    // Same salt and hash, but claiming other parameters: must no longer match.
    assert.equal(await verifyPassword('pw', weak.replace('ln=4', 'ln=5')), false);
  });

  it('handles non-ASCII passwords (normalised, so composed and decomposed forms match)', async () => {
    const stored = await hashPassword('cr\u00eape', FAST);
    assert.equal(await verifyPassword('cr\u00eape', stored), true);
    assert.equal(await verifyPassword('cre\u0302pe', stored), true);
    assert.equal(await verifyPassword('crepe', stored), false);
  });

  it('never matches a malformed or out-of-bounds stored hash', async () => {
    const good = await hashPassword('pw', FAST);
    const [, , params, salt, hash] = good.split('$');
    const bad = [
      '',
      'pw',
      '$2b$10$abcdefghijklmnopqrstuv',
      `$scrypt$${params}$${salt}`,
      `$scrypt$ln=4,r=8$${salt}$${hash}`,
      `$scrypt$ln=4,r=8,p=1,p=1$${salt}$${hash}`,
      `$scrypt$ln=40,r=8,p=1$${salt}$${hash}`,
      `$scrypt$ln=4,r=0,p=1$${salt}$${hash}`,
      `$scrypt$ln=4,r=8,p=1$***$${hash}`,
      `$argon2id$${params}$${salt}$${hash}`,
    ];
    for (const stored of bad) {
      assert.equal(parsePasswordHash(stored), null, stored);
      assert.equal(await verifyPassword('pw', stored), false, stored);
    }
  });

  it('refuses to hash with unsupported parameters', async () => {
    await assert.rejects(hashPassword('pw', { ln: 0, r: 8, p: 1 }), /unsupported scrypt parameters/);
    await assert.rejects(hashPassword('pw', { ln: 31, r: 8, p: 1 }), /unsupported scrypt parameters/);
  });

  it('runs at most half as many hashes at once as the thread pool has threads', () => {
    // libuv's pool: 4 threads by default, UV_THREADPOOL_SIZE otherwise (at most 1024).
    assert.equal(hashConcurrency({}), 2);
    assert.equal(hashConcurrency({ UV_THREADPOOL_SIZE: '8' }), 4);
    assert.equal(hashConcurrency({ UV_THREADPOOL_SIZE: '3' }), 1);
    assert.equal(hashConcurrency({ UV_THREADPOOL_SIZE: '1' }), 1);
    assert.equal(hashConcurrency({ UV_THREADPOOL_SIZE: '5000' }), 512);
    // What libuv makes of other values: atoi, 0 taken as 1, negative wrapping past the cap.
    assert.equal(hashConcurrency({ UV_THREADPOOL_SIZE: 'many' }), 1);
    assert.equal(hashConcurrency({ UV_THREADPOOL_SIZE: '-2' }), 512);
  });

  it('leaves threads of the pool free for files while many hashes are waiting', async () => {
    // Twice as many hashes as libuv's pool has threads (4 by default): without the limit the
    // pool's queue holds the ones that do not fit, and a file's stat would wait behind them.
    const order: string[] = [];
    const hashes = Array.from({ length: 8 }, () => hashPassword('burst').then(() => order.push('hash')));
    // Past the microtasks that hand the first hashes to the pool.
    await new Promise((resolve) => setImmediate(resolve));
    await stat(import.meta.filename ?? new URL(import.meta.url).pathname);
    order.push('stat');
    await Promise.all(hashes);
    assert.equal(order[0], 'stat', order.join(' '));
  });

  it('drops a check still waiting for its turn when its client has gone', async () => {
    const stored = await hashPassword('pw', FAST);
    // Every slot taken: a hash holds its slot at least until the pool has run it, long after
    // the lines below, which run at once.
    const running = Array.from({ length: hashConcurrency() }, () => hashPassword('busy', FAST));
    const gone = new AbortController();
    const waiting = verifyPassword('pw', stored, gone.signal);
    gone.abort(new Error('client gone'));
    await assert.rejects(waiting, /client gone/);
    // Already gone: not even queued.
    await assert.rejects(verifyPassword('pw', stored, AbortSignal.abort(new Error('long gone'))), /long gone/);
    await Promise.all(running);
    // The slots were given back: the next check runs.
    assert.equal(await verifyPassword('pw', stored, new AbortController().signal), true);
  });
});

