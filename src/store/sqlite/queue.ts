/**
 * The outbound queue (QueueStore) on SQLite.
 *
 * Every change runs in the write queue's transaction (BEGIN IMMEDIATE), so claiming is one
 * write transaction: two store instances or processes on the file cannot claim the same
 * message. Lease expiry uses the wall clock (Date.now()): every process sharing an SQLite file
 * runs on one host. The `now` given to claimDue says only which recipients are due.
 *
 * Changes that should wake idle workers (a message queued, retried or released) bump the
 * 'queue_version' counter in `meta` and touch QUEUE_WATCH_ID, which the mailbox watchers
 * announce in this process at once and find by polling in other processes.
 */
import {
  StoreError,
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
import type { OutboundRequest } from '../types.js';
import type { Db } from './schema.js';
import type { TxContext, WriteQueue } from './write-queue.js';

interface MessageRow {
  id: number;
  message_id: number;
  mail_from: string;
  sender_user_id: number | null;
  eight_bit: number;
  smtputf8: number;
  size: number;
  created_at: number;
  delay_notified: number;
  lease_owner: string | null;
}

interface RecipientRow {
  queue_id: number;
  seq: number;
  address: string;
  domain: string;
  status: QueueRecipientStatus;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  last_reply: string | null;
  dsn_sent: number;
}

function toRecipient(r: RecipientRow): QueuedRecipient {
  return {
    address: r.address,
    domain: r.domain,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: new Date(r.next_attempt_at),
    lastAttemptAt: r.last_attempt_at === null ? null : new Date(r.last_attempt_at),
    lastReply: r.last_reply,
    dsnSent: r.dsn_sent !== 0,
  };
}

function toQueued(m: MessageRow, recipients: QueuedRecipient[]): QueuedMessage {
  return {
    id: m.id,
    messageId: m.message_id,
    mailFrom: m.mail_from,
    senderUserId: m.sender_user_id,
    eightBit: m.eight_bit !== 0,
    smtputf8: m.smtputf8 !== 0,
    size: m.size,
    createdAt: new Date(m.created_at),
    delayNotified: m.delay_notified !== 0,
    recipients,
  };
}

const MESSAGE_COLUMNS = `id, message_id, mail_from, sender_user_id, eight_bit, smtputf8, size, created_at,
  delay_notified, lease_owner`;
const RECIPIENT_COLUMNS = `queue_id, seq, address, domain, status, attempts, next_attempt_at, last_attempt_at,
  last_reply, dsn_sent`;

export class SqliteQueue {
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
    /** Inside a write transaction: drops a message (and body) no mailbox entry or queue row uses. */
    private readonly deleteIfUnusedInTx: (messageId: number) => void,
  ) {
    this.stmts = {
      insertMessage: db.prepare(
        `INSERT INTO queue_messages (message_id, mail_from, sender_user_id, eight_bit, smtputf8, size, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertRecipient: db.prepare(
        `INSERT INTO queue_recipients (queue_id, seq, address, domain, status, next_attempt_at)
         VALUES (?, ?, ?, ?, 'pending', ?)`,
      ),
      insertRestoredMessage: db.prepare(
        `INSERT INTO queue_messages (message_id, mail_from, sender_user_id, eight_bit, smtputf8, size, created_at,
           delay_notified)
         VALUES (@messageId, @mailFrom, @senderUserId, @eightBit, @smtputf8, @size, @createdAt, @delayNotified)`,
      ),
      insertRestoredRecipient: db.prepare(
        `INSERT INTO queue_recipients (queue_id, seq, address, domain, status, attempts, next_attempt_at,
           last_attempt_at, last_reply, dsn_sent)
         VALUES (@queueId, @seq, @address, @domain, @status, @attempts, @nextAttemptAt, @lastAttemptAt, @lastReply,
           @dsnSent)`,
      ),
      userExists: db.prepare('SELECT 1 FROM users WHERE id = ?').pluck(),
      bumpVersion: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('queue_version', 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1`,
      ),
      version: db.prepare(`SELECT value FROM meta WHERE key = 'queue_version'`).pluck(),
      due: db
        .prepare(
          `SELECT q.id FROM queue_messages q
           JOIN (SELECT queue_id, MIN(next_attempt_at) AS due FROM queue_recipients
                 WHERE status = 'pending' AND next_attempt_at <= @now GROUP BY queue_id) d ON d.queue_id = q.id
           WHERE q.lease_expires_at <= @clock
           ORDER BY d.due, q.id LIMIT @limit`,
        )
        .pluck(),
      lease: db.prepare('UPDATE queue_messages SET lease_owner = ?, lease_expires_at = ? WHERE id = ?'),
      renew: db.prepare('UPDATE queue_messages SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?'),
      release: db.prepare('UPDATE queue_messages SET lease_owner = NULL, lease_expires_at = 0 WHERE id = ?'),
      message: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM queue_messages WHERE id = ?`),
      messages: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM queue_messages ORDER BY id`),
      recipients: db.prepare(`SELECT ${RECIPIENT_COLUMNS} FROM queue_recipients WHERE queue_id = ? ORDER BY seq`),
      allRecipients: db.prepare(`SELECT ${RECIPIENT_COLUMNS} FROM queue_recipients ORDER BY queue_id, seq`),
      recordResult: db.prepare(
        `UPDATE queue_recipients SET
           status = CASE WHEN @status = 'pending' AND status = 'held' THEN 'held' ELSE @status END,
           attempts = attempts + 1, last_attempt_at = @clock, last_reply = @reply,
           next_attempt_at = COALESCE(@next, next_attempt_at)
         WHERE queue_id = @id AND address = @address AND status IN ('pending', 'held')`,
      ),
      unfinished: db.prepare(
        `SELECT 1 FROM queue_recipients WHERE queue_id = ? AND status IN ('pending', 'held') LIMIT 1`,
      ).pluck(),
      deleteMessage: db.prepare('DELETE FROM queue_messages WHERE id = ? RETURNING message_id').pluck(),
      markDsn: db.prepare(
        `UPDATE queue_recipients SET dsn_sent = 1
         WHERE queue_id = ? AND address IN (SELECT value FROM json_each(?))`,
      ),
      markDelay: db.prepare('UPDATE queue_messages SET delay_notified = 1 WHERE id = ?'),
      nextDue: db.prepare(`SELECT MIN(next_attempt_at) FROM queue_recipients WHERE status = 'pending'`).pluck(),
      retryOne: db.prepare(
        `UPDATE queue_recipients SET next_attempt_at = MIN(next_attempt_at, @now)
         WHERE status = 'pending' AND queue_id = @id`,
      ),
      retryAll: db.prepare(
        `UPDATE queue_recipients SET next_attempt_at = MIN(next_attempt_at, @now) WHERE status = 'pending'`,
      ),
      hold: db.prepare(`UPDATE queue_recipients SET status = 'held' WHERE queue_id = ? AND status = 'pending'`),
      unhold: db.prepare(
        `UPDATE queue_recipients SET status = 'pending', next_attempt_at = ? WHERE queue_id = ? AND status = 'held'`,
      ),
    };
  }

  /**
   * Inside deliver's write transaction: queues the message for `outbound`'s recipients and
   * returns the queue id. Idle workers are woken once it commits.
   */
  enqueueInTx(tx: TxContext, messageId: number, size: number, mailFrom: string, outbound: OutboundRequest): number {
    const request = normalizeOutbound(outbound);
    const sender = normalizeReversePath(mailFrom);
    if (request.senderUserId !== null && !this.stmts.userExists.get(request.senderUserId)) {
      throw new StoreError('not-found', `no user ${request.senderUserId}`);
    }
    const now = Date.now();
    const info = this.stmts.insertMessage.run(
      messageId,
      sender,
      request.senderUserId,
      request.eightBit ? 1 : 0,
      request.smtputf8 ? 1 : 0,
      size,
      now,
    );
    const queueId = Number(info.lastInsertRowid);
    const due = request.notBefore ?? now;
    request.recipients.forEach((r, seq) => this.stmts.insertRecipient.run(queueId, seq, r.address, r.domain, due));
    this.wakeInTx(tx);
    return queueId;
  }

  /** Inside a write transaction: queues a restored message (restoreQueued) with its recipients' states. */
  restoreInTx(tx: TxContext, messageId: number, size: number, input: NormalizedQueuedRestore): QueuedMessage {
    if (input.senderUserId !== null && !this.stmts.userExists.get(input.senderUserId)) {
      throw new StoreError('not-found', `no user ${input.senderUserId}`);
    }
    const info = this.stmts.insertRestoredMessage.run({
      messageId,
      mailFrom: input.mailFrom,
      senderUserId: input.senderUserId,
      eightBit: input.eightBit ? 1 : 0,
      smtputf8: input.smtputf8 ? 1 : 0,
      size,
      createdAt: input.createdAt,
      delayNotified: input.delayNotified ? 1 : 0,
    });
    const queueId = Number(info.lastInsertRowid);
    input.recipients.forEach((r, seq) =>
      this.stmts.insertRestoredRecipient.run({ ...r, queueId, seq, dsnSent: r.dsnSent ? 1 : 0 }),
    );
    this.wakeInTx(tx);
    return this.read(queueId)!;
  }

  /** The counter behind queue watches (see the module comment). */
  version(): number | null {
    return (this.stmts.version.get() as number | undefined) ?? null;
  }

  async claimDue(owner: string, now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
    checkOwner(owner);
    const dueAt = checkDate(now, 'claim time');
    const max = checkLimit(limit);
    const lease = checkLeaseMs(leaseMs);
    if (max === 0) return [];
    return this.queue.run(() => {
      const clock = Date.now();
      const ids = this.stmts.due.all({ now: dueAt, clock, limit: max }) as number[];
      return ids.map((id) => {
        this.stmts.lease.run(owner, clock + lease, id);
        return this.read(id)!;
      });
    });
  }

  async renewClaim(queueId: number, owner: string, leaseMs: number): Promise<boolean> {
    checkOwner(owner);
    const lease = checkLeaseMs(leaseMs);
    if (!checkQueueId(queueId)) return false;
    return this.queue.run(() => this.stmts.renew.run(Date.now() + lease, queueId, owner).changes > 0);
  }

  async recordAttempts(
    queueId: number,
    owner: string,
    results: QueueAttemptResult[],
    options: { release?: boolean } = {},
  ): Promise<void> {
    checkOwner(owner);
    const normalized = normalizeResults(results);
    return this.queue.run((tx) => {
      const message = checkQueueId(queueId) ? (this.stmts.message.get(queueId) as MessageRow | undefined) : undefined;
      if (!message || message.lease_owner !== owner) {
        throw new StoreError('conflict', `queued message ${queueId} is not claimed by ${owner}`);
      }
      const clock = Date.now();
      for (const r of normalized) {
        this.stmts.recordResult.run({
          id: queueId,
          address: r.address,
          status: r.status,
          reply: r.reply,
          next: r.nextAttemptAt,
          clock,
        });
      }
      if (!this.stmts.unfinished.get(queueId)) {
        this.removeInTx(queueId);
        return;
      }
      if (options.release) {
        this.stmts.release.run(queueId);
        // Another worker may take what is still due at once.
        this.wakeInTx(tx);
      }
    });
  }

  async markNotified(queueId: number, change: { dsnFor?: string[]; delayNotified?: boolean }): Promise<void> {
    if (!checkQueueId(queueId)) return;
    const dsnFor = Array.isArray(change.dsnFor) ? change.dsnFor.filter((a) => typeof a === 'string') : [];
    if (dsnFor.length === 0 && change.delayNotified !== true) return;
    return this.queue.run(() => {
      if (dsnFor.length > 0) this.stmts.markDsn.run(queueId, JSON.stringify(dsnFor));
      if (change.delayNotified === true) this.stmts.markDelay.run(queueId);
    });
  }

  async nextDue(): Promise<Date | null> {
    const due = this.stmts.nextDue.get() as number | null;
    return due === null ? null : new Date(due);
  }

  async getQueued(queueId: number): Promise<QueuedMessage | null> {
    return checkQueueId(queueId) ? this.read(queueId) : null;
  }

  async listQueue(): Promise<QueuedMessage[]> {
    // Two statements in one read transaction, so recipients match their messages.
    return this.db.transaction(() => {
      const byQueue = new Map<number, QueuedRecipient[]>();
      for (const row of this.stmts.allRecipients.all() as RecipientRow[]) {
        let list = byQueue.get(row.queue_id);
        if (!list) byQueue.set(row.queue_id, (list = []));
        list.push(toRecipient(row));
      }
      return (this.stmts.messages.all() as MessageRow[]).map((m) => toQueued(m, byQueue.get(m.id) ?? []));
    })();
  }

  async retryNow(queueId?: number): Promise<number> {
    if (queueId !== undefined && !checkQueueId(queueId)) return 0;
    return this.queue.run((tx) => {
      const now = Date.now();
      const changed =
        queueId === undefined
          ? this.stmts.retryAll.run({ now }).changes
          : this.stmts.retryOne.run({ now, id: queueId }).changes;
      if (changed > 0) this.wakeInTx(tx);
      return changed;
    });
  }

  async setHeld(queueId: number, held: boolean): Promise<number> {
    if (!checkQueueId(queueId)) return 0;
    return this.queue.run((tx) => {
      if (held) return this.stmts.hold.run(queueId).changes;
      const changed = this.stmts.unhold.run(Date.now(), queueId).changes;
      if (changed > 0) this.wakeInTx(tx);
      return changed;
    });
  }

  async deleteQueued(queueId: number): Promise<boolean> {
    if (!checkQueueId(queueId)) return false;
    return this.queue.run(() => this.removeInTx(queueId));
  }

  /** Inside a write transaction: the message leaves the queue; its body goes if nothing else uses it. */
  removeInTx(queueId: number): boolean {
    const messageId = this.stmts.deleteMessage.get(queueId) as number | undefined;
    if (messageId === undefined) return false;
    this.deleteIfUnusedInTx(messageId);
    return true;
  }

  private read(queueId: number): QueuedMessage | null {
    const message = this.stmts.message.get(queueId) as MessageRow | undefined;
    if (!message) return null;
    const recipients = (this.stmts.recipients.all(queueId) as RecipientRow[]).map(toRecipient);
    return toQueued(message, recipients);
  }

  private wakeInTx(tx: TxContext): void {
    this.stmts.bumpVersion.run();
    tx.touch(QUEUE_WATCH_ID);
  }
}
