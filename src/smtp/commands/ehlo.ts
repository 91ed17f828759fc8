/** EHLO and HELO (RFC 5321 4.1.1.1): the client introduces itself; EHLO lists the extensions. */
import { formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';
import { SMTP_SASL_MECHANISMS } from './auth.js';

/** The client's name: the first word of the argument (anything is accepted, as real clients
 * send all kinds of names and the name proves nothing anyway). */
function clientName(argument: string): string {
  return argument.trim().split(/[ \t]+/)[0] ?? '';
}

export async function ehlo(s: SmtpSession, argument: string): Promise<void> {
  const name = clientName(argument);
  if (!name) return s.error(formatReply(501, '5.5.4 Syntax: EHLO hostname'));
  // EHLO in the middle of a transaction resets it (RFC 5321 4.1.4).
  await s.endTransaction();
  s.helo = name;
  s.esmtp = true;
  const smtp = s.config.smtp;
  const lines = [
    `${s.host} Hello ${name}`,
    'PIPELINING',
    `SIZE ${smtp.maxMessageBytes}`,
    '8BITMIME',
    'SMTPUTF8',
    'ENHANCEDSTATUSCODES',
  ];
  // RFC 3207 4.2: not offered again once TLS is on.
  if (!s.transport.secure) lines.push('STARTTLS');
  lines.push('CHUNKING', 'BINARYMIME');
  if (s.mode === 'submission' && s.authAllowed()) lines.push(`AUTH ${SMTP_SASL_MECHANISMS.join(' ')}`);
  s.reply(formatReply(250, lines));
}

export async function helo(s: SmtpSession, argument: string): Promise<void> {
  const name = clientName(argument);
  if (!name) return s.error(formatReply(501, '5.5.4 Syntax: HELO hostname'));
  await s.endTransaction();
  s.helo = name;
  s.esmtp = false;
  s.reply(formatReply(250, `${s.host} Hello ${name}`));
}
