/**
 * Copying the outbound queue (`wharf store copy`): every message waiting in the source is
 * queued in the target with its recipients' states (RestoreStore.restoreQueued), sharing the
 * body with a mailbox entry copied before when the source shares it.
 *
 * Running it again brings the target's queue up to date: a message already copied (same
 * queueing time, sender, size and recipients) whose states changed in the source since is
 * replaced, and a target message the source no longer queues (delivered, bounced or deleted
 * since) is removed, so the target never sends a message the source already sent.
 */
import { createHash } from 'node:crypto';
import { StoreError, type BodyWriter, type QueuedMessage, type QueuedRestore, type Store } from './types.js';

export interface QueueCopyCounts {
  /** Queued messages copied (new, or replaced because their state changed). */
  queuedCopied: number;
  /** Queued messages the target had already, in the same state. */
  queuedUnchanged: number;
  /** Target queue entries the source no longer has. */
  queuedRemoved: number;
}

/** What identifies a queued message across stores (queue ids differ). */
function identity(m: QueuedMessage): string {
  return JSON.stringify([m.createdAt.getTime(), m.mailFrom, m.size, m.recipients.map((r) => r.address)]);
}

/** What a copy must carry over (the ids and the leases are the store's own). */
function state(m: QueuedMessage, senderAddress: string | null): string {
  return JSON.stringify([
    m.delayNotified,
    m.eightBit,
    m.smtputf8,
    senderAddress,
    m.recipients.map((r) => [r.status, r.attempts, r.nextAttemptAt.getTime(), r.lastAttemptAt?.getTime() ?? null, r.lastReply, r.dsnSent]),
  ]);
}

/** A user's address by id (null for none or a removed user), each looked up once. */
function userAddresses(store: Store): (id: number | null) => Promise<string | null> {
  const known = new Map<number, string | null>();
  return async (id) => {
    if (id === null) return null;
    if (!known.has(id)) known.set(id, (await store.getUserById(id))?.address ?? null);
    return known.get(id)!;
  };
}

export async function copyQueue(
  source: Store,
  target: Store,
  /** Source message id → target message with the same body (from the mailbox copy). */
  sharedBodies: ReadonlyMap<number, number>,
  counts: QueueCopyCounts & { messagesVanished: number },
  checkAbort: () => void,
): Promise<void> {
  const sourceSender = userAddresses(source);
  const targetSender = userAddresses(target);

  const existing = new Map<string, QueuedMessage[]>();
  for (const m of await target.listQueue()) {
    const list = existing.get(identity(m)) ?? [];
    list.push(m);
    existing.set(identity(m), list);
  }

  for (const message of await source.listQueue()) {
    checkAbort();
    const sender = await sourceSender(message.senderUserId);
    const twin = existing.get(identity(message))?.shift();
    if (twin) {
      if (state(twin, await targetSender(twin.senderUserId)) === state(message, sender)) {
        counts.queuedUnchanged++;
        continue;
      }
      await target.deleteQueued(twin.id);
    }
    if (!message.recipients.some((r) => r.status === 'pending' || r.status === 'held')) continue;
    const body = await bodyFor(source, target, message, sharedBodies);
    if (!body) {
      counts.messagesVanished++;
      continue;
    }
    const senderInTarget = sender === null ? null : ((await target.getUser(sender))?.id ?? null);
    const restore: QueuedRestore = {
      body: body.body,
      headers: body.headers,
      mailFrom: message.mailFrom,
      senderUserId: senderInTarget,
      eightBit: message.eightBit,
      smtputf8: message.smtputf8,
      createdAt: message.createdAt,
      delayNotified: message.delayNotified,
      recipients: message.recipients.map(({ domain: _domain, ...r }) => r),
    };
    try {
      await target.restoreQueued(restore);
    } catch (err) {
      if ('abort' in body.body) await body.body.abort();
      throw err;
    }
    counts.queuedCopied++;
  }

  // What is left in the target was not matched by anything the source still queues.
  for (const left of existing.values()) {
    for (const m of left) if (await target.deleteQueued(m.id)) counts.queuedRemoved++;
  }
}

/** The body for the target: shared with a copied entry when possible, else streamed over; null if it vanished. */
async function bodyFor(
  source: Store,
  target: Store,
  message: QueuedMessage,
  sharedBodies: ReadonlyMap<number, number>,
): Promise<{ body: BodyWriter | { messageId: number }; headers?: QueuedRestore['headers'] } | null> {
  const sharedId = sharedBodies.get(message.messageId);
  if (sharedId !== undefined && (await target.getMessage(sharedId))?.size === message.size) {
    return { body: { messageId: sharedId } };
  }
  const stored = await source.getMessage(message.messageId);
  const body = target.createBody();
  try {
    if (!stored) throw new StoreError('not-found', `no message ${message.messageId}`);
    for await (const chunk of source.readBody(message.messageId)) await body.write(chunk);
  } catch (err) {
    await body.abort();
    if (err instanceof StoreError && err.code === 'not-found') return null;
    throw err;
  }
  return { body, headers: stored.headers };
}

/** SHA-256 of a stored body, streamed. */
async function bodyDigest(store: Store, messageId: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of store.readBody(messageId)) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * Compares the target's outbound queue with the source's: every message the source queues must
 * be in the target with the same recipients' states and the same body bytes (SHA-256). Says
 * what differs, one line each; a live source that sent or retried meanwhile shows up here too,
 * so the words ask for another run.
 */
export async function verifyQueue(source: Store, target: Store): Promise<{ checked: number; differences: string[] }> {
  const differences: string[] = [];
  const sourceSender = userAddresses(source);
  const targetSender = userAddresses(target);
  const byIdentity = new Map<string, QueuedMessage[]>();
  for (const m of await target.listQueue()) {
    const key = identity(m);
    byIdentity.set(key, [...(byIdentity.get(key) ?? []), m]);
  }
  let checked = 0;
  for (const m of await source.listQueue()) {
    checked++;
    const name = `queued message ${m.id} from <${m.mailFrom}> to ${m.recipients.map((r) => r.address).join(', ')}`;
    const candidates = byIdentity.get(identity(m)) ?? [];
    const copy = candidates.shift();
    if (!copy) {
      differences.push(`${name} is missing (if the source is serving, it may have queued it since: run again)`);
      continue;
    }
    if (state(copy, await targetSender(copy.senderUserId)) !== state(m, await sourceSender(m.senderUserId))) {
      differences.push(`${name} has other recipient states (if the source is serving, it may have tried it since: run again)`);
    }
    if ((await bodyDigest(source, m.messageId)) !== (await bodyDigest(target, copy.messageId))) {
      differences.push(`${name} differs in its message bytes`);
    }
  }
  for (const left of byIdentity.values()) {
    for (const m of left) differences.push(`queued message from <${m.mailFrom}> exists only in the target`);
  }
  return { checked, differences };
}

