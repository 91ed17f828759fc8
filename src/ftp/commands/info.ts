/**
 * Commands about the session and the server: SYST, FEAT, OPTS (RFC 2389), HELP (help.ts), NOOP, STAT,
 * TYPE, MODE, STRU, ALLO (RFC 959).
 */
import { MLST_FACTS, listLine, type MlstFact } from '../listing.js';
import type { CommandHandler, FtpSession } from '../session.js';
import { withStore } from './files.js';
import { help } from './help.js';
import { listingTarget, readListing } from './listings.js';

/**
 * What FEAT announces (RFC 2389 section 3.2); each line is one feature. MLST lists every fact
 * known, a "*" after those the session's MLSx show (RFC 3659 section 7.9).
 */
export function features(selected: ReadonlySet<MlstFact>): string[] {
  return [
    'AUTH TLS',
    'PBSZ',
    'PROT',
    'EPRT',
    'EPSV',
    'MDTM',
    'MFMT',
    `MLST ${MLST_FACTS.map((f) => `${f}${selected.has(f) ? '*' : ''};`).join('')}`,
    'REST STREAM',
    'SIZE',
    'TVFS',
    'UTF8',
  ];
}

const syst: CommandHandler = async (session) => {
  // What every client expects to parse LIST as Unix `ls -l` output.
  await session.reply('215 UNIX Type: L8');
};

const feat: CommandHandler = async (session) => {
  await session.replyLines(211, 'Features:', features(session.mlstSelection), 'End');
};

const opts: CommandHandler = async (session, argument) => {
  const [name = '', ...rest] = argument.trim().split(/\s+/);
  switch (name.toUpperCase()) {
    case 'UTF8':
    case 'UTF-8':
      // RFC 2640: paths are UTF-8 always; "OPTS UTF8 ON" (what Windows clients send) is a no-op.
      if (rest.length === 0 || rest[0].toUpperCase() === 'ON') return session.reply('200 Always in UTF8 mode');
      return session.rejectCommand('504 UTF8 cannot be turned off');
    case 'MLST':
      return optsMlst(session, rest);
    default:
      return session.rejectCommand('501 Option not understood');
  }
};

/**
 * RFC 3659 section 7.9: "OPTS MLST" [SP 1*(factname ";")]. From now on MLST and MLSD show only
 * the facts named (none when none is), in any case; names this server does not know are
 * ignored, which is not an error. The reply lists the facts selected. Only bad syntax is an
 * error (501), and it leaves the selection as it was.
 */
function optsMlst(session: FtpSession, rest: string[]): Promise<void> {
  if (rest.length > 1 || (rest.length === 1 && !/^([^;=\s]+;)+$/.test(rest[0]))) {
    return session.rejectCommand('501 Syntax: OPTS MLST fact;fact;...');
  }
  const asked = new Set((rest[0] ?? '').toLowerCase().split(';'));
  session.mlstSelection = new Set(MLST_FACTS.filter((f) => asked.has(f)));
  const list = [...session.mlstSelection].map((f) => `${f};`).join('');
  return session.reply(list ? `200 MLST OPTS ${list}` : '200 MLST OPTS');
}

const noop: CommandHandler = async (session) => {
  await session.reply('200 NOOP ok');
};

const stat: CommandHandler = async (session, argument) => {
  const transfer = session.transfer;
  if (transfer) {
    // During a transfer (RFC 959 section 4.1.3): how far it got, on the control connection.
    return session.reply(`213 Status: ${transfer.command} ${transfer.path}: ${transfer.bytes} bytes transferred`);
  }
  if (argument.trim().length === 0) {
    const lines = [
      `Connected to ${session.conn.localAddress}`,
      `Logged in as ${session.user ? (session.user.address ?? 'anonymous') : 'nobody'}`,
      `TYPE: ${session.type === 'A' ? 'ASCII' : 'BINARY'}, STRUcture: File, MODE: Stream`,
      `Control connection ${session.secure ? 'protected by TLS' : 'in the clear'}; data ${session.protectData ? 'private' : 'clear'}`,
      'No data connection',
    ];
    return session.replyLines(211, 'FTP server status:', lines, 'End of status');
  }
  if (!session.user) return session.rejectCommand('530 Please login with USER and PASS');
  // STAT with a path: the LIST output, sent on the control connection (RFC 959 section 4.1.3).
  await withStore(session, 'read', async () => {
    const { entries } = await readListing(session, listingTarget(argument), { glob: true });
    const lines = entries.map((e) => listLine(e.info, e.name));
    await session.replyLines(213, 'Status follows:', lines, 'End of status');
  });
};

const type: CommandHandler = async (session, argument) => {
  const [code = '', form] = argument.trim().toUpperCase().split(/\s+/);
  if (code === 'A' && (form === undefined || form === 'N')) {
    session.type = 'A';
    return session.reply('200 Switching to ASCII mode');
  }
  if (code === 'I' || (code === 'L' && form === '8')) {
    session.type = 'I';
    return session.reply('200 Switching to Binary mode');
  }
  if (code === 'A' || code === 'E' || code === 'L') return session.rejectCommand('504 Type not supported for that parameter (use A or I)');
  await session.rejectCommand('501 Unknown TYPE');
};

const mode: CommandHandler = async (session, argument) => {
  const code = argument.trim().toUpperCase();
  if (code === 'S') return session.reply('200 Mode set to S');
  if (code === 'B' || code === 'C' || code === 'Z') return session.rejectCommand('504 Only MODE S (stream) is supported');
  await session.rejectCommand('501 Unknown MODE');
};

const stru: CommandHandler = async (session, argument) => {
  const code = argument.trim().toUpperCase();
  if (code === 'F') return session.reply('200 Structure set to F');
  if (code === 'R' || code === 'P') return session.rejectCommand('504 Only STRU F (file) is supported');
  await session.rejectCommand('501 Unknown STRU');
};

const allo: CommandHandler = async (session) => {
  // Nothing to reserve ahead: quota is checked as the bytes arrive (RFC 959: 202 superfluous).
  await session.reply('202 ALLO not needed');
};

export const infoCommands = {
  SYST: { run: syst, needsLogin: false },
  FEAT: { run: feat, needsLogin: false },
  OPTS: { run: opts, needsLogin: false },
  HELP: { run: help, needsLogin: false },
  NOOP: { run: noop, needsLogin: false },
  STAT: { run: stat, needsLogin: false },
  TYPE: { run: type, needsLogin: true },
  MODE: { run: mode, needsLogin: true },
  STRU: { run: stru, needsLogin: true },
  ALLO: { run: allo, needsLogin: true },
};
