/**
 * RCPT TO (RFC 5321 4.1.1.3): local recipients, and on authenticated submission also remote
 * ones (for the outbound queue). Nobody else's mail for other domains is ever relayed.
 */
import { StoreError, type User } from '../../store/types.js';
import { otherUsage } from '../quota.js';
import { parsePathArgument } from '../address.js';
import { Replies, formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';
import { NEED_SMTPUTF8 } from './mail.js';

const SYNTAX = formatReply(501, '5.5.4 Syntax: RCPT TO:<address>');
const BAD_RECIPIENT = formatReply(501, '5.1.3 Bad recipient address syntax');
const TOO_MANY = formatReply(452, '4.5.3 Error: too many recipients');
/** RFC 5321 4.1.1.3: "<Postmaster>" without a domain must be accepted. */
const BARE_POSTMASTER = /^TO:[ \t]*<postmaster>[ \t]*$/i;

const userUnknown = (address: string) => formatReply(550, `5.1.1 <${address}>: Recipient address rejected: User unknown`);
const relayDenied = (address: string) => formatReply(554, `5.7.1 <${address}>: Relay access denied`);

/** The postmaster of this host: of the hostname's domain if it is ours, else of our first domain. */
async function postmasterAddress(s: SmtpSession): Promise<string> {
  const store = s.ctx.store;
  const candidates = [`postmaster@${s.host}`];
  const domains = await store.listDomains().catch(() => []);
  for (const d of domains) candidates.push(`postmaster@${d.name}`);
  for (const c of candidates) {
    const kind = await store.resolveRecipient(c).then((r) => r.kind, () => 'unknown');
    if (kind === 'local') return c;
  }
  return candidates[1] ?? candidates[0];
}

/**
 * A user can take no more mail when its quota is used up (or the declared size would pass it);
 * `otherBytes` is what else the quota holds (their files, when shared with mail).
 */
function overQuota(user: User, declaredSize: number | null, otherBytes: number): boolean {
  if (user.quotaBytes === null) return false;
  const used = user.usedBytes + otherBytes;
  return used >= user.quotaBytes || used + (declaredSize ?? 0) > user.quotaBytes;
}

export async function rcpt(s: SmtpSession, argument: string): Promise<void> {
  const txn = s.txn;
  if (!txn) return s.error(s.helo ? Replies.needMail : Replies.needHelo);
  let address: string;
  if (BARE_POSTMASTER.test(argument)) {
    address = await postmasterAddress(s);
  } else {
    if (!/^TO:/i.test(argument)) return s.error(SYNTAX);
    const parsed = parsePathArgument(argument.slice(3));
    if (!parsed.ok) return s.error(parsed.reason === 'syntax' ? SYNTAX : BAD_RECIPIENT);
    if (!parsed.mailbox) return s.error(BAD_RECIPIENT);
    // We offer no DSN (RFC 3461), so RCPT has no parameters.
    if (parsed.params.length > 0) return s.error(formatReply(555, `5.5.4 Unsupported parameter ${parsed.params[0].keyword}`));
    if (parsed.mailbox.utf8 && !txn.smtputf8) return s.reply(NEED_SMTPUTF8);
    address = parsed.mailbox.address;
  }
  if (txn.recipients.length >= s.config.smtp.maxRecipients && !txn.hasRecipient(address)) return s.reply(TOO_MANY);

  let resolution;
  try {
    resolution = await s.ctx.store.resolveRecipient(address);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'invalid') return s.reply(userUnknown(address));
    s.log.error('recipient lookup failed', { to: address, error: err instanceof Error ? err : String(err) });
    return s.reply(formatReply(451, '4.3.0 Error: recipient lookup failed, try again later'));
  }
  if (s.txn !== txn) return; // The session ended while the store answered.

  switch (resolution.kind) {
    case 'local': {
      // A full mailbox is a temporary failure (RFC 3463 X.2.2): the sender retries later.
      let full = false;
      for (const u of resolution.users) {
        if (overQuota(u, txn.declaredSize, await otherUsage(s, u))) full = true;
      }
      if (s.txn !== txn) return;
      if (full) return s.reply(Replies.mailboxFull(address));
      txn.addRecipient(address, resolution.users.map((u) => u.id));
      for (const u of resolution.users) if (u.quotaBytes !== null) txn.quotaUserIds.add(u.id);
      s.log.info('rcpt', { queueId: txn.queueId, to: address });
      return s.reply(formatReply(250, `2.1.5 Recipient <${address}> OK`));
    }
    case 'unknown':
      if (/^postmaster@/i.test(address)) s.log.warn('no postmaster mailbox or alias for a local domain', { to: address });
      // Guessing addresses (harvesting) on the MX port costs a new connection every few tries.
      if (s.mode === 'mx' && ++s.unknownRecipients > s.config.smtp.maxUnknownRecipients) {
        s.log.warn('too many unknown recipients', { unknown: s.unknownRecipients });
        return s.terminate(formatReply(421, `4.7.0 ${s.host} Error: too many unknown recipients`));
      }
      return s.reply(userUnknown(address));
    case 'remote':
      if (s.mode === 'submission' && s.auth) {
        // RFC 6409: a logged-in user may send anywhere; the message goes through the outbound queue.
        txn.addRemoteRecipient(address);
        s.log.info('rcpt', { queueId: txn.queueId, to: address, remote: true });
        return s.reply(formatReply(250, `2.1.5 Recipient <${address}> OK`));
      }
      return s.reply(relayDenied(address));
  }
}
