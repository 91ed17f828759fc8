/**
 * Stored messages and new entries: deliver and append (with the structure and search text
 * the body writer's analysis produced), message lookups, and the in-transaction steps the
 * other entry operations share (adding an entry, removing entries, dropping unused messages).
 *
 * Invariants kept here (all inside one write transaction per operation):
 * - a new entry takes the mailbox's uid_next (then incremented), so UIDs only ascend;
 * - every change bumps the mailbox's highest_modseq and stamps the entry (or the expunged
 *   row) with it, which is what changesSince reads;
 * - mailboxes.message_count/total_bytes and users.used_bytes move with each entry;
 * - a message (and its body) is deleted when its last entry goes, unless the outbound queue
 *   still holds it.
 */
import type { MessageStructure } from '../../mime/analysis.js';
import { StructureCache } from '../structure-cache.js';
import {
  StoreError,
  type AppendRequest,
  type DeliveryRequest,
  type DeliveryResult,
  type HeaderSummary,
  type Mailbox,
  type MailboxEntry,
  type StoredMessage,
} from '../types.js';
import { checkDeliveryTargets, checkInternalDate, normalizeFlags } from '../normalize.js';
import type { BodyStore, SqliteBodyWriter } from './bodies.js';
import type { Mailboxes } from './mailboxes.js';
import type { SqliteQueue } from './queue.js';
import { ENTRY_IN_UIDS, ENTRY_SELECT, type EntryRow } from './rows.js';
import type { Db } from './schema.js';
import type { SearchIndex } from './search.js';
import { NotDurableError, type TxContext, type WriteQueue } from './write-queue.js';

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

function toMessage(r: MessageRow): StoredMessage {
  const headers: HeaderSummary = {};
  for (const [field, column] of HEADER_COLUMNS) {
    const value = r[column];
    if (value !== null) headers[field] = value;
  }
  return { id: r.id, size: r.size, internalDate: new Date(r.internal_date), headers };
}



