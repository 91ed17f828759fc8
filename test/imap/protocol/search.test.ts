import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSearch } from '../../../src/imap/protocol/search.js';
import { ImapSyntaxError, type SearchKey } from '../../../src/imap/protocol/types.js';
import { tokens } from './tokens.js';

const seen = (present: boolean): SearchKey => ({ op: 'flag', flag: '\\Seen', present });

describe('SEARCH grammar', () => {
  const good: Array<[string, SearchKey]> = [
    ['ALL', { op: 'all' }],
    ['seen', seen(true)],
    ['UNSEEN', seen(false)],
    ['ANSWERED DELETED', { op: 'and', keys: [{ op: 'flag', flag: '\\Answered', present: true }, { op: 'flag', flag: '\\Deleted', present: true }] }],
    ['UNDRAFT', { op: 'flag', flag: '\\Draft', present: false }],
    ['UNFLAGGED', { op: 'flag', flag: '\\Flagged', present: false }],
    ['KEYWORD $Junk', { op: 'flag', flag: '$Junk', present: true }],
    ['UNKEYWORD foo', { op: 'flag', flag: 'foo', present: false }],
    ['NEW', { op: 'and', keys: [{ op: 'recent', present: true }, seen(false)] }],
    ['OLD', { op: 'recent', present: false }],
    ['RECENT', { op: 'recent', present: true }],
    ['FROM "fred smith"', { op: 'header', field: 'from', value: 'fred smith' }],
    ['To bob', { op: 'header', field: 'to', value: 'bob' }],
    ['CC x BCC y', { op: 'and', keys: [{ op: 'header', field: 'cc', value: 'x' }, { op: 'header', field: 'bcc', value: 'y' }] }],
    ['SUBJECT ""', { op: 'header', field: 'subject', value: '' }],
    ['HEADER X-Spam-Flag YES', { op: 'header', field: 'x-spam-flag', value: 'YES' }],
    ['BODY hello', { op: 'text', where: 'body', value: 'hello' }],
    ['TEXT "hi there"', { op: 'text', where: 'text', value: 'hi there' }],
    ['BEFORE 1-Feb-2024', { op: 'date', which: 'internal', cmp: 'before', day: '2024-02-01' }],
    ['ON "15-mar-2023"', { op: 'date', which: 'internal', cmp: 'on', day: '2023-03-15' }],
    ['SINCE 01-Jan-2020', { op: 'date', which: 'internal', cmp: 'since', day: '2020-01-01' }],
    ['SENTBEFORE 1-Jan-2020', { op: 'date', which: 'sent', cmp: 'before', day: '2020-01-01' }],
    ['SENTON 1-Jan-2020', { op: 'date', which: 'sent', cmp: 'on', day: '2020-01-01' }],
    ['SENTSINCE 1-Jan-2020', { op: 'date', which: 'sent', cmp: 'since', day: '2020-01-01' }],
    ['LARGER 100', { op: 'size', cmp: 'larger', size: 100 }],
    ['SMALLER 5', { op: 'size', cmp: 'smaller', size: 5 }],
    ['UID 1:*', { op: 'uid', set: { kind: 'ranges', ranges: [{ from: 1, to: '*' }] } }],
    ['UID $', { op: 'uid', set: { kind: 'saved' } }],
    ['5:2,7', { op: 'seq', set: { kind: 'ranges', ranges: [{ from: 5, to: 2 }, { from: 7, to: 7 }] } }],
    ['$', { op: 'seq', set: { kind: 'saved' } }],
    ['MODSEQ 620162338', { op: 'modseq', modseq: 620162338 }],
    ['MODSEQ "/flags/\\\\draft" all 620162338', { op: 'modseq', modseq: 620162338 }],
    ['NOT NOT SEEN', { op: 'not', key: { op: 'not', key: seen(true) } }],
    ['OR SEEN (FLAGGED DELETED)', {
      op: 'or',
      left: seen(true),
      right: { op: 'and', keys: [{ op: 'flag', flag: '\\Flagged', present: true }, { op: 'flag', flag: '\\Deleted', present: true }] },
    }],
    ['OR (OR 1 2) NOT (3)', {
      op: 'or',
      left: {
        op: 'or',
        left: { op: 'seq', set: { kind: 'ranges', ranges: [{ from: 1, to: 1 }] } },
        right: { op: 'seq', set: { kind: 'ranges', ranges: [{ from: 2, to: 2 }] } },
      },
      right: { op: 'not', key: { op: 'seq', set: { kind: 'ranges', ranges: [{ from: 3, to: 3 }] } } },
    }],
    ['((((SEEN))))', seen(true)],
  ];
  for (const [text, key] of good) {
    it(`parses ${text}`, () => {
      const cmd = parseSearch(tokens(text));
      assert.deepEqual(cmd, { returnOptions: null, key });
    });
  }

  it('reads CHARSET and RETURN options', () => {
    assert.deepEqual(parseSearch(tokens('RETURN (MIN count SAVE) CHARSET utf-8 SEEN')), {
      charset: 'UTF-8',
      returnOptions: ['MIN', 'COUNT', 'SAVE'],
      key: seen(true),
    });
    assert.deepEqual(parseSearch(tokens('RETURN () ALL')).returnOptions, []);
  });

  const bad = [
    '',
    'FOO',
    'FROM',
    'HEADER Subject',
    'HEADER "a:b" x',
    'BEFORE 2024-01-01',
    'SINCE 31-Feb-2024',
    'LARGER x',
    'LARGER -1',
    'NOT',
    'OR SEEN',
    'UID',
    'UID x',
    '0',
    '()',
    'KEYWORD \\Seen',
    'MODSEQ',
    'MODSEQ "/flags/x" bogus 5',
    'RETURN (BOGUS) ALL',
    'RETURN ALL',
    'CHARSET',
    '"SEEN"',
    'SEEN CHARSET UTF-8',
  ];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseSearch(tokens(text)), ImapSyntaxError));
  }

  it('bounds nesting of NOT chains', () => {
    assert.throws(() => parseSearch(tokens('NOT '.repeat(1000) + 'SEEN')), /nested/);
  });
});
