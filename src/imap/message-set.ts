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

/** Messages addressed by a command: by UID (`uid` true) or by sequence number. */
export function resolveTargets(s: ImapSession, set: SequenceSet, uid: boolean): Target[] {
  const view = s.requireView();
  // `$` holds UIDs whichever form the command takes.
  if (uid || set.kind === 'saved') return resolveUids(view, set, s.savedSearch).map((u) => ({ uid: u, seq: view.seqOf(u) }));
  if (view.exists === 0 || sequenceSetExceeds(set, view.exists)) throw new ImapBad('Invalid message sequence number');
  return resolveSequenceSet(set, view.exists).map((seq) => ({ seq, uid: view.uids[seq - 1]! }));
}
