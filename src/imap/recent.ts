/**
 * \Recent (RFC 3501 2.3.2): a message is recent in exactly one session, the first to select
 * its mailbox after it arrived. The claim is kept per mailbox in this process.
 * TODO(multi-node): keep the claimed UID in the store so sessions on other nodes agree.
 */
import type { Mailbox } from '../store/types.js';

const claimedUpTo = new Map<string, number>();

function key(mailbox: Mailbox): string {
  return `${mailbox.id}:${mailbox.uidValidity}`;
}

/**
 * Claims the given UIDs (ascending) for the calling session; returns the first UID that is
 * recent for it (everything at or above it that is in `uids`). Infinity: none.
 */
export function claimRecent(mailbox: Mailbox, uids: readonly number[]): number {
  const k = key(mailbox);
  const claimed = claimedUpTo.get(k) ?? 0;
  const last = uids.length > 0 ? uids[uids.length - 1]! : 0;
  if (last <= claimed) return Infinity;
  claimedUpTo.set(k, last);
  return claimed + 1;
}
