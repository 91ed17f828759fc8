import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword, needsRehash, verifyPassword } from '../auth/password.js';
import type { AuthConfig } from '../config/types.js';
import type { Store } from '../store/types.js';
import type { Authenticator, AuthThrottle, Logger } from './types.js';

export interface AuthenticatorOptions {
  store: Store;
  auth: AuthConfig;
  throttle: AuthThrottle;
  log?: Logger;
  /** Injectable for tests. */
  wait?: (ms: number) => Promise<unknown>;
  /**
   * How long a successful login is remembered, so the same password for the same account is
   * not run through scrypt again (a mail client opening its fifth connection, or reconnecting
   * after sleep). 0 turns the cache off. Default 5 minutes.
   */
  verifiedCacheMs?: number;
  /** Clock for the cache; injectable for tests. */
  now?: () => number;
  /** The password check (scrypt); injectable so tests can count what the cache saves. */
  checkPassword?: (password: string, stored: string, clientGone?: AbortSignal) => Promise<boolean>;
}

/** Accounts remembered at most, so the cache's memory is bounded whatever the traffic. */
const VERIFIED_CACHE_ENTRIES = 10_000;

/**
 * Successful logins of the last few minutes: account → the stored hash it was checked
 * against and an HMAC of the password under a key that lives only in this process. A hit
 * needs the same stored hash (a changed password invalidates at once, on every node, because
 * the hash is read from the store on every login) and the same password, compared in
 * constant time. Failures are never cached: every wrong guess still costs a full scrypt.
 * Dovecot's auth_cache keeps the same kind of thing for the same reason.
 */
class VerifiedLogins {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { stored: string; mac: Buffer; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  private mac(password: string): Buffer {
    return createHmac('sha256', this.key).update(password.normalize('NFC')).digest();
  }

  matches(address: string, stored: string, password: string): boolean {
    const entry = this.entries.get(address);
    if (!entry) return false;
    if (entry.until <= this.now() || entry.stored !== stored) {
      this.entries.delete(address);
      return false;
    }
    return timingSafeEqual(entry.mac, this.mac(password));
  }

  remember(address: string, stored: string, password: string): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(address);
    // Oldest first in a Map's order: drop from the front when full.
    if (this.entries.size >= VERIFIED_CACHE_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(address, { stored, mac: this.mac(password), until: this.now() + this.ttlMs });
  }
}

/**
 * Turns what a client typed as its login name into a full address: lower-cased, and a bare
 * local part ("USER bob", as in the classic POP3 dialogue) gets the default domain, or the
 * only domain when there is exactly one. Null when no domain can be chosen.
 */
export async function resolveLoginName(username: string, auth: AuthConfig, store: Store): Promise<string | null> {
  const name = username.trim().toLowerCase();
  if (name.length === 0) return null;
  if (name.includes('@')) return name;
  if (auth.defaultDomain) return `${name}@${auth.defaultDomain.toLowerCase()}`;
  const domains = await store.listDomains();
  return domains.length === 1 ? `${name}@${domains[0].name}` : null;
}

/**
 * Password checks against the store, throttled per client address and per account (the counts
 * are in the store, shared by every node). Every failure looks the same from outside: an
 * unknown user costs the same scrypt work as a wrong password, so response times do not reveal
 * which accounts exist.
 */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const wait = opts.wait ?? ((ms: number) => sleep(ms));
  const checkPassword = opts.checkPassword ?? verifyPassword;
  const verified = new VerifiedLogins(opts.verifiedCacheMs ?? 5 * 60_000, opts.now ?? Date.now);
  // A real hash of a random password that unknown users (and unknown domains, aliases,
  // malformed names) are checked against: the same scrypt work as a wrong password for a real
  // account, so the reply time does not tell which accounts exist. Made now, in the
  // background, so that the first unknown name does not pay for making it.
  let dummyHash: Promise<string> | null = null;
  const getDummyHash = () => (dummyHash ??= hashPassword(randomBytes(16).toString('hex')));
  getDummyHash().catch(() => {
    dummyHash = null;
  });
  // Attempts from an address that is being throttled run one after another on this node, so
  // opening many connections at once does not multiply the guessing rate.
  const queues = new Map<string, Promise<unknown>>();

  /** The throttle's answer, or `fallback` when the store cannot give one (the login goes on). */
  const ask = async <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      opts.log?.warn('login throttle unavailable', { step: what, error: err instanceof Error ? err.message : String(err) });
      return fallback;
    }
  };

  /** `pending`: the delay owed, when the caller has just asked; else it is asked here. */
  const attempt = async (address: string | null, account: string | null, password: string, client: string, clientGone?: AbortSignal, pending?: number) => {
    pending ??= await ask('pending', () => opts.throttle.pendingDelay(client, account), 0);
    if (pending > 0) await wait(pending);

    const stored = address ? await opts.store.getPasswordHash(address) : null;
    const cached = address !== null && stored !== null && verified.matches(address, stored, password);
    let ok: boolean;
    try {
      ok = cached || (await checkPassword(password, stored ?? (await getDummyHash()), clientGone));
    } catch (err) {
      // The client went away while its check waited for a turn: nothing was checked, so
      // nothing is counted, and nobody is there to answer.
      if (clientGone?.aborted) return null;
      throw err;
    }
    if (ok && address && stored) {
      if (!cached) verified.remember(address, stored, password);
      const user = await opts.store.getUser(address);
      if (user) {
        await ask('success', () => opts.throttle.recordSuccess(client, account), undefined);
        // A hash made with older, weaker parameters is upgraded while the password is at hand.
        if (needsRehash(stored)) {
          void hashPassword(password)
            .then((fresh) => opts.store.setPasswordHash(user.address, fresh))
            .then(
              () => opts.log?.info('password hash upgraded', { user: user.address }),
              (err: unknown) => opts.log?.warn('password hash upgrade failed', { user: user.address, error: String(err) }),
            );
        }
        return { userId: user.id, address: user.address };
      }
    }
    const delay = await ask('failure', () => opts.throttle.recordFailure(client, account), 0);
    if (delay > 0) {
      opts.log?.warn('login throttled', { client, delayMs: delay });
      await wait(delay);
    }
    return null;
  };

  return {
    async verify(username, password, clientAddress, clientGone) {
      const address = await resolveLoginName(username, opts.auth, opts.store);
      // Failures count against the account tried, whether or not it exists.
      const account = address ?? (username.trim().toLowerCase() || null);
      if (!queues.has(clientAddress)) {
        const pending = await ask('pending', () => opts.throttle.pendingDelay(clientAddress, account), 0);
        if (pending === 0 && !queues.has(clientAddress)) return attempt(address, account, password, clientAddress, clientGone, 0);
      }
      const queued = queues.get(clientAddress) ?? Promise.resolve();
      const run = queued.then(
        () => attempt(address, account, password, clientAddress, clientGone),
        () => attempt(address, account, password, clientAddress, clientGone),
      );
      queues.set(clientAddress, run);
      const forget = () => {
        if (queues.get(clientAddress) === run) queues.delete(clientAddress);
      };
      run.then(forget, forget);
      return run;
    },
  };
}
