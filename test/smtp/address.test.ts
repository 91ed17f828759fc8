import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailbox, parsePathArgument } from '../../src/smtp/address.js';

function address(arg: string): string | null | 'error' {
  const r = parsePathArgument(arg);
  return r.ok ? (r.mailbox?.address ?? null) : 'error';
}

describe('parsePathArgument', () => {
  it('parses a path, with or without white space before it', () => {
    assert.equal(address('<alice@crepes.fr>'), 'alice@crepes.fr');
    assert.equal(address(' <alice@crepes.fr>'), 'alice@crepes.fr');
    assert.equal(address('\t <alice@crepes.fr>  '), 'alice@crepes.fr');
  });

  it('accepts the null reverse path', () => {
    const r = parsePathArgument('<>');
    assert.deepEqual(r, { ok: true, mailbox: null, params: [] });
  });

  it('reads ESMTP parameters, keywords upper-cased', () => {
    const r = parsePathArgument('<a@b.c> size=100 BODY=8BITMIME SMTPUTF8');
    assert.ok(r.ok);
    assert.deepEqual(r.params, [
      { keyword: 'SIZE', value: '100' },
      { keyword: 'BODY', value: '8BITMIME' },
      { keyword: 'SMTPUTF8', value: null },
    ]);
  });

  it('rejects a parameter glued to the path and malformed parameters', () => {
    assert.equal(address('<a@b.c>SIZE=1'), 'error');
    assert.equal(address('<a@b.c> =1'), 'error');
    assert.equal(address('<a@b.c> SIZE=a=b'), 'error');
    assert.deepEqual(parsePathArgument('<a@b.c> SIZE=1 =x'), { ok: false, reason: 'syntax' });
  });

  it('ignores a source route', () => {
    assert.equal(address('<@relay.one,@relay.two:joe@example.com>'), 'joe@example.com');
    assert.equal(address('<@bad domain:joe@example.com>'), 'error');
  });

  it('keeps a quoted local part that needs its quotes, unquotes one that does not', () => {
    assert.equal(address('<"john doe"@example.com>'), '"john doe"@example.com');
    assert.equal(address('<"bob"@example.com>'), 'bob@example.com');
    assert.equal(address('<"a\\"b>c"@example.com>'), '"a\\"b>c"@example.com');
    assert.equal(address('<"a@b"@example.com>'), '"a@b"@example.com');
  });

  it('accepts UTF-8 local parts and domains and flags them', () => {
    const r = parsePathArgument('<用户@例子.广告> SMTPUTF8');
    assert.ok(r.ok && r.mailbox);
    assert.equal(r.mailbox.address, '用户@例子.广告');
    assert.equal(r.mailbox.utf8, true);
    const ascii = parsePathArgument('<a@b.c>');
    assert.ok(ascii.ok && ascii.mailbox);
    assert.equal(ascii.mailbox.utf8, false);
  });

  it('accepts address literals', () => {
    assert.equal(address('<x@[192.0.2.1]>'), 'x@[192.0.2.1]');
    assert.equal(address('<x@[IPv6:2001:db8::1]>'), 'x@[IPv6:2001:db8::1]');
    assert.equal(address('<x@[IPv6:::ffff:192.0.2.1]>'), 'x@[IPv6:::ffff:192.0.2.1]');
    assert.equal(address('<x@[300.0.2.1]>'), 'error');
    assert.equal(address('<x@[IPv6:1:2:3:4:5:6:7:8:9]>'), 'error');
  });

  it('accepts a bare address without brackets', () => {
    assert.equal(address('alice@crepes.fr'), 'alice@crepes.fr');
    assert.equal(address('alice@crepes.fr SIZE=5'), 'alice@crepes.fr');
  });

  it('rejects bad addresses with reason "address", bad framing with "syntax"', () => {
    assert.deepEqual(parsePathArgument('<alice>'), { ok: false, reason: 'address' });
    assert.deepEqual(parsePathArgument('<a..b@x.y>'), { ok: false, reason: 'address' });
    assert.deepEqual(parsePathArgument('<a b@x.y>'), { ok: false, reason: 'address' });
    assert.deepEqual(parsePathArgument('<a@-x.y>'), { ok: false, reason: 'address' });
    assert.deepEqual(parsePathArgument('<a@x..y>'), { ok: false, reason: 'address' });
    assert.deepEqual(parsePathArgument('<a@x.y'), { ok: false, reason: 'syntax' });
    assert.deepEqual(parsePathArgument(''), { ok: false, reason: 'syntax' });
  });
});

describe('parseMailbox', () => {
  it('splits local part and domain at the last @ and drops a trailing root dot', () => {
    assert.deepEqual(parseMailbox('bob@hamburger.edu.'), {
      local: 'bob',
      domain: 'hamburger.edu',
      address: 'bob@hamburger.edu',
      utf8: false,
    });
  });

  it('rejects control characters in quoted strings', () => {
    assert.equal(parseMailbox('"a\u0001b"@x.y'), null);
    assert.equal(parseMailbox('"unterminated@x.y'), null);
  });
});
