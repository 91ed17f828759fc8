import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeModifiedUtf7,
  encodeModifiedUtf7,
  listMatcher,
  mailboxFromToken,
  validateMailboxName,
  encodeMailboxName,
  normaliseInbox,
} from '../../../src/imap/protocol/mailbox-name.js';
import { ImapSyntaxError } from '../../../src/imap/protocol/types.js';

describe('modified UTF-7', () => {
  const pairs: Array<[string, string]> = [
    ['INBOX', 'INBOX'],
    ['a&b', 'a&-b'],
    ['~peter/mail/日本語/台北', '~peter/mail/&ZeVnLIqe-/&U,BTFw-'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['😀', '&2D3eAA-'],
    ['&&', '&-&-'],
  ];
  for (const [name, wire] of pairs) {
    it(`${name} <-> ${wire}`, () => {
      assert.equal(encodeModifiedUtf7(name), wire);
      assert.equal(decodeModifiedUtf7(wire), name);
    });
  }

  const invalid = ['&', '&Jjo', '&AGE-', '&Jjo!-', 'a\u00e9', '&ZeVnLIqe=-', '&AP-', '\t'];
  for (const wire of invalid) {
    it(`refuses ${JSON.stringify(wire)}`, () => {
      assert.throws(() => decodeModifiedUtf7(wire), ImapSyntaxError);
    });
  }

  it('decodes mailbox arguments by mode and normalises INBOX', () => {
    assert.equal(mailboxFromToken({ kind: 'atom', value: 'inbox' }, false), 'INBOX');
    assert.equal(mailboxFromToken({ kind: 'atom', value: 'Inbox/Entw&APw-rfe' }, false), 'INBOX/Entwürfe');
    assert.equal(mailboxFromToken({ kind: 'string', value: Buffer.from('Entwürfe'), literal: false }, true), 'Entwürfe');
    assert.equal(mailboxFromToken({ kind: 'atom', value: 'a&-b' }, true), 'a&-b');
    assert.throws(() => mailboxFromToken({ kind: 'string', value: Buffer.from('Entwürfe'), literal: false }, false), ImapSyntaxError);
    assert.throws(() => mailboxFromToken({ kind: 'string', value: Buffer.from([0xff]), literal: true }, true), ImapSyntaxError);
    assert.throws(() => mailboxFromToken({ kind: 'list', items: [] }, true), ImapSyntaxError);
    assert.equal(encodeMailboxName('Entwürfe', false), 'Entw&APw-rfe');
    assert.equal(encodeMailboxName('Entwürfe', true), 'Entwürfe');
  });

  it('normalises only a whole INBOX level', () => {
    assert.equal(normaliseInbox('inBox'), 'INBOX');
    assert.equal(normaliseInbox('inbox/x'), 'INBOX/x');
    assert.equal(normaliseInbox('inboxes'), 'inboxes');
    assert.equal(normaliseInbox('x/inbox'), 'x/inbox');
  });
});

describe('mailbox name validation', () => {
  const good = ['INBOX', 'a/b/c', 'Entwürfe', 'a.b', '...', 'x'.repeat(255), `${'y'.repeat(200)}/`.repeat(4) + 'z'];
  for (const name of good) {
    it(`accepts ${JSON.stringify(name.slice(0, 40))}`, () => assert.equal(validateMailboxName(name), null));
  }
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['a\0b', /NUL/],
    ['a\rb', /CR/],
    ['a\nb', /LF/],
    ['a\uD800b', /surrogate/],
    ['\uDC00', /surrogate/],
    ['/a', /starts/],
    ['a//b', /empty level/],
    ['a/', /empty level/],
    ['a/./b', /\. or \.\./],
    ['..', /\. or \.\./],
    ['x'.repeat(256), /255/],
    ['é'.repeat(128), /255/],
    [`${'y'.repeat(250)}/`.repeat(4) + 'zzzz', /1000/],
  ];
  for (const [name, reason] of bad) {
    it(`refuses ${JSON.stringify(name.slice(0, 40))}`, () => assert.match(validateMailboxName(name) ?? '', reason));
  }
});

describe('LIST pattern matching', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['', '*', 'a/b/c', true],
    ['', '%', 'a', true],
    ['', '%', 'a/b', false],
    ['', 'a/%', 'a/b', true],
    ['', 'a/%', 'a/b/c', false],
    ['', 'a/*', 'a/b/c', true],
    ['', 'a*c', 'a/b/c', true],
    ['', 'a%c', 'a/b/c', false],
    ['a/', '%', 'a/b', true],
    ['a/', '%', 'b', false],
    ['', 'inbox', 'INBOX', true],
    ['', 'in%', 'INBOX', true],
    ['', 'Inbox/%', 'INBOX/x', true],
    ['', 'inbox/X', 'INBOX/x', false],
    ['', 'Sent', 'sent', false],
    ['', '%/%', 'a/b', true],
    ['', '', 'a', false],
    ['', '*a*a*a*a*a*a*a*b', 'a'.repeat(200), false],
  ];
  for (const [ref, pattern, name, expected] of cases) {
    it(`${JSON.stringify(ref)} ${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${name.slice(0, 20)}`, () => {
      assert.equal(listMatcher(ref, pattern)(name), expected);
    });
  }
});
