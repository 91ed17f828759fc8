/** EXPUNGE, UID EXPUNGE (RFC 4315), CLOSE and UNSELECT (RFC 9051 6.4.1-6.4.3). */
import { ArgCursor } from '../protocol/args.js';
import { ImapNo } from '../errors.js';
import { parseSequenceSet } from '../grammar.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { resolveUids } from '../message-set.js';
import type { ImapSession } from '../session.js';
import { SELECTED, argsOf, type CommandSpec } from './types.js';

/** Removes the \Deleted messages (of `only`, if given); returns the UIDs removed. */
async function expungeDeleted(s: ImapSession, only?: number[]): Promise<number[]> {
  const view = s.requireView();
  const candidates = only ? new Set(only) : null;
  const entries = (await s.entries.entriesOf(view.mailbox.id)).entries;
  const doomed = entries
    .filter((e) => e.flags.includes('\\Deleted') && (!candidates || candidates.has(e.uid)))
    .map((e) => e.uid);
  if (doomed.length === 0) return [];
  return s.store.expunge(view.mailbox.id, doomed);
}

/** Tells the client which messages are gone: EXPUNGE per message, or VANISHED with QRESYNC. */
export function announceExpunged(s: ImapSession, uids: number[]): void {
  const view = s.requireView();
  const known = uids.filter((u) => view.seqOf(u) > 0).sort((a, b) => a - b);
  if (known.length === 0) return;
  if (s.qresync) {
    for (const u of known) view.removeOwn(u);
    s.out.untagged(`VANISHED ${formatNumberSet(known)}`);
    return;
  }
  for (let i = known.length - 1; i >= 0; i--) {
    const seq = view.removeOwn(known[i]!);
    if (seq > 0) s.out.untagged(`${seq} EXPUNGE`);
  }
}

export const expunge: CommandSpec = {
  states: SELECTED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'EXPUNGE').end();
    if (s.requireView().readOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
    announceExpunged(s, await expungeDeleted(s));
  },
};

export const uidExpunge: CommandSpec = {
  states: SELECTED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'UID EXPUNGE');
    const set = parseSequenceSet(args.atom('UID set'));
    args.end();
    const view = s.requireView();
    if (view.readOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
    announceExpunged(s, await expungeDeleted(s, resolveUids(view, set, s.savedSearch)));
  },
};

/** CLOSE expunges silently (not in EXAMINE) and leaves the selected state. */
export const close: CommandSpec = {
  states: SELECTED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'CLOSE').end();
    if (!s.requireView().readOnly) await expungeDeleted(s);
    s.deselect();
  },
};

export const unselect: CommandSpec = {
  states: SELECTED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'UNSELECT').end();
    s.deselect();
  },
};
