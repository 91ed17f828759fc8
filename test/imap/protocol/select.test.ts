import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSelect } from '../../../src/imap/protocol/select.js';
import { parseStatus } from '../../../src/imap/protocol/status.js';
import { ImapSyntaxError, type SelectCommand } from '../../../src/imap/protocol/types.js';
import { tokens } from './tokens.js';

const set = (from: number, to: number) => ({ kind: 'ranges' as const, ranges: [{ from, to }] });

describe('SELECT/EXAMINE arguments', () => {
  const good: Array<[string, SelectCommand]> = [
    ['inbox', { mailbox: 'INBOX', condstore: false }],
    ['"Sent Items" (CONDSTORE)', { mailbox: 'Sent Items', condstore: true }],
    ['INBOX (QRESYNC (67890007 2005071519404))', { mailbox: 'INBOX', condstore: false, qresync: { uidValidity: 67890007, modseq: 2005071519404 } }],
    // RFC 7162's examples use mod-sequences past 2^53; they compare the same clamped.
    [
      'INBOX (QRESYNC (67890007 20050715194045000))',
      { mailbox: 'INBOX', condstore: false, qresync: { uidValidity: 67890007, modseq: Number.MAX_SAFE_INTEGER } },
    ],
    [
      'INBOX (QRESYNC (67890007 9006011519404 41:211))',
      { mailbox: 'INBOX', condstore: false, qresync: { uidValidity: 67890007, modseq: 9006011519404, knownUids: set(41, 211) } },
    ],
    [
      'INBOX (CONDSTORE QRESYNC (1 2 1:100 (1:10 1:10)))',
      { mailbox: 'INBOX', condstore: true, qresync: { uidValidity: 1, modseq: 2, knownUids: set(1, 100), seqMatch: { seqs: set(1, 10), uids: set(1, 10) } } },
    ],
    [
      'INBOX (QRESYNC (1 2 (5:6 50:60)))',
      { mailbox: 'INBOX', condstore: false, qresync: { uidValidity: 1, modseq: 2, seqMatch: { seqs: set(5, 6), uids: set(50, 60) } } },
    ],
  ];
  for (const [text, expected] of good) {
    it(`parses ${text}`, () => assert.deepEqual(parseSelect(tokens(text), false), expected));
  }
  const bad = [
    '',
    '()',
    'INBOX CONDSTORE',
    'INBOX (FOO)',
    'INBOX (CONDSTORE CONDSTORE)',
    'INBOX (QRESYNC)',
    'INBOX (QRESYNC (0 1))',
    'INBOX (QRESYNC (1))',
    'INBOX (QRESYNC (1 9223372036854775808))',
    'INBOX (QRESYNC (4294967296 1))',
    'INBOX (QRESYNC (1 2 1:*))',
    'INBOX (QRESYNC (1 2 1:5 (1:5)))',
    'INBOX (QRESYNC (1 2 1:5 (1:5 1:5) x))',
    'INBOX () extra',
  ];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseSelect(tokens(text), false), ImapSyntaxError));
  }
});

describe('STATUS arguments', () => {
  it('parses items', () => {
    assert.deepEqual(parseStatus(tokens('Inbox (messages UIDNEXT uidvalidity UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT messages)'), false), {
      mailbox: 'INBOX',
      items: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT'],
    });
  });
  for (const text of ['INBOX', 'INBOX ()', 'INBOX (BOGUS)', 'INBOX MESSAGES', 'INBOX (MESSAGES) x', '(MESSAGES)']) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseStatus(tokens(text), false), ImapSyntaxError));
  }
});
