/**
 * Stored messages and new entries: deliver and append (with the structure and search text
 * the body writer's analysis produced), message lookups, and the in-transaction steps the
 * other entry operations share (adding entries, removing entries, dropping unused messages,
 * quota accounting).
 *
 * Invariants kept here, inside one transaction per operation:
 * - a mailbox's row is locked (mailboxes.lockInTx) before its entries change, so UIDs and
 *   modseqs are allocated one transaction at a time even with many nodes writing;
 * - rows are locked in one order: mailboxes, then messages, then users (each in id order), so
 *   two operations on the same rows wait for each other instead of deadlocking (a deadlock
 *   the order cannot rule out is retried by db.ts);
 * - a new entry takes the mailbox's uid_next (then incremented), so UIDs only ascend;
 * - every change bumps the mailbox's highest_modseq and stamps the entry (or the expunged
 *   row) with it, which is what changesSince reads;
 * - mailboxes.message_count/total_bytes and users.used_bytes move with each entry;
 * - a message (and its body) is deleted when its last entry goes, unless the outbound queue
 *   still holds it.
 */
import type { MessageStructure } from '../../mime/analysis.js';
import { StructureCache } from '../structure-cache.js';
import type { ChunkedBodyWriter } from '../chunked-body-writer.js';
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
import { checkDeliveryTargets, checkInternalDate, normalizeFlags, type DeliveryTargets } from '../normalize.js';
import type { BodyStore } from './bodies.js';
import { DeliveryBatcher } from './delivery-batch.js';
import type { Database, Tx } from './db.js';
import { isId, type Mailboxes } from './mailboxes.js';
import type { PostgresQueue } from './queue.js';
import type { EntryRow } from './rows.js';
import type { SearchIndex } from './search.js';

/** The HeaderSummary fields a message keeps, in a fixed order. */
const HEADER_FIELDS: ReadonlyArray<keyof HeaderSummary> = [
  'from',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'subject',
  'date',
  'messageId',
  'inReplyTo',
  'references',
];

/** Only the known fields, only strings: what getMessage gives back. JSON text keeps any character. */
function headersJson(headers: HeaderSummary): string {
  const kept: HeaderSummary = {};
  for (const field of HEADER_FIELDS) {
    const value = headers[field];
    if (typeof value === 'string') kept[field] = value;
  }
  return JSON.stringify(kept);
}

/** Internal dates go to PostgreSQL as Date objects (timestamptz). */
function checkDate(date: Date): Date {
  return new Date(checkInternalDate(date));
}


export class Messages {
  private readonly structures = new StructureCache();
  private readonly batcher: DeliveryBatcher;

  constructor(
    private readonly db: Database,
    private readonly bodies: BodyStore,
    private readonly mailboxes: Mailboxes,
    private readonly search: SearchIndex,
    private readonly outbound: PostgresQueue,
    /** Told after a commit that left search text for the indexer (text-indexer.ts). */
    private readonly onTextPending: () => void = () => {},
  ) {
    this.batcher = new DeliveryBatcher(
      db,
      (d) => this.deliverAlone(d.request, d.writer, { userIds: [...d.userIds], folder: d.folder, copies: [...d.copies] }, d.internalDate),
      () => this.onTextPending(),
    );
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    const writer = this.bodies.claim(request.body);
    const targets = checkDeliveryTargets(request);
    const internalDate = checkDate(request.internalDate);
    return writer.commitWith(() => {
      const analysis = writer.analysis(); // finished before the transaction starts: it holds locks
      const unknownUser = targets.userIds.find((id) => !isId(id));
      if (unknownUser !== undefined) throw new StoreError('not-found', `no user ${unknownUser}`);
      const unknown = targets.copies.find((c) => !isId(c.mailboxId));
      if (unknown !== undefined) throw new StoreError('not-found', `no mailbox ${unknown.mailboxId}`);
      // A delivery that also queues for other servers goes alone; the others share a
      // transaction with the deliveries made at the same time (delivery-batch.ts).
      if (request.outbound) return this.deliverAlone(request, writer, targets, internalDate);
      const found = this.search.textOf(analysis);
      return this.batcher.submit({
        writer,
        size: writer.size,
        internalDate,
        headers: headersJson(request.headers ?? analysis?.headers ?? {}),
        envelope: JSON.stringify({ mailFrom: request.envelope.mailFrom, rcptTo: request.envelope.rcptTo }),
        structure: analysis ? JSON.stringify({ root: analysis.root, envelope: analysis.envelope }) : null,
        textState: found.text ? 'pending' : found.state,
        pendingText: found.text && found.state !== 'missing' ? { state: found.state, text: found.text } : null,
        userIds: targets.userIds,
        folder: targets.folder,
        copies: targets.copies,
        request,
      });
    });
  }

