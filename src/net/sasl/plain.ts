/** SASL PLAIN (RFC 4616): one message, [authzid] NUL authcid NUL passwd. */
import { credentialsStep, decodeField, failure, type SaslMechanism, type SaslStep } from './mechanism.js';

/**
 * Parses a PLAIN message (already base64-decoded): exactly three NUL-separated fields, each
 * valid UTF-8 of at most 255 bytes, a non-empty authcid and a non-empty password.
 */
export function parsePlainMessage(message: Buffer): SaslStep {
  const first = message.indexOf(0);
  if (first < 0) return failure('malformed');
  const second = message.indexOf(0, first + 1);
  if (second < 0 || message.indexOf(0, second + 1) >= 0) return failure('malformed');
  const fields = [message.subarray(0, first), message.subarray(first + 1, second), message.subarray(second + 1)].map(
    decodeField,
  );
  const texts: string[] = [];
  for (const field of fields) {
    if (typeof field !== 'string') return failure(field.failure);
    texts.push(field);
  }
  const [authzid, authcid, password] = texts;
  return credentialsStep({ authzid, authcid, password });
}

export function createPlainMechanism(): SaslMechanism {
  let answered = false;
  const take = (message: Buffer): SaslStep => {
    if (answered) return failure('malformed');
    answered = true;
    return parsePlainMessage(message);
  };
  return {
    name: 'PLAIN',
    // Without an initial response the server sends an empty challenge (RFC 4616 section 2).
    start: (initial) => (initial === undefined ? { kind: 'challenge', challenge: Buffer.alloc(0) } : take(initial)),
    respond: take,
  };
}
