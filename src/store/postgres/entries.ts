/**
 * Reading and changing the entries of a mailbox: listing by UID range, flags (with
 * CONDSTORE's UNCHANGEDSINCE), expunge, and the change log CONDSTORE/QRESYNC read.
 *
 * A list of UIDs goes to PostgreSQL as one array parameter, so an operation on 100,000
 * entries is a handful of statements, not 100,000.
 */
import {
  StoreError,
  type EntryRange,
  type FlagOperation,
  type FlagUpdate,
  type MailboxChanges,
  type MailboxEntry,
  type MailboxSummary,
} from '../types.js';
import { applyFlagOperation, checkBound, checkFlagRequest, checkModseq, checkUids, sameFlags } from '../normalize.js';
import type { Database, Tx } from './db.js';
import { isId, type Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import { ABOVE_ALL, ENTRY_COLUMNS, modseqBound, toEntry, type EntryRow } from './rows.js';



export class Entries {
  constructor(
    private readonly db: Database,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
  ) {}

  async summarize(mailboxId: number): Promise<MailboxSummary> {
    if (!isId(mailboxId)) return { uids: [], firstUnseenUid: null, keywords: [] };
    // One statement, so the three answers come from one snapshot.
    const row = await this.db.one<{ uids: number[] | null; first_unseen: number | null; keywords: string[] | null }>(
      `SELECT
         (SELECT array_agg(uid ORDER BY uid) FROM mailbox_entries WHERE mailbox_id = $1) AS uids,
         (SELECT uid FROM mailbox_entries WHERE mailbox_id = $1 AND NOT ($2 = ANY(flags))
          ORDER BY uid LIMIT 1) AS first_unseen,
         (SELECT array_agg(DISTINCT f) FROM mailbox_entries, unnest(flags) AS f
          WHERE mailbox_id = $1 AND left(f, 1) <> '\\') AS keywords`,
      [mailboxId, '\\Seen'],
    );
    return { uids: row?.uids ?? [], firstUnseenUid: row?.first_unseen ?? null, keywords: row?.keywords ?? [] };
  }

  async list(mailboxId: number, range: EntryRange = {}): Promise<MailboxEntry[]> {
    const from = checkBound(range.fromUid, 'fromUid', 1);
    const to = checkBound(range.toUid, 'toUid', ABOVE_ALL);
    const limit = checkBound(range.limit, 'limit', null);
    if (!isId(mailboxId)) return [];
    // The primary key (mailbox_id, uid) serves the range and the order: one index walk.
    const rows = await this.db.rows<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM mailbox_entries WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3
       ORDER BY uid LIMIT $4`,
      [mailboxId, from, to, limit],
    );
    return rows.map(toEntry);
  }

  /** Inside a transaction: the entries of `uids` (sorted) that exist, in ascending UID order. */
  async rowsInTx(tx: Tx, mailboxId: number, uids: readonly number[]): Promise<EntryRow[]> {
    if (uids.length === 0) return [];
    return tx.rows<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM mailbox_entries WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid`,
      [mailboxId, uids],
    );
  }

  /** Inside a transaction: every entry of the mailbox, in ascending UID order. */
  async allRowsInTx(tx: Tx, mailboxId: number): Promise<EntryRow[]> {
    return tx.rows<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM mailbox_entries WHERE mailbox_id = $1 ORDER BY uid`, [
      mailboxId,
    ]);
  }

  async setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    options: { unchangedSince?: number } = {},
  ): Promise<FlagUpdate> {
    const { wanted, sorted, unchangedSince } = checkFlagRequest(uids, op, flags, options);
    return this.db.transaction(async (tx) => {
      // The lock makes the read-modify-write below safe against every other node.
      await this.mailboxes.lockOneInTx(tx, mailboxId);
      const changed: EntryRow[] = [];
      const modified: number[] = [];
      for (const row of await this.rowsInTx(tx, mailboxId, sorted)) {
        if (unchangedSince !== null && row.modseq > unchangedSince) {
          modified.push(row.uid);
          continue;
        }
        const next = applyFlagOperation(row.flags, op, wanted);
        if (sameFlags(row.flags, next)) continue;
        row.flags = next;
        changed.push(row);
      }
      if (changed.length === 0) return { updated: [], modified };
      // One modseq for the whole command, taken only because some entry really changes.
      const bumped = await tx.one<{ modseq: number }>(
        'UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq AS modseq',
        [mailboxId],
      );
      const modseq = bumped!.modseq;
      for (const row of changed) row.modseq = modseq;
      // Each entry's new flags as one space-separated text (flags never hold spaces): one
      // statement however many entries and distinct flag sets there are.
      await tx.rows(
        `UPDATE mailbox_entries e SET flags = string_to_array(s.flags, ' '), modseq = $2
         FROM unnest($3::bigint[], $4::text[]) AS s(uid, flags)
         WHERE e.mailbox_id = $1 AND e.uid = s.uid`,
        [mailboxId, modseq, changed.map((r) => r.uid), changed.map((r) => r.flags.join(' '))],
      );
      tx.touch(mailboxId);
      return { updated: changed.map(toEntry), modified };
    });
  }

  async expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    const sorted = checkUids(uids);
    return this.db.transaction(async (tx) => {
      const mailbox = await this.mailboxes.lockOneInTx(tx, mailboxId);
      return this.messages.removeEntriesInTx(tx, mailbox, await this.rowsInTx(tx, mailboxId, sorted));
    });
  }

  async claimRecent(mailboxId: number, upToUid: number): Promise<number> {
    const uid = checkBound(upToUid, 'UID', 0);
    const missing = () => new StoreError('not-found', `no mailbox ${mailboxId}`);
    if (!isId(mailboxId)) throw missing();
    const current = await this.db.one<{ recent_uid: number }>('SELECT recent_uid FROM mailboxes WHERE id = $1', [mailboxId]);
    if (!current) throw missing();
    // Nothing new to claim (the usual SELECT): a read, no write.
    if (current.recent_uid >= uid) return current.recent_uid;
    return this.db.transaction(async (tx) => {
      // The mailbox row lock makes the claim exclusive between nodes.
      const row = await tx.one<{ recent_uid: number }>('SELECT recent_uid FROM mailboxes WHERE id = $1 FOR UPDATE', [mailboxId]);
      if (!row) throw missing();
      if (row.recent_uid < uid) await tx.rows('UPDATE mailboxes SET recent_uid = $2 WHERE id = $1', [mailboxId, uid]);
      return row.recent_uid;
    });
  }

  async changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    checkModseq(modseq, 'modseq');
    if (!isId(mailboxId)) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
    const bound = modseqBound(modseq);
    // One snapshot for all the reads, even while other nodes are writing.
    return this.db.transaction(async (tx) => {
      const mailbox = await tx.one<{ highest_modseq: number; pruned_modseq: number }>(
        'SELECT highest_modseq, pruned_modseq FROM mailboxes WHERE id = $1',
        [mailboxId],
      );
      if (!mailbox) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
      const changed = await tx.rows<EntryRow>(
        `SELECT ${ENTRY_COLUMNS} FROM mailbox_entries WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`,
        [mailboxId, bound],
      );
      const expunged = await tx.one<{ uids: number[] | null }>(
        'SELECT array_agg(uid ORDER BY uid) AS uids FROM expunged WHERE mailbox_id = $1 AND modseq > $2',
        [mailboxId, bound],
      );
      return {
        highestModseq: mailbox.highest_modseq,
        changed: changed.map(toEntry),
        expunged: expunged?.uids ?? [],
        complete: modseq >= mailbox.pruned_modseq,
      };
    }, 'snapshot');
  }

  async pruneExpunged(before: Date): Promise<number> {
    const ms = before instanceof Date ? before.getTime() : NaN;
    if (!Number.isFinite(ms)) throw new StoreError('invalid', 'invalid date');
    // One statement: the records deleted are exactly the ones whose modseqs are noted.
    const row = await this.db.one<{ removed: number }>(
      `WITH gone AS (
         DELETE FROM expunged WHERE expunged_at < $1 RETURNING mailbox_id, modseq
       ), noted AS (
         UPDATE mailboxes m SET pruned_modseq = GREATEST(m.pruned_modseq, g.modseq)
         FROM (SELECT mailbox_id, MAX(modseq) AS modseq FROM gone GROUP BY mailbox_id) g
         WHERE m.id = g.mailbox_id
       )
       SELECT COUNT(*) AS removed FROM gone`,
      [new Date(ms)],
    );
    return row!.removed;
  }
}
