/**
 * Mailbox names from the wire to the store: modified UTF-7 undone (unless UTF8=ACCEPT is
 * enabled), INBOX spelled canonically in any case (RFC 9051 5.1), and names the store must
 * never see (NUL, `..` components, unpaired surrogates, ...) refused with a reason.
 */
import { ImapNo } from '../errors.js';
import { decodeMailboxName, encodeMailboxName, formatAstring, validateMailboxName } from '../grammar.js';
import { normaliseInbox } from '../protocol/mailbox-name.js';
import type { ImapSession } from '../session.js';

export { normaliseInbox as canonicalName } from '../protocol/mailbox-name.js';

/** Decodes and checks a mailbox argument; throws NO with the reason if it is unusable. */
export function mailboxFromWire(s: ImapSession, raw: string): string {
  const decoded = decodeMailboxName(raw, s.utf8);
  const name = normaliseInbox(decoded.endsWith('/') ? decoded.slice(0, -1) : decoded);
  const problem = validateMailboxName(name);
  if (problem) throw new ImapNo(`Invalid mailbox name: ${problem}`, 'CANNOT');
  return name;
}

/** A mailbox name as the client expects it on the wire (astring, encoded as agreed). */
export function mailboxToWire(s: ImapSession, name: string): string {
  return formatAstring(encodeMailboxName(name, s.utf8), s.utf8);
}

/** The user's mailbox, or NO [NONEXISTENT]. */
export async function requireMailbox(s: ImapSession, name: string) {
  const mailbox = await s.store.getMailbox(s.user!.id, name);
  if (!mailbox) throw new ImapNo('Mailbox does not exist', 'NONEXISTENT');
  return mailbox;
}
