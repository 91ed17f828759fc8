/**
 * DKIM keys of the local domains (RFC 6376, RFC 8463 for Ed25519): making them, the TXT record
 * that publishes a key's public half, and loading a domain's key for signing. The keys live in
 * the store (AccountStore.setDkimKey/getDkimKey), so every node signs with the same one.
 */
import { createPublicKey, generateKeyPair as generateKeyPairCallback, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { AccountStore, DkimKey } from '../store/types.js';

const generateKeyPair = promisify(generateKeyPairCallback);

export type DkimAlgorithm = DkimKey['algorithm'];

/** RSA keys of this size: RFC 8301 asks for at least 1024 bits; 2048 still fits a DNS TXT record. */
export const RSA_KEY_BITS = 2048;

/**
 * The selector for a key made on `date`: "wharf" and the year and month (e.g. "wharf202603"),
 * so a rotated key gets a new name and the old record can stay published while mail signed
 * with it is still on its way.
 */
export function defaultSelector(date = new Date()): string {
  return `wharf${date.getUTCFullYear()}${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** A selector not equal to `taken` (a second key in the same month gets "-2", then "-3"...). */
export function freshSelector(taken: string | null, date = new Date()): string {
  const base = defaultSelector(date);
  if (taken !== base && !taken?.startsWith(`${base}-`)) return base;
  const m = /-(\d+)$/.exec(taken ?? '');
  return `${base}-${m ? Number(m[1]) + 1 : 2}`;
}

/** Makes a new signing key (asynchronously: a 2048-bit RSA key takes a noticeable moment). */
export async function generateDkimKey(algorithm: DkimAlgorithm = 'rsa-sha256', selector = defaultSelector()): Promise<DkimKey> {
  const { privateKey } =
    algorithm === 'rsa-sha256' ? await generateKeyPair('rsa', { modulusLength: RSA_KEY_BITS }) : await generateKeyPair('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { selector, algorithm, privateKeyPem, createdAt: new Date() };
}

/** The public half of a stored key. */
export function dkimPublicKey(key: DkimKey): KeyObject {
  return createPublicKey(key.privateKeyPem);
}

/**
 * The p= value of the key record: for RSA the base64 of the DER SubjectPublicKeyInfo
 * (RFC 6376 3.6.1), for Ed25519 the base64 of the bare 32-byte key (RFC 8463 4.2).
 */
export function dkimPublicKeyData(key: DkimKey): string {
  const spki = dkimPublicKey(key).export({ type: 'spki', format: 'der' });
  // An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix followed by the key itself.
  return (key.algorithm === 'ed25519-sha256' ? spki.subarray(spki.length - 32) : spki).toString('base64');
}

/** The TXT record to publish at `<selector>._domainkey.<domain>`. */
export function dkimTxtRecord(key: DkimKey): string {
  const k = key.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  return `v=DKIM1; k=${k}; p=${dkimPublicKeyData(key)}`;
}

/** The DNS name of a key's record. */
export function dkimRecordName(domain: string, selector: string): string {
  return `${selector}._domainkey.${domain.toLowerCase()}`;
}

/** What a signer needs, in the shape of mailauth's `signatureData` entries. */
export interface SigningKey {
  signingDomain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. A secret: never logged. */
  privateKey: string;
}

/**
 * The key to sign `domain`'s mail with, or null when the domain has none (or is not ours).
 * Only the exact domain: mail from a subdomain is signed only when that subdomain has a key.
 */
export async function loadSigningKey(store: Pick<AccountStore, 'getDkimKey'>, domain: string): Promise<SigningKey | null> {
  const name = domain.trim().toLowerCase();
  if (!name) return null;
  const key = await store.getDkimKey(name);
  if (!key) return null;
  return { signingDomain: name, selector: key.selector, algorithm: key.algorithm, privateKey: key.privateKeyPem };
}
