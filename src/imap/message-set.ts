/**
 * Sequence sets against the selected mailbox: which messages a command addresses, by
 * sequence number or by UID, with `*` and `$` resolved the way RFC 9051 6.4.8 / RFC 5182 say.
 */
import { ImapBad } from './errors.js';
import type { MailboxView } from './mailbox-view.js';
import { resolveSequenceSet, resolveUidSet, sequenceSetExceeds } from './protocol/sequence-set.js';
import type { SequenceSet } from './protocol/types.js';
import type { ImapSession } from './session.js';

export interface Target {
  seq: number;
  uid: number;
}

/** UIDs of the view that are in a UID set (`*` = the highest UID; `n:*` always includes it). */
export function resolveUids(view: MailboxView, set: SequenceSet, saved: readonly number[] = []): number[] {
  return resolveUidSet(set, view.uids, saved);
}

/**
 * Messages addressed by a command as two parallel lists (UIDs and their sequence numbers),
 * for FETCH over a whole big mailbox: 100,000 {uid, seq} objects would live through several
 * young-generation collections while the responses are written.
 */
export function resolveTargetLists(s: ImapSession, set: SequenceSet, uid: boolean): { uids: number[]; seqs: number[] } {
  const view = s.requireView();
  const all = view.uids;
  if (uid || set.kind === 'saved') {
    const uids = resolveUids(view, set, s.savedSearch);
    const seqs = new Array<number>(uids.length);
    // Ascending UIDs (the usual case) are matched by walking the view once; others are looked up.
    let at = 0;
    for (let i = 0; i < uids.length; i++) {
      const u = uids[i]!;
      if (i > 0 && u <= uids[i - 1]!) at = 0;
      while (at < all.length && all[at]! < u) at++;
      seqs[i] = at < all.length && all[at] === u ? at + 1 : view.seqOf(u);
    }
    return { uids, seqs };
  }
  if (view.exists === 0 || sequenceSetExceeds(set, view.exists)) throw new ImapBad('Invalid message sequence number');
  const seqs = resolveSequenceSet(set, view.exists);
  return { uids: seqs.map((seq) => all[seq - 1]!), seqs };
}

/** Messages addressed by a command: by UID (`uid` true) or by sequence number. */
export function resolveTargets(s: ImapSession, set: SequenceSet, uid: boolean): Target[] {
  const view = s.requireView();
  // `$` holds UIDs whichever form the command takes.
  if (uid || set.kind === 'saved') return resolveUids(view, set, s.savedSearch).map((u) => ({ uid: u, seq: view.seqOf(u) }));
  if (view.exists === 0 || sequenceSetExceeds(set, view.exists)) throw new ImapBad('Invalid message sequence number');
  return resolveSequenceSet(set, view.exists).map((seq) => ({ seq, uid: view.uids[seq - 1]! }));
}
