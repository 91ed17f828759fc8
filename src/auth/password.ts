/**
 * Password hashing with scrypt (RFC 7914), which is memory-hard: guessing at scale needs
 * memory as well as CPU, which blunts GPU and ASIC attacks. Node ships it, so no native
 * dependency is needed.
 *
 * Stored form (PHC string format): `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, salt and hash in
 * unpadded base64. The parameters travel with each hash, so they can be raised for new
 * passwords without invalidating the old ones.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Slots } from '../net/slots.js';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** 2^15 * 8 * 128 bytes = 32 MiB per hash, about 0.1 s on a current server core. */
export const DEFAULT_PARAMS: Readonly<ScryptParams> = { ln: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * Ceilings for parameters read from a stored hash. A corrupted or hostile database row must
 * not make one login allocate gigabytes or run for minutes.
 */
const MAX_LN = 20;
const MAX_R = 32;
const MAX_P = 16;

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/**
 * How many hashes may run at once: half of libuv's thread pool, at least one.
 *
 * Why: each hash holds a thread of that pool for about 0.1 s (and 32 MiB), and the same pool
 * (4 threads unless UV_THREADPOOL_SIZE says otherwise) does every file open, read, write and
 * fsync of FTP, SFTP, IMAP and delivery. Without a limit a burst of logins, such as a flood of
 * wrong passwords from many addresses, takes every thread: a logged-in user's 6-byte FTP
 * download took 0.6 s behind 8 concurrent bad logins and 1.1 s behind 16, against 5 ms
 * alone. Logins beyond the limit wait their turn here instead, where they hold nothing.
 */
export function hashConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, Math.floor(threadPoolSize(env.UV_THREADPOOL_SIZE) / 2));
}

/** The size of libuv's thread pool, read from UV_THREADPOOL_SIZE as libuv reads it (atoi into an unsigned int, 1 to 1024). */
function threadPoolSize(value: string | undefined): number {
  if (value === undefined) return 4;
  const n = Number.parseInt(value, 10) || 0;
  if (n === 0) return 1;
  return n < 0 ? 1024 : Math.min(n, 1024);
}

const hashSlots = new Slots(hashConcurrency());

/** One hash, once a slot is free; rejects without hashing when `signal` aborts while it waits. */
async function scryptAsync(password: string, salt: Buffer, keylen: number, params: ScryptParams, signal?: AbortSignal): Promise<Buffer> {
  await hashSlots.acquire(signal);
  try {
    return await scryptOnce(password, salt, keylen, params);
  } finally {
    hashSlots.release();
  }
}

function scryptOnce(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    // Node refuses when 128 * N * r exceeds maxmem (32 MiB by default, exactly our need):
    // leave headroom so the default parameters always fit.
    maxmem: 2 * 128 * N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

function fromB64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/** Hashes a password for storage. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_PARAMS): Promise<string> {
  checkParams(params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, HASH_BYTES, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

function checkParams(params: ScryptParams): void {
  const ok =
    Number.isInteger(params.ln) &&
    params.ln >= 1 &&
    params.ln <= MAX_LN &&
    Number.isInteger(params.r) &&
    params.r >= 1 &&
    params.r <= MAX_R &&
    Number.isInteger(params.p) &&
    params.p >= 1 &&
    params.p <= MAX_P;
  if (!ok) throw new Error(`unsupported scrypt parameters ln=${params.ln},r=${params.r},p=${params.p}`);
}

/** Parses a stored hash; null when it is not a well-formed scrypt hash within the ceilings. */
export function parsePasswordHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  // ['', 'scrypt', 'ln=15,r=8,p=1', salt, hash]
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') return null;
  const params: Partial<Record<keyof ScryptParams, number>> = {};
  for (const pair of parts[2].split(',')) {
    const m = /^(ln|r|p)=(\d{1,3})$/.exec(pair);
    if (!m || params[m[1] as keyof ScryptParams] !== undefined) return null;
    params[m[1] as keyof ScryptParams] = Number(m[2]);
  }
  if (params.ln === undefined || params.r === undefined || params.p === undefined) return null;
  const full = params as ScryptParams;
  try {
    checkParams(full);
  } catch {
    return null;
  }
  const salt = fromB64(parts[3]);
  const hash = fromB64(parts[4]);
  if (!salt || !hash || salt.length < 8 || hash.length < 16) return null;
  return { params: full, salt, hash };
}

/**
 * True when `password` matches the stored hash. A malformed stored hash never matches (and
 * is not an exception: a login must just fail). The comparison takes constant time. Rejects
 * with `signal`'s reason when it aborts before the hash has started (the client has gone).
 */
export async function verifyPassword(password: string, stored: string, signal?: AbortSignal): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed) return false;
  const candidate = await scryptAsync(password, parsed.salt, parsed.hash.length, parsed.params, signal);
  return timingSafeEqual(candidate, parsed.hash);
}

/** True when a stored hash uses weaker parameters than the current defaults (rehash on login). */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_PARAMS): boolean {
  const parsed = parsePasswordHash(stored);
  if (!parsed) return true;
  return parsed.params.ln < params.ln || parsed.params.r < params.r || parsed.params.p < params.p;
}
