/**
 * Commands on names, without a data connection: CWD, CDUP, PWD, MKD, RMD, DELE, RNFR/RNTO
 * (RFC 959), SIZE, MDTM, MLST (RFC 3659), MFMT, SITE CHMOD. The X-forms (XPWD, XMKD...) of
 * RFC 775 are the same commands; some Windows clients still send them.
 */
import { quotePath } from '../command-line.js';
import { ftpTime, mlstFacts, parseFtpTime } from '../listing.js';
import type { CommandHandler, FtpSession } from '../session.js';
import { storeErrorReply, type FileAction } from '../store-errors.js';

const READ_ONLY = '550 Permission denied: this area is read-only';

/**
 * Runs a file operation and replies with what went wrong when the store refuses it; other
 * errors are rethrown (the session logs them and replies 451). Returns false on failure.
 */
export async function withStore(session: FtpSession, action: FileAction, work: () => Promise<void>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (err) {
    const reply = storeErrorReply(err, action);
    if (reply === null) throw err;
    await session.reply(reply);
    return false;
  }
}

/** Refuses a change in the read-only anonymous area; true when refused. */
export async function refuseReadOnly(session: FtpSession): Promise<boolean> {
  if (!session.user?.readOnly) return false;
  await session.reply(READ_ONLY);
  return true;
}

/** Replies 501 when the path is missing; true when it did. */
async function needsArgument(session: FtpSession, argument: string, command: string): Promise<boolean> {
  if (argument.length > 0) return false;
  await session.rejectCommand(`501 ${command} needs a path`);
  return true;
}

async function changeFolder(session: FtpSession, target: string): Promise<void> {
  await withStore(session, 'read', async () => {
    const path = session.resolvePath(target);
    const info = await session.files.stat(session.user!.space, path);
    if (!info || info.type !== 'directory') {
      await session.reply(`550 Failed to change directory: ${info ? 'not a folder' : 'no such folder'}`);
      return;
    }
    session.cwd = path;
    await session.reply(`250 Directory changed to ${quotePath(path)}`);
  });
}

const cwd: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'CWD')) return;
  await changeFolder(session, argument);
};

const cdup: CommandHandler = async (session) => changeFolder(session, '..');

const pwd: CommandHandler = async (session) => {
  await session.reply(`257 ${quotePath(session.cwd)} is the current directory`);
};

const mkd: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'MKD')) return;
  if (await refuseReadOnly(session)) return;
  await withStore(session, 'create', async () => {
    const path = session.resolvePath(argument);
    await session.files.makeDirectory(session.user!.space, path);
    await session.reply(`257 ${quotePath(path)} created`);
  });
};

const rmd: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'RMD')) return;
  if (await refuseReadOnly(session)) return;
  await withStore(session, 'read', async () => {
    const path = session.resolvePath(argument);
    if (path === '/') return session.reply('550 The top folder cannot be removed');
    await session.files.removeDirectory(session.user!.space, path);
    await session.reply('250 Directory removed');
  });
};

const dele: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'DELE')) return;
  if (await refuseReadOnly(session)) return;
  await withStore(session, 'read', async () => {
    await session.files.removeFile(session.user!.space, session.resolvePath(argument));
    await session.reply('250 File deleted');
  });
};

const rnfr: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'RNFR')) return;
  if (await refuseReadOnly(session)) return;
  await withStore(session, 'read', async () => {
    const path = session.resolvePath(argument);
    if (path === '/' || !(await session.files.stat(session.user!.space, path))) {
      return session.reply('550 No such file or directory');
    }
    session.renameFrom = { path };
    await session.reply('350 Ready for RNTO');
  });
};

const rnto: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'RNTO')) return;
  const from = session.renameFrom;
  session.renameFrom = null;
  if (!from) return session.rejectCommand('503 RNFR required first');
  if (await refuseReadOnly(session)) return;
  await withStore(session, 'create', async () => {
    const to = session.resolvePath(argument);
    await session.files.rename(session.user!.space, from.path, to, { overwrite: true });
    await session.reply('250 Rename successful');
  });
};

