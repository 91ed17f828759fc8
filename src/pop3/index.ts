/** The POP3 service (RFC 1939 with CAPA, STLS, AUTH PLAIN and response codes). */
import type { ServiceContext, SessionHandler } from '../net/types.js';
import { Pop3Session } from './session.js';

export { Pop3Session } from './session.js';

/**
 * The session handler for both POP3 listeners: the plain port (STLS available) and the
 * implicit-TLS port, told apart by `conn.secure`.
 */
export function createPop3Handler(ctx: ServiceContext): SessionHandler {
  return {
    open: (conn) => new Pop3Session(ctx, conn),
    // POP3 has no other way to refuse a connection than a -ERR greeting; [SYS/TEMP] tells
    // the client to try again later rather than report a problem with the account.
    refuse: (reason) =>
      reason === 'shutting-down'
        ? '-ERR [SYS/TEMP] Server shutting down\r\n'
        : '-ERR [SYS/TEMP] Too many connections, try again later\r\n',
  };
}
