/**
 * SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 2034, RFC 3463). The texts of
 * replies shared by several commands live here so that they stay identical everywhere.
 */

/** Formats a reply; several text lines become a multi-line reply ("250-a", "250 b"). */
export function formatReply(code: number, text: string | readonly string[]): string {
  const lines = typeof text === 'string' ? [text] : text;
  if (lines.length === 1) return `${code} ${lines[0]}\r\n`;
  let out = '';
  for (let i = 0; i < lines.length; i++) out += `${code}${i === lines.length - 1 ? ' ' : '-'}${lines[i]}\r\n`;
  return out;
}

export const Replies = {
  greeting: (host: string) => formatReply(220, `${host} ESMTP Wharf`),
  ok: formatReply(250, '2.0.0 Ok'),
  closing: (host: string) => formatReply(221, `2.0.0 ${host} closing connection`),

  needHelo: formatReply(503, '5.5.1 Error: send HELO/EHLO first'),
  needMail: formatReply(503, '5.5.1 Error: need MAIL command'),
  needRcpt: formatReply(503, '5.5.1 Error: need RCPT command'),
  nestedMail: formatReply(503, '5.5.1 Error: nested MAIL command'),
  unknownCommand: formatReply(500, '5.5.2 Error: command not recognized'),
  lineTooLong: formatReply(500, '5.5.2 Line too long'),
  nulInCommand: formatReply(500, '5.5.2 Error: NUL character in command'),
  bareCrInCommand: formatReply(500, '5.5.2 Error: bare CR in command'),
  badUtf8InCommand: formatReply(500, '5.5.2 Error: invalid UTF-8 in command'),
  noParameters: (verb: string) => formatReply(501, `5.5.4 Syntax: ${verb}`),

  messageTooBig: formatReply(552, '5.3.4 Message size exceeds fixed maximum message size'),
  mailboxFull: (address: string) => formatReply(452, `4.2.2 <${address}>: Mailbox full`),
  deliveryFailed: formatReply(451, '4.3.0 Error: local delivery failed, try again later'),
  /** The store's disk is full (RFC 3463 4.3.1: mail system full). */
  storageFull: formatReply(452, '4.3.1 Insufficient system storage, try again later'),
  queued: (queueId: string) => formatReply(250, `2.0.0 Ok: queued as ${queueId}`),

  timeout: (host: string) => formatReply(421, `4.4.2 ${host} Error: timeout exceeded`),
  tooManyErrors: (host: string) => formatReply(421, `4.7.0 ${host} Too many errors`),
  shuttingDown: (host: string) => formatReply(421, `4.3.2 ${host} Service shutting down`),
  tooManyConnections: (host: string) => formatReply(421, `4.7.0 ${host} Error: too many connections`),
  tooManyFromAddress: (host: string) => formatReply(421, `4.7.0 ${host} Error: too many connections from your address`),
} as const;

/** The reply code of a formatted reply. */
export function replyCode(reply: string): number {
  return Number(reply.slice(0, 3));
}
