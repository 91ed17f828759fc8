/** STORE and UID STORE (RFC 9051 6.4.6), with UNCHANGEDSINCE and MODIFIED (RFC 7162 3.1.3). */
import { ImapNo } from '../errors.js';
import { formatFlags, checkClientFlags } from '../flags.js';
import { parseStore } from '../grammar.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { resolveTargets } from '../message-set.js';
import type { ImapSession } from '../session.js';
import { loadEntries } from './fetch.js';
import { SELECTED, argsOf, type Command, type CommandSpec } from './types.js';

async function store(s: ImapSession, c: Command, uid: boolean) {
  const request = parseStore(argsOf(c));
  const view = s.requireView();
  if (view.readOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
  const normalized = checkClientFlags(request.flags);
  if ('error' in normalized) throw new ImapNo(normalized.error, 'CANNOT');
  if (request.unchangedSince !== undefined) s.condstoreActive = true;
  const targets = resolveTargets(s, request.set, uid);
  const live = targets.filter((t) => !view.isExpungedPending(t.uid));
  const result = await s.store.setFlags(
    view.mailbox.id,
    live.map((t) => t.uid),
    request.op,
    normalized.flags,
    request.unchangedSince !== undefined ? { unchangedSince: request.unchangedSince } : undefined,
  );
  const updated = new Map(result.updated.map((e) => [e.uid, e]));
  for (const e of result.updated) view.noteOwnChange(e);
  // Messages whose flags did not change still get their flags reported (RFC 9051 6.4.6).
  const modified = new Set(result.modified);
  const unchanged = live.filter((t) => !updated.has(t.uid) && !modified.has(t.uid)).map((t) => t.uid);
  const current = request.silent ? new Map() : await loadEntries(s, unchanged);
  for (const t of live) {
    if (modified.has(t.uid)) continue;
    const changed = updated.get(t.uid);
    // With UNCHANGEDSINCE even .SILENT reports the new MODSEQ of what changed (RFC 7162 3.1.3).
    if (request.silent && !(changed && request.unchangedSince !== undefined)) continue;
    const entry = changed ?? current.get(t.uid);
    if (!entry) continue;
    const parts = [];
    if (uid) parts.push(`UID ${t.uid}`);
    if (!request.silent) parts.push(`FLAGS ${formatFlags(entry.flags, view.recent.has(t.uid))}`);
    if (s.condstoreActive) parts.push(`MODSEQ (${entry.modseq})`);
    s.out.untagged(`${t.seq} FETCH (${parts.join(' ')})`);
  }
  if (modified.size > 0) {
    const ids = uid ? [...modified].sort((a, b) => a - b) : live.filter((t) => modified.has(t.uid)).map((t) => t.seq);
    return { code: `MODIFIED ${formatNumberSet(ids)}`, text: 'Conditional STORE failed' };
  }
}

export const storeCommand: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => store(s, c, false) };
export const uidStore: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => store(s, c, true) };
