/**
 * Deleting and renaming mailboxes (IMAP DELETE and RENAME), including RENAME's INBOX case:
 * its entries move to a new mailbox and INBOX stays, empty.
 */
import { StoreError, type Mailbox } from '../types.js';
import { normalizeMailboxName } from '../normalize.js';
import type { Database } from './db.js';
import type { Entries } from './entries.js';
import { isId, type Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import type { Transfers } from './transfer.js';

export class MailboxTree {
  constructor(
    private readonly db: Database,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
    private readonly entries: Entries,
    private readonly transfers: Transfers,
  ) {}

  async delete(mailboxId: number): Promise<void> {
    return this.db.transaction(async (tx) => {
      const mailbox = await this.mailboxes.lockOneInTx(tx, mailboxId);
      if (mailbox.name === 'INBOX') throw new StoreError('invalid', 'INBOX cannot be deleted');
      const messageIds = (
        await tx.rows<{ message_id: number }>('SELECT DISTINCT message_id FROM mailbox_entries WHERE mailbox_id = $1', [
          mailboxId,
        ])
      ).map((r) => r.message_id);
      await tx.rows('DELETE FROM mailboxes WHERE id = $1', [mailboxId]); // cascades to entries and expunge records
      await this.messages.deleteUnusedInTx(tx, messageIds);
      await this.messages.addUsedBytesInTx(tx, mailbox.userId, -mailbox.totalBytes);
      // Watchers (e.g. a session that has it selected) learn that it is gone.
      tx.touch(mailboxId);
    });
  }

  async rename(userId: number, oldName: string, newName: string): Promise<Mailbox> {
    const from = normalizeMailboxName(oldName);
    const to = normalizeMailboxName(newName);
    if (!isId(userId)) throw new StoreError('not-found', `no mailbox ${JSON.stringify(from)}`);
    return this.db.transaction(async (tx) => {
      const found = await this.mailboxes.getInTx(tx, userId, from);
      if (!found) throw new StoreError('not-found', `no mailbox ${JSON.stringify(from)}`);
      if (from === 'INBOX') {
        if (await this.mailboxes.getInTx(tx, userId, to)) {
          throw new StoreError('conflict', `mailbox ${JSON.stringify(to)} exists`);
        }
        const created = await this.mailboxes.insertInTx(tx, userId, to, null);
        const locked = await this.mailboxes.lockInTx(tx, [found.id, created.id]);
        const source = locked.get(found.id)!;
        const rows = await this.entries.allRowsInTx(tx, source.id);
        await this.transfers.moveInTx(tx, source, rows, locked.get(created.id)!);
        return this.mailboxes.requireInTx(tx, created.id);
      }
      if (to.startsWith(`${from}/`)) {
        throw new StoreError('invalid', `cannot rename ${JSON.stringify(from)} below itself`);
      }
      const subtree = await this.mailboxes.subtreeInTx(tx, userId, from);
      await this.mailboxes.lockInTx(
        tx,
        subtree.map((m) => m.id),
      );
      const renamed = new Set(subtree.map((m) => m.id));
      const moves = subtree.map((m) => ({ id: m.id, name: to + m.name.slice(from.length) }));
      const clash = await tx.one<{ id: number; name: string }>(
        'SELECT id, name FROM mailboxes WHERE user_id = $1 AND name = ANY($2) AND NOT (id = ANY($3))',
        [userId, moves.map((m) => m.name), [...renamed]],
      );
      if (clash) throw new StoreError('conflict', `mailbox ${JSON.stringify(clash.name)} exists`);
      const ids = moves.map((m) => m.id);
      // Through names no mailbox can have (control characters are invalid), so that a new
      // name may be one the subtree itself holds until the end (renaming 'a/b' to 'a' turns
      // 'a/b/b' into 'a/b'): the unique index is checked row by row.
      await tx.rows(`UPDATE mailboxes SET name = chr(1) || id WHERE id = ANY($1)`, [ids]);
      await tx.rows(
        `UPDATE mailboxes m SET name = s.name FROM unnest($1::bigint[], $2::text[]) AS s(id, name) WHERE m.id = s.id`,
        [ids, moves.map((m) => m.name)],
      );
      await this.mailboxes.renameSubscriptionsInTx(tx, userId, from, to);
      return this.mailboxes.requireInTx(tx, found.id);
    });
  }
}
