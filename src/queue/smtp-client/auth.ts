/**
 * AUTH as a client (RFC 4954) with PLAIN (RFC 4616) or LOGIN. The password goes only onto the
 * wire: the trace sees the AUTH lines masked, and errors never quote what was sent.
 */
import type { SmtpConnection } from './connection.js';
import { SmtpClientError } from './errors.js';
import type { SmtpReply } from './reply.js';

/** Preferred first. */
const SUPPORTED = ['PLAIN', 'LOGIN'] as const;
export type ClientMechanism = (typeof SUPPORTED)[number];

const MASK = '****';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The mechanism to use among those offered, or null when none of ours is. */
export function chooseMechanism(offered: readonly string[]): ClientMechanism | null {
  return SUPPORTED.find((m) => offered.includes(m)) ?? null;
}

/** Logs in; throws SmtpClientError('reply') with the server's answer when it refuses. */
export async function authenticate(
  conn: SmtpConnection,
  mechanism: ClientMechanism,
  username: string,
  password: string,
): Promise<void> {
  let reply: SmtpReply;
  if (mechanism === 'PLAIN') {
    reply = await conn.command(`AUTH PLAIN ${b64(`\0${username}\0${password}`)}`, 'AUTH', `AUTH PLAIN ${MASK}`);
  } else {
    reply = await conn.command('AUTH LOGIN', 'AUTH');
    if (reply.code === 334) reply = await conn.command(b64(username), 'AUTH');
    if (reply.code === 334) reply = await conn.command(b64(password), 'AUTH', MASK);
  }
  if (reply.code === 334) {
    // A server asking for more than the mechanism has: cancel the exchange (RFC 4954 4).
    await conn.command('*', 'AUTH');
    throw new SmtpClientError('protocol', 'AUTH', `server kept asking during AUTH ${mechanism}`);
  }
  if (reply.code !== 235) throw new SmtpClientError('reply', 'AUTH', `AUTH ${mechanism} refused`, reply);
}