  /** One delivery in a transaction of its own. */
  private deliverAlone(
    request: DeliveryRequest,
    writer: ChunkedBodyWriter,
    targets: DeliveryTargets,
    internalDate: Date,
  ): Promise<DeliveryResult> {
    return this.db.transaction(async (tx) => {
      const folderOf = await this.foldersInTx(tx, targets.userIds, targets.folder);
      const copyIds = targets.copies.map((c) => c.mailboxId);
      // The new message's rows first: nobody else can lock a row that does not exist yet, so
      // this keeps the lock order, and the mailbox rows (which every delivery to these users
      // waits for) are held only for the entries and the COMMIT.
      const messageId = await this.storeMessageInTx(tx, writer, internalDate, request.headers, request.envelope);
      const locked = await this.mailboxes.lockInTx(tx, [...folderOf.values(), ...copyIds]);
      // Users' entries, then the copies (flags as given, no quota check), as DeliveryResult lists them.
      const planned = [
        ...targets.userIds.map((userId) => ({ mailbox: locked.get(folderOf.get(userId)!)!, flags: [] as string[] })),
        ...targets.copies.map(({ mailboxId, flags }) => ({ mailbox: locked.get(mailboxId)!, flags })),
      ];
      const added = planned.length > 0 ? await this.addEntriesInTx(tx, planned, messageId, writer.size, internalDate) : [];
      const queueId = request.outbound
        ? await this.outbound.enqueueInTx(tx, messageId, writer.size, request.envelope.mailFrom, request.outbound)
        : null;
      return {
        messageId,
        entries: added.map((entry, i) => ({ userId: planned[i]!.mailbox.userId, mailboxId: entry.mailboxId, uid: entry.uid })),
        queueId,
      };
    });
  }

  /**
   * Inside a transaction: each user's mailbox with the folder's role, else its INBOX (a user
   * may have deleted its Junk); 'not-found' for a user without either.
   */
  private async foldersInTx(tx: Tx, userIds: readonly number[], folder: 'inbox' | 'junk'): Promise<Map<number, number>> {
    const unknown = userIds.find((id) => !isId(id));
    if (unknown !== undefined) throw new StoreError('not-found', `no user ${unknown}`);
    const rows = await tx.rows<{ user_id: number; id: number }>(
      `SELECT DISTINCT ON (user_id) user_id, id FROM mailboxes WHERE user_id = ANY($1) AND role IN ('inbox', $2)
       ORDER BY user_id, role = 'inbox', id`,
      [userIds, folder],
    );
    const folderOf = new Map(rows.map((r) => [r.user_id, r.id]));
    const missing = userIds.find((id) => !folderOf.has(id));
    if (missing !== undefined) throw new StoreError('not-found', `no user ${missing} (or no INBOX)`);
    return folderOf;
  }

  async append(mailboxId: number, request: AppendRequest): Promise<MailboxEntry> {
    const writer = this.bodies.claim(request.body);
    const flags = normalizeFlags(request.flags);
    const internalDate = checkDate(request.internalDate);
    return writer.commitWith(() => {
      writer.analysis(); // finished before the transaction starts: it holds locks
      return this.db.transaction(async (tx) => {
        const messageId = await this.storeMessageInTx(tx, writer, internalDate, request.headers, null);
        const mailbox = await this.mailboxes.lockOneInTx(tx, mailboxId);
        const [added] = await this.addEntriesInTx(tx, [{ mailbox, flags }], messageId, writer.size, internalDate, true);
        return added!;
      });
    });
  }

