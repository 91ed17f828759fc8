/**
 * The outbound queue (QueueStore) on PostgreSQL, shared by every node.
 *
 * claimDue picks due messages with FOR NO KEY UPDATE SKIP LOCKED and leases them in the same
 * statement, so workers on several nodes claiming at once each get different messages and
 * never wait for each other. Leases expire by the database's clock (now()), the one clock
 * every node agrees on; the `now` given to claimDue says only which recipients are due.
 *
 * Changes that should wake idle workers (a message queued, retried or released) touch
 * QUEUE_WATCH_ID: the transaction's NOTIFY carries it to every node, and the listener's
 * reconnect logic (watch.ts) covers notifications lost while a node was not listening.
 */
import {
  StoreError,
  type OutboundRequest,
  type QueueAttemptResult,
  type QueuedMessage,
  type QueuedRecipient,
  type QueueRecipientStatus,
} from '../types.js';
import {
  QUEUE_WATCH_ID,
  checkDate,
  checkLeaseMs,
  checkLimit,
  checkOwner,
  checkQueueId,
  normalizeOutbound,
  normalizeResults,
  normalizeReversePath,
  type NormalizedQueuedRestore,
} from '../queue-normalize.js';
import type { Database, Tx } from './db.js';

interface MessageRow {
  id: number;
  message_id: number;
  mail_from: string;
  sender_user_id: number | null;
  eight_bit: boolean;
  smtputf8: boolean;
  size: number;
  created_at: Date;
  delay_notified: boolean;
}

interface RecipientRow {
  queue_id: number;
  address: string;
  domain: string;
  status: QueueRecipientStatus;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_reply: string | null;
  dsn_sent: boolean;
}

const MESSAGE_COLUMNS = 'id, message_id, mail_from, sender_user_id, eight_bit, smtputf8, size, created_at, delay_notified';
const RECIPIENT_COLUMNS =
  'queue_id, address, domain, status, attempts, next_attempt_at, last_attempt_at, last_reply, dsn_sent';

/**
 * "Due now", written by the database. Callers ask for due work with the node's clock, which
 * counts whole milliseconds: now() to the microsecond could lie after a claim made in the same
 * millisecond, so a retry or a fresh message would wait for the next wake-up instead.
 */
const DUE_NOW = `date_trunc('milliseconds', now())`;

/** now() + $n milliseconds. */
const expiry = (param: string) => `now() + make_interval(secs => ${param}::double precision / 1000)`;

function toRecipient(r: RecipientRow): QueuedRecipient {
  return {
    address: r.address,
    domain: r.domain,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastAttemptAt: r.last_attempt_at,
    lastReply: r.last_reply,
    dsnSent: r.dsn_sent,
  };
}

function assemble(messages: MessageRow[], recipients: RecipientRow[]): QueuedMessage[] {
  const byQueue = new Map<number, QueuedRecipient[]>();
  for (const row of recipients) {
    let list = byQueue.get(row.queue_id);
    if (!list) byQueue.set(row.queue_id, (list = []));
    list.push(toRecipient(row));
  }
  return messages.map((m) => ({
    id: m.id,
    messageId: m.message_id,
    mailFrom: m.mail_from,
    senderUserId: m.sender_user_id,
    eightBit: m.eight_bit,
    smtputf8: m.smtputf8,
    size: m.size,
    createdAt: m.created_at,
    delayNotified: m.delay_notified,
    recipients: byQueue.get(m.id) ?? [],
  }));
}

/** The earliest due time of a message's pending recipients (for ordering claims). */
function firstDue(message: QueuedMessage): number {
  let due = Infinity;
  for (const r of message.recipients) if (r.status === 'pending') due = Math.min(due, r.nextAttemptAt.getTime());
  return due;
}

export class PostgresQueue {
  constructor(
    private readonly db: Database,
    /** Inside a transaction: drops those messages (and bodies) no mailbox entry or queue row uses. */
    private readonly deleteUnusedInTx: (tx: Tx, messageIds: number[]) => Promise<void>,
  ) {}

