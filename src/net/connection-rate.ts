/**
 * New connections per client address per minute (`limits.maxConnectionRatePerAddress`), over
 * every service and every node: each connection counts once in the store's shared counter, so
 * a client cannot get around the limit by spreading its connections over ports or nodes.
 */
import type { CoordinationStore } from '../store/types.js';

export const RATE_WINDOW_MS = 60_000;

/** The counter of one client address. */
export function connectionRateCounter(remoteAddress: string): string {
  return `connections:${remoteAddress}`;
}

/** A listener `admit` hook: counts the connection and admits it while the address is within its rate. */
export function connectionRateAdmission(
  store: Pick<CoordinationStore, 'hitCounter'>,
  perMinute: number,
): (remoteAddress: string) => Promise<boolean> {
  return async (remoteAddress) => (await store.hitCounter(connectionRateCounter(remoteAddress), RATE_WINDOW_MS)) <= perMinute;
}
