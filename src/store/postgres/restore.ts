/**
 * RestoreStore on PostgreSQL: mailboxes and entries recreated with the UIDVALIDITY, UIDs and
 * modseqs they had in another store (`wharf store copy`).
 *
 * Restored bodies go through the same writers and message rows as append (structure and
 * search text worked out while they stream in, indexed in the same transaction), and the
 * locks are taken in the store's one order: the mailbox, then shared messages, then the user.
 */
import { commitWithAll, type ChunkedBodyWriter } from '../chunked-body-writer.js';
import { normalizeEntryRestores, normalizeMailboxRestore } from '../normalize.js';
import { StoreError, type EntryRestore, type Mailbox, type MailboxEntry, type MailboxRestore } from '../types.js';
import type { BodyStore } from './bodies.js';
import type { Database, Tx } from './db.js';
import { isId, type Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';

type CheckedEntry = ReturnType<typeof normalizeEntryRestores>[number];

export class Restores {
  constructor(
    private readonly db: Database,
    private readonly bodies: BodyStore,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
  ) {}

  async restoreMailbox(userId: number, input: MailboxRestore): Promise<Mailbox> {
    const wanted = normalizeMailboxRestore(input);
    if (!isId(userId)) throw new StoreError('not-found', `no user ${userId}`);
    return this.db.transaction(async (tx) => {
      if (!(await tx.one('SELECT 1 FROM users WHERE id = $1', [userId]))) {
        throw new StoreError('not-found', `no user ${userId}`);
      }
      // Locked: no entry may arrive between looking at the mailbox and changing it.
      const existing = await tx.one<{ id: number; uid_validity: number }>(
        'SELECT id, uid_validity FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE',
        [userId, wanted.name],
      );
      let id: number;
      if (!existing) {
        // Expunges before the restore are not carried over: changesSince from below the
        // restored modseq must say it is incomplete.
        const row = await tx.one<{ id: number }>(
          `INSERT INTO mailboxes (user_id, name, role, uid_validity, uid_next, highest_modseq, pruned_modseq)
           VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
          [userId, wanted.name, wanted.role, wanted.uidValidity, wanted.uidNext, wanted.highestModseq],
        );
        id = row!.id;
      } else if (existing.uid_validity === wanted.uidValidity) {
        id = existing.id;
        await tx.rows(
          `UPDATE mailboxes SET role = $2, uid_next = GREATEST(uid_next, $3),
             highest_modseq = GREATEST(highest_modseq, $4), pruned_modseq = GREATEST(pruned_modseq, $4)
           WHERE id = $1`,
          [id, wanted.role, wanted.uidNext, wanted.highestModseq],
        );
      } else if (!(await tx.one('SELECT 1 FROM mailbox_entries WHERE mailbox_id = $1 LIMIT 1', [existing.id]))) {
        // An empty mailbox (typically a default one addUser made) takes the source's identity:
        // a client that cached the old UIDVALIDITY had nothing in it to lose. Its own
        // expunge records go, and with them any claim to know what vanished before.
        id = existing.id;
        await tx.rows(
          `UPDATE mailboxes SET role = $2, uid_validity = $3, uid_next = $4, recent_uid = 0,
             highest_modseq = GREATEST(highest_modseq, $5), pruned_modseq = GREATEST(highest_modseq, $5)
           WHERE id = $1`,
          [id, wanted.role, wanted.uidValidity, wanted.uidNext, wanted.highestModseq],
        );
        await tx.rows('DELETE FROM expunged WHERE mailbox_id = $1', [id]);
      } else {
        throw new StoreError(
          'conflict',
          `mailbox ${JSON.stringify(wanted.name)} exists with another UIDVALIDITY (${existing.uid_validity}) and holds messages`,
        );
      }
      // Mailboxes created later must never reuse a restored UIDVALIDITY.
      await this.mailboxes.raiseUidValidityFloorInTx(tx, wanted.uidValidity);
      if (wanted.subscribed) await this.mailboxes.subscribeInTx(tx, userId, [wanted.name]);
      else await tx.rows('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, wanted.name]);
      tx.touch(id);
      return this.mailboxes.requireInTx(tx, id);
    });
  }

  async restoreEntries(mailboxId: number, input: EntryRestore[]): Promise<MailboxEntry[]> {
    const entries = normalizeEntryRestores(input);
    const writers = new Map<CheckedEntry, ChunkedBodyWriter>();
    for (const entry of entries) {
      if (!('messageId' in entry.body)) writers.set(entry, this.bodies.claim(entry.body));
    }
    return commitWithAll([...writers.values()], () => {
      // Finished before the transaction starts: it holds locks.
      for (const writer of writers.values()) writer.analysis();
      return this.db.transaction((tx) => this.restoreEntriesInTx(tx, mailboxId, entries, writers));
    });
  }

  private async restoreEntriesInTx(
    tx: Tx,
    mailboxId: number,
    entries: readonly CheckedEntry[],
    writers: ReadonlyMap<CheckedEntry, ChunkedBodyWriter>,
  ): Promise<MailboxEntry[]> {
    const mailbox = await this.mailboxes.lockOneInTx(tx, mailboxId);
    if (entries.length === 0) return [];
    const highest = (await tx.one<{ uid: number | null }>('SELECT MAX(uid) AS uid FROM mailbox_entries WHERE mailbox_id = $1', [
      mailboxId,
    ]))?.uid ?? 0;
    if (entries[0]!.uid <= highest) {
      throw new StoreError('conflict', `UID ${entries[0]!.uid} is not above UID ${highest} of mailbox ${mailboxId}`);
    }
    const sharedSizes = await this.lockSharedInTx(tx, entries);
    const restored: MailboxEntry[] = [];
    for (const entry of entries) {
      const writer = writers.get(entry);
      let messageId: number;
      let size: number;
      if (writer) {
        messageId = await this.messages.storeMessageInTx(tx, writer, new Date(entry.internalDateMs), entry.headers, null);
        size = writer.size;
      } else {
        messageId = (entry.body as { messageId: number }).messageId;
        size = sharedSizes.get(messageId)!;
      }
      restored.push({
        mailboxId,
        uid: entry.uid,
        messageId,
        flags: entry.flags,
        modseq: entry.modseq,
        size,
        internalDate: new Date(entry.internalDateMs),
      });
    }
    // Each entry's flags as one space-separated text (flags never hold spaces): one statement.
    await tx.rows(
      `INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq, size, internal_date)
       SELECT $1, s.uid, s.message_id, string_to_array(s.flags, ' '), s.modseq, s.size, s.internal_date
       FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::timestamptz[])
         AS s(uid, message_id, flags, modseq, size, internal_date)`,
      [
        mailboxId,
        restored.map((e) => e.uid),
        restored.map((e) => e.messageId),
        restored.map((e) => e.flags.join(' ')),
        restored.map((e) => e.modseq),
        restored.map((e) => e.size),
        restored.map((e) => e.internalDate),
      ],
    );
    const bytes = restored.reduce((sum, e) => sum + e.size, 0);
    await tx.rows(
      `UPDATE mailboxes SET uid_next = GREATEST(uid_next, $2), highest_modseq = GREATEST(highest_modseq, $3),
         message_count = message_count + $4, total_bytes = total_bytes + $5
       WHERE id = $1`,
      [mailboxId, restored[restored.length - 1]!.uid + 1, restored.reduce((max, e) => Math.max(max, e.modseq), 0), restored.length, bytes],
    );
    // Quota is not checked: the copy must be whole even for a user over quota.
    await this.messages.addUsedBytesInTx(tx, mailbox.userId, bytes);
    tx.touch(mailboxId);
    return restored;
  }

  /**
   * Inside a transaction, after the mailbox lock: locks the messages entries are to share (so
   * an expunge elsewhere cannot delete one before this commits) and returns their sizes.
   * 'not-found' for a missing one, 'invalid' when its internal date is not the entry's.
   */
  private async lockSharedInTx(tx: Tx, entries: readonly CheckedEntry[]): Promise<Map<number, number>> {
    const shared = entries.filter((e) => 'messageId' in e.body);
    if (shared.length === 0) return new Map();
    const ids = [...new Set(shared.map((e) => (e.body as { messageId: number }).messageId))].sort((a, b) => a - b);
    const rows = await tx.rows<{ id: number; size: number; internal_date: Date }>(
      'SELECT id, size, internal_date FROM messages WHERE id = ANY($1) ORDER BY id FOR SHARE',
      [ids],
    );
    const found = new Map(rows.map((r) => [r.id, r]));
    for (const entry of shared) {
      const messageId = (entry.body as { messageId: number }).messageId;
      const row = found.get(messageId);
      if (!row) throw new StoreError('not-found', `no message ${messageId}`);
      if (row.internal_date.getTime() !== entry.internalDateMs) {
        throw new StoreError('invalid', `message ${messageId} has another internal date`);
      }
    }
    return new Map(rows.map((r) => [r.id, r.size]));
  }
}
