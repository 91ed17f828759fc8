/**
 * IMAP sequence sets (imap/protocol/sequence-set.ts): parse -> format -> parse gives the same
 * set; resolving against a mailbox gives ascending, unique numbers within 1..max that the
 * membership test agrees with; a UID set resolves to UIDs that exist. Input: "set" SP "max"
 * SP "uid,uid,...".
 */
import fc from 'fast-check';
import {
  formatNumberSet,
  formatSequenceSet,
  parseSequenceSet,
  resolveSequenceSet,
  resolveUidSet,
  sequenceSetExceeds,
  sequenceSetMatcher,
} from '../../src/imap/protocol/sequence-set.js';
import { ImapSyntaxError } from '../../src/imap/protocol/types.js';
import { check, type FuzzTarget } from '../engine/types.js';

const num = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(4294967295, 4294967296, 2 ** 53), fc.integer({ min: 1, max: 2 ** 32 }));
const item = fc.oneof(num.map(String), fc.constant('*'));
const range = fc.oneof(item, fc.tuple(item, item).map(([a, b]) => `${a}:${b}`));
const setText = fc.oneof(fc.array(range, { minLength: 1, maxLength: 8 }).map((r) => r.join(',')), fc.constantFrom('$', '0', '1:0', ',', '1,,2', '*:*', '1:*:2'));
const MAX_MESSAGES = 2000;

const target: FuzzTarget = {
  name: 'imap-sequence-set',
  description: 'IMAP sequence sets: parse/format round trip, resolution against a mailbox (imap/protocol/sequence-set.ts)',
  generator: fc
    .tuple(setText, fc.integer({ min: 0, max: 60 }), fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { maxLength: 30 }))
    .map(([set, max, uids]) => ({ bytes: Buffer.from(`${set} ${max} ${uids.join(',')}`, 'latin1') })),
  dictionary: ['*', ':', ',', '$', '4294967295', '0'],
  run(bytes) {
    const [setText = '', maxText = '0', uidText = ''] = bytes.toString('latin1').split(' ');
    const max = Math.min(Number.parseInt(maxText, 10) || 0, MAX_MESSAGES);
    const uids = [...new Set(uidText.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0 && n < 2 ** 32))].sort((a, b) => a - b);
    let set;
    try {
      set = parseSequenceSet(setText);
    } catch (err) {
      if (err instanceof ImapSyntaxError) return;
      throw err;
    }
    const text = formatSequenceSet(set);
    check(JSON.stringify(parseSequenceSet(text)) === JSON.stringify(set), () => `round trip changed ${setText} -> ${text}`);
    if (set.kind === 'ranges') {
      for (const r of set.ranges) {
        for (const n of [r.from, r.to]) check(n === '*' || (Number.isInteger(n) && n >= 1 && n <= 0xffffffff), `number out of range: ${n}`);
      }
    }
    const saved = uids.slice(0, 5);
    const seqs = resolveSequenceSet(set, max, saved);
    const matches = sequenceSetMatcher(set, max, saved);
    for (let i = 0; i < seqs.length; i++) {
      check(seqs[i] >= 1 && seqs[i] <= max, `resolved ${seqs[i]} outside 1..${max}`);
      if (i > 0) check(seqs[i] > seqs[i - 1], 'resolved numbers not ascending and unique');
    }
    if (set.kind === 'ranges') {
      for (let n = 1; n <= max; n++) check(matches(n) === seqs.includes(n), () => `matcher and resolver disagree on ${n} for ${setText} (max ${max})`);
      if (seqs.length > 0) check(formatSequenceSet(parseSequenceSet(formatNumberSet(seqs))) === formatNumberSet(seqs), 'formatNumberSet not a set');
      const exceeds = sequenceSetExceeds(set, max);
      check(exceeds || set.ranges.every((r) => (r.from === '*' || r.from <= max) && (r.to === '*' || r.to <= max)), 'exceeds wrong');
    }
    const resolvedUids = resolveUidSet(set, uids, saved);
    const uidSet = new Set(uids);
    for (let i = 0; i < resolvedUids.length; i++) {
      check(uidSet.has(resolvedUids[i]), `UID ${resolvedUids[i]} does not exist`);
      if (i > 0) check(resolvedUids[i] > resolvedUids[i - 1], 'UIDs not ascending and unique');
    }
    // n:* always includes the highest UID (RFC 9051 6.4.8).
    if (set.kind === 'ranges' && uids.length > 0 && set.ranges.some((r) => r.from === '*' || r.to === '*')) {
      check(resolvedUids.includes(uids[uids.length - 1]), '* does not include the highest UID');
    }
  },
};
export default target;
