/**
 * The capability list, which depends on the connection: STARTTLS only before TLS, LOGINDISABLED
 * exactly when LOGIN would be refused (RFC 9051 6.2.3 / 7.2.2), AUTH=PLAIN only where a
 * password may be sent; after login the extensions a client can use are listed.
 */
export interface CapabilityState {
  authenticated: boolean;
  tls: boolean;
  /** STARTTLS can be offered (plain connection with TLS material). */
  canStartTls: boolean;
  /** A password may be sent on this connection (TLS, loopback, or allowInsecure). */
  passwordAllowed: boolean;
  appendLimit: number;
}

const AFTER_LOGIN = [
  'ENABLE',
  'ID',
  'IDLE',
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'CHILDREN',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'SPECIAL-USE',
  'ESEARCH',
  'SEARCHRES',
  'CONDSTORE',
  'QRESYNC',
  'MULTIAPPEND',
  'BINARY',
  'UTF8=ACCEPT',
  'SORT',
  'SORT=DISPLAY',
  'THREAD=REFERENCES',
  'THREAD=ORDEREDSUBJECT',
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'STATUS=SIZE',
  'SASL-IR',
  'LITERAL+',
];

export function capabilities(state: CapabilityState): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2'];
  if (!state.authenticated) {
    caps.push('SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE');
    if (state.canStartTls && !state.tls) caps.push('STARTTLS');
    if (state.passwordAllowed) caps.push('AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
    return caps;
  }
  caps.push(...AFTER_LOGIN, `APPENDLIMIT=${state.appendLimit}`);
  return caps;
}
