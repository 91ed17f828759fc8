/**
 * SASL PLAIN (RFC 4616) for AUTHENTICATE: strict base64, exactly three NUL-separated fields,
 * no proxy authorisation (the authzid must be empty or the user itself), no empty password.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodePlainResponse(text: string): { authcid: string; password: string } | { error: string } {
  if (!BASE64.test(text)) return { error: 'Invalid base64' };
  const raw = Buffer.from(text, 'base64');
  const fields = raw.toString('utf8').split('\0');
  if (fields.length !== 3) return { error: 'Invalid PLAIN response' };
  const [authzid, authcid, password] = fields as [string, string, string];
  if (authcid.length === 0 || password.length === 0) return { error: 'Invalid PLAIN response' };
  if (authzid.length > 0 && authzid.toLowerCase() !== authcid.toLowerCase()) {
    return { error: 'Proxy authorization is not supported' };
  }
  return { authcid, password };
}
