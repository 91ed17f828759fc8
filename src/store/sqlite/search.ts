/**
 * The full-text index: decoded header fields and body text of each message in an FTS5 table
 * with the trigram tokenizer, written by a worker thread shortly after the message is stored
 * (index-worker.ts: trigram indexing is the costliest part of storing a message, and must not
 * hold up the thread serving the sessions) and removed by a trigger when the message goes.
 *
 * A search is exact case-insensitive substring matching. The trigram MATCH only narrows the
 * candidates (it needs 3 characters; shorter needles scan the mailbox's stored text instead),
 * and a check on the stored text confirms each one. Text the index does not hold whole (body
 * text cut at the analyzer's limit, messages not indexed yet, or stored before the index
 * existed) is confirmed by analysing the body again: slow, but only for those messages.
 *
 * The index folds case its own way (FTS5's Unicode folding), the confirming check with
 * String.prototype.toLowerCase; they agree except for a few special characters (e.g. the
 * Turkish dotted I), where a needle of 3 or more characters may miss a match.
 */
import type Database from 'better-sqlite3';
import type { MessageAnalysis } from '../../mime/analysis.js';
import { StoreError, type TextField } from '../types.js';
import { FIELD_COLUMNS, columnsContain, columnsOf, foldCase, type TextColumn } from '../text-columns.js';
import type { BodyStore } from './bodies.js';
import type { Db } from './schema.js';

export { columnsOf, foldCase, type TextColumns } from '../text-columns.js';

/** What message_text holds for a message (messages.text_state). */
export type TextState = 'missing' | 'complete' | 'truncated';

const FOLD_FUNCTION = 'wharf_fold_case';

type Column = TextColumn;

/** The trigram tokenizer indexes sequences of three characters (code points). */
const TRIGRAM = 3;

/**
 * The MATCH expression for a needle: every distinct trigram of it, quoted so none of its
 * characters is query syntax, joined by AND. The index keeps no positions (detail=column), so
 * this narrows to messages holding all the trigrams; the confirming check does the rest.
 */
function trigramQuery(needle: string): string {
  const chars = [...needle];
  const grams = new Set<string>();
  for (let i = 0; i + TRIGRAM <= chars.length; i++) grams.add(chars.slice(i, i + TRIGRAM).join(''));
  return [...grams].map((g) => `"${g.replace(/"/g, '""')}"`).join(' AND ');
}

export class SearchIndex {
  private readonly slowCandidates;
  private readonly queries = new Map<string, Database.Statement<unknown[], number>>();

  constructor(
    private readonly db: Db,
    private readonly bodies: BodyStore,
  ) {
    db.function(FOLD_FUNCTION, { deterministic: true }, (text: unknown) =>
      typeof text === 'string' ? foldCase(text) : text,
    );
    this.slowCandidates = db.prepare(
      `SELECT e.uid, e.message_id, m.text_state FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
       WHERE e.mailbox_id = ? AND m.text_state <> 'complete'`,
    );
  }

  async search(mailboxId: number, field: TextField, needle: string): Promise<number[]> {
    const columns = FIELD_COLUMNS[field];
    if (!columns) throw new StoreError('invalid', `invalid search field: ${String(field)}`);
    if (typeof needle !== 'string') throw new StoreError('invalid', 'the search needle must be a string');
    const folded = foldCase(needle);
    const useIndex = [...needle].length >= TRIGRAM;
    const query = this.query(columns, useIndex);
    const confirm = columns.map(() => folded);
    const rows = useIndex
      ? query.all(`{${columns.join(' ')}} : (${trigramQuery(needle)})`, mailboxId, ...confirm)
      : query.all(mailboxId, ...confirm);
    const found = new Set(rows);
    const bodyField = columns.includes('body');
    const slow = this.slowCandidates.all(mailboxId) as Array<{ uid: number; message_id: number; text_state: TextState }>;
    for (const row of slow) {
      if (found.has(row.uid)) continue;
      // A truncated message's header text is whole: only body text needs the body read.
      if (row.text_state === 'truncated' && !bodyField) continue;
      if (await this.matchesWholeBody(row.message_id, columns, folded)) found.add(row.uid);
    }
    return [...found].sort((a, b) => a - b);
  }

  /** UIDs of the mailbox whose stored `columns` contain the folded needle; through the index or by scanning. */
  private query(columns: readonly Column[], useIndex: boolean): Database.Statement<unknown[], number> {
    const key = `${useIndex ? 'match' : 'scan'}:${columns.join(',')}`;
    let statement = this.queries.get(key);
    if (!statement) {
      const confirm = columns.map((c) => `instr(${FOLD_FUNCTION}(t.${c}), ?) > 0`).join(' OR ');
      statement = this.db
        .prepare(
          useIndex
            ? `SELECT e.uid FROM message_text t JOIN mailbox_entries e ON e.message_id = t.rowid
               WHERE message_text MATCH ? AND e.mailbox_id = ? AND (${confirm}) ORDER BY e.uid`
            : `SELECT e.uid FROM mailbox_entries e JOIN message_text t ON t.rowid = e.message_id
               WHERE e.mailbox_id = ? AND (${confirm}) ORDER BY e.uid`,
        )
        .pluck() as Database.Statement<unknown[], number>;
      this.queries.set(key, statement);
    }
    return statement;
  }

  private async matchesWholeBody(messageId: number, columns: readonly Column[], folded: string): Promise<boolean> {
    let analysis: MessageAnalysis;
    try {
      analysis = await this.bodies.analyze(messageId, Number.POSITIVE_INFINITY);
    } catch (err) {
      // Expunged while the search ran: it no longer matches anything.
      if (err instanceof StoreError && err.code === 'not-found') return false;
      throw err;
    }
    return columnsContain(columnsOf(analysis), columns, folded);
  }
}
