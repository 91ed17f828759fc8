/** STARTTLS (RFC 3207). */
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../../net/transport.js';
import { formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';

const READY = formatReply(220, '2.0.0 Ready to start TLS');

export async function starttls(s: SmtpSession, argument: string): Promise<void> {
  if (argument.trim()) return s.error(formatReply(501, '5.5.4 Syntax: STARTTLS'));
  if (s.transport.secure) return s.error(formatReply(503, '5.5.1 Error: TLS already active'));
  // The 220 goes out in the clear before the handshake starts.
  s.transport.send(READY);
  const handshakeTimeout = Math.min(s.config.smtp.idleTimeoutMs, TLS_HANDSHAKE_TIMEOUT_MS);
  const dropped = await s.transport.upgradeToTls(s.ctx.tls, handshakeTimeout);
  if (dropped === null) {
    s.log.info('tls handshake failed');
    return;
  }
  if (dropped > 0) s.log.warn('discarded input pipelined after STARTTLS', { bytes: dropped });
  s.log.info('tls started');
  await s.resetAfterTls();
}
