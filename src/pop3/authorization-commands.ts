/**
 * Commands of the AUTHORIZATION state: USER/PASS (RFC 1939 section 7), AUTH PLAIN
 * (RFC 5034, RFC 4616), STLS (RFC 2595), plus CAPA and QUIT.
 */
import { createSaslMechanism, runSaslExchange, verifyCredentials, type SaslCredentials } from '../net/sasl/index.js';
import { capa, POP3_SASL_MECHANISMS } from './capabilities.js';
import { Maildrop } from './maildrop.js';
import type { CommandHandler, Pop3Session } from './session.js';

const PLAINTEXT_REFUSED = '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections';
const AUTH_FAILED = '-ERR [AUTH] Authentication failed.';
/** Login names are logged; a hostile client must not be able to write a novel into the log. */
const MAX_LOGGED_NAME = 100;

/**
 * Checks a password (and the SASL authorization identity, see verifyCredentials) and, on
 * success, locks and opens the maildrop. Never logs the password.
 */
async function login(session: Pop3Session, credentials: SaslCredentials, method: string): Promise<void> {
  const { ctx, conn } = session;
  const user = await verifyCredentials(ctx.auth, credentials, conn.remoteAddress, conn.closed);
  if (!user) {
    session.log.warn('login failed', { user: credentials.authcid.slice(0, MAX_LOGGED_NAME), method });
    return session.rejectCommand(AUTH_FAILED);
  }
  const maildrop = await Maildrop.open(ctx.store, user.userId, conn.id, ctx.config.pop3.lockTtlMs, session.log);
  if (maildrop === 'in-use') {
    session.log.info('maildrop in use', { user: user.address });
    // RFC 2449 section 8.1.2: the login was fine, the maildrop is busy; stay in AUTHORIZATION.
    return session.reply('-ERR [IN-USE] Mailbox is locked by another POP3 session');
  }
  if (session.state !== 'authorization') {
    // The session ended (shutdown, dropped connection) while the password was checked.
    await maildrop.close();
    return;
  }
  session.beginTransaction(maildrop, user.address);
  session.log.info('login', {
    user: user.address,
    method,
    messages: maildrop.visibleCount,
    octets: maildrop.visibleBytes,
  });
  await session.reply('+OK Logged in.');
}

const user: CommandHandler = async (session, _args, rest) => {
  if (!session.plaintextAllowed) return session.rejectCommand(PLAINTEXT_REFUSED);
  const name = rest.trim();
  if (name.length === 0) return session.rejectCommand('-ERR USER needs a name');
  session.pendingUser = name;
  await session.reply('+OK');
};

const pass: CommandHandler = async (session, _args, rest) => {
  if (!session.plaintextAllowed) return session.rejectCommand(PLAINTEXT_REFUSED);
  const name = session.pendingUser;
  if (name === null) return session.rejectCommand('-ERR No username given, send USER first');
  // After PASS, successful or not, a new attempt starts with USER again.
  session.pendingUser = null;
  if (rest.length === 0) return session.rejectCommand('-ERR PASS needs a password');
  await login(session, { authzid: '', authcid: name, password: rest }, 'USER');
};

const auth: CommandHandler = async (session, args) => {
  if (args.length === 0) {
    // Without a mechanism, list them (the RFC 1734 form some clients still probe with).
    const mechanisms = session.plaintextAllowed ? POP3_SASL_MECHANISMS : [];
    await session.transport.write(['+OK', ...mechanisms, '.', ''].join('\r\n'));
    return;
  }
  if (args.length > 2) return session.rejectCommand('-ERR Syntax: AUTH mechanism [initial-response]');
  const mechanism = createSaslMechanism(args[0], POP3_SASL_MECHANISMS);
  if (!mechanism) return session.rejectCommand('-ERR Unsupported authentication mechanism');
  if (!session.plaintextAllowed) return session.rejectCommand(PLAINTEXT_REFUSED);
  session.pendingUser = null;

  const outcome = await runSaslExchange(mechanism, args[1], {
    // RFC 5034 section 4: a challenge is "+ " and the base64 text.
    challenge: async (text) => {
      await session.reply(`+ ${text}`);
      return session.nextLine();
    },
  });
  if (outcome.ok) return login(session, outcome.credentials, mechanism.name);
  switch (outcome.reason) {
    case 'ended':
      return;
    case 'cancelled':
      return session.rejectCommand('-ERR Authentication cancelled.');
    case 'bad-base64':
      return session.rejectCommand('-ERR Invalid base64 data');
    default:
      session.log.warn('login failed', { method: mechanism.name, reason: outcome.reason });
      return session.rejectCommand(AUTH_FAILED);
  }
};

const apop: CommandHandler = async (session) => {
  // APOP needs the plaintext password stored server-side (RFC 1939 section 7); Wharf keeps
  // only memory-hard hashes, and the greeting carries no timestamp to announce it.
  await session.rejectCommand('-ERR APOP is not supported');
};

const stls: CommandHandler = async (session, args) => {
  if (args.length > 0) return session.rejectCommand('-ERR STLS takes no arguments');
  if (session.secure) return session.rejectCommand('-ERR Already using TLS');
  // The +OK goes out in the clear, before the handshake starts.
  await session.startTls('+OK Begin TLS negotiation');
};

const quit: CommandHandler = async (session) => {
  session.loggedOut = true;
  session.close('+OK Logging out.');
};

export const authorizationCommands: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ['USER', user],
  ['PASS', pass],
  ['AUTH', auth],
  ['APOP', apop],
  ['STLS', stls],
  ['CAPA', capa],
  ['QUIT', quit],
]);
