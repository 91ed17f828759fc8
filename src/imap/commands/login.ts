/** LOGIN, AUTHENTICATE (PLAIN, with SASL-IR) and STARTTLS: the not-authenticated state. */
import { ArgCursor } from '../protocol/args.js';
import { ImapBad, ImapNo } from '../errors.js';
import type { ImapSession } from '../session.js';
import { createSaslMechanism, runSaslExchange, verifyCredentials } from '../../net/sasl/index.js';
import { NOT_AUTHENTICATED, argsOf, type CommandSpec, type Done } from './types.js';

async function finishLogin(s: ImapSession, username: string, password: string): Promise<Done> {
  const user = await s.ctx.auth.verify(username, password, s.conn.remoteAddress, s.conn.closed);
  if (!user) throw new ImapNo('Authentication failed', 'AUTHENTICATIONFAILED');
  s.login(user);
  return { code: `CAPABILITY ${s.capabilityList().join(' ')}`, text: 'Logged in' };
}

export const login: CommandSpec = {
  states: NOT_AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'LOGIN');
    const username = args.astring('user name');
    const password = args.astring('password');
    args.end();
    if (!s.passwordAllowed) throw new ImapNo('Use STARTTLS first', 'PRIVACYREQUIRED');
    return finishLogin(s, username, password);
  },
};

/** AUTHENTICATE with SASL-IR (RFC 4959); the mechanisms and their rules are net/sasl's. */
export const authenticate: CommandSpec = {
  states: NOT_AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'AUTHENTICATE');
    const name = args.atom('mechanism');
    const initial = args.remaining > 0 ? args.atom('initial response') : undefined;
    args.end();
    const mechanism = createSaslMechanism(name, s.passwordAllowed ? ['PLAIN'] : []);
    if (!mechanism) {
      if (!s.passwordAllowed) throw new ImapNo('Use STARTTLS first', 'PRIVACYREQUIRED');
      throw new ImapNo(`Unsupported mechanism ${name.slice(0, 20)}`, 'CANNOT');
    }
    const outcome = await runSaslExchange(mechanism, initial, {
      challenge: async (base64) => {
        s.out.continuation(base64);
        const line = await s.readRawLine();
        return line === null ? null : { bytes: line, tooLong: false };
      },
    });
    if (!outcome.ok) {
      if (outcome.reason === 'ended') throw new ImapBad('Connection closed');
      if (outcome.reason === 'cancelled') throw new ImapBad('Authentication cancelled');
      throw new ImapNo('Authentication failed', 'AUTHENTICATIONFAILED');
    }
    const user = await verifyCredentials(s.ctx.auth, outcome.credentials, s.conn.remoteAddress, s.conn.closed);
    if (!user) throw new ImapNo('Authentication failed', 'AUTHENTICATIONFAILED');
    s.login(user);
    return { code: `CAPABILITY ${s.capabilityList().join(' ')}`, text: 'Logged in' };
  },
};

export const starttls: CommandSpec = {
  states: NOT_AUTHENTICATED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'STARTTLS').end();
    if (s.secure) throw new ImapBad('TLS is already active');
    // The tagged OK must leave in the clear before the handshake starts.
    s.out.status(c.tag, 'OK', 'Begin TLS negotiation now');
    await s.startTls();
    return { silent: true };
  },
};
