/** The arguments before each APPEND message literal (RFC 9051 6.3.12, RFC 3502). */
import { ArgCursor } from './args.js';
import { type DateTime, parseDateTimeWithZone } from './date-time.js';
import { parseFlags } from './flags.js';
import { mailboxFromToken } from './mailbox-name.js';
import { ImapSyntaxError, type Token } from './types.js';

export interface AppendOptions {
  /** Only for the first message: the target mailbox. */
  mailbox?: string;
  flags: string[];
  date?: DateTime;
}

/** `args` of AppendMessage: [mailbox] [flag-list] [date-time]. */
export function parseAppendArgs(args: Token[], first: boolean, utf8: boolean): AppendOptions {
  const c = new ArgCursor(args, 'APPEND');
  const options: AppendOptions = { flags: [] };
  if (first) options.mailbox = mailboxFromToken(c.next('mailbox'), utf8);
  if (c.peek()?.kind === 'list') options.flags = parseFlags(c.list('flags'));
  const date = c.peek();
  if (date) {
    if (date.kind !== 'string' || date.literal) throw new ImapSyntaxError('APPEND: expected a quoted date-time');
    options.date = parseDateTimeWithZone(c.astring('date-time'));
  }
  c.end();
  return options;
}
