/**
 * Deleting and renaming mailboxes (IMAP DELETE and RENAME), including RENAME's INBOX case:
 * its entries move to a new mailbox and INBOX stays, empty.
 */
import { StoreError, type Mailbox } from '../types.js';
import { normalizeMailboxName } from '../normalize.js';
import type { Entries } from './entries.js';
import type { Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import type { Db } from './schema.js';
import type { Subscriptions } from './subscriptions.js';
import type { Transfers } from './transfer.js';
import type { WriteQueue } from './write-queue.js';

export class MailboxTree {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
    private readonly entries: Entries,
    private readonly transfers: Transfers,
    private readonly subscriptions: Subscriptions,
  ) {
    this.stmts = {
      messagesOf: db.prepare('SELECT DISTINCT message_id FROM mailbox_entries WHERE mailbox_id = ?').pluck(),
      deleteMailbox: db.prepare('DELETE FROM mailboxes WHERE id = ?'),
      uidsOf: db.prepare('SELECT uid FROM mailbox_entries WHERE mailbox_id = ? ORDER BY uid').pluck(),
      subtree: db.prepare(
        `SELECT id, name FROM mailboxes
         WHERE user_id = @user AND (name = @old OR substr(name, 1, length(@old) + 1) = @old || '/')`,
      ),
      setName: db.prepare('UPDATE mailboxes SET name = ? WHERE id = ?'),
    };
  }

  async delete(mailboxId: number): Promise<void> {
    return this.queue.run((tx) => {
      const mailbox = this.mailboxes.requireInTx(mailboxId);
      if (mailbox.name === 'INBOX') throw new StoreError('invalid', 'INBOX cannot be deleted');
      const messageIds = this.stmts.messagesOf.all(mailboxId) as number[];
      this.messages.addUsedBytesInTx(mailbox.userId, -mailbox.totalBytes);
      this.stmts.deleteMailbox.run(mailboxId); // cascades to its entries and expunge records
      for (const id of messageIds) this.messages.deleteIfUnusedInTx(id);
      // Watchers (e.g. a session that has it selected) learn that it is gone.
      tx.touch(mailboxId);
    });
  }

  async rename(userId: number, oldName: string, newName: string): Promise<Mailbox> {
    const from = normalizeMailboxName(oldName);
    const to = normalizeMailboxName(newName);
    return this.queue.run((tx) => {
      const source = this.mailboxes.getInTx(userId, from);
      if (!source) throw new StoreError('not-found', `no mailbox ${JSON.stringify(from)}`);
      if (from === 'INBOX') {
        if (this.mailboxes.getInTx(userId, to)) {
          throw new StoreError('conflict', `mailbox ${JSON.stringify(to)} exists`);
        }
        const target = this.mailboxes.insertInTx(userId, to, null);
        const rows = this.entries.rowsInTx(source.id, this.stmts.uidsOf.all(source.id) as number[]);
        this.transfers.moveInTx(tx, source, rows, target);
        return this.mailboxes.requireInTx(target.id);
      }
      if (to.startsWith(`${from}/`)) {
        throw new StoreError('invalid', `cannot rename ${JSON.stringify(from)} below itself`);
      }
      const subtree = this.stmts.subtree.all({ user: userId, old: from }) as Array<{ id: number; name: string }>;
      const renamed = new Set(subtree.map((m) => m.id));
      const moves = subtree.map((m) => ({ id: m.id, name: to + m.name.slice(from.length) }));
      for (const { name } of moves) {
        const existing = this.mailboxes.getInTx(userId, name);
        if (existing && !renamed.has(existing.id)) {
          throw new StoreError('conflict', `mailbox ${JSON.stringify(name)} exists`);
        }
      }
      // Through names no mailbox can have (control characters are invalid), so that a new
      // name may be one the subtree itself holds until the end (renaming 'a/b' to 'a' turns
      // 'a/b/b' into 'a/b').
      for (const { id } of moves) this.stmts.setName.run(`\u0000${id}`, id);
      for (const { id, name } of moves) this.stmts.setName.run(name, id);
      this.subscriptions.renameInTx(userId, from, to);
      return this.mailboxes.requireInTx(source.id);
    });
  }
}
