import { createHash } from 'node:crypto';
import type { AuthThrottleConfig } from '../config/types.js';
import type { CoordinationStore } from '../store/types.js';
import type { AuthThrottle } from './types.js';

/** The store's shared counters, which is all the throttle needs. */
export type ThrottleCounters = Pick<CoordinationStore, 'hitCounter' | 'peekCounter' | 'resetCounter'>;

/** Counter names stay short whatever a client types as its login name. */
const MAX_KEY_CHARS = 200;

function keyPart(value: string): string {
  const v = value.trim().toLowerCase();
  return v.length <= MAX_KEY_CHARS ? v : `sha256:${createHash('sha256').update(v).digest('hex')}`;
}

/** What failures are counted under: the client's address, and the account tried (when known). */
function subjects(client: string, account: string | null | undefined): string[] {
  const out = [`login:addr:${keyPart(client)}`];
  if (account) out.push(`login:user:${keyPart(account)}`);
  return out;
}

const failures = (subject: string) => `${subject}:failures`;
/** Set for the length of a delay just imposed: attempts meanwhile owe that delay too. */
const holding = (subject: string) => `${subject}:hold`;

/**
 * Failed-login counting with exponential back-off, per client address and per account: the
 * first `freeFailures` failures cost nothing (typos happen), then each further one doubles
 * the delay from `baseDelayMs` up to `maxDelayMs`. Counting an account too means that guessing
 * one account's password from many addresses slows down as well. A count is forgotten
 * `windowMs` after its first failure, and on a successful login.
 *
 * The counts live in the store's coordination facet, so every node sharing the store throttles
 * the same client and account. Time is the store's: a delay is owed from the moment a failure
 * was counted.
 */
export function createAuthThrottle(config: AuthThrottleConfig, counters: ThrottleCounters): AuthThrottle {
  const delayFor = (count: number): number => {
    const beyond = count - config.freeFailures;
    if (beyond <= 0) return 0;
    // Cap the exponent too: there is no reason to compute 2 ** 5000.
    const exponent = Math.min(beyond - 1, 52);
    return Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** exponent);
  };

  return {
    async recordFailure(client, account) {
      let delay = 0;
      for (const subject of subjects(client, account)) {
        delay = Math.max(delay, delayFor(await counters.hitCounter(failures(subject), config.windowMs)));
      }
      if (delay > 0) {
        for (const subject of subjects(client, account)) await counters.hitCounter(holding(subject), delay);
      }
      return delay;
    },
    async recordSuccess(client, account) {
      // Most logins follow no failure: only a count that is there is written away, so a
      // successful login commits nothing (no WAL fsync, nothing for the store's worker to do).
      // An expired count reads as 0 and counts as nothing, as if it were gone.
      const names = subjects(client, account).flatMap((subject) => [failures(subject), holding(subject)]);
      await Promise.all(
        names.map(async (name) => {
          if ((await counters.peekCounter(name)) > 0) await counters.resetCounter(name);
        }),
      );
    },
    async pendingDelay(client, account) {
      let delay = 0;
      for (const subject of subjects(client, account)) {
        // The store keeps the count, not the time left: an attempt made while a delay is being
        // served waits the whole current delay (at most `maxDelayMs`).
        if ((await counters.peekCounter(holding(subject))) > 0) {
          delay = Math.max(delay, delayFor(await counters.peekCounter(failures(subject))));
        }
      }
      return delay;
    },
  };
}
