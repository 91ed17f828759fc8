/**
 * Sequence sets against the selected mailbox: which messages a command addresses, by
 * sequence number or by UID, with `*` and `$` resolved the way RFC 9051 6.4.8 / RFC 5182 say.
 */
import { ImapBad } from './errors.js';
import type { MailboxView } from './mailbox-view.js';
import type { SequenceSet } from './protocol/types.js';
import type { ImapSession } from './session.js';

export interface Target {
  seq: number;
  uid: number;
}

function ranges(set: Extract<SequenceSet, { kind: 'ranges' }>, star: number) {
  return set.ranges.map((r) => {
    const a = r.from === '*' ? star : r.from;
    const b = r.to === '*' ? star : r.to;
    return a <= b ? [a, b] : [b, a];
  }) as Array<[number, number]>;
}

/** UIDs of the view that are in a UID set (`*` = the highest UID; `n:*` always includes it). */
export function resolveUids(view: MailboxView, set: SequenceSet, saved: number[] = []): number[] {
  if (set.kind === 'saved') {
    const keep = new Set(saved);
    return view.uids.filter((u) => keep.has(u));
  }
  const max = view.uids.length > 0 ? view.uids[view.uids.length - 1]! : 0;
  const rs = ranges(set, max);
  return view.uids.filter((u) => rs.some(([a, b]) => u >= a && u <= b));
}

/** Messages addressed by a command: by UID (`uid` true) or by sequence number. */
export function resolveTargets(s: ImapSession, set: SequenceSet, uid: boolean): Target[] {
  const view = s.requireView();
  if (uid) return resolveUids(view, set, s.savedSearch).map((u) => ({ uid: u, seq: view.seqOf(u) }));
  if (set.kind === 'saved') return resolveUids(view, set, s.savedSearch).map((u) => ({ uid: u, seq: view.seqOf(u) }));
  const n = view.uids.length;
  const rs = ranges(set, n);
  const seen = new Set<number>();
  const out: Target[] = [];
  for (const [a, b] of rs) {
    if (a < 1 || (a > n && n > 0) || (n === 0 && a >= 1)) {
      throw new ImapBad('Invalid message sequence number');
    }
    for (let seq = a; seq <= Math.min(b, n); seq++) {
      if (!seen.has(seq)) {
        seen.add(seq);
        out.push({ seq, uid: view.uids[seq - 1]! });
      }
    }
  }
  return out.sort((x, y) => x.seq - y.seq);
}