const size: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'SIZE')) return;
  // In TYPE A the size on the wire differs from the stored size and only reading the whole
  // file tells it; like vsftpd we refuse rather than read gigabytes to answer (RFC 3659 4.3).
  if (session.type === 'A') return session.reply('550 SIZE not allowed in ASCII mode (send TYPE I)');
  await withStore(session, 'read', async () => {
    const info = await session.files.stat(session.user!.space, session.resolvePath(argument));
    if (!info || info.type !== 'file') return session.reply('550 Could not get file size: no such file');
    await session.reply(`213 ${info.size}`);
  });
};

const mdtm: CommandHandler = async (session, argument) => {
  if (await needsArgument(session, argument, 'MDTM')) return;
  await withStore(session, 'read', async () => {
    const info = await session.files.stat(session.user!.space, session.resolvePath(argument));
    if (!info || info.type !== 'file') return session.reply('550 Could not get file modification time: no such file');
    await session.reply(`213 ${ftpTime(info.modified)}`);
  });
};

/** MFMT time path (draft-somers-ftp-mfxx): sets the modification time, as lftp mirror does. */
const mfmt: CommandHandler = async (session, argument) => {
  const space = argument.indexOf(' ');
  const when = space < 0 ? null : parseFtpTime(argument.slice(0, space));
  if (!when) return session.rejectCommand('501 Syntax: MFMT YYYYMMDDHHMMSS path');
  if (await refuseReadOnly(session)) return;
  await withStore(session, 'read', async () => {
    const path = session.resolvePath(argument.slice(space + 1));
    await session.files.setModified(session.user!.space, path, when);
    await session.reply(`213 Modify=${ftpTime(when)}; ${path}`);
  });
};

const mlst: CommandHandler = async (session, argument) => {
  await withStore(session, 'read', async () => {
    const path = session.resolvePath(argument);
    const info = await session.files.stat(session.user!.space, path);
    if (!info) return session.reply('550 No such file or directory');
    const facts = mlstFacts(info, { readOnly: session.user!.readOnly, selected: session.mlstSelection });
    await session.replyLines(250, `Listing ${path}`, [`${facts} ${path}`], 'End');
  });
};

const site: CommandHandler = async (session, argument) => {
  const [sub = '', ...rest] = argument.split(' ');
  switch (sub.toUpperCase()) {
    case 'CHMOD': {
      const mode = rest[0] ?? '';
      const target = rest.slice(1).join(' ');
      if (!/^[0-7]{1,4}$/.test(mode) || target.length === 0) return session.rejectCommand('501 Syntax: SITE CHMOD mode path');
      if (await refuseReadOnly(session)) return;
      await withStore(session, 'read', async () => {
        await session.files.setMode(session.user!.space, session.resolvePath(target), parseInt(mode, 8));
        await session.reply('200 SITE CHMOD command ok');
      });
      return;
    }
    case 'HELP':
      return session.replyLines(214, 'SITE commands:', ['CHMOD mode path', 'HELP'], 'End');
    default:
      return session.rejectCommand('500 Unknown SITE command (CHMOD and HELP are supported)');
  }
};

export const fileCommands = {
  CWD: { run: cwd, needsLogin: true },
  XCWD: { run: cwd, needsLogin: true },
  CDUP: { run: cdup, needsLogin: true },
  XCUP: { run: cdup, needsLogin: true },
  PWD: { run: pwd, needsLogin: true },
  XPWD: { run: pwd, needsLogin: true },
  MKD: { run: mkd, needsLogin: true },
  XMKD: { run: mkd, needsLogin: true },
  RMD: { run: rmd, needsLogin: true },
  XRMD: { run: rmd, needsLogin: true },
  DELE: { run: dele, needsLogin: true },
  RNFR: { run: rnfr, needsLogin: true },
  RNTO: { run: rnto, needsLogin: true },
  SIZE: { run: size, needsLogin: true },
  MDTM: { run: mdtm, needsLogin: true },
  MFMT: { run: mfmt, needsLogin: true },
  MLST: { run: mlst, needsLogin: true },
  SITE: { run: site, needsLogin: true },
};
