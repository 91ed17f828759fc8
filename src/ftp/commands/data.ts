/**
 * Setting up the data connection: PASV, PORT (RFC 959), EPSV, EPRT (RFC 2428), and REST
 * (RFC 3659 section 5). PORT and EPRT may only name the client's own address (RFC 2577
 * section 3: a server that connects wherever it is told can be used to attack third
 * parties, the "bounce attack"); only users in ftp.fxpUsers may name another server.
 */
import net from 'node:net';
import { normalizeAddress } from '../../net/listener.js';
import { ActiveTarget, DataConnectionError, PassiveEndpoint } from '../data-channel.js';
import type { CommandHandler, FtpSession } from '../session.js';

/** Below 1024 live the system's own services; no FTP client listens there (RFC 2577 section 3). */
const MIN_ACTIVE_PORT = 1024;
const EPSV_ALL_SET = '503 EPSV ALL was sent: only EPSV may set up data connections';

/**
 * How long the 227/229 reply is held back. curl 7.88 (Debian 12's) stalls for its whole 1 s
 * poll timeout before opening the data connection when that reply is already waiting the
 * first time it reads after sending PASV/EPSV (a few microseconds after the send): it then
 * skips registering the connection and sleeps. vsftpd rarely triggers this, as its reply takes
 * a trip through its privileged parent process. Measured with curl uploading 100 files in one
 * session: 2 to 23 s with an immediate reply, 0.3 to 0.5 s with this one. One millisecond is
 * the shortest a timer waits; waiting less by spinning the event loop would keep a busy server's
 * CPU spinning, for a client's bug.
 */
const PASSIVE_REPLY_DELAY_MS = 1;

function passiveReplyPause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, PASSIVE_REPLY_DELAY_MS));
}

/** Replies why an active target is refused, or returns it. */
async function checkActiveTarget(session: FtpSession, host: string, port: number): Promise<ActiveTarget | null> {
  if (port < MIN_ACTIVE_PORT || port > 65535) {
    await session.rejectCommand('501 Refused: data ports below 1024 are not allowed');
    return null;
  }
  const own = normalizeAddress(host).toLowerCase() === session.conn.remoteAddress.toLowerCase();
  if (!own && !session.user!.fxp) {
    session.log.warn('active data connection to another address refused', { target: host });
    await session.rejectCommand('501 Refused: the data connection must go to your own address');
    return null;
  }
  return new ActiveTarget(host, port);
}

const port: CommandHandler = async (session, argument) => {
  if (session.epsvAll) return session.rejectCommand(EPSV_ALL_SET);
  const parts = argument.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return session.rejectCommand('501 Syntax: PORT h1,h2,h3,h4,p1,p2');
  }
  const numbers = parts.map(Number);
  const target = await checkActiveTarget(session, numbers.slice(0, 4).join('.'), numbers[4] * 256 + numbers[5]);
  if (!target) return;
  session.setDataSetup(target);
  await session.reply('200 PORT command successful');
};

const eprt: CommandHandler = async (session, argument) => {
  if (session.epsvAll) return session.rejectCommand(EPSV_ALL_SET);
  const text = argument.trim();
  const delimiter = text[0];
  const fields = delimiter ? text.split(delimiter) : [];
  // "|1|132.235.1.2|6275|" splits into ["", "1", "132.235.1.2", "6275", ""].
  if (fields.length !== 5 || fields[0] !== '' || fields[4] !== '' || !/^\d{1,5}$/.test(fields[3])) {
    return session.rejectCommand('501 Syntax: EPRT |protocol|address|port|');
  }
  const [, protocol, host, portText] = fields;
  if (protocol !== '1' && protocol !== '2') return session.rejectCommand('522 Network protocol not supported, use (1,2)');
  if ((protocol === '1' && !net.isIPv4(host)) || (protocol === '2' && !net.isIPv6(host))) {
    return session.rejectCommand('501 EPRT address does not match its protocol');
  }
  const target = await checkActiveTarget(session, host, Number(portText));
  if (!target) return;
  session.setDataSetup(target);
  await session.reply('200 EPRT command successful');
};

/** Opens a passive port on the control connection's local address; null when it replied an error. */
async function openPassive(session: FtpSession): Promise<PassiveEndpoint | null> {
  const { ftp } = session.ctx.config;
  session.setDataSetup(null);
  try {
    const endpoint = await PassiveEndpoint.open({
      host: session.conn.localAddress,
      portMin: ftp.passivePortMin,
      portMax: ftp.passivePortMax,
      // Only the client may connect, so nobody else can take its file (RFC 2577 section 5).
      allowedAddress: session.user!.fxp ? null : session.conn.remoteAddress,
      log: session.log,
    });
    if (session.isClosing) {
      endpoint.close();
      return null;
    }
    session.setDataSetup(endpoint);
    return endpoint;
  } catch (err) {
    if (!(err instanceof DataConnectionError)) throw err;
    await session.reply(err.reply);
    return null;
  }
}

const pasv: CommandHandler = async (session) => {
  if (session.epsvAll) return session.rejectCommand(EPSV_ALL_SET);
  const advertised = session.ctx.config.ftp.passiveAddress ?? session.conn.localAddress;
  if (!net.isIPv4(advertised)) return session.rejectCommand('522 PASV works over IPv4 only, use EPSV');
  const endpoint = await openPassive(session);
  if (!endpoint) return;
  const p = endpoint.port;
  await passiveReplyPause();
  await session.reply(`227 Entering Passive Mode (${advertised.split('.').join(',')},${p >> 8},${p & 255}).`);
};

const epsv: CommandHandler = async (session, argument) => {
  const arg = argument.trim().toUpperCase();
  if (arg === 'ALL') {
    session.epsvAll = true;
    return session.reply('200 EPSV ALL ok');
  }
  // RFC 2428 section 3: "EPSV" [SP net-prt / SP "ALL"]; a protocol number other than the
  // control connection's is 522, anything else is bad syntax.
  if (arg !== '' && !/^\d{1,3}$/.test(arg)) return session.rejectCommand('501 Syntax: EPSV [protocol | ALL]');
  const family = net.isIPv6(session.conn.localAddress) ? '2' : '1';
  if (arg !== '' && arg !== family) return session.rejectCommand(`522 Network protocol not supported, use (${family})`);
  const endpoint = await openPassive(session);
  if (!endpoint) return;
  await passiveReplyPause();
  await session.reply(`229 Entering Extended Passive Mode (|||${endpoint.port}|)`);
};

const rest: CommandHandler = async (session, argument) => {
  const text = argument.trim();
  if (!/^\d{1,15}$/.test(text)) return session.rejectCommand('501 REST needs a byte offset');
  session.restOffset = Number(text);
  await session.reply(`350 Restarting at ${session.restOffset}, send STOR, APPE or RETR`);
};

export const dataCommands = {
  PORT: { run: port, needsLogin: true },
  EPRT: { run: eprt, needsLogin: true },
  PASV: { run: pasv, needsLogin: true },
  EPSV: { run: epsv, needsLogin: true },
  REST: { run: rest, needsLogin: true },
};