  async getMessage(messageId: number): Promise<StoredMessage | null> {
    if (!isId(messageId)) return null;
    const row = await this.db.one<{ id: number; size: number; internal_date: Date; headers: string }>(
      'SELECT id, size, internal_date, headers FROM messages WHERE id = $1',
      [messageId],
    );
    if (!row) return null;
    return { id: row.id, size: row.size, internalDate: row.internal_date, headers: JSON.parse(row.headers) };
  }

  async getStructure(messageId: number): Promise<MessageStructure | null> {
    if (!isId(messageId)) return null;
    const row = await this.db.one<{ structure: string | null }>('SELECT structure FROM messages WHERE id = $1', [
      messageId,
    ]);
    if (!row) return null;
    if (row.structure !== null) return this.structures.parse(row.structure);
    // Its analysis failed when it was stored: work it out from the body.
    try {
      const { root, envelope } = await this.bodies.analyze(messageId, 0);
      return { root, envelope };
    } catch (err) {
      if (err instanceof StoreError && err.code === 'not-found') return null;
      throw err;
    }
  }

  /**
   * Adds `bytes` to a user's stored mail. With `enforceQuota`, refuses ('quota') when that
   * takes the user over the quota: the check and the addition are one statement on the
   * locked user row, so concurrent appends on several nodes cannot both slip under it.
   */
  async addUsedBytesInTx(tx: Tx, userId: number, bytes: number, enforceQuota = false): Promise<void> {
    if (bytes === 0) return;
    const user = await tx.one<{ address: string; used_bytes: number; quota_bytes: number | null }>(
      'UPDATE users SET used_bytes = used_bytes + $2 WHERE id = $1 RETURNING address, used_bytes, quota_bytes',
      [userId, bytes],
    );
    if (enforceQuota && user && user.quota_bytes !== null && bytes > 0 && user.used_bytes > user.quota_bytes) {
      throw new StoreError('quota', `mailbox of ${user.address} is over quota`);
    }
  }

  /**
   * Inside a transaction, with the mailbox locked: removes entries of one mailbox, recording
   * each UID as expunged under one new modseq and keeping the counters right. Messages left
   * without any entry are deleted unless `keepMessages` (they are about to get a new entry).
   */
  async removeEntriesInTx(tx: Tx, mailbox: Mailbox, rows: readonly EntryRow[], keepMessages = false): Promise<number[]> {
    if (rows.length === 0) return [];
    const uids = rows.map((r) => r.uid);
    const bytes = rows.reduce((sum, r) => sum + r.size, 0);
    const bumped = await tx.one<{ modseq: number }>(
      `UPDATE mailboxes SET highest_modseq = highest_modseq + 1, message_count = message_count - $2,
         total_bytes = total_bytes - $3
       WHERE id = $1 RETURNING highest_modseq AS modseq`,
      [mailbox.id, rows.length, bytes],
    );
    await tx.rows(
      `WITH gone AS (DELETE FROM mailbox_entries WHERE mailbox_id = $1 AND uid = ANY($2) RETURNING uid)
       INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $3 FROM gone
       ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq, expunged_at = excluded.expunged_at`,
      [mailbox.id, uids, bumped!.modseq],
    );
    if (!keepMessages) await this.deleteUnusedInTx(tx, [...new Set(rows.map((r) => r.message_id))]);
    await this.addUsedBytesInTx(tx, mailbox.userId, -bytes);
    tx.touch(mailbox.id);
    return uids;
  }

  /** Inside a transaction: deletes those of the messages (and bodies) no entry uses any more. */
  async deleteUnusedInTx(tx: Tx, messageIds: readonly number[]): Promise<void> {
    if (messageIds.length === 0) return;
    // Locking the messages first makes two transactions that remove a message's last two
    // entries at once take turns: the second then sees the first's removal, and deletes it.
    // A queued message keeps its body while it waits, even without any mailbox entry.
    await tx.rows('SELECT id FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE', [messageIds]);
    await tx.rows(
      `DELETE FROM bodies b WHERE b.id = ANY($1)
         AND NOT EXISTS (SELECT 1 FROM mailbox_entries e WHERE e.message_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM queue_messages q WHERE q.message_id = b.id)`,
      [messageIds],
    );
  }

