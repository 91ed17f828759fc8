/**
 * The shape every SASL mechanism (RFC 4422) has here, whatever protocol carries it: the
 * protocol decodes the client's responses and hands them over; the mechanism answers with a
 * challenge, the credentials it gathered, or why it gives up.
 */

/** What a password mechanism yields once the client said everything. */
export interface SaslCredentials {
  /** Identity to act as (RFC 4422 section 3.4.1); empty when the client asks for its own. */
  authzid: string;
  /** The login name. */
  authcid: string;
  password: string;
}

/** Why an exchange failed before any password was checked. */
export type SaslFailure =
  /** The client sent "*" (RFC 4954 section 4, RFC 5034 section 4, RFC 9051 section 6.2.2). */
  | 'cancelled'
  /** A response that is not strict base64 (RFC 4648 section 4, with padding). */
  | 'bad-base64'
  /** Not the mechanism's message format (PLAIN: not three NUL-separated fields, no authcid). */
  | 'malformed'
  /** A field that is not valid UTF-8 (RFC 4616 section 2). */
  | 'bad-utf8'
  /** A field longer than 255 bytes, or a response line over the protocol's limit. */
  | 'too-long'
  /** No password: refused everywhere, whatever the store would say. */
  | 'empty-password';

export type SaslStep =
  | { kind: 'challenge'; challenge: Buffer }
  | { kind: 'credentials'; credentials: SaslCredentials }
  | { kind: 'failure'; reason: SaslFailure };

/** One exchange with one client; create a new one for each AUTH/AUTHENTICATE command. */
export interface SaslMechanism {
  /** The registered name, e.g. "PLAIN". */
  readonly name: string;
  /**
   * The first step: `initialResponse` is the decoded initial response when the command
   * carried one (RFC 4954, RFC 5034, RFC 4959 SASL-IR), undefined when it did not.
   */
  start(initialResponse: Buffer | undefined): SaslStep;
  /** The next step, given the decoded response to the last challenge. */
  respond(response: Buffer): SaslStep;
}

/** RFC 4616 section 2: authzid, authcid and passwd are each at most 255 octets. */
export const MAX_FIELD_BYTES = 255;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A credential field as text; a failure when it is too long or not UTF-8. */
export function decodeField(bytes: Buffer): string | { failure: SaslFailure } {
  if (bytes.length > MAX_FIELD_BYTES) return { failure: 'too-long' };
  try {
    return utf8.decode(bytes);
  } catch {
    return { failure: 'bad-utf8' };
  }
}

export function failure(reason: SaslFailure): SaslStep {
  return { kind: 'failure', reason };
}

/** The last step of a password mechanism: the one rule every mechanism shares. */
export function credentialsStep(credentials: SaslCredentials): SaslStep {
  if (credentials.authcid.length === 0) return failure('malformed');
  if (credentials.password.length === 0) return failure('empty-password');
  return { kind: 'credentials', credentials };
}
