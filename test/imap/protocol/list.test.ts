import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseList } from '../../../src/imap/protocol/list.js';
import { ImapSyntaxError, type ListCommand } from '../../../src/imap/protocol/types.js';
import { tokens } from './tokens.js';

const plain: ListCommand = {
  selection: [],
  reference: '',
  patterns: ['*'],
  returnSubscribed: false,
  returnChildren: false,
  returnSpecialUse: false,
  returnStatus: null,
};

describe('LIST arguments', () => {
  const good: Array<[string, boolean, Partial<ListCommand>]> = [
    ['"" *', false, {}],
    ['~/Mail/ %', false, { reference: '~/Mail/', patterns: ['%'] }],
    ['"" Entw&APw-rfe/%', false, { patterns: ['Entwürfe/%'] }],
    ['"" "Entwürfe/%"', true, { patterns: ['Entwürfe/%'] }],
    ['"" ""', false, { patterns: [''] }],
    ['"" (INBOX Sent* "Drafts")', false, { patterns: ['INBOX', 'Sent*', 'Drafts'] }],
    ['(SUBSCRIBED) "" *', false, { selection: ['SUBSCRIBED'], returnSubscribed: true }],
    ['(subscribed RECURSIVEMATCH) "" *', false, { selection: ['SUBSCRIBED', 'RECURSIVEMATCH'], returnSubscribed: true }],
    ['(SPECIAL-USE) "" *', false, { selection: ['SPECIAL-USE'], returnSpecialUse: true }],
    ['() "" *', false, {}],
    [
      '"" * RETURN (CHILDREN SUBSCRIBED special-use STATUS (MESSAGES UNSEEN))',
      false,
      { returnChildren: true, returnSubscribed: true, returnSpecialUse: true, returnStatus: ['MESSAGES', 'UNSEEN'] },
    ],
    ['"" * RETURN ()', false, {}],
  ];
  for (const [text, utf8, expected] of good) {
    it(`parses ${text}`, () => assert.deepEqual(parseList(tokens(text), utf8), { ...plain, ...expected }));
  }
  const bad = [
    '',
    '""',
    '(RECURSIVEMATCH) "" *',
    '(BOGUS) "" *',
    '"" ()',
    '"" * RETURN (BOGUS)',
    '"" * RETURN (STATUS ())',
    '"" * RETURN (STATUS (MESSAGES) STATUS (UNSEEN))',
    '"" * RETURN',
    '"" * EXTRA',
    '"" &Jjo',
    '"" "Entwürfe"',
  ];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseList(tokens(text), false), ImapSyntaxError));
  }
});
