/**
 * AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, for submission only.
 * Credentials never reach a log line.
 */
import { formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';

const SUCCESS = formatReply(235, '2.7.0 Authentication successful');
const FAILED = formatReply(535, '5.7.8 Authentication credentials invalid');
const CANCELLED = formatReply(501, '5.0.0 Authentication cancelled');
const BAD_BASE64 = formatReply(501, '5.5.2 Cannot decode response');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a client response; null when it is not base64. "=" is an empty response. */
function decodeResponse(text: string): Buffer | null {
  if (text === '=') return Buffer.alloc(0);
  if (!BASE64.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}

/** Sends a challenge and reads the answer; null after "*" (cancel) or the end of the session. */
async function challenge(s: SmtpSession, prompt: string): Promise<Buffer | 'cancelled' | 'invalid' | null> {
  s.reply(formatReply(334, prompt));
  const line = await s.readLine();
  if (!line) return null;
  if (line.tooLong) return 'invalid';
  const text = line.bytes.toString('latin1').trim();
  if (text === '*') return 'cancelled';
  return decodeResponse(text) ?? 'invalid';
}

async function verify(s: SmtpSession, username: string, password: string): Promise<void> {
  const result = await s.ctx.auth.verify(username, password, s.conn.remoteAddress);
  if (!result) {
    s.log.info('auth failed', { user: username });
    return s.error(FAILED);
  }
  s.auth = result;
  s.log.info('auth ok', { user: result.address });
  s.reply(SUCCESS);
}

async function plain(s: SmtpSession, initial: string | undefined): Promise<void> {
  let response: Buffer | 'cancelled' | 'invalid' | null;
  if (initial === undefined) response = await challenge(s, '');
  else response = decodeResponse(initial) ?? 'invalid';
  if (response === null) return;
  if (response === 'cancelled') return s.error(CANCELLED);
  if (response === 'invalid') return s.error(BAD_BASE64);
  // message = [authzid] NUL authcid NUL passwd
  const parts = response.toString('utf8').split('\0');
  if (parts.length !== 3 || !parts[1]) return s.error(FAILED);
  const [authzid, authcid, password] = parts;
  // Acting as another user is not supported: only the identity that logs in.
  if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) return s.error(FAILED);
  await verify(s, authcid, password);
}

async function login(s: SmtpSession, initial: string | undefined): Promise<void> {
  let user: Buffer | 'cancelled' | 'invalid' | null;
  if (initial === undefined) user = await challenge(s, 'VXNlcm5hbWU6'); // "Username:"
  else user = decodeResponse(initial) ?? 'invalid';
  if (user === null) return;
  if (user === 'cancelled') return s.error(CANCELLED);
  if (user === 'invalid') return s.error(BAD_BASE64);
  const password = await challenge(s, 'UGFzc3dvcmQ6'); // "Password:"
  if (password === null) return;
  if (password === 'cancelled') return s.error(CANCELLED);
  if (password === 'invalid') return s.error(BAD_BASE64);
  await verify(s, user.toString('utf8'), password.toString('utf8'));
}

export async function auth(s: SmtpSession, argument: string): Promise<void> {
  if (s.mode !== 'submission') return s.error(formatReply(503, '5.5.1 Error: authentication not enabled'));
  if (!s.helo || !s.esmtp) return s.error(formatReply(503, '5.5.1 Error: send EHLO first'));
  if (s.auth) return s.error(formatReply(503, '5.5.1 Error: already authenticated'));
  if (s.txn) return s.error(formatReply(503, '5.5.1 Error: MAIL transaction in progress'));
  if (!s.authAllowed()) return s.reply(formatReply(538, '5.7.11 Encryption required for requested authentication mechanism'));
  const [mechanism, initial, extra] = argument.trim().split(/[ \t]+/);
  if (!mechanism || extra !== undefined) return s.error(formatReply(501, '5.5.4 Syntax: AUTH mechanism [initial-response]'));
  switch (mechanism.toUpperCase()) {
    case 'PLAIN':
      return plain(s, initial);
    case 'LOGIN':
      return login(s, initial);
    default:
      return s.error(formatReply(504, '5.5.4 Unrecognized authentication type'));
  }
}
