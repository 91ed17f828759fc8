/**
 * Passive mode: where the server waits for our data connection. EPSV (RFC 2428) answers only
 * a port, "229 Entering Extended Passive Mode (|||6446|)"; PASV (RFC 959) an IPv4 address and
 * port, "227 Entering Passive Mode (127,0,0,1,25,46)". The address in a PASV reply is ignored:
 * the data connection goes to the address the control connection reached, as curl and lftp
 * do by default, so a server behind NAT that announces its private address still works and a
 * hostile server cannot point us at a third machine.
 */
import { FtpClientError } from './errors.js';
import type { FtpReply } from './reply.js';

/** The port of a 229 reply. */
export function parseEpsvReply(reply: FtpReply): number {
  const text = reply.lines.join(' ');
  // The delimiter is any printable character, usually '|', repeated as the RFC says.
  const m = /\(([!-~])\1\1(\d{1,5})\1\)/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new FtpClientError('protocol', 'EPSV', `no port in the EPSV reply: ${text.slice(0, 100)}`);
  return port;
}

/** The port of a 227 reply (the address is ignored, see above). */
export function parsePasvReply(reply: FtpReply): { address: string; port: number } {
  const text = reply.lines.join(' ');
  const m = /(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})/.exec(text);
  const n = m ? m.slice(1).map(Number) : [];
  if (!m || n.some((x) => x > 255)) throw new FtpClientError('protocol', 'PASV', `no address in the PASV reply: ${text.slice(0, 100)}`);
  const port = n[4] * 256 + n[5];
  if (port === 0) throw new FtpClientError('protocol', 'PASV', `port 0 in the PASV reply: ${text.slice(0, 100)}`);
  return { address: n.slice(0, 4).join('.'), port };
}
