/**
 * Logging in and protecting the connection: USER, PASS, ACCT (RFC 959), AUTH, PBSZ, PROT,
 * CCC (RFC 4217), QUIT, REIN.
 */
import type { CommandHandler } from '../session.js';

/** Login names are logged; a hostile client must not be able to write a novel into the log. */
const MAX_LOGGED_NAME = 100;
const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);
const TLS_REQUIRED = '530 TLS required: send AUTH TLS first (or use the implicit FTPS port)';

const user: CommandHandler = async (session, argument) => {
  const name = argument.trim();
  if (name.length === 0) return session.rejectCommand('501 USER needs a name');
  if (session.user) return session.rejectCommand('503 Already logged in');
  if (ANONYMOUS_NAMES.has(name.toLowerCase())) {
    if (!session.ctx.config.files.anonymous) return session.rejectCommand('530 Anonymous login is not allowed here');
    session.pendingUser = name;
    // The anonymous "password" is traditionally an e-mail address: no secret, so no TLS needed.
    return session.reply('331 Anonymous login ok, send any password');
  }
  if (!session.passwordsAllowed) return session.rejectCommand(TLS_REQUIRED);
  session.pendingUser = name;
  await session.reply('331 Please specify the password');
};

const pass: CommandHandler = async (session, argument) => {
  if (session.user) return session.reply('230 Already logged in');
  const name = session.pendingUser;
  if (name === null) return session.rejectCommand('503 Login with USER first');
  // After PASS, successful or not, a new attempt starts with USER again.
  session.pendingUser = null;
  const { ctx, conn } = session;
  if (ANONYMOUS_NAMES.has(name.toLowerCase())) {
    session.login({ address: null, space: { kind: 'anonymous' }, readOnly: true, fxp: false });
    session.log.info('login', { user: 'anonymous' });
    return session.reply('230 Anonymous access granted, read-only');
  }
  if (!session.passwordsAllowed) return session.rejectCommand(TLS_REQUIRED);
  const account = await ctx.auth.verify(name, argument, conn.remoteAddress, conn.closed);
  if (!account) {
    session.log.warn('login failed', { user: name.slice(0, MAX_LOGGED_NAME) });
    return session.rejectCommand('530 Login incorrect');
  }
  if (session.isClosing) return;
  const fxpUsers = ctx.config.ftp.fxpUsers.map((a) => a.toLowerCase());
  session.login({
    address: account.address,
    space: { kind: 'user', userId: account.userId, address: account.address },
    readOnly: false,
    fxp: fxpUsers.includes(account.address.toLowerCase()),
  });
  session.log.info('login', { user: account.address, tls: session.secure });
  await session.reply('230 Login successful');
};

const acct: CommandHandler = async (session) => {
  if (!session.user && session.pendingUser === null) return session.rejectCommand('503 Login with USER first');
  // Accounts are not used for anything here (RFC 959: 202 "superfluous at this site").
  await session.reply('202 ACCT not needed');
};

const auth: CommandHandler = async (session, argument) => {
  const mechanism = argument.trim().toUpperCase();
  // AUTH SSL is what older clients send; vsftpd and ProFTPD treat it as AUTH TLS. With TLS 1.2
  // as the floor it negotiates exactly the same protocol, so refusing it would only break them.
  if (!['TLS', 'TLS-C', 'SSL', 'TLS-P'].includes(mechanism)) return session.rejectCommand('504 AUTH mechanism not supported (use AUTH TLS)');
  if (session.secure) return session.rejectCommand('503 TLS is already active');
  if (session.user) return session.rejectCommand('503 AUTH TLS must come before login');
  await session.startTls('234 Proceed with TLS negotiation');
};

const pbsz: CommandHandler = async (session, argument) => {
  if (!session.secure) return session.rejectCommand('503 PBSZ needs a TLS connection (AUTH TLS first)');
  if (!/^\d{1,10}$/.test(argument.trim())) return session.rejectCommand('501 PBSZ needs a number');
  session.pbszDone = true;
  // RFC 4217 section 9: for TLS the buffer size is 0 (streaming).
  await session.reply('200 PBSZ=0');
};

const prot: CommandHandler = async (session, argument) => {
  if (!session.secure) return session.rejectCommand('503 PROT needs a TLS connection (AUTH TLS first)');
  if (!session.pbszDone) return session.rejectCommand('503 PBSZ must come before PROT');
  switch (argument.trim().toUpperCase()) {
    case 'P':
      session.protectData = true;
      return session.reply('200 PROT now Private');
    case 'C':
      if (session.ctx.config.ftp.requireTls === 'always') return session.rejectCommand('534 Data connections must be protected here (PROT P)');
      session.protectData = false;
      return session.reply('200 PROT now Clear');
    case 'S':
    case 'E':
      return session.rejectCommand('536 PROT level not supported (use P or C)');
    default:
      return session.rejectCommand('504 Unknown PROT level');
  }
};

const ccc: CommandHandler = async (session) => {
  // Dropping TLS on the control connection would expose every later command to tampering.
  await session.rejectCommand('534 CCC refused: the control connection stays protected');
};

const quit: CommandHandler = async (session) => {
  session.close('221 Goodbye');
};

const rein: CommandHandler = async (session) => {
  await session.rejectCommand('502 REIN not implemented: reconnect to log in again');
};

export const accessCommands = {
  USER: { run: user, needsLogin: false },
  PASS: { run: pass, needsLogin: false },
  ACCT: { run: acct, needsLogin: false },
  AUTH: { run: auth, needsLogin: false },
  PBSZ: { run: pbsz, needsLogin: false },
  PROT: { run: prot, needsLogin: false },
  CCC: { run: ccc, needsLogin: false },
  QUIT: { run: quit, needsLogin: false },
  REIN: { run: rein, needsLogin: false },
};
