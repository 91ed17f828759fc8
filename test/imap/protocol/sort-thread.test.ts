import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SortableMessage, sortByCriteria } from '../../../src/imap/protocol/sort-order.js';
import { formatThreads, type HeaderRow, parseSort, parseThread, sortMessages, threadMessages } from '../../../src/imap/protocol/sort-thread.js';
import { ImapSyntaxError } from '../../../src/imap/protocol/types.js';
import { tokens } from './tokens.js';

describe('SORT and THREAD arguments', () => {
  it('parses SORT with REVERSE, DISPLAY keys and RETURN', () => {
    assert.deepEqual(parseSort(tokens('RETURN (MIN) (REVERSE arrival displayfrom) utf-8 UNSEEN')), {
      criteria: [
        { key: 'ARRIVAL', reverse: true },
        { key: 'DISPLAYFROM', reverse: false },
      ],
      charset: 'UTF-8',
      returnOptions: ['MIN'],
      key: { op: 'flag', flag: '\\Seen', present: false },
    });
    assert.equal(parseSort(tokens('(SUBJECT) US-ASCII ALL')).returnOptions, null);
  });
  it('parses THREAD', () => {
    assert.deepEqual(parseThread(tokens('references UTF-8 SINCE 5-MAR-2000')), {
      algorithm: 'REFERENCES',
      charset: 'UTF-8',
      key: { op: 'date', which: 'internal', cmp: 'since', day: '2000-03-05' },
    });
    assert.equal(parseThread(tokens('ORDEREDSUBJECT UTF-8 ALL')).algorithm, 'ORDEREDSUBJECT');
  });
  const badSort = ['', '() UTF-8 ALL', '(REVERSE) UTF-8 ALL', '(BOGUS) UTF-8 ALL', '(DATE) ALL', '(DATE) UTF-8', 'DATE UTF-8 ALL', '(DATE REVERSE) UTF-8 ALL'];
  for (const text of badSort) {
    it(`refuses SORT ${JSON.stringify(text)}`, () => assert.throws(() => parseSort(tokens(text)), ImapSyntaxError));
  }
  for (const text of ['', 'JWZ UTF-8 ALL', 'REFERENCES UTF-8', 'REFERENCES']) {
    it(`refuses THREAD ${JSON.stringify(text)}`, () => assert.throws(() => parseThread(tokens(text)), ImapSyntaxError));
  }
});

function message(seq: number, fields: Partial<SortableMessage>): SortableMessage {
  return { seq, arrival: 0, sentDate: null, size: 0, subject: '', from: '', to: '', cc: '', displayFrom: '', displayTo: '', ...fields };
}

describe('SORT order', () => {
  const messages = [
    message(1, { arrival: 30, sentDate: 5, size: 10, subject: 'Re: beta', from: 'zed', displayFrom: 'Anna' }),
    message(2, { arrival: 10, sentDate: null, size: 30, subject: 'alpha', from: 'Bob', displayFrom: 'bob@x' }),
    message(3, { arrival: 20, sentDate: 15, size: 20, subject: '[list] Beta', from: 'bob', displayFrom: 'Émile' }),
    message(4, { arrival: 20, sentDate: 25, size: 20, subject: 'Fwd: Alpha', from: '', displayFrom: '' }),
  ];
  const cases: Array<[string, Array<{ key: 'ARRIVAL' | 'DATE' | 'SIZE' | 'SUBJECT' | 'FROM' | 'DISPLAYFROM'; reverse: boolean }>, number[]]> = [
    ['ARRIVAL', [{ key: 'ARRIVAL', reverse: false }], [2, 3, 4, 1]],
    ['REVERSE ARRIVAL (ties stay in sequence order)', [{ key: 'ARRIVAL', reverse: true }], [1, 3, 4, 2]],
    ['DATE (missing uses arrival)', [{ key: 'DATE', reverse: false }], [1, 2, 3, 4]],
    ['SIZE', [{ key: 'SIZE', reverse: false }], [1, 3, 4, 2]],
    ['SUBJECT then REVERSE SIZE', [{ key: 'SUBJECT', reverse: false }, { key: 'SIZE', reverse: true }], [2, 4, 3, 1]],
    ['FROM (case-insensitive, empty first)', [{ key: 'FROM', reverse: false }], [4, 2, 3, 1]],
    ['DISPLAYFROM', [{ key: 'DISPLAYFROM', reverse: false }], [4, 1, 2, 3]],
  ];
  for (const [what, criteria, expected] of cases) {
    it(what, () => assert.deepEqual(sortByCriteria(messages, criteria).map((m) => m.seq), expected));
  }
});

describe('SORT and THREAD over stored header fields', () => {
  const at = (iso: string) => new Date(iso);
  const rows: HeaderRow[] = [
    { id: 11, internalDate: at('2024-01-03T00:00:00Z'), size: 300, headers: { from: 'Zed <zed@x>', subject: 'Re: plan', date: 'Tue, 2 Jan 2024 10:00:00 +0000', messageId: '<b@x>', references: '<a@x>' } },
    { id: 12, internalDate: at('2024-01-01T00:00:00Z'), size: 100, headers: { from: '"Adams, Ann" <ann@x>', subject: 'Plan', date: 'Mon, 1 Jan 2024 10:00:00 +0000', messageId: '<a@x>' } },
    { id: 13, internalDate: at('2024-01-02T00:00:00Z'), size: 200, headers: { from: 'bob@x', subject: 'Other' } },
  ];
  it('sorts by address, display name, date and size', () => {
    assert.deepEqual(sortMessages([{ key: 'FROM', reverse: false }], rows), [12, 13, 11]);
    assert.deepEqual(sortMessages([{ key: 'DISPLAYFROM', reverse: false }], rows), [12, 13, 11]);
    // No Date header: the internal date stands in.
    assert.deepEqual(sortMessages([{ key: 'DATE', reverse: false }], rows), [12, 13, 11]);
    assert.deepEqual(sortMessages([{ key: 'SIZE', reverse: true }], rows), [11, 13, 12]);
    assert.deepEqual(sortMessages([{ key: 'SUBJECT', reverse: false }, { key: 'ARRIVAL', reverse: false }], rows), [13, 12, 11]);
  });
  it('threads by references and by subject', () => {
    assert.equal(formatThreads(threadMessages('REFERENCES', rows)), '(12 11)(13)');
    assert.equal(formatThreads(threadMessages('ORDEREDSUBJECT', rows)), '(12 11)(13)');
  });
});