  /**
   * Inside a transaction, with the mailboxes locked: adds an entry for the message per target,
   * with the mailbox's next UID and a new modseq (a mailbox named twice gets two entries, one
   * modseq), keeping every counter right. Resolves with the entries in the targets' order.
   * With `enforceQuota`, refuses ('quota') entries that take their user over the quota (IMAP
   * APPEND; deliveries are not refused here: SMTP checks quota per recipient at RCPT time).
   */
  async addEntriesInTx(
    tx: Tx,
    targets: ReadonlyArray<{ mailbox: Mailbox; flags: string[] }>,
    messageId: number,
    size: number,
    internalDate: Date,
    enforceQuota = false,
  ): Promise<MailboxEntry[]> {
    const counts = new Map<number, number>();
    for (const { mailbox } of targets) counts.set(mailbox.id, (counts.get(mailbox.id) ?? 0) + 1);
    const slots = await tx.rows<{ id: number; first_uid: number; modseq: number }>(
      `UPDATE mailboxes m SET uid_next = m.uid_next + c.n, highest_modseq = m.highest_modseq + 1,
         message_count = m.message_count + c.n, total_bytes = m.total_bytes + c.n * $3
       FROM unnest($1::bigint[], $2::bigint[]) AS c(id, n)
       WHERE m.id = c.id RETURNING m.id, m.uid_next - c.n AS first_uid, m.highest_modseq AS modseq`,
      [[...counts.keys()], [...counts.values()], size],
    );
    const next = new Map(slots.map((s) => [s.id, { uid: s.first_uid, modseq: s.modseq }]));
    const entries = targets.map(({ mailbox, flags }): MailboxEntry => {
      const slot = next.get(mailbox.id)!;
      const uid = slot.uid++;
      return { mailboxId: mailbox.id, uid, messageId, flags, modseq: slot.modseq, size, internalDate };
    });
    // Flags travel as one space-separated string per entry (no flag contains a space).
    await tx.rows(
      `INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq, size, internal_date)
       SELECT s.mailbox_id, s.uid, $5, string_to_array(s.flags, ' '), s.modseq, $6, $7
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) AS s(mailbox_id, uid, modseq, flags)`,
      [
        entries.map((e) => e.mailboxId),
        entries.map((e) => e.uid),
        entries.map((e) => e.modseq),
        entries.map((e) => e.flags.join(' ')),
        messageId,
        size,
        internalDate,
      ],
    );
    const bytesByUser = new Map<number, number>();
    for (const { mailbox } of targets) bytesByUser.set(mailbox.userId, (bytesByUser.get(mailbox.userId) ?? 0) + size);
    for (const [userId, bytes] of [...bytesByUser].sort((a, b) => a[0] - b[0])) {
      await this.addUsedBytesInTx(tx, userId, bytes, enforceQuota);
    }
    for (const id of counts.keys()) tx.touch(id);
    return entries;
  }

  /**
   * Commits the writer's body and creates the message row with its structure, and its search
   * text; returns the message id. Header fields the caller gave win over the parsed ones.
   * The caller took the writer's analysis before its transaction began (deliver, append, restore).
   */
  async storeMessageInTx(
    tx: Tx,
    writer: ChunkedBodyWriter,
    internalDate: Date,
    given: HeaderSummary | undefined,
    envelope: DeliveryRequest['envelope'] | null,
  ): Promise<number> {
    const analysis = writer.analysis();
    const headers = given ?? analysis?.headers ?? {};
    const bodyId = await this.bodies.commitInTx(tx, writer);
    const structure = analysis ? JSON.stringify({ root: analysis.root, envelope: analysis.envelope }) : null;
    const found = this.search.textOf(analysis);
    await tx.rows(
      `INSERT INTO messages (id, size, internal_date, headers, envelope, structure, text_state)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        bodyId,
        writer.size,
        internalDate,
        headersJson(headers),
        envelope ? JSON.stringify({ mailFrom: envelope.mailFrom, rcptTo: envelope.rcptTo }) : null,
        structure,
        found.text ? 'pending' : found.state,
      ],
    );
    // The text goes in the same transaction, searchable the moment the delivery is
    // acknowledged; the trigram indexing of it happens after, in batches (text-indexer.ts).
    if (found.text && found.state !== 'missing') {
      await this.search.insertPendingInTx(tx, bodyId, found.state, found.text);
      tx.afterCommit(() => this.onTextPending());
    }
    tx.afterCommit(() => writer.markCommitted());
    return bodyId;
  }
}
