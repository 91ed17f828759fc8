import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatNumberSet,
  formatSequenceSet,
  parseSequenceSet,
  resolveSequenceSet,
  resolveUidSet,
  sequenceSetMatcher,
  sequenceSetExceeds,
} from '../../../src/imap/protocol/sequence-set.js';
import { ImapSyntaxError } from '../../../src/imap/protocol/types.js';

describe('sequence sets', () => {
  const resolved: Array<[string, number, number[]]> = [
    ['1', 5, [1]],
    ['1:3', 5, [1, 2, 3]],
    ['5:2', 5, [2, 3, 4, 5]],
    ['*', 5, [5]],
    ['*:3', 5, [3, 4, 5]],
    ['3:*', 5, [3, 4, 5]],
    ['2,4:5,1', 5, [1, 2, 4, 5]],
    ['1:3,2:4', 5, [1, 2, 3, 4]],
    ['4:10', 5, [4, 5]],
    ['7:*', 5, [5]],
    ['7', 5, []],
    ['*', 0, []],
    ['1:4294967295', 3, [1, 2, 3]],
  ];
  for (const [text, max, expected] of resolved) {
    it(`${text} over ${max} messages is ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(resolveSequenceSet(parseSequenceSet(text), max), expected);
    });
  }

  const uids = [3, 7, 8, 20];
  const uidCases: Array<[string, number[]]> = [
    ['*', [20]],
    ['100:*', [20]],
    ['*:100', [20]],
    ['1:7', [3, 7]],
    ['8:4', [7, 8]],
    ['9:19', []],
    ['1,3,21', [3]],
    ['1:*', [3, 7, 8, 20]],
  ];
  for (const [text, expected] of uidCases) {
    it(`UID ${text} over ${uids.join(',')} is ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(resolveUidSet(parseSequenceSet(text), uids), expected);
    });
  }

  it('UID * in an empty mailbox is nothing', () => {
    assert.deepEqual(resolveUidSet(parseSequenceSet('*'), []), []);
  });

  it('$ resolves to the saved result', () => {
    const saved = parseSequenceSet('$');
    assert.deepEqual(saved, { kind: 'saved' });
    assert.deepEqual(resolveUidSet(saved, uids, [8, 3, 99]), [3, 8]);
    assert.deepEqual(resolveSequenceSet(saved, 4, [4, 2, 9, 2]), [2, 4]);
  });

  const invalid = ['', '0', '1:0', '1,', ',1', '1::2', 'a', '1:2:3', '-1', '4294967296', '1 2', '$,1', '01'];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseSequenceSet(text), ImapSyntaxError);
    });
  }

  it('tests membership with * as given', () => {
    const inSet = sequenceSetMatcher(parseSequenceSet('9:7,2,20:*'), 25);
    assert.deepEqual([1, 2, 3, 7, 8, 9, 10, 19, 20, 25, 26].filter(inSet), [2, 7, 8, 9, 20, 25]);
    assert.equal(sequenceSetMatcher(parseSequenceSet('*'), 0)(1), false);
    assert.equal(sequenceSetMatcher(parseSequenceSet('$'), 5, [3])(3), true);
  });

  it('detects message numbers beyond the mailbox', () => {
    assert.equal(sequenceSetExceeds(parseSequenceSet('1:*'), 3), false);
    assert.equal(sequenceSetExceeds(parseSequenceSet('2:4'), 3), true);
  });

  it('formats compact sets', () => {
    assert.equal(formatNumberSet([5, 1, 2, 3, 3]), '1:3,5');
    assert.equal(formatNumberSet([]), '');
    assert.equal(formatNumberSet([9, 11, 10, 1]), '1,9:11');
    assert.equal(formatSequenceSet(parseSequenceSet('5:2,*,1:*')), '5:2,*,1:*');
  });
});
