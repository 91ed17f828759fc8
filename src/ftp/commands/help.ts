/**
 * HELP (RFC 959 section 4.1.3): alone, the commands this server knows; with a command name,
 * how that command is written, as ProFTPD answers it. The table is the one list of what HELP
 * names; a test keeps it equal to the command table, so HELP never offers what is not there.
 */
import type { CommandHandler } from '../session.js';

export const COMMAND_SYNTAX: Readonly<Record<string, string>> = {
  ABOR: 'ABOR (abort the transfer in progress)',
  ACCT: 'ACCT <sp> account-information (not needed here)',
  ALLO: 'ALLO <sp> size [<sp> R <sp> record-size] (not needed here)',
  APPE: 'APPE <sp> pathname',
  AUTH: 'AUTH <sp> TLS',
  CCC: 'CCC (refused: the control connection stays protected)',
  CDUP: 'CDUP (go up one folder)',
  CWD: 'CWD <sp> pathname',
  DELE: 'DELE <sp> pathname',
  EPRT: 'EPRT <sp> |protocol|address|port|',
  EPSV: 'EPSV [<sp> protocol | <sp> ALL]',
  FEAT: 'FEAT (list the extensions)',
  HELP: 'HELP [<sp> command]',
  LIST: 'LIST [<sp> pathname]',
  MDTM: 'MDTM <sp> pathname',
  MFMT: 'MFMT <sp> YYYYMMDDHHMMSS <sp> pathname',
  MKD: 'MKD <sp> pathname',
  MLSD: 'MLSD [<sp> pathname]',
  MLST: 'MLST [<sp> pathname]',
  MODE: 'MODE <sp> S',
  NLST: 'NLST [<sp> pathname]',
  NOOP: 'NOOP',
  OPTS: 'OPTS <sp> UTF8 ON | OPTS <sp> MLST <sp> fact;fact;...',
  PASS: 'PASS <sp> password',
  PASV: 'PASV',
  PBSZ: 'PBSZ <sp> 0',
  PORT: 'PORT <sp> h1,h2,h3,h4,p1,p2',
  PROT: 'PROT <sp> C | P',
  PWD: 'PWD',
  QUIT: 'QUIT',
  REIN: 'REIN (not implemented: reconnect to log in again)',
  REST: 'REST <sp> byte-offset',
  RETR: 'RETR <sp> pathname',
  RMD: 'RMD <sp> pathname',
  RNFR: 'RNFR <sp> pathname',
  RNTO: 'RNTO <sp> pathname',
  SITE: 'SITE <sp> CHMOD <sp> mode <sp> pathname | SITE <sp> HELP',
  SIZE: 'SIZE <sp> pathname',
  STAT: 'STAT [<sp> pathname]',
  STOR: 'STOR <sp> pathname',
  STOU: 'STOU [<sp> pathname]',
  STRU: 'STRU <sp> F',
  SYST: 'SYST',
  TYPE: 'TYPE <sp> A [<sp> N] | I | L <sp> 8',
  USER: 'USER <sp> username',
  XCUP: 'XCUP (as CDUP)',
  XCWD: 'XCWD <sp> pathname (as CWD)',
  XMKD: 'XMKD <sp> pathname (as MKD)',
  XPWD: 'XPWD (as PWD)',
  XRMD: 'XRMD <sp> pathname (as RMD)',
};

const PER_LINE = 16;

function commandLines(): string[] {
  const names = Object.keys(COMMAND_SYNTAX).sort();
  const lines: string[] = [];
  for (let i = 0; i < names.length; i += PER_LINE) lines.push(names.slice(i, i + PER_LINE).join(' '));
  return lines;
}

export const help: CommandHandler = async (session, argument) => {
  const name = argument.trim().toUpperCase();
  if (name === '') return session.replyLines(214, 'The following commands are recognized:', commandLines(), 'Help OK');
  const syntax = COMMAND_SYNTAX[name];
  if (syntax === undefined) return session.rejectCommand(`502 Unknown command ${name.slice(0, 32)}`);
  await session.reply(`214 Syntax: ${syntax}`);
};
