/**
 * COPY and MOVE (RFC 6851): new entries in the destination pointing at the same stored
 * messages (bodies are shared, never duplicated), with UIDs allocated in ascending source-UID
 * order in one step, all under one new modseq of the destination.
 */
import type { CopyResult, Mailbox } from '../types.js';
import type { Entries } from './entries.js';
import type { Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import { checkUids, type EntryRow } from './rows.js';
import type { Db } from './schema.js';
import { NotDurableError, type TxContext, type WriteQueue } from './write-queue.js';

export class Transfers {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
    private readonly entries: Entries,
  ) {
    this.stmts = {
      // Reserves `count` UIDs at once: the new entries take uid_next .. uid_next + count - 1.
      allocateUids: db.prepare(
        `UPDATE mailboxes SET uid_next = uid_next + @count, highest_modseq = highest_modseq + 1,
           message_count = message_count + @count, total_bytes = total_bytes + @bytes
         WHERE id = @id RETURNING uid_next - @count AS first_uid, highest_modseq AS modseq`,
      ),
      // The copies as one JSON array of [message id, flags]; the n-th takes UID first + n.
      insertEntries: db.prepare(
        `INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq)
         SELECT @id, @first + j.key, j.value ->> 0, j.value ->> 1, @modseq FROM json_each(@rows) j`,
      ),
    };
  }

  async copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    const sorted = checkUids(uids);
    try {
      return await this.queue.run((tx) => {
        const { source, target } = this.requirePair(fromMailboxId, toMailboxId);
        const rows = this.entries.rowsInTx(source.id, sorted);
        this.messages.checkQuotaInTx(target.userId, sumSizes(rows));
        return this.copyInTx(tx, rows, target);
      });
    } catch (err) {
      // Committed but its fsync failed: the client hears NO, so the copies go again (best
      // effort, as a delivery's message does). A MOVE is left as it is: taking it back would
      // expunge the copies and re-add the originals under new UIDs, and nothing is lost as it stands.
      if (err instanceof NotDurableError) {
        const copies = (err.committed as CopyResult).mapping.map(([, uid]) => uid);
        await this.queue
          .run((tx) => this.messages.removeEntriesInTx(tx, this.mailboxes.requireInTx(toMailboxId), this.entries.rowsInTx(toMailboxId, copies)))
          .catch(() => undefined);
      }
      throw err;
    }
  }

  async move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    const sorted = checkUids(uids);
    return this.queue.run((tx) => {
      const { source, target } = this.requirePair(fromMailboxId, toMailboxId);
      const rows = this.entries.rowsInTx(source.id, sorted);
      // Moving within one user's mailboxes does not grow their mail.
      if (source.userId !== target.userId) this.messages.checkQuotaInTx(target.userId, sumSizes(rows));
      return this.moveInTx(tx, source, rows, target);
    });
  }

  /** Inside a write transaction: moves entries (rows of `source`) to `target`. */
  moveInTx(tx: TxContext, source: Mailbox, rows: EntryRow[], target: Mailbox): CopyResult {
    // Copy first so the shared messages are still in use when the source entries go.
    const result = this.copyInTx(tx, rows, target);
    this.messages.removeEntriesInTx(tx, source, rows, true);
    return result;
  }

  private copyInTx(tx: TxContext, rows: EntryRow[], target: Mailbox): CopyResult {
    const mapping: Array<[number, number]> = [];
    if (rows.length > 0) {
      const bytes = sumSizes(rows);
      const slot = this.stmts.allocateUids.get({ count: rows.length, bytes, id: target.id }) as {
        first_uid: number;
        modseq: number;
      };
      this.stmts.insertEntries.run({
        id: target.id,
        first: slot.first_uid,
        modseq: slot.modseq,
        rows: JSON.stringify(rows.map((row) => [row.message_id, row.flags])),
      });
      rows.forEach((row, i) => mapping.push([row.uid, slot.first_uid + i]));
      this.messages.addUsedBytesInTx(target.userId, bytes);
      tx.touch(target.id);
    }
    return { uidValidity: target.uidValidity, mapping };
  }

  private requirePair(fromMailboxId: number, toMailboxId: number): { source: Mailbox; target: Mailbox } {
    return { source: this.mailboxes.requireInTx(fromMailboxId), target: this.mailboxes.requireInTx(toMailboxId) };
  }
}

function sumSizes(rows: readonly EntryRow[]): number {
  return rows.reduce((sum, row) => sum + row.size, 0);
}
