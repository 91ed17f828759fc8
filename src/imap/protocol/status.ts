/** STATUS's arguments (RFC 9051 6.3.11; SIZE and DELETED are rev2's, HIGHESTMODSEQ RFC 7162's, APPENDLIMIT RFC 7889's). */
import { ArgCursor, parseWordList } from './args.js';
import { mailboxFromToken } from './mailbox-name.js';
import { ImapSyntaxError, type StatusCommand, type StatusItem, type Token } from './types.js';

const STATUS_ITEMS: readonly StatusItem[] = [
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'RECENT',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
];

export function parseStatus(args: Token[], utf8: boolean): StatusCommand {
  const c = new ArgCursor(args, 'STATUS');
  const mailbox = mailboxFromToken(c.next('mailbox'), utf8);
  const items = parseStatusItems(c.list('status items'));
  c.end();
  return { mailbox, items };
}

/** A status item list (also LIST's RETURN (STATUS (...)), RFC 5819); at least one item. */
export function parseStatusItems(tokens: Token[]): StatusItem[] {
  if (tokens.length === 0) throw new ImapSyntaxError('STATUS: empty item list');
  return parseWordList(tokens, STATUS_ITEMS, 'STATUS: invalid item');
}
