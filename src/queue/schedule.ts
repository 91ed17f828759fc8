/**
 * When a queued recipient is tried again, and when the queue gives up on it: the first retry
 * after `firstRetryMs` (it catches greylisting and restarts), then the wait doubles with
 * every attempt up to `maxRetryMs` (RFC 5321 4.5.4.1 asks for at least 30 minutes between
 * tries at a site; the defaults reach that after a few); past `giveUpMs` since the message
 * was queued a temporary failure becomes final.
 */
import type { DeliveryConfig } from '../config/types.js';

export type RetrySettings = Pick<DeliveryConfig, 'firstRetryMs' | 'maxRetryMs' | 'giveUpMs' | 'delayNoticeMs'>;

/** The wait after the `attempts`-th failed attempt (1 for the first failure). */
export function retryDelay(attempts: number, settings: RetrySettings): number {
  const first = Math.max(1, settings.firstRetryMs);
  const max = Math.max(first, settings.maxRetryMs);
  const doublings = Math.max(0, Math.floor(attempts) - 1);
  // 2^31 times any delay is past every sensible maximum: stop doubling long before overflow.
  if (doublings >= 31) return max;
  return Math.min(max, first * 2 ** doublings);
}

/** Whether a message queued at `createdAt` has waited past the queue's lifetime at `now`. */
export function hasExpired(createdAt: Date, now: Date, settings: RetrySettings): boolean {
  return now.getTime() - createdAt.getTime() >= settings.giveUpMs;
}

/** Whether a message queued at `createdAt` has waited long enough for a delay notice at `now`. */
export function needsDelayNotice(createdAt: Date, now: Date, settings: RetrySettings): boolean {
  return now.getTime() - createdAt.getTime() >= settings.delayNoticeMs;
}

/** When the queue gives up on a message queued at `createdAt` (DSN Will-Retry-Until). */
export function giveUpAt(createdAt: Date, settings: RetrySettings): Date {
  return new Date(createdAt.getTime() + settings.giveUpMs);
}
