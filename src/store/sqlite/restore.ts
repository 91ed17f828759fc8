/**
 * RestoreStore on SQLite: mailboxes and entries recreated with the UIDVALIDITY, UIDs and
 * modseqs they had in another store (`wharf store copy`).
 *
 * Restored bodies go through the same writers, commit step and message rows as append, so
 * their MIME structure and search text are worked out while they stream in and the index
 * worker picks them up like any other message.
 */
import { commitWithAll } from '../chunked-body-writer.js';
import { normalizeEntryRestores, normalizeMailboxRestore } from '../normalize.js';
import { StoreError, type EntryRestore, type Mailbox, type MailboxEntry, type MailboxRestore } from '../types.js';
import type { BodyStore, SqliteBodyWriter } from './bodies.js';
import type { Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import type { Db } from './schema.js';
import type { Subscriptions } from './subscriptions.js';
import type { WriteQueue } from './write-queue.js';

type CheckedEntry = ReturnType<typeof normalizeEntryRestores>[number];

export class Restores {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
    private readonly bodies: BodyStore,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
    private readonly subscriptions: Subscriptions,
  ) {
    this.stmts = {
      userExists: db.prepare('SELECT 1 FROM users WHERE id = ?').pluck(),
      insertMailbox: db
        .prepare(
          `INSERT INTO mailboxes (user_id, name, role, uid_validity, uid_next, highest_modseq, pruned_modseq)
           VALUES (@user, @name, @role, @uidValidity, @uidNext, @highestModseq, @highestModseq) RETURNING id`,
        )
        .pluck(),
      // Expunges before the restore are not carried over: changesSince from below the
      // restored modseq must say it is incomplete.
      raiseCounters: db.prepare(
        `UPDATE mailboxes SET role = @role, uid_next = MAX(uid_next, @uidNext),
           highest_modseq = MAX(highest_modseq, @highestModseq),
           pruned_modseq = MAX(pruned_modseq, @highestModseq)
         WHERE id = @id`,
      ),
      adoptUidValidity: db.prepare(
        `UPDATE mailboxes SET role = @role, uid_validity = @uidValidity, uid_next = @uidNext, recent_uid = 0,
           highest_modseq = MAX(highest_modseq, @highestModseq),
           pruned_modseq = MAX(highest_modseq, @highestModseq)
         WHERE id = @id`,
      ),
      forgetExpunged: db.prepare('DELETE FROM expunged WHERE mailbox_id = ?'),
      hasEntries: db.prepare('SELECT 1 FROM mailbox_entries WHERE mailbox_id = ? LIMIT 1').pluck(),
      raiseLastUidValidity: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('last_uid_validity', ?)
         ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)`,
      ),
      unsubscribe: db.prepare('DELETE FROM subscriptions WHERE user_id = ? AND name = ?'),
      highestUid: db.prepare('SELECT MAX(uid) FROM mailbox_entries WHERE mailbox_id = ?').pluck(),
      message: db.prepare('SELECT size, internal_date FROM messages WHERE id = ?'),
      insertEntry: db.prepare(
        'INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq) VALUES (?, ?, ?, ?, ?)',
      ),
      growMailbox: db.prepare(
        `UPDATE mailboxes SET uid_next = MAX(uid_next, @uidNext), highest_modseq = MAX(highest_modseq, @modseq),
           message_count = message_count + @count, total_bytes = total_bytes + @bytes
         WHERE id = @id`,
      ),
    };
  }

  async restoreMailbox(userId: number, input: MailboxRestore): Promise<Mailbox> {
    const wanted = normalizeMailboxRestore(input);
    return this.queue.run((tx) => {
      if (!this.stmts.userExists.get(userId)) throw new StoreError('not-found', `no user ${userId}`);
      const existing = this.mailboxes.getInTx(userId, wanted.name);
      const values = { ...wanted, user: userId, id: existing?.id ?? 0 };
      let id: number;
      if (!existing) {
        id = this.stmts.insertMailbox.get(values) as number;
      } else if (existing.uidValidity === wanted.uidValidity) {
        this.stmts.raiseCounters.run(values);
        id = existing.id;
      } else if (!this.stmts.hasEntries.get(existing.id)) {
        // An empty mailbox (typically a default one addUser made) takes the source's identity:
        // a client that cached the old UIDVALIDITY had nothing in it to lose.
        this.stmts.adoptUidValidity.run(values);
        this.stmts.forgetExpunged.run(existing.id);
        id = existing.id;
      } else {
        throw new StoreError(
          'conflict',
          `mailbox ${JSON.stringify(wanted.name)} exists with another UIDVALIDITY (${existing.uidValidity}) and holds messages`,
        );
      }
      // Mailboxes created later must never reuse a restored UIDVALIDITY.
      this.stmts.raiseLastUidValidity.run(wanted.uidValidity);
      if (wanted.subscribed) this.subscriptions.addInTx(userId, wanted.name);
      else this.stmts.unsubscribe.run(userId, wanted.name);
      tx.touch(id);
      return this.mailboxes.requireInTx(id);
    });
  }

  async restoreEntries(mailboxId: number, input: EntryRestore[]): Promise<MailboxEntry[]> {
    const entries = normalizeEntryRestores(input);
    const writers = new Map<CheckedEntry, SqliteBodyWriter>();
    for (const entry of entries) {
      if (!('messageId' in entry.body)) writers.set(entry, this.bodies.claim(entry.body));
    }
    const commit = () => {
      // Finished here rather than inside the shared write transaction.
      for (const writer of writers.values()) writer.analysis();
      return this.queue.run((tx) => {
        const mailbox = this.mailboxes.requireInTx(mailboxId);
        if (entries.length === 0) return [];
        const highest = (this.stmts.highestUid.get(mailboxId) as number | null) ?? 0;
        if (entries[0]!.uid <= highest) {
          throw new StoreError('conflict', `UID ${entries[0]!.uid} is not above UID ${highest} of mailbox ${mailboxId}`);
        }
        let bytes = 0;
        let modseq = 0;
        const restored = entries.map((entry): MailboxEntry => {
          const writer = writers.get(entry);
          let messageId: number;
          let size: number;
          if (writer) {
            messageId = this.messages.storeMessageInTx(tx, writer, entry.internalDateMs, entry.headers, null);
            size = writer.size;
          } else {
            messageId = (entry.body as { messageId: number }).messageId;
            size = this.sharedMessageSize(messageId, entry.internalDateMs);
          }
          this.stmts.insertEntry.run(mailboxId, entry.uid, messageId, entry.flags.join(' '), entry.modseq);
          bytes += size;
          modseq = Math.max(modseq, entry.modseq);
          return {
            mailboxId,
            uid: entry.uid,
            messageId,
            flags: entry.flags,
            modseq: entry.modseq,
            size,
            internalDate: new Date(entry.internalDateMs),
          };
        });
        this.stmts.growMailbox.run({
          id: mailboxId,
          uidNext: entries[entries.length - 1]!.uid + 1,
          modseq,
          count: entries.length,
          bytes,
        });
        this.messages.addUsedBytesInTx(mailbox.userId, bytes);
        tx.touch(mailboxId);
        return restored;
      });
    };
    return commitWithAll([...writers.values()], commit);
  }

  /** The size of a message an entry is to share; its internal date must be the entry's. */
  private sharedMessageSize(messageId: number, internalDateMs: number): number {
    const row = this.stmts.message.get(messageId) as { size: number; internal_date: number } | undefined;
    if (!row) throw new StoreError('not-found', `no message ${messageId}`);
    if (row.internal_date !== internalDateMs) {
      throw new StoreError('invalid', `message ${messageId} has another internal date`);
    }
    return row.size;
  }
}
