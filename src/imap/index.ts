/** The IMAP service (RFC 9051 IMAP4rev2, with IMAP4rev1 behaviour until a client enables rev2). */
import type { ServiceContext, SessionHandler } from '../net/types.js';
import { UserAddressCount } from '../net/user-address-count.js';
import { EntryCache } from './entry-cache.js';
import { ImapSession } from './session.js';

export { ImapSession } from './session.js';

/** One handler for both listeners: STARTTLS on the plain port, TLS from the start on IMAPS. */
export function createImapHandler(ctx: ServiceContext): SessionHandler {
  // One cache of mailbox entries for every session of this process (see entry-cache.ts).
  const entries = new EntryCache(ctx.store);
  // Logged-in sessions per user and client address, over both ports.
  const userSessions = new UserAddressCount(ctx.config.imap.maxConnectionsPerUserAddress);
  return {
    open: (conn) => new ImapSession(ctx, conn, entries, userSessions),
    refuse: (reason) =>
      reason === 'shutting-down' ? '* BYE [UNAVAILABLE] Server shutting down\r\n' : '* BYE [UNAVAILABLE] Too many connections, try again later\r\n',
  };
}
