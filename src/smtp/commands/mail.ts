/**
 * MAIL FROM (RFC 5321 4.1.1.2) with the parameters of the extensions we offer: SIZE
 * (RFC 1870), BODY (RFC 6152 8BITMIME, RFC 3030 BINARYMIME), SMTPUTF8 (RFC 6531) and AUTH
 * (RFC 4954 5, accepted and ignored).
 */
import { parsePathArgument, type EsmtpParam } from '../address.js';
import { Replies, formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';
import { ownsAddress } from '../submission/senders.js';
import { Transaction, type BodyType } from '../transaction.js';

const SYNTAX = formatReply(501, '5.5.4 Syntax: MAIL FROM:<address>');
const BAD_SENDER = formatReply(501, '5.1.7 Bad sender address syntax');
export const NEED_SMTPUTF8 = formatReply(553, '5.6.7 Non-ASCII address requires SMTPUTF8');

interface MailParams {
  size: number | null;
  body: BodyType;
  smtputf8: boolean;
}

/** Reads the parameters; returns the reply to give instead when one is wrong. */
function readParams(s: SmtpSession, params: EsmtpParam[]): MailParams | { reply: string } {
  const out: MailParams = { size: null, body: '7BIT', smtputf8: false };
  const seen = new Set<string>();
  for (const { keyword, value } of params) {
    if (seen.has(keyword)) return { reply: formatReply(501, `5.5.4 Duplicate parameter ${keyword}`) };
    seen.add(keyword);
    switch (keyword) {
      case 'SIZE':
        if (value === null || !/^\d{1,20}$/.test(value)) return { reply: formatReply(501, '5.5.4 Bad SIZE parameter') };
        out.size = Number(value);
        // RFC 1870 6.2: a message declared too big is refused at once.
        if (out.size > s.config.smtp.maxMessageBytes) return { reply: Replies.messageTooBig };
        break;
      case 'BODY': {
        const type = value?.toUpperCase();
        if (type !== '7BIT' && type !== '8BITMIME' && type !== 'BINARYMIME') {
          return { reply: formatReply(501, '5.5.4 Bad BODY parameter') };
        }
        out.body = type;
        break;
      }
      case 'SMTPUTF8':
        if (value !== null) return { reply: formatReply(501, '5.5.4 SMTPUTF8 takes no value') };
        out.smtputf8 = true;
        break;
      case 'AUTH':
        // The original submitter's identity (RFC 4954 5); only meaningful between trusted relays.
        if (s.mode !== 'submission') return { reply: formatReply(555, '5.5.4 Unsupported parameter AUTH') };
        break;
      default:
        return { reply: formatReply(555, `5.5.4 Unsupported parameter ${keyword}`) };
    }
  }
  return out;
}

export async function mail(s: SmtpSession, argument: string): Promise<void> {
  if (!s.helo) return s.error(Replies.needHelo);
  if (s.txn) return s.error(Replies.nestedMail);
  if (s.mode === 'submission' && !s.auth) {
    // RFC 6409 4.3: submission needs a login first.
    if (!s.authAllowed()) return s.reply(formatReply(530, '5.7.0 Must issue a STARTTLS command first'));
    return s.reply(formatReply(530, '5.7.0 Authentication required'));
  }
  if (!/^FROM:/i.test(argument)) return s.error(SYNTAX);
  const parsed = parsePathArgument(argument.slice(5));
  if (!parsed.ok) return s.error(parsed.reason === 'syntax' ? SYNTAX : BAD_SENDER);
  const params = readParams(s, parsed.params);
  if ('reply' in params) return s.error(params.reply);
  const mailFrom = parsed.mailbox?.address ?? '';
  if (parsed.mailbox?.utf8 && !params.smtputf8) return s.reply(NEED_SMTPUTF8);
  // RFC 6409 4.1: a user of the submission port sends as one of their own addresses, or as <>.
  if (s.mode === 'submission' && s.auth && mailFrom !== '' && !(await ownsAddress(s.ctx.store, s.auth, mailFrom))) {
    s.log.warn('sender not owned', { from: mailFrom, user: s.auth.address });
    return s.error(formatReply(553, `5.7.1 Sender address <${mailFrom}> not owned by user ${s.auth.address}`));
  }
  const txn = new Transaction(mailFrom, params.size, params.body, params.smtputf8);
  s.beginTransaction(txn);
  s.log.info('mail from', { queueId: txn.queueId, from: mailFrom, size: params.size ?? undefined });
  s.reply(formatReply(250, `2.1.0 Sender <${mailFrom}> OK`));
}
