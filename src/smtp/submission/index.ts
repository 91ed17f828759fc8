/**
 * A message submitted by a logged-in user (RFC 6409) on its way in: the header rules and the
 * author checks while it streams (HeaderRewriter, checkAuthorFields), DKIM signing, and what
 * its delivery needs besides the local recipients: the outbound queue for remote recipients
 * and the copy in the sender's Sent mailbox, all in the store's one transaction.
 */
import type { Logger } from '../../net/types.js';
import type { AccountStore, DeliveryRequest } from '../../store/types.js';
import { MessageRefused, MessageSink, type MessageFilter } from '../message-sink.js';
import { formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';
import type { Transaction } from '../transaction.js';
import { loadSigningKey, type SigningKey } from '../dkim-keys.js';
import { DkimSigningObserver } from './dkim-signer.js';
import { HeaderRewriter } from './header-rewriter.js';
import { checkAuthorFields, type SubmittingUser } from './senders.js';

const KEY_LOOKUP_FAILED = formatReply(451, '4.3.0 Error: signing key lookup failed, try again later');

/**
 * Applies the header rules as the bytes pass, and once the header block is complete checks
 * its author fields and picks the DKIM key, before any byte of the body is stored: a refused
 * message goes no further.
 */
class SubmissionFilter implements MessageFilter {
  private checked = false;

  constructor(
    private readonly store: AccountStore,
    private readonly user: SubmittingUser,
    private readonly rewriter: HeaderRewriter,
    private readonly signer: DkimSigningObserver | null,
    private readonly log: Logger,
  ) {}

  async push(chunk: Buffer): Promise<Buffer[]> {
    const out = this.rewriter.push(chunk);
    await this.headerComplete();
    return out;
  }

  async end(): Promise<Buffer[]> {
    const out = this.rewriter.end();
    await this.headerComplete();
    return out;
  }

  private async headerComplete(): Promise<void> {
    const header = this.rewriter.header;
    if (!header || this.checked) return;
    this.checked = true;
    let from: string;
    try {
      from = await checkAuthorFields(this.store, this.user, header);
    } catch (err) {
      if (err instanceof MessageRefused) {
        this.log.warn('author fields refused', { user: this.user.address, from: header.from[0]?.slice(0, 200), reply: err.message });
      }
      throw err;
    }
    if (this.signer) await this.startSigning(this.signer, from);
  }

  private async startSigning(signer: DkimSigningObserver, from: string): Promise<void> {
    const domain = from.slice(from.lastIndexOf('@') + 1).toLowerCase();
    let key: SigningKey | null;
    try {
      key = await loadSigningKey(this.store, domain);
    } catch (err) {
      // Better a retry than mail that a DMARC policy of the domain would have rejected unsigned.
      this.log.error('dkim key lookup failed', { domain, error: err instanceof Error ? err : String(err) });
      throw new MessageRefused(KEY_LOOKUP_FAILED);
    }
    if (key) signer.start(key);
    else signer.skip();
  }
}

/** Where a submitted message's bytes go: through the header rules into the store, and the signer. */
export function submissionSink(s: SmtpSession, user: SubmittingUser, trace: Buffer): MessageSink {
  const signer = s.config.mailAuth.signOutbound ? new DkimSigningObserver(s.log) : null;
  const filter = new SubmissionFilter(s.ctx.store, user, new HeaderRewriter(s.host), signer, s.log);
  return new MessageSink(s.ctx.store, trace, s.config.smtp.maxMessageBytes, signer ? [signer] : [], filter);
}

/** What the delivery of a submitted message needs besides the local recipients' user ids. */
export async function submissionDelivery(
  s: SmtpSession,
  user: SubmittingUser,
  txn: Transaction,
  sink: MessageSink,
): Promise<Pick<DeliveryRequest, 'outbound' | 'copies'>> {
  const extra: Pick<DeliveryRequest, 'outbound' | 'copies'> = {};
  if (txn.remoteRecipients.length > 0) {
    extra.outbound = {
      recipients: [...txn.remoteRecipients],
      // A delivery status notification then goes straight into the sender's INBOX.
      senderUserId: user.userId,
      // What the client declared, or what it sent: 8-bit bytes under BODY=7BIT are common.
      eightBit: txn.bodyType !== '7BIT' || sink.eightBit,
      smtputf8: txn.smtputf8,
    };
  }
  if (s.config.submission.saveSent) {
    const sent = (await s.ctx.store.listMailboxes(user.userId)).find((m) => m.role === 'sent');
    if (sent) extra.copies = [{ mailboxId: sent.id, flags: ['\\Seen'] }];
    else s.log.warn('no Sent mailbox: no copy kept', { queueId: txn.queueId, user: user.address });
  }
  return extra;
}
