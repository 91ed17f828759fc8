/**
 * The FTP service (RFC 959 with RFC 2389 FEAT, RFC 2428 EPRT/EPSV, RFC 3659 SIZE/MDTM/MLSx/
 * REST STREAM, RFC 2640 UTF-8, RFC 4217 FTPS) over the file store.
 */
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
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
  const services: FtpServices = { files, uploadAllowance: allowance, dataSecureContext: dataContextFinder(ctx) };
  return {
    open: (conn) => new FtpSession(ctx, services, conn),
    // RFC 959: 421 is how an FTP server says it cannot serve now.
    refuse: (reason) =>
      reason === 'shutting-down' ? '421 Server shutting down\r\n' : '421 Too many connections, try again later\r\n',
  };
}

/**
 * The TLS context a data connection must use so the client can resume its control
 * connection's session. After AUTH TLS that is the shared context (the session started on
 * it). On the implicit port the listener's TLS server made the session with a context of its
 * own; a context with the same session ticket keys and session id context accepts its
 * tickets, so one is made per listener (the keys live as long as it does).
 */
function dataContextFinder(ctx: ServiceContext): (conn: Connection) => SecureContext {
  const byKeys = new Map<string, SecureContext>();
  return (conn) => {
    const server = conn.secure ? (conn.socket as TLSSocket & { server?: tls.Server & { sessionIdContext?: string } }).server : undefined;
    if (!server || typeof server.getTicketKeys !== 'function') return ctx.tls.secureContext;
    const keys = server.getTicketKeys();
    // OpenSSL resumes a session only under the session id context it was made in.
    const sessionIdContext = server.sessionIdContext;
    const id = `${keys.toString('hex')}/${sessionIdContext ?? ''}`;
    let context = byKeys.get(id);
    if (!context) {
      context = tls.createSecureContext({ ...ctx.tls.serverOptions, ticketKeys: keys, sessionIdContext });
      byKeys.set(id, context);
    }
    return context;
  };
}
