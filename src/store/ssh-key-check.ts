/** Checks of an SSH public key before either store keeps it, and its fingerprint. */
import { createHash } from 'node:crypto';
import { StoreError } from './types.js';

const MAX_COMMENT_LENGTH = 1024;
/** Far above any real key (an RSA-16384 blob is about 2 KiB). */
const MAX_KEY_BYTES = 16 * 1024;

export interface CheckedSshKey {
  algorithm: string;
  publicKey: Buffer;
  comment: string;
  fingerprint: string;
}

/** OpenSSH's fingerprint: "SHA256:" and the unpadded base64 of SHA-256 over the key blob. */
export function sshKeyFingerprint(publicKey: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(publicKey).digest('base64').replace(/=+$/, '');
}

/**
 * Refuses ('invalid') a key whose blob does not start with its algorithm's name (RFC 4253
 * 6.6: string name, then the key's fields), so a key pasted under the wrong type, or garbage,
 * never reaches the authenticator; and a comment with control characters (it is shown in
 * listings and logs).
 */
export function checkSshKey(key: { algorithm: string; publicKey: Buffer; comment: string }): CheckedSshKey {
  const { algorithm, publicKey } = key;
  const comment = String(key.comment ?? '').trim();
  if (typeof algorithm !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(algorithm)) {
    throw new StoreError('invalid', 'not an SSH key algorithm name');
  }
  if (!Buffer.isBuffer(publicKey) || publicKey.length < 4 || publicKey.length > MAX_KEY_BYTES) {
    throw new StoreError('invalid', 'not an SSH public key');
  }
  const nameLength = publicKey.readUInt32BE(0);
  if (nameLength + 4 > publicKey.length || publicKey.subarray(4, 4 + nameLength).toString('latin1') !== algorithm) {
    throw new StoreError('invalid', `the key is not of type ${algorithm}`);
  }
  // eslint-disable-next-line no-control-regex
  if (comment.length > MAX_COMMENT_LENGTH || /[\u0000-\u001f\u007f]/.test(comment)) {
    throw new StoreError('invalid', 'the key comment is too long or has control characters');
  }
  return { algorithm, publicKey: Buffer.from(publicKey), comment, fingerprint: sshKeyFingerprint(publicKey) };
}
