/**
 * Mail arriving on the MX port: the message sink with mail authentication (when
 * `mailAuth.verifyInbound`), and the verdict it reached for the session to act on.
 */
import type { RecordType } from '../../net/dns.js';
import { MessageSink } from '../message-sink.js';
import type { SmtpSession } from '../session.js';
import type { Transaction } from '../transaction.js';
import { ForeignResultsFilter } from './foreign-results.js';
import { InboundVerifier, type InboundVerdict } from './verifier.js';

export { screenClient } from './screen.js';
export type { InboundVerdict } from './verifier.js';

const verifiers = new WeakMap<MessageSink, InboundVerifier>();

/** The sink for a message received on the MX port, behind our trace fields. */
export function mxSink(s: SmtpSession, txn: Transaction, trace: Buffer): MessageSink {
  // RFC 8601 5: results claiming to be ours that came from outside are deleted, verified or not.
  const foreign = new ForeignResultsFilter(s.host, (count) =>
    s.log.warn('forged Authentication-Results deleted', { queueId: txn.queueId, count }),
  );
  if (!s.config.mailAuth.verifyInbound) return new MessageSink(s.ctx.store, trace, s.config.smtp.maxMessageBytes, [], foreign);
  const verifier = new InboundVerifier(
    { clientIp: s.conn.remoteAddress, helo: s.helo ?? '', mailFrom: txn.mailFrom, hostname: s.host, queueId: txn.queueId },
    { resolve: (name, type) => s.ctx.dns.lookup(name, type as RecordType), log: s.log },
  );
  const sink = new MessageSink(s.ctx.store, trace, s.config.smtp.maxMessageBytes, [verifier], foreign);
  verifiers.set(sink, verifier);
  return sink;
}

/** What the sender's DMARC policy asks for, once the sink finished; null when not verified. */
export function inboundVerdict(sink: MessageSink): InboundVerdict | null {
  return verifiers.get(sink)?.verdict ?? null;
}
