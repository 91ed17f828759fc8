/**
 * Messages and mailbox entries: deliver, append, flags, expunge and change tracking.
 *
 * Invariants kept here (all inside one write transaction per operation):
 * - a new entry takes the mailbox's uid_next (then incremented), so UIDs only ascend;
 * - every change bumps the mailbox's highest_modseq and stamps the entry (or the expunged
 *   row) with it, which is what changesSince reads;
 * - mailboxes.message_count/total_bytes and users.used_bytes move with each entry;
 * - a message (and its body) is deleted when its last entry goes.
 */
import {
  StoreError,
  type AppendRequest,
  type DeliveryRequest,
  type DeliveryResult,
  type FlagOperation,
  type HeaderSummary,
  type MailboxChanges,
  type MailboxEntry,
  type StoredMessage,
} from '../types.js';
import { applyFlagOperation, normalizeFlags, sameFlags } from '../normalize.js';
import type { BodyStore, SqliteBodyWriter } from './bodies.js';
import type { Mailboxes } from './mailboxes.js';
import type { Db } from './schema.js';
import type { TxContext, WriteQueue } from './write-queue.js';

interface EntryRow {
  mailbox_id: number;
  uid: number;
  message_id: number;
  flags: string;
  modseq: number;
  size: number;
  internal_date: number;
}

interface MessageRow {
  id: number;
  size: number;
  internal_date: number;
  h_from: string | null;
  h_to: string | null;
  h_cc: string | null;
  h_bcc: string | null;
  h_reply_to: string | null;
  h_subject: string | null;
  h_date: string | null;
  h_message_id: string | null;
  h_in_reply_to: string | null;
  h_references: string | null;
}

/** HeaderSummary field → messages column. */
const HEADER_COLUMNS = [
  ['from', 'h_from'],
  ['to', 'h_to'],
  ['cc', 'h_cc'],
  ['bcc', 'h_bcc'],
  ['replyTo', 'h_reply_to'],
  ['subject', 'h_subject'],
  ['date', 'h_date'],
  ['messageId', 'h_message_id'],
  ['inReplyTo', 'h_in_reply_to'],
  ['references', 'h_references'],
] as const;

const ENTRY_SELECT = `SELECT e.mailbox_id, e.uid, e.message_id, e.flags, e.modseq, m.size, m.internal_date
  FROM mailbox_entries e JOIN messages m ON m.id = e.message_id`;

function parseFlags(text: string): string[] {
  return text === '' ? [] : text.split(' ');
}

function toEntry(r: EntryRow): MailboxEntry {
  return {
    mailboxId: r.mailbox_id,
    uid: r.uid,
    messageId: r.message_id,
    flags: parseFlags(r.flags),
    modseq: r.modseq,
    size: r.size,
    internalDate: new Date(r.internal_date),
  };
}

function toMessage(r: MessageRow): StoredMessage {
  const headers: HeaderSummary = {};
  for (const [field, column] of HEADER_COLUMNS) {
    const value = r[column];
    if (value !== null) headers[field] = value;
  }
  return { id: r.id, size: r.size, internalDate: new Date(r.internal_date), headers };
}

function checkDate(date: Date): number {
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new StoreError('invalid', 'invalid internalDate');
  return ms;
}

/** Sorted, de-duplicated UIDs; rejects anything that is not a positive integer. */
function checkUids(uids: readonly number[]): number[] {
  for (const uid of uids) {
    if (!Number.isSafeInteger(uid) || uid < 1) throw new StoreError('invalid', `invalid UID: ${uid}`);
  }
  return [...new Set(uids)].sort((a, b) => a - b);
}

