import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAppendArgs } from '../../../src/imap/protocol/append-args.js';
import { isSettableFlag, parseFlag } from '../../../src/imap/protocol/flags.js';
import { parseStore } from '../../../src/imap/protocol/store-args.js';
import { ImapSyntaxError, type SequenceSet, type StoreCommand } from '../../../src/imap/protocol/types.js';
import { tokens } from './tokens.js';

const one: SequenceSet = { kind: 'ranges', ranges: [{ from: 1, to: 1 }] };

describe('STORE arguments', () => {
  const good: Array<[string, StoreCommand]> = [
    ['1 FLAGS (\\Seen)', { set: one, op: 'replace', silent: false, flags: ['\\Seen'] }],
    ['1 +flags.silent (\\seen $Work)', { set: one, op: 'add', silent: true, flags: ['\\Seen', '$Work'] }],
    ['1 -FLAGS \\Deleted \\Draft', { set: one, op: 'remove', silent: false, flags: ['\\Deleted', '\\Draft'] }],
    ['1 FLAGS ()', { set: one, op: 'replace', silent: false, flags: [] }],
    ['1 +FLAGS (a A b)', { set: one, op: 'add', silent: false, flags: ['a', 'b'] }],
    [
      '1 (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Flagged)',
      { set: one, op: 'add', silent: true, flags: ['\\Flagged'], unchangedSince: 12345 },
    ],
    ['1 (UNCHANGEDSINCE 0) FLAGS ()', { set: one, op: 'replace', silent: false, flags: [], unchangedSince: 0 }],
  ];
  for (const [text, expected] of good) {
    it(`parses ${text}`, () => assert.deepEqual(parseStore(tokens(text)), expected));
  }
  const bad = [
    '1',
    '1 FLAGS',
    '1 *FLAGS (\\Seen)',
    '1 FLAGS.LOUD (\\Seen)',
    '1 FLAGS (\\*)',
    '1 FLAGS (\\)',
    '1 FLAGS ("quoted")',
    '1 FLAGS (\\Seen) extra',
    '1 (UNCHANGEDSINCE) FLAGS ()',
    '1 (FOO 1) FLAGS ()',
    '1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()',
    'x FLAGS ()',
  ];
  for (const text of bad) {
    it(`refuses ${text}`, () => assert.throws(() => parseStore(tokens(text)), ImapSyntaxError));
  }
  it('accepts flag extensions and \\Recent as syntax, for the command to refuse with NO', () => {
    const store = parseStore(tokens('1 +FLAGS (\\recent \\Bogus)'));
    assert.deepEqual(store.flags, ['\\Recent', '\\Bogus']);
    assert.equal(isSettableFlag('\\Recent'), false);
    assert.equal(isSettableFlag('\\Bogus'), false);
    assert.equal(isSettableFlag('\\Seen'), true);
    assert.equal(isSettableFlag('$Junk'), true);
  });

  it('canonicalises system flags', () => {
    assert.equal(parseFlag('\\ANSWERED'), '\\Answered');
    assert.equal(parseFlag('$Forwarded'), '$Forwarded');
    assert.throws(() => parseFlag('a]b'), ImapSyntaxError);
    assert.throws(() => parseFlag('a%'), ImapSyntaxError);
  });
});

describe('APPEND arguments', () => {
  it('reads mailbox, flags and date-time', () => {
    const opts = parseAppendArgs(tokens('inbox (\\Seen x) "05-Mar-2024 10:00:00 +0100"'), true, false);
    assert.equal(opts.mailbox, 'INBOX');
    assert.deepEqual(opts.flags, ['\\Seen', 'x']);
    assert.equal(opts.date?.date.toISOString(), '2024-03-05T09:00:00.000Z');
    assert.deepEqual(parseAppendArgs([], false, false), { flags: [] });
    assert.deepEqual(parseAppendArgs(tokens('()'), false, false), { flags: [] });
  });
  const bad: Array<[string, boolean]> = [
    ['', true],
    ['INBOX 05-Mar-2024', true],
    ['INBOX "yesterday"', true],
    ['(\\Seen) (\\Seen)', false],
    ['INBOX', false],
    ['INBOX (\\a]b)', true],
  ];
  for (const [text, first] of bad) {
    it(`refuses ${JSON.stringify(text)}${first ? '' : ' (later message)'}`, () => {
      assert.throws(() => parseAppendArgs(tokens(text), first, false), ImapSyntaxError);
    });
  }
});
