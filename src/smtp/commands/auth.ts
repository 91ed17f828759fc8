/**
 * AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, for submission only. The
 * mechanisms and their rules are shared with the other protocols (net/sasl); this is the SMTP
 * spelling of the exchange. Credentials never reach a log line.
 */
import { createSaslMechanism, runSaslExchange, verifyCredentials, type SaslChannel } from '../../net/sasl/index.js';
import { Replies, formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';

/** Offered in EHLO, in this order. */
export const SMTP_SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;

const SUCCESS = formatReply(235, '2.7.0 Authentication successful');
const FAILED = formatReply(535, '5.7.8 Authentication credentials invalid');
const CANCELLED = formatReply(501, '5.0.0 Authentication cancelled');
const BAD_BASE64 = formatReply(501, '5.5.2 Cannot decode response');

export async function auth(s: SmtpSession, argument: string): Promise<void> {
  if (s.mode !== 'submission') return s.error(formatReply(503, '5.5.1 Error: authentication not enabled'));
  if (!s.helo || !s.esmtp) return s.error(formatReply(503, '5.5.1 Error: send EHLO first'));
  if (s.auth) return s.error(formatReply(503, '5.5.1 Error: already authenticated'));
  if (s.txn) return s.error(formatReply(503, '5.5.1 Error: MAIL transaction in progress'));
  if (!s.authAllowed()) return s.reply(formatReply(538, '5.7.11 Encryption required for requested authentication mechanism'));
  const [name, initial, extra] = argument.trim().split(/[ \t]+/);
  if (!name || extra !== undefined) return s.error(formatReply(501, '5.5.4 Syntax: AUTH mechanism [initial-response]'));
  const mechanism = createSaslMechanism(name, SMTP_SASL_MECHANISMS);
  if (!mechanism) return s.error(formatReply(504, '5.5.4 Unrecognized authentication type'));

  const channel: SaslChannel = {
    challenge: (text) => {
      s.reply(formatReply(334, text));
      return s.readLine();
    },
  };
  const outcome = await runSaslExchange(mechanism, initial, channel);
  if (!outcome.ok) {
    switch (outcome.reason) {
      case 'ended':
        return;
      case 'cancelled':
        return s.error(CANCELLED);
      case 'bad-base64':
        return s.error(BAD_BASE64);
      case 'too-long':
        return s.terminate(Replies.lineTooLong);
      default:
        s.log.info('auth failed', { mechanism: mechanism.name, reason: outcome.reason });
        return s.error(FAILED);
    }
  }
  const { authcid } = outcome.credentials;
  const user = await verifyCredentials(s.ctx.auth, outcome.credentials, s.conn.remoteAddress, s.conn.closed);
  if (!user) {
    s.log.info('auth failed', { user: authcid.slice(0, 100), mechanism: mechanism.name });
    return s.error(FAILED);
  }
  s.auth = user;
  s.log.info('auth ok', { user: user.address, mechanism: mechanism.name });
  s.reply(SUCCESS);
}
