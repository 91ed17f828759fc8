/**
 * COPY and MOVE (RFC 6851): new entries in the destination pointing at the same stored
 * messages (bodies are shared, never duplicated), with UIDs allocated in ascending source-UID
 * order in one step, all under one new modseq of the destination.
 */
import type { CopyResult, Mailbox } from '../types.js';
import { checkUids } from '../normalize.js';
import type { Database, Tx } from './db.js';
import type { Entries } from './entries.js';
import type { Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import type { EntryRow } from './rows.js';

export class Transfers {
  constructor(
    private readonly db: Database,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
    private readonly entries: Entries,
  ) {}

  async copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    const sorted = checkUids(uids);
    return this.db.transaction(async (tx) => {
      const { source, target } = await this.lockPair(tx, fromMailboxId, toMailboxId);
      const rows = await this.entries.rowsInTx(tx, source.id, sorted);
      return this.copyInTx(tx, source, rows, target, true);
    });
  }

  async move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    const sorted = checkUids(uids);
    return this.db.transaction(async (tx) => {
      const { source, target } = await this.lockPair(tx, fromMailboxId, toMailboxId);
      const rows = await this.entries.rowsInTx(tx, source.id, sorted);
      return this.moveInTx(tx, source, rows, target);
    });
  }

  /** Inside a transaction, both mailboxes locked: moves entries (rows of `source`) to `target`. */
  async moveInTx(tx: Tx, source: Mailbox, rows: EntryRow[], target: Mailbox): Promise<CopyResult> {
    // Moving within one user's mailboxes does not grow their mail: no quota check then.
    // Copy first so the shared messages are still in use when the source entries go.
    const result = await this.copyInTx(tx, source, rows, target, source.userId !== target.userId);
    await this.messages.removeEntriesInTx(tx, source, rows, true);
    return result;
  }

  private async copyInTx(
    tx: Tx,
    source: Mailbox,
    rows: EntryRow[],
    target: Mailbox,
    enforceQuota: boolean,
  ): Promise<CopyResult> {
    const mapping: Array<[number, number]> = [];
    if (rows.length > 0) {
      const bytes = rows.reduce((sum, row) => sum + row.size, 0);
      // Reserves rows.length UIDs at once: the copies take first_uid .. first_uid + n - 1.
      const slot = (await tx.one<{ first_uid: number; modseq: number }>(
        `UPDATE mailboxes SET uid_next = uid_next + $2, highest_modseq = highest_modseq + 1,
           message_count = message_count + $2, total_bytes = total_bytes + $3
         WHERE id = $1 RETURNING uid_next - $2 AS first_uid, highest_modseq AS modseq`,
        [target.id, rows.length, bytes],
      ))!;
      // Copied server-side from the source rows (read under the same locks): the n-th
      // source UID in ascending order takes first_uid + n - 1.
      await tx.rows(
        `INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq, size, internal_date)
         SELECT $1, $2 + ROW_NUMBER() OVER (ORDER BY uid) - 1, message_id, flags, $3, size, internal_date
         FROM mailbox_entries WHERE mailbox_id = $4 AND uid = ANY($5)`,
        [target.id, slot.first_uid, slot.modseq, source.id, rows.map((r) => r.uid)],
      );
      rows.forEach((row, i) => mapping.push([row.uid, slot.first_uid + i]));
      await this.messages.addUsedBytesInTx(tx, target.userId, bytes, enforceQuota);
      tx.touch(target.id);
    }
    return { uidValidity: target.uidValidity, mapping };
  }

  private async lockPair(tx: Tx, fromId: number, toId: number): Promise<{ source: Mailbox; target: Mailbox }> {
    const locked = await this.mailboxes.lockInTx(tx, [fromId, toId]);
    return { source: locked.get(fromId)!, target: locked.get(toId)! };
  }
}
