/**
 * What happens after the transport answered for a claimed message: temporary failures get
 * their next attempt (or expire), final failures and long delays are reported to the sender,
 * and the outcomes are recorded, releasing the claim. Reports go out BEFORE the failures are
 * recorded: a crash in between means a second report, never none.
 */
import type { DeliveryConfig } from '../config/types.js';
import type { Logger } from '../net/types.js';
import { StoreError, type QueueAttemptResult, type QueuedMessage, type QueuedRecipient, type Store } from '../store/types.js';
import type { DsnRecipient } from './dsn.js';
import { sendReport } from './notices.js';
import { giveUpAt, hasExpired, needsDelayNotice, retryDelay } from './schedule.js';
import type { RecipientOutcome } from './transport.js';

/** One attempt's outcome for a recipient, with what the queue knew of it before. */
export interface Attempted {
  recipient: QueuedRecipient;
  outcome: RecipientOutcome;
}

export interface SettleContext {
  store: Store;
  log: Logger;
  settings: DeliveryConfig;
  /** This server's name, for the reports. */
  hostname: string;
  /** The claim's owner and lease length. */
  owner: string;
  leaseMs: number;
}

function describeDuration(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours >= 48) return `${Math.round(hours / 24)} days`;
  if (hours >= 1) return `${Math.round(hours)} hours`;
  return `${Math.max(1, Math.round(ms / 60_000))} minutes`;
}

/** Reports failures and delays to the sender, then records the attempt and releases the claim. */
export async function settleAttempt(
  deps: SettleContext,
  message: QueuedMessage,
  attempted: Attempted[],
  now: Date,
): Promise<void> {
  const expired = hasExpired(message.createdAt, now, deps.settings);
  const results: QueueAttemptResult[] = [];
  const failed: DsnRecipient[] = [];
  const delayed: DsnRecipient[] = [];
  const retryAt = (recipient: QueuedRecipient) =>
    new Date(now.getTime() + retryDelay(recipient.attempts + 1, deps.settings));
  for (const { recipient, outcome } of attempted) {
    const address = recipient.address;
    const reply = typeof outcome.reply === 'string' ? outcome.reply : '';
    const report: DsnRecipient = { address, reply, remoteMta: outcome.remoteMta, lastAttemptAt: now };
    if (outcome.outcome === 'delivered') {
      results.push({ address, outcome: 'delivered', reply });
    } else if (outcome.outcome === 'bounced' || expired) {
      if (outcome.outcome !== 'bounced') {
        deps.log.info('queue.expired', { queueId: message.id, recipient: address, reply });
      }
      results.push({ address, outcome: 'bounced', reply });
      failed.push(report);
    } else {
      results.push({ address, outcome: 'deferred', reply, nextAttemptAt: retryAt(recipient) });
      delayed.push(report);
    }
  }

  const notified: string[] = [];
  let delayNotified = false;
  if (failed.length > 0 && message.mailFrom !== '') {
    // Make sure the message is still ours before telling the sender anything.
    if (!(await deps.store.renewClaim(message.id, deps.owner, deps.leaseMs))) {
      deps.log.warn('queue.claim_lost', { queueId: message.id });
      return;
    }
    try {
      await sendReport(
        deps.store,
        message,
        {
          action: 'failed',
          hostname: deps.hostname,
          date: now,
          recipients: failed,
          note: expired ? `The mail system gave up after ${describeDuration(deps.settings.giveUpMs)}.` : undefined,
        },
        deps.log,
      );
      notified.push(...failed.map((r) => r.address));
    } catch (err) {
      // Without a report a failure must not become final: try again later, and report then.
      deps.log.error('queue.dsn_failed', { queueId: message.id, error: err });
      for (const result of results) {
        if (result.outcome !== 'bounced') continue;
        const recipient = attempted.find((a) => a.recipient.address === result.address)!.recipient;
        result.outcome = 'deferred';
        result.nextAttemptAt = retryAt(recipient);
      }
    }
  }
  if (
    delayed.length > 0 &&
    message.mailFrom !== '' &&
    !message.delayNotified &&
    needsDelayNotice(message.createdAt, now, deps.settings)
  ) {
    try {
      await sendReport(
        deps.store,
        message,
        {
          action: 'delayed',
          hostname: deps.hostname,
          date: now,
          recipients: delayed,
          willRetryUntil: giveUpAt(message.createdAt, deps.settings),
        },
        deps.log,
      );
      delayNotified = true;
      notified.push(...delayed.map((r) => r.address));
    } catch (err) {
      deps.log.warn('queue.delay_notice_failed', { queueId: message.id, error: err });
    }
  }

  // Marked while the claim is still held: once released, a worker may take the message at
  // once and must see that its delay notice went out.
  if (notified.length > 0 || delayNotified) {
    await deps.store.markNotified(message.id, { dsnFor: notified, delayNotified });
  }
  try {
    await deps.store.recordAttempts(message.id, deps.owner, results, { release: true });
  } catch (err) {
    if (err instanceof StoreError && err.code === 'conflict') {
      deps.log.warn('queue.claim_lost', { queueId: message.id });
      return;
    }
    throw err;
  }
}
