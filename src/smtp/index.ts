/** The SMTP service: MX (inbound mail from the Internet) and submission (RFC 6409). */
import type { ServiceContext, SessionHandler } from '../net/types.js';
import { Replies } from './reply.js';
import { SmtpSession, type SmtpMode } from './session.js';

export type { SmtpMode } from './session.js';

/**
 * 'mx': port 25 style, no AUTH, local recipients only. 'submission': AUTH required before
 * MAIL (ports 587 with STARTTLS and 465 with implicit TLS).
 */
export function createSmtpHandler(ctx: ServiceContext, mode: SmtpMode): SessionHandler {
  const host = ctx.config.hostname;
  return {
    open: (conn) => new SmtpSession(ctx, mode, conn),
    refuse: (reason) => {
      switch (reason) {
        case 'too-many-connections':
          return Replies.tooManyConnections(host);
        case 'too-many-from-address':
          return Replies.tooManyFromAddress(host);
        case 'shutting-down':
          return Replies.shuttingDown(host);
      }
    },
  };
}
