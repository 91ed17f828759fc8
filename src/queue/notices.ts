/**
 * Sending a delivery status notification to the sender of a queued message: into the
 * submitting user's INBOX when the message came from one, else to the envelope sender (a
 * local user's INBOX, or through the queue to another server). A report always goes out with
 * the null reverse path <>, so it can never bounce in turn, and a message that itself had
 * the null sender never gets one (RFC 5321 4.5.5 and 6.1): reports never loop.
 */
import type { Logger } from '../net/types.js';
import type { DeliveryRequest, QueuedMessage, Store } from '../store/types.js';
import { MAX_QUOTED_HEADER_BYTES, writeDsn, type DsnReport } from './dsn.js';

type Route = { userIds: number[] } | { remote: string } | null;

/** Where a report for `message` goes; null when nowhere (no sender, or an unknown local address). */
async function routeFor(store: Store, message: QueuedMessage): Promise<Route> {
  if (message.mailFrom === '') return null;
  if (message.senderUserId !== null && (await store.getUserById(message.senderUserId))) {
    return { userIds: [message.senderUserId] };
  }
  let resolution;
  try {
    resolution = await store.resolveRecipient(message.mailFrom);
  } catch {
    // Not an address the store can look up (an address literal...): not a local one either.
    return { remote: message.mailFrom };
  }
  if (resolution.kind === 'local') return resolution.users.length > 0 ? { userIds: resolution.users.map((u) => u.id) } : null;
  if (resolution.kind === 'unknown') return null;
  return { remote: message.mailFrom };
}

/**
 * Writes and stores the report about `message`; resolves once it is durable (in an INBOX or
 * queued), or at once when it has nowhere to go ('skipped'). Rejects when the store fails: the
 * caller must then not record the report as sent.
 */
export async function sendReport(
  store: Store,
  message: QueuedMessage,
  report: Omit<DsnReport, 'to' | 'arrivalDate'>,
  log: Logger,
): Promise<'sent' | 'skipped'> {
  const route = await routeFor(store, message);
  if (!route) {
    if (message.mailFrom !== '') {
      log.warn('queue.dsn_undeliverable', { queueId: message.id, action: report.action, reason: 'no such local sender' });
    }
    return 'skipped';
  }
  const body = store.createBody();
  try {
    const headerBytes = { start: 0, end: Math.min(message.size, MAX_QUOTED_HEADER_BYTES) };
    const { eightBit } = await writeDsn(
      body,
      { ...report, to: message.mailFrom, arrivalDate: message.createdAt },
      store.readBody(message.messageId, headerBytes),
    );
    const request: DeliveryRequest = {
      body,
      internalDate: report.date,
      envelope: { mailFrom: '', rcptTo: [message.mailFrom] },
      userIds: 'userIds' in route ? route.userIds : [],
    };
    if ('remote' in route) {
      request.outbound = {
        recipients: [route.remote],
        senderUserId: null,
        eightBit,
        smtputf8: !/^[\x00-\x7f]*$/.test(route.remote),
      };
    }
    const result = await store.deliver(request);
    log.info('queue.dsn', {
      queueId: message.id,
      action: report.action,
      recipients: report.recipients.length,
      to: 'userIds' in route ? 'inbox' : 'queue',
      dsnQueueId: result.queueId,
    });
    return 'sent';
  } catch (err) {
    await body.abort().catch(() => undefined);
    throw err;
  }
}
