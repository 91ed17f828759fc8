/**
 * The ENVELOPE fetch item (RFC 9051 7.5.2) in the exact form Dovecot writes it.
 */
import type { Envelope, EnvelopeAddress } from '../../mime/analysis.js';
import { humanString, nstring } from './strings.js';

function formatAddresses(list: EnvelopeAddress[] | null): string {
  if (list === null || list.length === 0) return 'NIL';
  return '(' + list.map((a) => `(${nstring(a.name)} ${nstring(a.adl)} ${nstring(a.mailbox)} ${nstring(a.host)})`).join('') + ')';
}

export function formatEnvelope(env: Envelope): string {
  return (
    '(' +
    [
      nstring(env.date),
      humanString(env.subject),
      formatAddresses(env.from),
      formatAddresses(env.sender),
      formatAddresses(env.replyTo),
      formatAddresses(env.to),
      formatAddresses(env.cc),
      formatAddresses(env.bcc),
      nstring(env.inReplyTo),
      nstring(env.messageId),
    ].join(' ') +
    ')'
  );
}
