import type { AuthThrottleConfig } from '../config/types.js';
import type { AuthThrottle } from './types.js';

interface FailureRecord {
  failures: number;
  lastFailureAt: number;
  /** When the next attempt from this address may be answered. */
  nextAllowedAt: number;
}

export interface AuthThrottleOptions {
  /** Clock in milliseconds; injectable so tests can move time. */
  now?: () => number;
  /**
   * Most addresses remembered at once. A botnet cycling through addresses must not grow the
   * map without bound; when full, the address that failed least recently is forgotten.
   */
  maxEntries?: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * Per-address failure counting with exponential back-off: the first `freeFailures` failures
 * cost nothing (typos happen), then each further one doubles the delay from `baseDelayMs`
 * up to `maxDelayMs`. An address's record is dropped `windowMs` after its last failure.
 */
export function createAuthThrottle(
  config: AuthThrottleConfig,
  opts: AuthThrottleOptions = {},
): AuthThrottle & { readonly size: number } {
  const now = opts.now ?? Date.now;
  const maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MAX_ENTRIES);
  // A Map iterates in insertion order; re-inserting on every failure keeps the least
  // recently failed address first, which is the one to evict.
  const records = new Map<string, FailureRecord>();

  const current = (address: string, at: number): FailureRecord | undefined => {
    const record = records.get(address);
    if (record && at - record.lastFailureAt >= config.windowMs) {
      records.delete(address);
      return undefined;
    }
    return record;
  };

  const delayFor = (failures: number): number => {
    const beyond = failures - config.freeFailures;
    if (beyond <= 0) return 0;
    // Cap the exponent too: 2 ** 1100 is Infinity, and min(Infinity, max) is fine, but
    // there is no reason to compute it.
    const exponent = Math.min(beyond - 1, 52);
    return Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** exponent);
  };

  return {
    /** Addresses currently remembered. */
    get size() {
      return records.size;
    },
    recordFailure(address) {
      const at = now();
      const record = current(address, at) ?? { failures: 0, lastFailureAt: at, nextAllowedAt: at };
      record.failures += 1;
      record.lastFailureAt = at;
      const delay = delayFor(record.failures);
      record.nextAllowedAt = Math.max(record.nextAllowedAt, at + delay);
      records.delete(address);
      records.set(address, record);
      while (records.size > maxEntries) {
        const oldest = records.keys().next().value as string;
        records.delete(oldest);
      }
      return delay;
    },
    recordSuccess(address) {
      records.delete(address);
    },
    pendingDelay(address) {
      const at = now();
      const record = current(address, at);
      return record ? Math.max(0, record.nextAllowedAt - at) : 0;
    },
  };
}
