import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserAddressCount } from '../../src/net/user-address-count.js';

describe('UserAddressCount', () => {
  it('allows the limit per user and address, each pair on its own, and frees a slot once', () => {
    const count = new UserAddressCount(2);
    const first = count.acquire(1, '127.0.0.1');
    assert.ok(first);
    assert.ok(count.acquire(1, '127.0.0.1'));
    assert.equal(count.acquire(1, '127.0.0.1'), null);
    assert.ok(count.acquire(1, '127.0.0.2'), 'another address');
    assert.ok(count.acquire(2, '127.0.0.1'), 'another user');
    first();
    first();
    assert.equal(count.count(1, '127.0.0.1'), 1, 'released once only');
    assert.ok(count.acquire(1, '127.0.0.1'));
    assert.equal(count.acquire(1, '127.0.0.1'), null);
  });
});
