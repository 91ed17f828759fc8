/** LOGIN, AUTHENTICATE (PLAIN, with SASL-IR) and STARTTLS: the not-authenticated state. */
import { Arguments } from '../arguments.js';
import { ImapBad, ImapNo } from '../errors.js';
import type { ImapSession } from '../session.js';
import { decodePlainResponse } from '../sasl.js';
import { NOT_AUTHENTICATED, argsOf, type CommandSpec, type Done } from './types.js';

async function finishLogin(s: ImapSession, username: string, password: string): Promise<Done> {
  const user = await s.ctx.auth.verify(username, password, s.conn.remoteAddress);
  if (!user) throw new ImapNo('Authentication failed', 'AUTHENTICATIONFAILED');
  s.login(user);
  return { code: `CAPABILITY ${s.capabilityList().join(' ')}`, text: 'Logged in' };
}

export const login: CommandSpec = {
  states: NOT_AUTHENTICATED,
  async run(s, c) {
    const args = new Arguments(argsOf(c), 'LOGIN');
    const username = args.astring('user name');
    const password = args.astring('password');
    args.end();
    if (!s.passwordAllowed) throw new ImapNo('Use STARTTLS first', 'PRIVACYREQUIRED');
    return finishLogin(s, username, password);
  },
};

export const authenticate: CommandSpec = {
  states: NOT_AUTHENTICATED,
  async run(s, c) {
    const args = new Arguments(argsOf(c), 'AUTHENTICATE');
    const mechanism = args.atom('mechanism').toUpperCase();
    const initial = args.remaining > 0 ? args.atom('initial response') : null;
    args.end();
    if (mechanism !== 'PLAIN') throw new ImapNo(`Unsupported mechanism ${mechanism.slice(0, 20)}`, 'CANNOT');
    if (!s.passwordAllowed) throw new ImapNo('Use STARTTLS first', 'PRIVACYREQUIRED');
    let response = initial;
    if (response === null) {
      s.out.continuation('');
      s.flush();
      const line = await s.readRawLine();
      if (line === null) throw new ImapBad('Connection closed');
      response = line.toString('latin1');
    }
    if (response.trim() === '*') throw new ImapBad('Authentication cancelled');
    const decoded = decodePlainResponse(response.trim() === '=' ? '' : response.trim());
    if ('error' in decoded) throw new ImapBad(decoded.error);
    return finishLogin(s, decoded.authcid, decoded.password);
  },
};

export const starttls: CommandSpec = {
  states: NOT_AUTHENTICATED,
  async run(s, c) {
    new Arguments(argsOf(c), 'STARTTLS').end();
    if (s.secure) throw new ImapBad('TLS is already active');
    // The tagged OK must leave in the clear before the handshake starts.
    s.out.status(c.tag, 'OK', 'Begin TLS negotiation now');
    s.flush();
    await s.startTls();
    return { silent: true };
  },
};
