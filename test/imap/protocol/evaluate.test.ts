import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateSearch, type SearchContext, type SearchMessage } from '../../../src/imap/protocol/evaluate.js';
import { parseSearch } from '../../../src/imap/protocol/search.js';
import { tokens } from './tokens.js';

const day = (iso: string) => new Date(iso);

const messages: SearchMessage[] = [
  { seq: 1, uid: 10, flags: ['\\Seen'], modseq: 5, size: 100, internalDate: day('2024-01-01T12:00:00Z'), recent: false },
  { seq: 2, uid: 20, flags: ['\\Seen', '\\Flagged', '$Work'], modseq: 9, size: 2000, internalDate: day('2024-01-02T23:30:00Z'), recent: false },
  { seq: 3, uid: 30, flags: [], modseq: 12, size: 50, internalDate: day('2024-01-03T00:30:00Z'), recent: true },
  { seq: 4, uid: 45, flags: ['\\deleted'], modseq: 20, size: 700, internalDate: day('2024-01-05T10:00:00Z'), recent: true },
];

const headers: Record<number, Record<string, string>> = {
  10: { from: 'Alice <alice@example.com>', subject: 'Lunch', date: 'Mon, 1 Jan 2024 23:30:00 -0800' },
  20: { from: 'Bob <bob@example.com>', subject: 'Re: Lunch', 'x-prio': 'high', date: 'garbage' },
  30: { from: 'alice@example.com', subject: 'Report', date: '31 Dec 2023 00:10 +1400' },
  45: { from: 'Carol', subject: '' },
};

interface Calls {
  text: string[];
  header: number;
  sent: number;
}

function context(calls: Calls, extra: Partial<SearchContext> = {}): SearchContext {
  return {
    messages,
    timezoneOffsetMinutes: 0,
    async sentDate(uid) {
      calls.sent++;
      return headers[uid].date ?? null;
    },
    async headerValue(uid, field) {
      calls.header++;
      return headers[uid][field] ?? null;
    },
    async textMatches(where, value) {
      calls.text.push(`${where}:${value}`);
      if (where === 'body') return new Set(value === 'budget' ? [20, 45] : []);
      if (where === 'text') return new Set(value === 'lunch' ? [10, 20] : []);
      return null;
    },
    ...extra,
  };
}

async function uids(program: string, extra: Partial<SearchContext> = {}): Promise<number[]> {
  const calls: Calls = { text: [], header: 0, sent: 0 };
  return evaluateSearch(parseSearch(tokens(program)).key, context(calls, extra));
}

describe('search evaluation', () => {
  const cases: Array<[string, number[]]> = [
    ['ALL', [10, 20, 30, 45]],
    ['SEEN', [10, 20]],
    ['UNSEEN', [30, 45]],
    ['DELETED', [45]],
    ['KEYWORD $work', [20]],
    ['NEW', [30, 45]],
    ['OLD', [10, 20]],
    ['RECENT UNDELETED', [30]],
    ['LARGER 100', [20, 45]],
    ['SMALLER 100', [30]],
    ['MODSEQ 12', [30, 45]],
    ['2:3', [20, 30]],
    ['*', [45]],
    ['UID 15:40', [20, 30]],
    ['UID 100:*', [45]],
    ['BEFORE 2-Jan-2024', [10]],
    ['ON 2-Jan-2024', [20]],
    ['SINCE 3-Jan-2024', [30, 45]],
    ['SENTBEFORE 1-Jan-2024', [30]],
    ['SENTON 1-Jan-2024', [10]],
    ['SENTSINCE 1-Jan-2024', [10]],
    ['FROM alice', [10, 30]],
    ['FROM ALICE SUBJECT report', [30]],
    ['HEADER X-Prio ""', [20]],
    ['SUBJECT ""', [10, 20, 30, 45]],
    ['BODY budget', [20, 45]],
    ['TEXT lunch', [10, 20]],
    ['OR SEEN DELETED', [10, 20, 45]],
    ['NOT (OR SEEN DELETED)', [30]],
    ['OR (SEEN FLAGGED) (NOT SEEN LARGER 600)', [20, 45]],
    ['NOT NOT NOT 1:2', [30, 45]],
    ['OR (TEXT lunch NOT BODY budget) (FROM carol)', [10, 45]],
  ];
  for (const [program, expected] of cases) {
    it(`${program} finds ${JSON.stringify(expected)}`, async () => assert.deepEqual(await uids(program), expected));
  }

  it('compares internal dates as calendar days in the given zone', async () => {
    // 2024-01-02T23:30Z is already 3 January two hours east of UTC.
    assert.deepEqual(await uids('ON 3-Jan-2024', { timezoneOffsetMinutes: 120 }), [20, 30]);
  });

  it('resolves $ to the saved UIDs', async () => {
    assert.deepEqual(await uids('$', { savedUids: [20, 45, 99] }), [20, 45]);
    assert.deepEqual(await uids('UID $', { savedUids: [10] }), [10]);
  });

  it('takes * from the view when the searched messages are a subset of it', async () => {
    const subset = { messages: messages.slice(0, 2), maxSeq: 4, maxUid: 45 };
    assert.deepEqual(await uids('*', subset), []);
    assert.deepEqual(await uids('UID 40:*', subset), []);
    assert.deepEqual(await uids('UID 1:*', subset), [10, 20]);
  });

  it('asks the text index once per distinct key and looks up headers only for candidates', async () => {
    const calls: Calls = { text: [], header: 0, sent: 0 };
    const program = 'SEEN OR BODY budget (BODY budget FROM bob) FROM alice';
    const found = await evaluateSearch(parseSearch(tokens(program)).key, context(calls));
    assert.deepEqual(found, []);
    assert.deepEqual(calls.text.filter((c) => c.startsWith('body')), ['body:budget']);
    // FROM alice ran after SEEN and the body test narrowed the candidates to one message.
    assert.equal(calls.header, 1);
  });

  it('uses the index for a header field when it answers', async () => {
    const calls: Calls = { text: [], header: 0, sent: 0 };
    const ctx = context(calls, {
      async textMatches(where) {
        calls.text.push(where);
        return where === 'subject' ? new Set([30]) : null;
      },
    });
    const found = await evaluateSearch(parseSearch(tokens('SUBJECT report')).key, ctx);
    assert.deepEqual(found, [30]);
    assert.equal(calls.header, 0);
  });
});
