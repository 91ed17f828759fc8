/** SELECT and EXAMINE (RFC 9051 6.3.2/6.3.3), with CONDSTORE and QRESYNC parameters (RFC 7162). */
import { ImapNo } from '../errors.js';
import { SYSTEM_FLAGS, formatFlags } from '../flags.js';
import { parseSelect } from '../grammar.js';
import { MailboxView } from '../mailbox-view.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { resolveUids } from '../message-set.js';
import type { ImapSession } from '../session.js';
import { mailboxFromWire, mailboxToWire, requireMailbox } from './mailbox-name.js';
import { AUTHENTICATED, argsOf, type Command, type CommandSpec } from './types.js';

async function open(s: ImapSession, c: Command, readOnly: boolean) {
  const request = parseSelect(argsOf(c), s.utf8);
  const name = mailboxFromWire(s, request.mailbox);
  if (request.qresync && !s.qresync) throw new ImapNo('QRESYNC is not enabled', 'CLIENTBUG');
  if (s.view) {
    s.deselect();
    // RFC 7162 3.2.11: tells a QRESYNC client where the old mailbox's responses end.
    if (s.qresync) s.out.status(null, 'OK', 'Previous mailbox closed', 'CLOSED');
  }
  const found = await requireMailbox(s, name);
  if (request.condstore || request.qresync) s.condstoreActive = true;
  const view = await MailboxView.open(s.store, s.entries, found.id, {
    readOnly,
    qresync: () => s.qresync,
    condstore: () => s.condstoreActive,
    onChange: () => s.onMailboxChange(),
  });
  if (!view) throw new ImapNo('Mailbox does not exist', 'NONEXISTENT');
  // The view's copy: as current as the entries it was opened from.
  const mailbox = view.mailbox;
  s.view = view;
  s.state = 'selected';

  const keywords = [...view.keywords];
  s.out.untagged(`${view.exists} EXISTS`);
  if (!s.rev2) s.out.untagged(`${view.recent.size} RECENT`);
  s.out.untagged(`FLAGS ${formatFlags([...SYSTEM_FLAGS, ...keywords])}`);
  s.out.status(null, 'OK', readOnly ? 'No permanent flags permitted' : 'Flags permitted', `PERMANENTFLAGS ${readOnly ? '()' : formatFlags([...SYSTEM_FLAGS, ...keywords, '\\*'])}`);
  if (!s.rev2 && view.firstUnseen > 0) s.out.status(null, 'OK', `Message ${view.firstUnseen} is first unseen`, `UNSEEN ${view.firstUnseen}`);
  s.out.status(null, 'OK', 'UIDs valid', `UIDVALIDITY ${mailbox.uidValidity}`);
  s.out.status(null, 'OK', 'Predicted next UID', `UIDNEXT ${mailbox.uidNext}`);
  s.out.status(null, 'OK', 'Highest', `HIGHESTMODSEQ ${mailbox.highestModseq}`);
  if (s.rev2) s.out.untagged(`LIST () "/" ${mailboxToWire(s, name)}`);

  if (request.qresync && request.qresync.uidValidity === mailbox.uidValidity) {
    await resynchronise(s, view, request.qresync.modseq, request.qresync.knownUids);
  }
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed` };
}

/** QRESYNC (RFC 7162 3.2.5.2): what vanished and what changed since the client's modseq. */
async function resynchronise(
  s: ImapSession,
  view: MailboxView,
  modseq: number,
  known: Parameters<typeof resolveUids>[1] | undefined,
): Promise<void> {
  const changes = await s.store.changesSince(view.mailbox.id, modseq);
  const knownUids = known ? new Set(resolveUids(view, known)) : null;
  const vanished = changes.expunged.filter((uid) => !knownUids || knownUids.has(uid));
  if (vanished.length > 0) s.out.untagged(`VANISHED (EARLIER) ${formatNumberSet(vanished)}`);
  for (const entry of changes.changed) {
    const seq = view.seqOf(entry.uid);
    if (seq === 0) continue;
    s.out.untagged(`${seq} FETCH (UID ${entry.uid} FLAGS ${formatFlags(entry.flags, view.recent.has(entry.uid))} MODSEQ (${entry.modseq}))`);
  }
}

export const select: CommandSpec = { states: AUTHENTICATED, run: (s, c) => open(s, c, false) };
export const examine: CommandSpec = { states: AUTHENTICATED, run: (s, c) => open(s, c, true) };
