/**
 * The FTP service (RFC 959 with RFC 2389 FEAT, RFC 2428 EPRT/EPSV, RFC 3659 SIZE/MDTM/MLSx/
 * REST STREAM, RFC 2640 UTF-8, RFC 4217 FTPS) over the file store.
 */
import type { TLSSocketOptions } from 'node:tls';
import type { Connection, ServiceContext, SessionHandler } from '../net/types.js';
import type { FileSpace, FileStore } from '../store/file-store.js';
import { uploadAllowance } from '../store/files/quota.js';
import { FtpSession, type FtpServices } from './session.js';

export { FtpSession } from './session.js';

/**
 * The session handler for both FTP listeners: the plain port (AUTH TLS available) and the
 * implicit-TLS port, told apart by `conn.secure`. `allowance` tells how many bytes an upload
 * to a space may still add (null: no limit); by default the configured quota (files.quota).
 */
export function createFtpHandler(
  ctx: ServiceContext,
  files: FileStore,
  allowance: (space: FileSpace) => Promise<number | null> = (space) => uploadAllowance(ctx.config.files, ctx.store, files, space),
): SessionHandler {
  const services: FtpServices = { files, uploadAllowance: allowance, dataTlsOptions: dataTlsOptionsFinder(ctx) };
  return {
    open: (conn) => new FtpSession(ctx, services, conn),
    // RFC 959: 421 is how an FTP server says it cannot serve now.
    refuse: (reason) =>
      reason === 'shutting-down' ? '421 Server shutting down\r\n' : '421 Too many connections, try again later\r\n',
  };
}

/**
 * The TLS options of a data connection, so the client can resume its control connection's
 * session: every context of the server's TLS material (the implicit port's, the AUTH TLS one,
 * those chosen by SNI, and those after a certificate reload) shares one set of session ticket
 * keys, one session id context and one cache of sessions by id, so the current ones accept the
 * sessions of any of them.
 */
function dataTlsOptionsFinder(ctx: ServiceContext): (conn: Connection) => TLSSocketOptions {
  return () => ctx.tls.upgradeOptions();
}
