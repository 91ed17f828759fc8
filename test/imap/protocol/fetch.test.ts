import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFetch, parseFetchItem } from '../../../src/imap/protocol/fetch.js';
import { type FetchItem, ImapSyntaxError, type Token } from '../../../src/imap/protocol/types.js';

const atom = (value: string): Token => ({ kind: 'atom', value });
const list = (...items: Token[]): Token => ({ kind: 'list', items });

describe('FETCH items', () => {
  const good: Array<[string, FetchItem]> = [
    ['flags', { kind: 'FLAGS' }],
    ['RFC822.SIZE', { kind: 'RFC822.SIZE' }],
    ['rfc822.header', { kind: 'RFC822.HEADER' }],
    ['BODY', { kind: 'BODY' }],
    ['BODYSTRUCTURE', { kind: 'BODYSTRUCTURE' }],
    ['MODSEQ', { kind: 'MODSEQ' }],
    ['BODY[]', { kind: 'BODY[]', peek: false, section: { part: [] } }],
    ['body.peek[]<0.100>', { kind: 'BODY[]', peek: true, section: { part: [] }, partial: { offset: 0, length: 100 } }],
    ['BODY[1.2]', { kind: 'BODY[]', peek: false, section: { part: [1, 2] } }],
    ['BODY[HEADER]', { kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER' } }],
    ['BODY[2.text]', { kind: 'BODY[]', peek: false, section: { part: [2], text: 'TEXT' } }],
    ['BODY[1.MIME]', { kind: 'BODY[]', peek: false, section: { part: [1], text: 'MIME' } }],
    [
      'BODY.PEEK[HEADER.FIELDS (From to "X-Spam")]<5.10>',
      { kind: 'BODY[]', peek: true, section: { part: [], text: 'HEADER.FIELDS', fields: ['FROM', 'TO', 'X-SPAM'] }, partial: { offset: 5, length: 10 } },
    ],
    ['BODY[3.HEADER.FIELDS.NOT (Subject)]', { kind: 'BODY[]', peek: false, section: { part: [3], text: 'HEADER.FIELDS.NOT', fields: ['SUBJECT'] } }],
    ['BINARY[1]', { kind: 'BINARY', peek: false, part: [1] }],
    ['BINARY.PEEK[]<0.1>', { kind: 'BINARY', peek: true, part: [], partial: { offset: 0, length: 1 } }],
    ['BINARY.SIZE[1.2]', { kind: 'BINARY.SIZE', part: [1, 2] }],
  ];
  for (const [text, item] of good) {
    it(`parses ${text}`, () => assert.deepEqual(parseFetchItem(text), item));
  }

  const bad = [
    'FOO',
    'FLAGS<0.1>',
    'BODY[]<0>',
    'BODY[]<0.0>',
    'BODY[]<a.1>',
    'BODY[0]',
    'BODY[1.]',
    'BODY[.TEXT]',
    'BODY[MIME]',
    'BODY[1TEXT]',
    'BODY[HEADER.FIELDS]',
    'BODY[HEADER.FIELDS ()]',
    'BODY[HEADER.FIELDS (a:b)]',
    'BODY[TEXT (From)]',
    'BODY[FOO]',
    'BINARY[TEXT]',
    'BINARY.SIZE[1]<0.1>',
    'RFC822.PEEK',
  ];
  for (const text of bad) {
    it(`refuses ${text}`, () => assert.throws(() => parseFetchItem(text), ImapSyntaxError));
  }
});

describe('FETCH arguments', () => {
  it('expands macros', () => {
    assert.deepEqual(
      parseFetch([atom('1:*'), atom('fast')], false).items.map((i) => i.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
    );
    assert.deepEqual(
      parseFetch([atom('1'), atom('ALL')], false).items.map((i) => i.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
    );
    assert.deepEqual(
      parseFetch([atom('1'), atom('FULL')], false).items.map((i) => i.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
    );
  });

  it('UID FETCH includes UID; CHANGEDSINCE includes MODSEQ', () => {
    const cmd = parseFetch([atom('1:*'), list(atom('FLAGS')), list(atom('CHANGEDSINCE'), atom('12345'), atom('VANISHED'))], true);
    assert.deepEqual(cmd.items.map((i) => i.kind), ['UID', 'FLAGS', 'MODSEQ']);
    assert.equal(cmd.changedSince, 12345);
    assert.equal(cmd.vanished, true);
    assert.deepEqual(cmd.set, { kind: 'ranges', ranges: [{ from: 1, to: '*' }] });
  });

  const bad: Array<[string, Token[], boolean]> = [
    ['no items', [atom('1')], false],
    ['empty list', [atom('1'), list()], false],
    ['macro in a list', [atom('1'), list(atom('ALL'))], false],
    ['bad set', [atom('0'), atom('FLAGS')], false],
    ['VANISHED without UID', [atom('1'), atom('FLAGS'), list(atom('CHANGEDSINCE'), atom('1'), atom('VANISHED'))], false],
    ['VANISHED without CHANGEDSINCE', [atom('1'), atom('FLAGS'), list(atom('VANISHED'))], true],
    ['CHANGEDSINCE without value', [atom('1'), atom('FLAGS'), list(atom('CHANGEDSINCE'))], true],
    ['unknown modifier', [atom('1'), atom('FLAGS'), list(atom('FOO'))], true],
    ['extra argument', [atom('1'), atom('FLAGS'), list(), atom('X')], true],
    ['string item', [atom('1'), { kind: 'string', value: Buffer.from('FLAGS'), literal: false }], false],
  ];
  for (const [what, args, isUid] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => parseFetch(args, isUid), ImapSyntaxError));
  }
});
