/** Client responses as SMTP, POP3 and IMAP carry them: base64 text, "*" to cancel. */

/** Strict base64 (RFC 4648 section 4, with padding): a sloppy decoder would accept garbage. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes strict base64; null when `text` is not base64. The empty string is zero bytes. */
export function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}

export type ClientResponse = { kind: 'data'; data: Buffer } | { kind: 'cancel' } | { kind: 'invalid' };

/**
 * Decodes one client response. `emptyInitialResponse` is how the protocol writes an initial
 * response of zero bytes on the command line ("=" in SMTP, POP3 and IMAP SASL-IR), since an
 * empty argument there means "no initial response"; in answer to a challenge, an empty line
 * is zero bytes.
 */
export function decodeClientResponse(text: string, initial: boolean, emptyInitialResponse: string): ClientResponse {
  if (text === '*') return { kind: 'cancel' };
  if (initial && text === emptyInitialResponse) return { kind: 'data', data: Buffer.alloc(0) };
  if (initial && text.length === 0) return { kind: 'invalid' };
  const data = decodeBase64(text);
  return data ? { kind: 'data', data } : { kind: 'invalid' };
}
