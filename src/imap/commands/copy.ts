/** COPY, MOVE and their UID forms (RFC 9051 6.4.7/6.4.8, UIDPLUS COPYUID, RFC 6851). */
import { ArgCursor } from '../protocol/args.js';
import { ImapNo } from '../errors.js';
import { parseSequenceSet } from '../grammar.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { resolveTargets } from '../message-set.js';
import type { ImapSession } from '../session.js';
import { StoreError, type CopyResult } from '../../store/types.js';
import { announceExpunged } from './expunge.js';
import { mailboxFromWire } from './mailbox-name.js';
import { SELECTED, argsOf, type Command, type CommandSpec } from './types.js';

/** `COPYUID <validity> <source uids> <new uids>`, both in source order (RFC 4315 4). */
function copyUid(result: CopyResult): string {
  return `COPYUID ${result.uidValidity} ${formatNumberSet(result.mapping.map(([a]) => a))} ${formatNumberSet(result.mapping.map(([, b]) => b))}`;
}

async function transfer(s: ImapSession, c: Command, uid: boolean, move: boolean) {
  const args = new ArgCursor(argsOf(c), move ? 'MOVE' : 'COPY');
  const set = parseSequenceSet(args.atom('message set'));
  const name = mailboxFromWire(s, args.astring('mailbox'));
  args.end();
  const view = s.requireView();
  if (move && view.readOnly) throw new ImapNo('Mailbox is read-only', 'READ-ONLY');
  const target = await s.store.getMailbox(s.user!.id, name);
  if (!target) throw new ImapNo('Mailbox does not exist', 'TRYCREATE');
  const uids = resolveTargets(s, set, uid)
    .map((t) => t.uid)
    .filter((u) => !view.isExpungedPending(u));
  if (uids.length === 0) return { text: 'No messages' };
  let result: CopyResult;
  try {
    result = move
      ? await s.store.moveEntries(view.mailbox.id, uids, target.id)
      : await s.store.copyEntries(view.mailbox.id, uids, target.id);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'quota') throw new ImapNo('Quota exceeded', 'OVERQUOTA');
    throw err;
  }
  if (result.mapping.length === 0) return { text: 'No messages' };
  if (!move) return { code: copyUid(result), text: 'COPY completed' };
  s.out.status(null, 'OK', 'Moved', copyUid(result));
  announceExpunged(s, result.mapping.map(([from]) => from));
  return { text: 'MOVE completed' };
}

export const copy: CommandSpec = { states: SELECTED, run: (s, c) => transfer(s, c, false, false) };
export const uidCopy: CommandSpec = { states: SELECTED, run: (s, c) => transfer(s, c, true, false) };
export const move: CommandSpec = { states: SELECTED, run: (s, c) => transfer(s, c, false, true) };
export const uidMove: CommandSpec = { states: SELECTED, run: (s, c) => transfer(s, c, true, true) };
