import type { Pop3Session } from './session.js';

/** The SASL mechanisms offered (CAPA "SASL", and the list a bare AUTH returns). */
export const POP3_SASL_MECHANISMS = ['PLAIN'] as const;

/**
 * The CAPA list (RFC 2449) for the session as it is now. What a client may do next depends
 * on the state: USER and SASL PLAIN only where a password may be sent (RFC 2595 section 2.3),
 * STLS only on a plain connection before login. EXPIRE and LOGIN-DELAY are not announced:
 * this server imposes neither.
 */
export function capabilities(session: Pop3Session): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (session.state === 'authorization') {
    if (session.plaintextAllowed) caps.push('USER', `SASL ${POP3_SASL_MECHANISMS.join(' ')}`);
    if (!session.secure) caps.push('STLS');
  }
  caps.push('IMPLEMENTATION Wharf');
  return caps;
}

/** CAPA is valid in every state (RFC 2449 section 5). */
export async function capa(session: Pop3Session, args: string[]): Promise<void> {
  if (args.length > 0) return session.rejectCommand('-ERR CAPA takes no arguments');
  await session.transport.write(['+OK Capability list follows', ...capabilities(session), '.', ''].join('\r\n'));
}