export class Messages {
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
    private readonly bodies: BodyStore,
    private readonly mailboxes: Mailboxes,
  ) {
    this.stmts = {
      inboxOf: db
        .prepare(`SELECT id FROM mailboxes WHERE user_id = ? AND role = 'inbox' ORDER BY id LIMIT 1`)
        .pluck(),
      userQuota: db.prepare('SELECT address, quota_bytes, used_bytes FROM users WHERE id = ?'),
      insertMessage: db.prepare(
        `INSERT INTO messages (id, size, internal_date, ${HEADER_COLUMNS.map(([, c]) => c).join(', ')},
           mail_from, rcpt_to, created_at)
         VALUES (?, ?, ?, ${HEADER_COLUMNS.map(() => '?').join(', ')}, ?, ?, ?)`,
      ),
      allocateUid: db.prepare(
        `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1,
           message_count = message_count + 1, total_bytes = total_bytes + ?
         WHERE id = ? RETURNING uid_next - 1 AS uid, highest_modseq AS modseq, user_id`,
      ),
      insertEntry: db.prepare(
        'INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq) VALUES (?, ?, ?, ?, ?)',
      ),
      addUsedBytes: db.prepare('UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?'),
      entries: db.prepare(`${ENTRY_SELECT} WHERE e.mailbox_id = ? ORDER BY e.uid`),
      entry: db.prepare(`${ENTRY_SELECT} WHERE e.mailbox_id = ? AND e.uid = ?`),
      changedSince: db.prepare(`${ENTRY_SELECT} WHERE e.mailbox_id = ? AND e.modseq > ? ORDER BY e.uid`),
      expungedSince: db.prepare('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck(),
      bumpModseq: db
        .prepare('UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
        .pluck(),
      updateFlags: db.prepare('UPDATE mailbox_entries SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?'),
      deleteEntry: db.prepare('DELETE FROM mailbox_entries WHERE mailbox_id = ? AND uid = ?'),
      recordExpunge: db.prepare('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)'),
      shrinkMailbox: db.prepare(
        'UPDATE mailboxes SET message_count = message_count - ?, total_bytes = total_bytes - ? WHERE id = ?',
      ),
      messageInUse: db.prepare('SELECT 1 FROM mailbox_entries WHERE message_id = ? LIMIT 1').pluck(),
      message: db.prepare('SELECT * FROM messages WHERE id = ?'),
    };
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    const writer = this.bodies.claim(request.body);
    const userIds = [...new Set(request.userIds)];
    if (userIds.length === 0) throw new StoreError('invalid', 'a delivery needs at least one user');
    const internalDate = checkDate(request.internalDate);
    return writer.commitWith(() =>
      this.queue.run((tx) => {
        const inboxes = userIds.map((userId) => {
          const inbox = this.stmts.inboxOf.get(userId) as number | undefined;
          if (inbox === undefined) throw new StoreError('not-found', `no user ${userId} (or no INBOX)`);
          return { userId, inbox };
        });
        const messageId = this.storeMessageInTx(tx, writer, internalDate, request.headers, request.envelope);
        const entries = inboxes.map(({ userId, inbox }) => {
          const entry = this.addEntryInTx(tx, inbox, messageId, writer.size, internalDate, []);
          return { userId, mailboxId: inbox, uid: entry.uid };
        });
        return { messageId, entries };
      }),
    );
  }

  async append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    const writer = this.bodies.claim(request.body);
    const flags = normalizeFlags(request.flags);
    const internalDate = checkDate(request.internalDate);
    return writer.commitWith(() =>
      this.queue.run((tx) => {
        const mailbox = this.mailboxes.requireInTx(mailboxId);
        const user = this.stmts.userQuota.get(mailbox.userId) as
          | { address: string; quota_bytes: number | null; used_bytes: number }
          | undefined;
        // Quota is enforced on append (the IMAP client gets NO [OVERQUOTA] and keeps its copy).
        // Deliveries are not refused here: SMTP checks quota per recipient at RCPT time.
        if (user && user.quota_bytes !== null && user.used_bytes + writer.size > user.quota_bytes) {
          throw new StoreError('quota', `mailbox of ${user.address} is over quota`);
        }
        const messageId = this.storeMessageInTx(tx, writer, internalDate, request.headers, null);
        return this.addEntryInTx(tx, mailboxId, messageId, writer.size, internalDate, flags);
      }),
    );
  }

  async listEntries(mailboxId: number): Promise<MailboxEntry[]> {
    return (this.stmts.entries.all(mailboxId) as EntryRow[]).map(toEntry);
  }

  async getMessage(messageId: number): Promise<StoredMessage | null> {
    const row = this.stmts.message.get(messageId) as MessageRow | undefined;
    return row ? toMessage(row) : null;
  }

  async setFlags(mailboxId: number, uids: number[], op: FlagOperation, flags: string[]): Promise<MailboxEntry[]> {
    if (op !== 'add' && op !== 'remove' && op !== 'replace') {
      throw new StoreError('invalid', `invalid flag operation: ${String(op)}`);
    }
    const wanted = normalizeFlags(flags);
    const sorted = checkUids(uids);
    return this.queue.run((tx) => {
      this.mailboxes.requireInTx(mailboxId);
      // One modseq for the whole command, taken only if some entry really changes.
      let modseq: number | null = null;
      const result: MailboxEntry[] = [];
      for (const uid of sorted) {
        const row = this.stmts.entry.get(mailboxId, uid) as EntryRow | undefined;
        if (!row) continue;
        const current = parseFlags(row.flags);
        const next = applyFlagOperation(current, op, wanted);
        if (!sameFlags(current, next)) {
          modseq ??= this.stmts.bumpModseq.get(mailboxId) as number;
          row.flags = next.join(' ');
          row.modseq = modseq;
          this.stmts.updateFlags.run(row.flags, modseq, mailboxId, uid);
          tx.touch(mailboxId);
        }
        result.push(toEntry(row));
      }
      return result;
    });
  }

  async expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    const sorted = checkUids(uids);
    return this.queue.run((tx) => {
      const mailbox = this.mailboxes.requireInTx(mailboxId);
      let modseq: number | null = null;
      let bytes = 0;
      const removed: number[] = [];
      const messageIds = new Set<number>();
      for (const uid of sorted) {
        const row = this.stmts.entry.get(mailboxId, uid) as EntryRow | undefined;
        if (!row) continue;
        modseq ??= this.stmts.bumpModseq.get(mailboxId) as number;
        this.stmts.deleteEntry.run(mailboxId, uid);
        this.stmts.recordExpunge.run(mailboxId, uid, modseq);
        bytes += row.size;
        removed.push(uid);
        messageIds.add(row.message_id);
      }
      if (removed.length > 0) {
        this.stmts.shrinkMailbox.run(removed.length, bytes, mailboxId);
        this.stmts.addUsedBytes.run(-bytes, mailbox.userId);
        for (const id of messageIds) this.deleteIfUnusedInTx(id);
        tx.touch(mailboxId);
      }
      return removed;
    });
  }

  async changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    // One read transaction, so the three reads see the same snapshot even while another
    // process is writing.
    const read = this.db.transaction((): MailboxChanges => {
      const highestModseq = this.mailboxes.highestModseq(mailboxId);
      if (highestModseq === null) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
      return {
        highestModseq,
        changed: (this.stmts.changedSince.all(mailboxId, modseq) as EntryRow[]).map(toEntry),
        expunged: this.stmts.expungedSince.all(mailboxId, modseq) as number[],
      };
    });
    return read();
  }

  /** Inside a write transaction: deletes a message and its body once no entry uses it. */
  deleteIfUnusedInTx(messageId: number): void {
    if (!this.stmts.messageInUse.get(messageId)) this.bodies.deleteInTx(messageId);
  }

  /** Commits the writer's body and creates the message row; returns the message id. */
  private storeMessageInTx(
    tx: TxContext,
    writer: SqliteBodyWriter,
    internalDate: number,
    headers: HeaderSummary,
    envelope: DeliveryRequest['envelope'] | null,
  ): number {
    const { bodyId, size } = this.bodies.commitInTx(writer);
    this.stmts.insertMessage.run(
      bodyId,
      size,
      internalDate,
      ...HEADER_COLUMNS.map(([field]) => headers?.[field] ?? null),
      envelope ? envelope.mailFrom : null,
      envelope ? JSON.stringify(envelope.rcptTo) : null,
      Date.now(),
    );
    tx.afterCommit(() => writer.markCommitted());
    return bodyId;
  }

  /** Adds one entry with the next UID and a new modseq, updating all the counters. */
  private addEntryInTx(
    tx: TxContext,
    mailboxId: number,
    messageId: number,
    size: number,
    internalDate: number,
    flags: string[],
  ): MailboxEntry {
    const slot = this.stmts.allocateUid.get(size, mailboxId) as
      | { uid: number; modseq: number; user_id: number }
      | undefined;
    if (!slot) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
    this.stmts.insertEntry.run(mailboxId, slot.uid, messageId, flags.join(' '), slot.modseq);
    this.stmts.addUsedBytes.run(size, slot.user_id);
    tx.touch(mailboxId);
    return {
      mailboxId,
      uid: slot.uid,
      messageId,
      flags,
      modseq: slot.modseq,
      size,
      internalDate: new Date(internalDate),
    };
  }
}
