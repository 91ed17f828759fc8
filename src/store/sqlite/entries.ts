/**
 * Reading and changing the entries of a mailbox: listing by UID range, flags (with
 * CONDSTORE's UNCHANGEDSINCE), expunge, and the change log CONDSTORE/QRESYNC read.
 *
 * A list of UIDs reaches SQLite as one JSON array, so an operation on 100,000 entries is one
 * read statement, not 100,000.
 */
import {
  StoreError,
  type EntryRange,
  type MailboxSummary,
  type FlagOperation,
  type FlagUpdate,
  type MailboxChanges,
  type MailboxEntry,
} from '../types.js';
import { applyFlagOperation, checkBound, checkFlagRequest, checkModseq, sameFlags } from '../normalize.js';
import type { Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import { ENTRY_IN_UIDS, ENTRY_SELECT, checkUids, parseFlags, toEntry, type EntryRow } from './rows.js';
import type { Db } from './schema.js';
import { NotDurableError, type WriteQueue } from './write-queue.js';

/** Above any UID (UIDs are 32-bit in IMAP). */
const UID_MAX = Number.MAX_SAFE_INTEGER;



export class Entries {
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
  ) {
    this.stmts = {
      // The primary key (mailbox_id, uid) serves the range and the order: one index walk.
      range: db.prepare(
        `${ENTRY_SELECT} WHERE e.mailbox_id = ? AND e.uid >= ? AND e.uid <= ? ORDER BY e.uid LIMIT ?`,
      ),
      uids: db.prepare('SELECT uid FROM mailbox_entries WHERE mailbox_id = ? ORDER BY uid').pluck(),
      // Flags are stored space-separated; padding with spaces makes the match a whole flag.
      firstUnseen: db
        .prepare(
          `SELECT uid FROM mailbox_entries WHERE mailbox_id = ? AND (' ' || flags || ' ') NOT LIKE '% \\Seen %' ESCAPE '!'
           ORDER BY uid LIMIT 1`,
        )
        .pluck(),
      flagSets: db.prepare(`SELECT DISTINCT flags FROM mailbox_entries WHERE mailbox_id = ? AND flags <> ''`).pluck(),
      byUids: db.prepare(`${ENTRY_SELECT} WHERE ${ENTRY_IN_UIDS} ORDER BY e.uid`),
      changedSince: db.prepare(`${ENTRY_SELECT} WHERE e.mailbox_id = ? AND e.modseq > ? ORDER BY e.uid`),
      expungedSince: db.prepare('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck(),
      prunedModseq: db.prepare('SELECT pruned_modseq FROM mailboxes WHERE id = ?').pluck(),
      recentUid: db.prepare('SELECT recent_uid FROM mailboxes WHERE id = ?').pluck(),
      setRecentUid: db.prepare('UPDATE mailboxes SET recent_uid = ? WHERE id = ? AND recent_uid < ?'),
      bumpModseq: db
        .prepare('UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
        .pluck(),
      updateFlags: db.prepare(
        `UPDATE mailbox_entries SET flags = ?, modseq = ?
         WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))`,
      ),
      notePruned: db.prepare(
        `UPDATE mailboxes SET pruned_modseq = MAX(pruned_modseq,
           (SELECT MAX(x.modseq) FROM expunged x WHERE x.mailbox_id = mailboxes.id AND x.expunged_at < @before))
         WHERE id IN (SELECT mailbox_id FROM expunged WHERE expunged_at < @before)`,
      ),
      prune: db.prepare('DELETE FROM expunged WHERE expunged_at < ?'),
    };
  }

  async summarize(mailboxId: number): Promise<MailboxSummary> {
    const keywords = new Set<string>();
    for (const set of this.stmts.flagSets.all(mailboxId) as string[]) {
      for (const flag of set.split(' ')) if (flag && !flag.startsWith('\\')) keywords.add(flag);
    }
    return {
      uids: this.stmts.uids.all(mailboxId) as number[],
      firstUnseenUid: (this.stmts.firstUnseen.get(mailboxId) as number | undefined) ?? null,
      keywords: [...keywords],
    };
  }

  async list(mailboxId: number, range: EntryRange = {}): Promise<MailboxEntry[]> {
    const from = checkBound(range.fromUid, 'fromUid', 1);
    const to = checkBound(range.toUid, 'toUid', UID_MAX);
    const limit = checkBound(range.limit, 'limit', -1);
    return (this.stmts.range.all(mailboxId, from, to, limit) as EntryRow[]).map(toEntry);
  }

  /** Inside a transaction: the entries of `uids` that exist, in ascending UID order. */
  rowsInTx(mailboxId: number, uids: readonly number[]): EntryRow[] {
    return uids.length === 0 ? [] : (this.stmts.byUids.all(mailboxId, JSON.stringify(uids)) as EntryRow[]);
  }

  async setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    options: { unchangedSince?: number } = {},
  ): Promise<FlagUpdate> {
    const { wanted, sorted, unchangedSince } = checkFlagRequest(uids, op, flags, options);
    /** UID → its flags before this change, to restore them if the change cannot be made durable. */
    const previous = new Map<number, string>();
    try {
      return await this.setFlagsOnce(mailboxId, sorted, op, wanted, unchangedSince, previous);
    } catch (err) {
      if (err instanceof NotDurableError) await this.restoreFlags(mailboxId, (err.committed as FlagUpdate).updated, previous);
      throw err;
    }
  }

  /**
   * A flag change was committed but its fsync failed, so the client hears NO: the flags go
   * back to what they were (where nobody changed them since), best effort, as deliveries do.
   */
  private async restoreFlags(mailboxId: number, updated: readonly MailboxEntry[], previous: ReadonlyMap<number, string>): Promise<void> {
    if (updated.length === 0) return;
    await this.queue
      .run((tx) => {
        const ours = new Map(updated.map((e) => [e.uid, e.modseq]));
        const rows = this.rowsInTx(mailboxId, [...ours.keys()]).filter((r) => ours.get(r.uid) === r.modseq && previous.has(r.uid));
        if (rows.length === 0) return;
        const modseq = this.stmts.bumpModseq.get(mailboxId) as number;
        for (const row of rows) this.stmts.updateFlags.run(previous.get(row.uid)!, modseq, mailboxId, JSON.stringify([row.uid]));
        tx.touch(mailboxId);
      })
      .catch(() => undefined);
  }

  private setFlagsOnce(
    mailboxId: number,
    sorted: number[],
    op: FlagOperation,
    wanted: string[],
    unchangedSince: number | null,
    previous: Map<number, string>,
  ): Promise<FlagUpdate> {
    return this.queue.run((tx) => {
      this.mailboxes.requireInTx(mailboxId);
      const changed: EntryRow[] = [];
      const modified: number[] = [];
      for (const row of this.rowsInTx(mailboxId, sorted)) {
        if (unchangedSince !== null && row.modseq > unchangedSince) {
          modified.push(row.uid);
          continue;
        }
        const current = parseFlags(row.flags);
        const next = applyFlagOperation(current, op, wanted);
        if (sameFlags(current, next)) continue;
        previous.set(row.uid, row.flags);
        row.flags = next.join(' ');
        changed.push(row);
      }
      if (changed.length === 0) return { updated: [], modified };
      // One modseq for the whole command, taken only because some entry really changes; one
      // UPDATE per distinct resulting flag set (usually one for the whole command).
      const modseq = this.stmts.bumpModseq.get(mailboxId) as number;
      const byFlags = new Map<string, number[]>();
      for (const row of changed) {
        row.modseq = modseq;
        const uids = byFlags.get(row.flags);
        if (uids) uids.push(row.uid);
        else byFlags.set(row.flags, [row.uid]);
      }
      for (const [flagText, uids] of byFlags) {
        this.stmts.updateFlags.run(flagText, modseq, mailboxId, JSON.stringify(uids));
      }
      tx.touch(mailboxId);
      return { updated: changed.map(toEntry), modified };
    });
  }

  async expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    const sorted = checkUids(uids);
    return this.queue.run((tx) => {
      const mailbox = this.mailboxes.requireInTx(mailboxId);
      return this.messages.removeEntriesInTx(tx, mailbox, this.rowsInTx(mailboxId, sorted));
    });
  }

  async claimRecent(mailboxId: number, upToUid: number): Promise<number> {
    const uid = checkBound(upToUid, 'UID', 0);
    const current = this.stmts.recentUid.get(mailboxId) as number | undefined;
    if (current === undefined) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
    // Nothing new to claim (the usual SELECT): a read, no write.
    if (current >= uid) return current;
    return this.queue.run(() => {
      const before = this.stmts.recentUid.get(mailboxId) as number | undefined;
      if (before === undefined) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
      if (before < uid) this.stmts.setRecentUid.run(uid, mailboxId, uid);
      return before;
    });
  }

  async changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    checkModseq(modseq, 'modseq');
    // One read transaction, so the reads see the same snapshot even while another process
    // is writing.
    const read = this.db.transaction((): MailboxChanges => {
      const highestModseq = this.mailboxes.highestModseq(mailboxId);
      if (highestModseq === null) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
      return {
        highestModseq,
        changed: (this.stmts.changedSince.all(mailboxId, modseq) as EntryRow[]).map(toEntry),
        expunged: this.stmts.expungedSince.all(mailboxId, modseq) as number[],
        complete: modseq >= (this.stmts.prunedModseq.get(mailboxId) as number),
      };
    });
    return read();
  }

  async pruneExpunged(before: Date): Promise<number> {
    const ms = before instanceof Date ? before.getTime() : NaN;
    if (!Number.isFinite(ms)) throw new StoreError('invalid', 'invalid date');
    return this.queue.run(() => {
      this.stmts.notePruned.run({ before: ms });
      return this.stmts.prune.run(ms).changes;
    });
  }
}
