/**
 * Sequence sets (RFC 9051 section 9: sequence-set, seq-range; `$` of RFC 5182): parsing,
 * resolving against a mailbox view, and the compact form used in responses.
 */
import { ImapSyntaxError, type SequenceSet } from './types.js';

/** nz-number: 1..2^32-1. */
const MAX_NZ = 0xffffffff;
const SET_PATTERN = /^(\*|[1-9][0-9]*)(:(\*|[1-9][0-9]*))?(,(\*|[1-9][0-9]*)(:(\*|[1-9][0-9]*))?)*$/;

/** Parses a sequence set; throws ImapSyntaxError. */
export function parseSequenceSet(text: string): SequenceSet {
  if (text === '$') return { kind: 'saved' };
  if (!SET_PATTERN.test(text)) throw new ImapSyntaxError(`Invalid sequence set: ${text.slice(0, 50)}`);
  const ranges = text.split(',').map((part) => {
    const [a, b] = part.split(':');
    const from = seqNumber(a);
    return { from, to: b === undefined ? from : seqNumber(b) };
  });
  return { kind: 'ranges', ranges };
}

/** True when `text` looks like a sequence set (a search key that is one, RFC 9051 6.4.4). */
export function isSequenceSet(text: string): boolean {
  return text === '$' || SET_PATTERN.test(text);
}

function seqNumber(text: string): number | '*' {
  if (text === '*') return '*';
  const n = Number(text);
  if (text.length > 10 || n > MAX_NZ) throw new ImapSyntaxError(`Number out of range in sequence set: ${text}`);
  return n;
}

/** Merged, sorted, inclusive intervals with '*' replaced by `star`. */
function intervals(set: SequenceSet & { kind: 'ranges' }, star: number): Array<[number, number]> {
  const list = set.ranges.map(({ from, to }): [number, number] => {
    const a = from === '*' ? star : from;
    const b = to === '*' ? star : to;
    // Ranges may be written backwards (5:2 is 2:5).
    return a <= b ? [a, b] : [b, a];
  });
  list.sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const iv of list) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1] + 1) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  return merged;
}

/**
 * The message numbers 1..max in `set`, ascending, each once. Numbers above `max` are left out
 * (see sequenceSetExceeds). `$` resolves to `saved` (message numbers), which must be given.
 */
export function resolveSequenceSet(set: SequenceSet, max: number, saved?: readonly number[]): number[] {
  if (set.kind === 'saved') return uniqueSorted((saved ?? []).filter((n) => n >= 1 && n <= max));
  const out: number[] = [];
  if (max === 0) return out;
  for (const [a, b] of intervals(set, max)) {
    for (let n = Math.max(a, 1); n <= Math.min(b, max); n++) out.push(n);
  }
  return out;
}

/**
 * A membership test for `set`, with '*' standing for `star` (the largest message number or
 * UID in use) and `$` for `saved`. Cheap per call: ranges are merged once, then searched.
 */
export function sequenceSetMatcher(set: SequenceSet, star: number, saved?: readonly number[]): (n: number) => boolean {
  if (set.kind === 'saved') {
    const wanted = new Set(saved ?? []);
    return (n) => wanted.has(n);
  }
  if (star === 0) return () => false;
  const merged = intervals(set, star);
  const starts = merged.map((iv) => iv[0]);
  return (n) => {
    const i = lowerBound(starts, n + 1) - 1;
    return i >= 0 && n <= merged[i][1];
  };
}

/**
 * True when `set` names a message number above `max` (other than via '*'): RFC 9051 6.4
 * lets the server answer BAD for such a set.
 */
export function sequenceSetExceeds(set: SequenceSet, max: number): boolean {
  if (set.kind === 'saved') return false;
  return set.ranges.some((r) => (r.from !== '*' && r.from > max) || (r.to !== '*' && r.to > max));
}

/**
 * The UIDs in `set` that exist in the mailbox, ascending. `uids` is the mailbox's UID list,
 * sorted ascending. '*' is the largest UID in use, so `n:*` with n above it still includes it
 * (RFC 9051 6.4.8). `$` resolves to `saved` (UIDs).
 */
export function resolveUidSet(set: SequenceSet, uids: readonly number[], saved?: readonly number[]): number[] {
  if (uids.length === 0) return [];
  if (set.kind === 'saved') {
    const wanted = new Set(saved ?? []);
    return uids.filter((u) => wanted.has(u));
  }
  const out: number[] = [];
  for (const [a, b] of intervals(set, uids[uids.length - 1])) {
    for (let i = lowerBound(uids, a); i < uids.length && uids[i] <= b; i++) out.push(uids[i]);
  }
  return out;
}

/** Index of the first element >= value in an ascending array. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function uniqueSorted(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Numbers as a compact set for responses: [1, 2, 3, 5] becomes "1:3,5". Empty input gives "". */
export function formatNumberSet(values: readonly number[]): string {
  const sorted = uniqueSorted(values);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** A parsed set back in wire form, as given (no merging). */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
}