export class Messages {
  private readonly structures = new StructureCache();
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
    private readonly bodies: BodyStore,
    private readonly mailboxes: Mailboxes,
    private readonly search: SearchIndex,
    private readonly outbound: SqliteQueue,
  ) {
    this.stmts = {
      // The user's mailbox with the role, else INBOX (a user may have deleted its Junk).
      folderOf: db
        .prepare(
          `SELECT id FROM mailboxes WHERE user_id = ? AND role IN ('inbox', ?)
           ORDER BY role = 'inbox', id LIMIT 1`,
        )
        .pluck(),
      userQuota: db.prepare('SELECT address, quota_bytes, used_bytes FROM users WHERE id = ?'),
      insertMessage: db.prepare(
        `INSERT INTO messages (id, size, internal_date, ${HEADER_COLUMNS.map(([, c]) => c).join(', ')},
           mail_from, rcpt_to, created_at, structure, text_state)
         VALUES (?, ?, ?, ${HEADER_COLUMNS.map(() => '?').join(', ')}, ?, ?, ?, ?, ?)`,
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
      bumpModseq: db
        .prepare('UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
        .pluck(),
      // UIDs as one JSON array: one statement however many entries go.
      deleteEntries: db.prepare(
        'DELETE FROM mailbox_entries WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))',
      ),
      recordExpunges: db.prepare(
        `INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq, expunged_at)
         SELECT @mailbox, value, @modseq, @now FROM json_each(@uids)`,
      ),
      shrinkMailbox: db.prepare(
        'UPDATE mailboxes SET message_count = message_count - ?, total_bytes = total_bytes - ? WHERE id = ?',
      ),
      // A queued message keeps its body while it waits, even without any mailbox entry.
      messageInUse: db
        .prepare(
          `SELECT EXISTS (SELECT 1 FROM mailbox_entries WHERE message_id = @id)
             OR EXISTS (SELECT 1 FROM queue_messages WHERE message_id = @id)`,
        )
        .pluck(),
      message: db.prepare('SELECT * FROM messages WHERE id = ?'),
      entriesByUids: db.prepare(`${ENTRY_SELECT} WHERE ${ENTRY_IN_UIDS} ORDER BY e.uid`),
      structure: db.prepare('SELECT structure FROM messages WHERE id = ?'),
    };
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    try {
      return await this.deliverOnce(request);
    } catch (err) {
      if (err instanceof NotDurableError) {
        const done = err.committed as DeliveryResult;
        await this.takeBack(done.entries, done.queueId);
      }
      throw err;
    }
  }

  async append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    try {
      return await this.appendOnce(mailboxId, request);
    } catch (err) {
      if (err instanceof NotDurableError) await this.takeBack([{ mailboxId, uid: (err.committed as MailboxEntry).uid }], null);
      throw err;
    }
  }

  /**
   * A delivery or append was committed but its fsync failed, so the client hears "try again
   * later": it must not find the message there too (it would keep a copy it believes was
   * refused, and its retry would make two). Removed again, best effort: the disk may still be
   * failing, and then the removal is in the same state as the message was — at worst a crash
   * brings back a message the client was told failed (a duplicate, never a loss).
   */
  private async takeBack(entries: ReadonlyArray<{ mailboxId: number; uid: number }>, queueId: number | null): Promise<void> {
    await this.queue
      .run((tx) => {
        if (queueId !== null) this.outbound.removeInTx(queueId);
        for (const { mailboxId, uid } of entries) {
          const mailbox = this.mailboxes.requireInTx(mailboxId);
          const rows = this.stmts.entriesByUids.all(mailboxId, JSON.stringify([uid])) as EntryRow[];
          this.removeEntriesInTx(tx, mailbox, rows);
        }
      })
      .catch(() => undefined);
  }

  private async deliverOnce(request: DeliveryRequest): Promise<DeliveryResult> {
    const writer = this.bodies.claim(request.body);
    const targets = checkDeliveryTargets(request);
    const internalDate = checkInternalDate(request.internalDate);
    return writer.commitWith(() => {
      writer.analysis(); // finished here rather than inside the shared write transaction
      return this.queue.run((tx) => {
        const folders = targets.userIds.map((userId) => {
          const mailboxId = this.stmts.folderOf.get(userId, targets.folder) as number | undefined;
          if (mailboxId === undefined) throw new StoreError('not-found', `no user ${userId} (or no INBOX)`);
          return { userId, mailboxId, flags: [] as string[] };
        });
        const copies = targets.copies.map(({ mailboxId, flags }) => {
          const mailbox = this.mailboxes.requireInTx(mailboxId);
          return { userId: mailbox.userId, mailboxId, flags };
        });
        const messageId = this.storeMessageInTx(tx, writer, internalDate, request.headers, request.envelope);
        // Users' entries, then the copies (flags as given, no quota check), as DeliveryResult lists them.
        const entries = [...folders, ...copies].map(({ userId, mailboxId, flags }) => {
          const entry = this.addEntryInTx(tx, mailboxId, messageId, writer.size, internalDate, flags);
          return { userId, mailboxId, uid: entry.uid };
        });
        const queueId = request.outbound
          ? this.outbound.enqueueInTx(tx, messageId, writer.size, request.envelope.mailFrom, request.outbound)
          : null;
        return { messageId, entries, queueId };
      });
    });
  }

  private async appendOnce(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    const writer = this.bodies.claim(request.body);
    const flags = normalizeFlags(request.flags);
    const internalDate = checkInternalDate(request.internalDate);
    return writer.commitWith(() => {
      writer.analysis(); // finished here rather than inside the shared write transaction
      return this.queue.run((tx) => {
        const mailbox = this.mailboxes.requireInTx(mailboxId);
        // Quota is enforced on append (the IMAP client gets NO [OVERQUOTA] and keeps its copy).
        // Deliveries are not refused here: SMTP checks quota per recipient at RCPT time.
        this.checkQuotaInTx(mailbox.userId, writer.size);
        const messageId = this.storeMessageInTx(tx, writer, internalDate, request.headers, null);
        return this.addEntryInTx(tx, mailboxId, messageId, writer.size, internalDate, flags);
      });
    });
  }

  async getMessage(messageId: number): Promise<StoredMessage | null> {
    const row = this.stmts.message.get(messageId) as MessageRow | undefined;
    return row ? toMessage(row) : null;
  }

  async getStructure(messageId: number): Promise<MessageStructure | null> {
    const row = this.stmts.structure.get(messageId) as { structure: string | null } | undefined;
    if (!row) return null;
    if (row.structure !== null) return this.structures.parse(row.structure);
    // Stored before structures were kept (or its analysis failed): work it out from the body.
    try {
      const { root, envelope } = await this.bodies.analyze(messageId, 0);
      return { root, envelope };
    } catch (err) {
      if (err instanceof StoreError && err.code === 'not-found') return null;
      throw err;
    }
  }

  /** Inside a write transaction: refuses ('quota') adding `bytes` to the user's mail if it would exceed the quota. */
  checkQuotaInTx(userId: number, bytes: number): void {
    const user = this.stmts.userQuota.get(userId) as
      | { address: string; quota_bytes: number | null; used_bytes: number }
      | undefined;
    if (user && user.quota_bytes !== null && bytes > 0 && user.used_bytes + bytes > user.quota_bytes) {
      throw new StoreError('quota', `mailbox of ${user.address} is over quota`);
    }
  }

  /**
   * Inside a write transaction: removes entries of one mailbox, recording each UID as
   * expunged under one new modseq and keeping the counters right. Messages left without any
   * entry are deleted unless `keepMessages` (they are about to get a new entry).
   */
  removeEntriesInTx(tx: TxContext, mailbox: Mailbox, rows: readonly EntryRow[], keepMessages = false): number[] {
    if (rows.length === 0) return [];
    const modseq = this.stmts.bumpModseq.get(mailbox.id) as number;
    const uids = JSON.stringify(rows.map((r) => r.uid));
    this.stmts.deleteEntries.run(mailbox.id, uids);
    this.stmts.recordExpunges.run({ mailbox: mailbox.id, modseq, now: Date.now(), uids });
    let bytes = 0;
    const messageIds = new Set<number>();
    for (const row of rows) {
      bytes += row.size;
      messageIds.add(row.message_id);
    }
    this.stmts.shrinkMailbox.run(rows.length, bytes, mailbox.id);
    this.addUsedBytesInTx(mailbox.userId, -bytes);
    if (!keepMessages) for (const id of messageIds) this.deleteIfUnusedInTx(id);
    tx.touch(mailbox.id);
    return rows.map((r) => r.uid);
  }

  /** Inside a write transaction: deletes a message and its body once no entry uses it. */
  deleteIfUnusedInTx(messageId: number): void {
    if (!this.stmts.messageInUse.get({ id: messageId })) this.bodies.deleteInTx(messageId);
  }

  addUsedBytesInTx(userId: number, bytes: number): void {
    if (bytes !== 0) this.stmts.addUsedBytes.run(bytes, userId);
  }

  /** Adds one entry with the next UID and a new modseq, updating all the counters. */
  addEntryInTx(
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
    this.addUsedBytesInTx(slot.user_id, size);
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

  /**
   * Commits the writer's body and creates the message row with its structure and search
   * text; returns the message id. Header fields the caller gave win over the parsed ones.
   */
  storeMessageInTx(
    tx: TxContext,
    writer: SqliteBodyWriter,
    internalDate: number,
    given: HeaderSummary | undefined,
    envelope: DeliveryRequest['envelope'] | null,
  ): number {
    const analysis = writer.analysis();
    const headers = given ?? analysis?.headers ?? {};
    const { bodyId, size } = this.bodies.commitInTx(writer);
    const structure = analysis ? JSON.stringify({ root: analysis.root, envelope: analysis.envelope }) : null;
    this.stmts.insertMessage.run(
      bodyId,
      size,
      internalDate,
      ...HEADER_COLUMNS.map(([field]) => headers[field] ?? null),
      envelope ? envelope.mailFrom : null,
      envelope ? JSON.stringify(envelope.rcptTo) : null,
      Date.now(),
      structure,
      // Indexed after the commit, off the event loop (index-worker.ts); until then search
      // confirms this message from its body, so results are exact all along.
      'missing',
    );
    tx.afterCommit(() => writer.markCommitted());
    return bodyId;
  }
}
