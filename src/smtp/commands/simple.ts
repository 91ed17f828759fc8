/** The commands without state of their own: RSET, NOOP, QUIT, VRFY, EXPN, HELP. */
import { parseMailbox } from '../address.js';
import { Replies, formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';

export async function rset(s: SmtpSession): Promise<void> {
  await s.endTransaction();
  s.reply(Replies.ok);
}

/** NOOP may carry a string, which is ignored (RFC 5321 4.1.1.9). */
export function noop(s: SmtpSession): void {
  s.reply(Replies.ok);
}

export function quit(s: SmtpSession): void {
  s.terminate(Replies.closing(s.host));
}

const CANNOT_VRFY = formatReply(252, '2.1.5 Cannot VRFY user, but will accept message and attempt delivery');

/**
 * VRFY (RFC 5321 3.5.3). Disabled by default: confirming addresses helps spammers harvest
 * them, and 252 is the answer the RFC suggests for that case.
 */
export async function vrfy(s: SmtpSession, argument: string): Promise<void> {
  const text = argument.trim();
  if (!text) return s.error(formatReply(501, '5.5.4 Syntax: VRFY address'));
  if (s.config.smtp.vrfy === 'disabled') return s.reply(CANNOT_VRFY);
  // Accept "bob@x", "<bob@x>" and "Bob <bob@x>".
  const bracketed = /<([^>]*)>/.exec(text);
  let candidate = bracketed ? bracketed[1] : text;
  if (!candidate.includes('@') && s.config.auth.defaultDomain) candidate += `@${s.config.auth.defaultDomain}`;
  const mailbox = parseMailbox(candidate);
  if (!mailbox) return s.reply(formatReply(550, `5.1.1 <${candidate}>: Recipient address rejected: User unknown`));
  let local = false;
  try {
    local = (await s.ctx.store.resolveRecipient(mailbox.address)).kind === 'local';
  } catch {
    local = false;
  }
  if (local) return s.reply(formatReply(250, `2.1.5 <${mailbox.address}>`));
  s.reply(formatReply(550, `5.1.1 <${mailbox.address}>: Recipient address rejected: User unknown`));
}

/** Mailing list expansion is not offered (RFC 5321 3.5.2 allows that). */
export function expn(s: SmtpSession): void {
  s.reply(formatReply(502, '5.5.1 Error: EXPN not available'));
}

export function help(s: SmtpSession): void {
  s.reply(
    formatReply(214, [
      '2.0.0 Commands supported:',
      '2.0.0 HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH',
    ]),
  );
}
