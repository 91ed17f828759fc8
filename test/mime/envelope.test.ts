import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildEnvelope, parseAddressList } from '../../src/mime/envelope.js';
import { parseHeaderFields } from '../../src/mime/header-fields.js';

const addr = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null) => ({ name, adl, mailbox, host });

describe('parseAddressList', () => {
  it('reads display names, quoted names, comments and bare addresses', () => {
    assert.deepEqual(parseAddressList('"Smith, John" <john@x.test>, jane@y.test (Jane D), <z@z.test>'), [
      addr('Smith, John', 'john', 'x.test'),
      addr('Jane D', 'jane', 'y.test'),
      addr(null, 'z', 'z.test'),
    ]);
  });

  it('marks groups with a start and an end entry', () => {
    assert.deepEqual(parseAddressList('Team: a@x.test, b@y.test;, c@z.test'), [
      addr(null, 'Team', null),
      addr(null, 'a', 'x.test'),
      addr(null, 'b', 'y.test'),
      addr(null, null, null),
      addr(null, 'c', 'z.test'),
    ]);
    assert.deepEqual(parseAddressList('empty:;'), [addr(null, 'empty', null), addr(null, null, null)]);
  });

  it('keeps source routes and reports missing parts', () => {
    assert.deepEqual(parseAddressList('<@a.test,@b.test:u@c.test>'), [addr(null, 'u', 'c.test', '@a.test,@b.test')]);
    assert.deepEqual(parseAddressList('local'), [addr(null, 'local', 'MISSING_DOMAIN')]);
  });
});

describe('buildEnvelope', () => {
  it('defaults Sender and Reply-To to From and keeps raw values', () => {
    const env = buildEnvelope(parseHeaderFields(Buffer.from('From: A <a@x.test>\r\nSubject: =?utf-8?q?raw?=\r\n\r\n')));
    assert.deepEqual(env.sender, env.from);
    assert.deepEqual(env.replyTo, env.from);
    assert.equal(env.subject, '=?utf-8?q?raw?=');
    assert.equal(env.to, null);
    assert.equal(env.date, null);
  });
});

describe('parseHeaderFields', () => {
  it('takes a white-space line with a colon and no field before it for no field', () => {
    assert.deepEqual(parseHeaderFields(Buffer.from('\t: x\r\nSubject: s\r\n\r\n')), [{ name: 'Subject', value: 's' }]);
  });
});
