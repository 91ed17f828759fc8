import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackAddress, passwordsAllowed } from '../../src/net/password-policy.js';

describe('password policy', () => {
  const strict = { allowInsecure: false };

  it('allows passwords over TLS from anywhere', () => {
    assert.equal(passwordsAllowed({ secure: true, remoteAddress: '192.0.2.7' }, strict), true);
  });

  it('allows passwords in the clear from loopback only', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1']) {
      assert.equal(passwordsAllowed({ secure: false, remoteAddress: ip }, strict), true, ip);
    }
    for (const ip of ['192.0.2.7', '2001:db8::1', '10.0.0.1', 'unknown']) {
      assert.equal(passwordsAllowed({ secure: false, remoteAddress: ip }, strict), false, ip);
    }
  });

  it('allows passwords in the clear from anywhere when configured so', () => {
    assert.equal(passwordsAllowed({ secure: false, remoteAddress: '192.0.2.7' }, { allowInsecure: true }), true);
  });

  it('knows loopback addresses', () => {
    assert.equal(isLoopbackAddress('127.0.0.1'), true);
    assert.equal(isLoopbackAddress('::1'), true);
    assert.equal(isLoopbackAddress('128.0.0.1'), false);
  });
});
