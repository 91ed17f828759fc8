/** FETCH and UID FETCH (RFC 9051 6.4.5), with CHANGEDSINCE and VANISHED (RFC 7162). */
import { ImapBad } from '../errors.js';
import { MessageFetcher, onlySmallItems, smallFetchFormatter } from '../fetch/message-response.js';

/** Response bytes gathered before one write when FETCH needs only the entries. */
const BATCH_BYTES = 64 * 1024;
import { parseFetch } from '../grammar.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { resolveTargetLists } from '../message-set.js';
import type { FetchItem } from '../protocol/types.js';
import type { ImapSession } from '../session.js';
import type { MailboxEntry } from '../../store/types.js';
import { SELECTED, argsOf, type Command, type CommandSpec } from './types.js';

/** Items that set \Seen when fetched without .PEEK (RFC 9051 6.4.5). */
function setsSeen(items: FetchItem[]): boolean {
  return items.some(
    (i) => i.kind === 'RFC822' || i.kind === 'RFC822.TEXT' || ((i.kind === 'BODY[]' || i.kind === 'BINARY') && !i.peek),
  );
}

/** Entries of the given UIDs that still exist, from the process's entry cache. */
export async function loadEntries(s: ImapSession, uids: number[]): Promise<Map<number, MailboxEntry>> {
  const map = new Map<number, MailboxEntry>();
  if (uids.length === 0) return map;
  const snapshot = await s.entries.entriesOf(s.requireView().mailbox.id);
  for (const uid of uids) {
    const e = snapshot.find(uid);
    if (e) map.set(uid, e);
  }
  return map;
}

async function fetch(s: ImapSession, c: Command, uid: boolean) {
  const request = parseFetch(argsOf(c), uid);
  const view = s.requireView();
  if (request.vanished && (!uid || request.changedSince === undefined || !s.qresync)) {
    throw new ImapBad('VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled');
  }
  if (request.changedSince !== undefined || request.items.some((i) => i.kind === 'MODSEQ')) s.condstoreActive = true;
  const targets = resolveTargetLists(s, request.set, uid);
  const snapshot = await s.entries.entriesOf(view.mailbox.id);
  // Entries whose flags this command changed (the implicit \Seen); the rest come from the snapshot.
  const changedHere = new Map<number, MailboxEntry>();

  if (request.vanished && request.changedSince !== undefined) {
    const changes = await s.store.changesSince(view.mailbox.id, request.changedSince);
    const max = view.uids[view.uids.length - 1] ?? 0;
    const inSet = new Set(targets.uids);
    const gone = changes.expunged.filter((u) => u <= max && (inSet.has(u) || !view.seqOf(u)));
    if (gone.length > 0) s.out.untagged(`VANISHED (EARLIER) ${formatNumberSet(gone)}`);
  }

  const markSeen = setsSeen(request.items) && !view.readOnly;
  const flagged = new Set<number>();
  if (markSeen) {
    const unseen: number[] = [];
    for (const targetUid of targets.uids) {
      const e = snapshot.find(targetUid);
      if (e && !e.flags.includes('\\Seen')) unseen.push(e.uid);
    }
    if (unseen.length > 0) {
      const result = await s.store.setFlags(view.mailbox.id, unseen, 'add', ['\\Seen']);
      for (const e of result.updated) {
        changedHere.set(e.uid, e);
        view.noteOwnChange(e);
        flagged.add(e.uid);
      }
    }
  }

  const small = onlySmallItems(request.items) ? smallFetchFormatter(request.items, uid) : null;
  // Lines are encoded into a buffer as they are made, so each line's string is garbage at once:
  // joined into one long string first, they would live through collections (and be copied)
  // until the batch is written, which on 100,000 messages is most of the work.
  let batch = small ? Buffer.allocUnsafe(BATCH_BYTES) : null;
  let used = 0;
  for (let i = 0; i < targets.uids.length; i++) {
    const target = { uid: targets.uids[i]!, seq: targets.seqs[i]! };
    const entry = changedHere.get(target.uid) ?? snapshot.find(target.uid);
    // Expunged by someone else and not yet announced: nothing to send (RFC 9051 7.5.1).
    if (!entry) continue;
    if (request.changedSince !== undefined && entry.modseq <= request.changedSince) continue;
    const ctx = {
      recent: view.recent.has(entry.uid),
      withUid: uid,
      withModseq: s.condstoreActive && (request.changedSince !== undefined || flagged.has(entry.uid)),
      withFlags: flagged.has(entry.uid),
    };
    if (small && batch) {
      // Many lines go out as one write, with back-pressure between writes.
      const line = small(ctx, target.seq, entry);
      // At most 3 bytes per UTF-16 unit; a line longer than a batch goes out alone.
      if (used > 0 && used + line.length * 3 > batch.length) {
        await s.out.rawWait(batch.subarray(0, used));
        batch = Buffer.allocUnsafe(BATCH_BYTES);
        used = 0;
      }
      if (line.length * 3 > batch.length) {
        await s.out.rawWait(Buffer.from(line, 'utf8'));
        continue;
      }
      used += batch.write(line, used, 'utf8');
      continue;
    }
    await new MessageFetcher({ ...ctx, store: s.store, out: s.out }, target.seq, entry).write(request.items);
  }
  if (batch && used > 0) s.out.raw(batch.subarray(0, used));
}

export const fetchCommand: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => fetch(s, c, false) };
export const uidFetch: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => fetch(s, c, true) };
