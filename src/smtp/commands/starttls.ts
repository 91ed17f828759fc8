/** STARTTLS (RFC 3207). */
import { startTls } from '../../net/starttls.js';
import { formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';

const READY = formatReply(220, '2.0.0 Ready to start TLS');

export async function starttls(s: SmtpSession, argument: string): Promise<void> {
  if (argument.trim()) return s.error(formatReply(501, '5.5.4 Syntax: STARTTLS'));
  if (s.transport.secure) return s.error(formatReply(503, '5.5.1 Error: TLS already active'));
  // The 220 goes out in the clear before the handshake starts.
  s.transport.send(READY);
  if (!(await startTls(s.transport, s.ctx.tls, s.config.smtp.idleTimeoutMs, s.log, 'STARTTLS'))) return;
  await s.resetAfterTls();
}
