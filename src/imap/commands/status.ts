/** STATUS (RFC 9051 6.3.11, with SIZE from RFC 8438 and HIGHESTMODSEQ from RFC 7162). */
import { ArgCursor } from '../protocol/args.js';
import { parseStatusItems } from '../grammar.js';
import type { StatusItem } from '../protocol/types.js';
import type { ImapSession } from '../session.js';
import type { Mailbox } from '../../store/types.js';
import { mailboxFromWire, mailboxToWire, requireMailbox } from './mailbox-name.js';
import { AUTHENTICATED, argsOf, type CommandSpec } from './types.js';

/** `* STATUS name (ITEM value ...)` for one mailbox. */
export async function statusLine(s: ImapSession, mailbox: Mailbox, items: StatusItem[]): Promise<string> {
  const needFlags = items.includes('UNSEEN') || items.includes('DELETED');
  let unseen = 0;
  let deleted = 0;
  if (needFlags) {
    for (const e of (await s.entries.entriesOf(mailbox.id)).entries) {
      if (!e.flags.includes('\\Seen')) unseen++;
      if (e.flags.includes('\\Deleted')) deleted++;
    }
  }
  const selected = s.view?.mailbox.id === mailbox.id ? s.view : null;
  const values = items.map((item) => {
    switch (item) {
      case 'MESSAGES':
        return `MESSAGES ${mailbox.messageCount}`;
      case 'UIDNEXT':
        return `UIDNEXT ${mailbox.uidNext}`;
      case 'UIDVALIDITY':
        return `UIDVALIDITY ${mailbox.uidValidity}`;
      case 'UNSEEN':
        return `UNSEEN ${unseen}`;
      case 'DELETED':
        return `DELETED ${deleted}`;
      case 'SIZE':
        return `SIZE ${mailbox.totalBytes}`;
      case 'RECENT':
        return `RECENT ${selected ? selected.recent.size : 0}`;
      case 'HIGHESTMODSEQ':
        return `HIGHESTMODSEQ ${mailbox.highestModseq}`;
      case 'APPENDLIMIT':
        return `APPENDLIMIT ${s.config.maxAppendBytes}`;
    }
  });
  return `STATUS ${mailboxToWire(s, mailbox.name)} (${values.join(' ')})`;
}

export const status: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'STATUS');
    const name = mailboxFromWire(s, args.astring('mailbox'));
    const items = parseStatusItems(args.list('status items'));
    args.end();
    if (items.includes('HIGHESTMODSEQ')) s.condstoreActive = true;
    const mailbox = await requireMailbox(s, name);
    s.out.untagged(await statusLine(s, mailbox, items));
  },
};
