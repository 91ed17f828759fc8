/** The three fields of a SASL PLAIN message (RFC 4616): [authzid] NUL authcid NUL passwd. */
export interface PlainCredentials {
  /** Identity to act as; empty when the client asks for its own. */
  authzid: string;
  authcid: string;
  password: string;
}

/** Strict base64 (RFC 4648 section 4, with padding): a sloppy decoder would accept garbage. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes base64 as the SASL exchange carries it; null when it is not valid base64. */
export function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/**
 * Decodes a PLAIN client response (already base64-decoded). Null when it does not have
 * exactly three NUL-separated fields, or authcid or password is empty.
 */
export function parsePlainMessage(message: Buffer): PlainCredentials | null {
  const first = message.indexOf(0);
  if (first < 0) return null;
  const second = message.indexOf(0, first + 1);
  if (second < 0 || message.indexOf(0, second + 1) >= 0) return null;
  const authzid = message.subarray(0, first).toString('utf8');
  const authcid = message.subarray(first + 1, second).toString('utf8');
  const password = message.subarray(second + 1).toString('utf8');
  if (authcid.length === 0 || password.length === 0) return null;
  return { authzid, authcid, password };
}