  /**
   * Inside deliver's transaction: queues the message for `outbound`'s recipients and returns
   * the queue id. Idle workers on every node are woken once it commits.
   */
  async enqueueInTx(tx: Tx, messageId: number, size: number, mailFrom: string, outbound: OutboundRequest): Promise<number> {
    const request = normalizeOutbound(outbound);
    const sender = normalizeReversePath(mailFrom);
    const row = await tx.one<{ id: number }>(
      `INSERT INTO queue_messages (message_id, mail_from, sender_user_id, eight_bit, smtputf8, size)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [messageId, sender, request.senderUserId, request.eightBit, request.smtputf8, size],
    );
    const queueId = row!.id;
    await tx.rows(
      `INSERT INTO queue_recipients (queue_id, seq, address, domain, status, next_attempt_at)
       SELECT $1, s.ord - 1, s.address, s.domain, 'pending', COALESCE($4::timestamptz, ${DUE_NOW})
       FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS s(address, domain, ord)`,
      [
        queueId,
        request.recipients.map((r) => r.address),
        request.recipients.map((r) => r.domain),
        request.notBefore === null ? null : new Date(request.notBefore),
      ],
    );
    tx.touch(QUEUE_WATCH_ID);
    return queueId;
  }

  /** Inside a transaction: queues a restored message (restoreQueued) with its recipients' states. */
  async restoreInTx(tx: Tx, messageId: number, size: number, input: NormalizedQueuedRestore): Promise<QueuedMessage> {
    const row = await tx.one<MessageRow>(
      `INSERT INTO queue_messages (message_id, mail_from, sender_user_id, eight_bit, smtputf8, size, created_at,
         delay_notified)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${MESSAGE_COLUMNS}`,
      [
        messageId,
        input.mailFrom,
        input.senderUserId,
        input.eightBit,
        input.smtputf8,
        size,
        new Date(input.createdAt),
        input.delayNotified,
      ],
    );
    const rs = input.recipients;
    const recipients = await tx.rows<RecipientRow>(
      `INSERT INTO queue_recipients (queue_id, seq, address, domain, status, attempts, next_attempt_at,
         last_attempt_at, last_reply, dsn_sent)
       SELECT $1, s.ord - 1, s.address, s.domain, s.status, s.attempts, s.next_at, s.last_at, s.reply, s.dsn
       FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::timestamptz[], $8::text[],
         $9::boolean[]) WITH ORDINALITY AS s(address, domain, status, attempts, next_at, last_at, reply, dsn, ord)
       RETURNING ${RECIPIENT_COLUMNS}`,
      [
        row!.id,
        rs.map((r) => r.address),
        rs.map((r) => r.domain),
        rs.map((r) => r.status),
        rs.map((r) => r.attempts),
        rs.map((r) => new Date(r.nextAttemptAt)),
        rs.map((r) => (r.lastAttemptAt === null ? null : new Date(r.lastAttemptAt))),
        rs.map((r) => r.lastReply),
        rs.map((r) => r.dsnSent),
      ],
    );
    tx.touch(QUEUE_WATCH_ID);
    // RETURNING keeps no order: the recipients in the order given.
    const order = new Map(rs.map((r, i) => [r.address, i]));
    recipients.sort((a, b) => order.get(a.address)! - order.get(b.address)!);
    return assemble([row!], recipients)[0]!;
  }

  async claimDue(owner: string, now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
    checkOwner(owner);
    const dueAt = new Date(checkDate(now, 'claim time'));
    const max = checkLimit(limit);
    const lease = checkLeaseMs(leaseMs);
    if (max === 0) return [];
    return this.db.transaction(async (tx) => {
      const messages = await tx.rows<MessageRow>(
        `UPDATE queue_messages SET lease_owner = $1, lease_expires_at = ${expiry('$4')}
         WHERE id IN (
           SELECT q.id FROM queue_messages q
           JOIN (SELECT queue_id, min(next_attempt_at) AS due FROM queue_recipients
                 WHERE status = 'pending' AND next_attempt_at <= $2 GROUP BY queue_id) d ON d.queue_id = q.id
           WHERE q.lease_expires_at <= now()
           ORDER BY d.due, q.id LIMIT $3
           FOR NO KEY UPDATE OF q SKIP LOCKED)
         RETURNING ${MESSAGE_COLUMNS}`,
        [owner, dueAt, max, lease],
      );
      if (messages.length === 0) return [];
      const recipients = await tx.rows<RecipientRow>(
        `SELECT ${RECIPIENT_COLUMNS} FROM queue_recipients WHERE queue_id = ANY($1) ORDER BY queue_id, seq`,
        [messages.map((m) => m.id)],
      );
      // UPDATE ... RETURNING keeps no order: oldest due first, as claimed.
      return assemble(messages, recipients).sort((a, b) => firstDue(a) - firstDue(b) || a.id - b.id);
    });
  }

  async renewClaim(queueId: number, owner: string, leaseMs: number): Promise<boolean> {
    checkOwner(owner);
    const lease = checkLeaseMs(leaseMs);
    if (!checkQueueId(queueId)) return false;
    const renewed = await this.db.count(
      `UPDATE queue_messages SET lease_expires_at = ${expiry('$3')} WHERE id = $1 AND lease_owner = $2`,
      [queueId, owner, lease],
    );
    return renewed > 0;
  }

  async recordAttempts(
    queueId: number,
    owner: string,
    results: QueueAttemptResult[],
    options: { release?: boolean } = {},
  ): Promise<void> {
    checkOwner(owner);
    const normalized = normalizeResults(results);
    await this.db.transaction(async (tx) => {
      // NO KEY: a concurrent expunge's foreign-key check on the message is not held up by it.
      const held = checkQueueId(queueId)
        ? await tx.one<{ lease_owner: string | null; message_id: number }>(
            'SELECT lease_owner, message_id FROM queue_messages WHERE id = $1 FOR NO KEY UPDATE',
            [queueId],
          )
        : undefined;
      if (!held || held.lease_owner !== owner) {
        throw new StoreError('conflict', `queued message ${queueId} is not claimed by ${owner}`);
      }
      if (normalized.length > 0) {
        await tx.rows(
          `UPDATE queue_recipients r SET
             status = CASE WHEN s.status = 'pending' AND r.status = 'held' THEN 'held' ELSE s.status END,
             attempts = r.attempts + 1, last_attempt_at = now(), last_reply = s.reply,
             next_attempt_at = COALESCE(s.next, r.next_attempt_at)
           FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS s(address, status, reply, next)
           WHERE r.queue_id = $1 AND r.address = s.address AND r.status IN ('pending', 'held')`,
          [
            queueId,
            normalized.map((r) => r.address),
            normalized.map((r) => r.status),
            normalized.map((r) => r.reply),
            normalized.map((r) => (r.nextAttemptAt === null ? null : new Date(r.nextAttemptAt))),
          ],
        );
      }
      const unfinished = await tx.one(
        `SELECT 1 FROM queue_recipients WHERE queue_id = $1 AND status IN ('pending', 'held') LIMIT 1`,
        [queueId],
      );
      if (!unfinished) {
        await this.removeInTx(tx, queueId);
        return;
      }
      if (options.release) {
        await tx.rows(`UPDATE queue_messages SET lease_owner = NULL, lease_expires_at = '-infinity' WHERE id = $1`, [queueId]);
        // Another node's worker may take what is still due at once.
        tx.touch(QUEUE_WATCH_ID);
      }
    });
  }

  async markNotified(queueId: number, change: { dsnFor?: string[]; delayNotified?: boolean }): Promise<void> {
    if (!checkQueueId(queueId)) return;
    const dsnFor = Array.isArray(change.dsnFor) ? change.dsnFor.filter((a) => typeof a === 'string') : [];
    if (dsnFor.length === 0 && change.delayNotified !== true) return;
    await this.db.transaction(async (tx) => {
      if (dsnFor.length > 0) {
        await tx.rows('UPDATE queue_recipients SET dsn_sent = true WHERE queue_id = $1 AND address = ANY($2)', [
          queueId,
          dsnFor,
        ]);
      }
      if (change.delayNotified === true) {
        await tx.rows('UPDATE queue_messages SET delay_notified = true WHERE id = $1', [queueId]);
      }
    });
  }

  async nextDue(): Promise<Date | null> {
    const row = await this.db.one<{ due: Date | null }>(
      `SELECT min(next_attempt_at) AS due FROM queue_recipients WHERE status = 'pending'`,
    );
    return row?.due ?? null;
  }

  async getQueued(queueId: number): Promise<QueuedMessage | null> {
    if (!checkQueueId(queueId)) return null;
    const found = await this.db.transaction(async (tx) => {
      const messages = await tx.rows<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM queue_messages WHERE id = $1`, [queueId]);
      if (messages.length === 0) return [];
      const recipients = await tx.rows<RecipientRow>(
        `SELECT ${RECIPIENT_COLUMNS} FROM queue_recipients WHERE queue_id = $1 ORDER BY seq`,
        [queueId],
      );
      return assemble(messages, recipients);
    }, 'snapshot');
    return found[0] ?? null;
  }

  async listQueue(): Promise<QueuedMessage[]> {
    return this.db.transaction(async (tx) => {
      const messages = await tx.rows<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM queue_messages ORDER BY id`);
      const recipients = await tx.rows<RecipientRow>(
        `SELECT ${RECIPIENT_COLUMNS} FROM queue_recipients ORDER BY queue_id, seq`,
      );
      return assemble(messages, recipients);
    }, 'snapshot');
  }

  async retryNow(queueId?: number): Promise<number> {
    if (queueId !== undefined && !checkQueueId(queueId)) return 0;
    return this.db.transaction(async (tx) => {
      // Two statements rather than "$1 IS NULL OR ...": each keeps its own index plan.
      const changed =
        queueId === undefined
          ? await tx.count(`UPDATE queue_recipients SET next_attempt_at = LEAST(next_attempt_at, ${DUE_NOW}) WHERE status = 'pending'`)
          : await tx.count(
              `UPDATE queue_recipients SET next_attempt_at = LEAST(next_attempt_at, ${DUE_NOW})
               WHERE queue_id = $1 AND status = 'pending'`,
              [queueId],
            );
      if (changed > 0) tx.touch(QUEUE_WATCH_ID);
      return changed;
    });
  }

  async setHeld(queueId: number, held: boolean): Promise<number> {
    if (!checkQueueId(queueId)) return 0;
    return this.db.transaction(async (tx) => {
      if (held) {
        return tx.count(`UPDATE queue_recipients SET status = 'held' WHERE queue_id = $1 AND status = 'pending'`, [queueId]);
      }
      const changed = await tx.count(
        `UPDATE queue_recipients SET status = 'pending', next_attempt_at = ${DUE_NOW} WHERE queue_id = $1 AND status = 'held'`,
        [queueId],
      );
      if (changed > 0) tx.touch(QUEUE_WATCH_ID);
      return changed;
    });
  }

  async deleteQueued(queueId: number): Promise<boolean> {
    if (!checkQueueId(queueId)) return false;
    return this.db.transaction((tx) => this.removeInTx(tx, queueId));
  }

  /** Inside a transaction: the message leaves the queue; its body goes if nothing else uses it. */
  private async removeInTx(tx: Tx, queueId: number): Promise<boolean> {
    const gone = await tx.one<{ message_id: number }>('DELETE FROM queue_messages WHERE id = $1 RETURNING message_id', [
      queueId,
    ]);
    if (!gone) return false;
    await this.deleteUnusedInTx(tx, [gone.message_id]);
    return true;
  }
}
