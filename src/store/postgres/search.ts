/**
 * The full-text index: the decoded text of each message (the same columns the SQLite store
 * keeps, text-columns.ts), lower-cased by foldCase. A delivery writes it to
 * message_text_pending in its own transaction; the indexer (text-indexer.ts) moves it into
 * message_text, which has pg_trgm GIN indexes over each column (over the body's distinct
 * words for the body, body-words.ts). Every search reads both
 * tables in one statement, so a message is found from the moment it is acknowledged.
 *
 * A search is exact case-insensitive substring matching, with the same folding on both
 * sides: the stored text was folded when it was written, the needle is folded here. For a
 * needle of 3 or more characters the query is `column LIKE '%needle%'` (needle escaped),
 * which the trigram index narrows and LIKE itself confirms exactly; shorter needles give the
 * index nothing to work with, so the mailbox's entries are scanned with strpos. Text the
 * index does not hold whole (body text cut at the analyzer's limit, or no text at all) is
 * confirmed by analysing the body again: slow, but only for those messages.
 */
import type { MessageAnalysis } from '../../mime/analysis.js';
import { StoreError, type TextField } from '../types.js';
import {
  FIELD_COLUMNS,
  columnsContain,
  columnsOf,
  foldCase,
  type TextColumn,
  type TextColumns,
} from '../text-columns.js';
import type { BodyStore } from './bodies.js';
import { bodyWordsOf, wordPatterns } from './body-words.js';
import type { Database, Tx } from './db.js';
import { isId } from './mailboxes.js';

/**
 * What message_text holds for a message (messages.text_state); 'pending' while the text waits
 * in message_text_pending, whose own state column says which of the others it will become.
 */
export type TextState = 'missing' | 'pending' | 'complete' | 'truncated';

/** A message's folded text columns, and its body's distinct words (what the index holds for the body). */
export interface SearchText {
  columns: TextColumns;
  bodyWords: string | null;
}

/** pg_trgm extracts nothing from a needle shorter than this. */
const TRIGRAM = 3;

const COLUMNS: readonly TextColumn[] = ['subject', 'from_addr', 'to_addr', 'cc_addr', 'bcc_addr', 'headers', 'body'];

/** A needle as a LIKE pattern matching it anywhere, its wildcards and escape character taken literally. */
function containsPattern(folded: string): string {
  return `%${folded.replace(/[\\%_]/g, '\\$&')}%`;
}

export class SearchIndex {
  constructor(
    private readonly db: Database,
    private readonly bodies: BodyStore,
  ) {}

  /**
   * What to index for a message: its folded text columns and the state to record. A text
   * with a NUL character (PostgreSQL text cannot hold one) is not indexed at all: 'missing'
   * makes search confirm the message from its body, exactly.
   */
  textOf(analysis: MessageAnalysis | null): { state: Exclude<TextState, 'pending'>; text: SearchText | null } {
    if (!analysis) return { state: 'missing', text: null };
    const raw = columnsOf(analysis);
    const columns = {} as TextColumns;
    for (const column of COLUMNS) {
      const value = raw[column];
      if (value !== null && value.includes('\u0000')) return { state: 'missing', text: null };
      columns[column] = value === null ? null : foldCase(value);
    }
    const bodyWords = columns.body === null ? null : bodyWordsOf(columns.body);
    return { state: analysis.text.truncated ? 'truncated' : 'complete', text: { columns, bodyWords } };
  }

  /** Queues a message's text for the indexer; `state` is what the message becomes once indexed. */
  async insertPendingInTx(tx: Tx, messageId: number, state: 'complete' | 'truncated', text: SearchText): Promise<void> {
    await tx.rows(
      `INSERT INTO message_text_pending (message_id, state, ${COLUMNS.join(', ')}, body_words) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [messageId, state, ...COLUMNS.map((c) => text.columns[c]), text.bodyWords],
    );
  }

  async search(mailboxId: number, field: TextField, needle: string): Promise<number[]> {
    const columns = Object.hasOwn(FIELD_COLUMNS, field) ? FIELD_COLUMNS[field] : undefined;
    if (!columns) throw new StoreError('invalid', `invalid search field: ${String(field)}`);
    if (typeof needle !== 'string') throw new StoreError('invalid', 'the search needle must be a string');
    if (!isId(mailboxId)) return [];
    const folded = foldCase(needle);
    const found = new Set<number>();
    // A needle with a NUL cannot be in any stored text (none holds one), only in 'missing' ones.
    if (!folded.includes('\u0000')) {
      // Indexed text and text still pending, in one statement: one snapshot, so a message the
      // indexer moves meanwhile is seen in exactly one of the two. The pending rows are few
      // (the indexer's backlog) and are scanned; the indexed ones go through the trigram index.
      const trigram = [...needle].length >= TRIGRAM;
      // message_text's index holds the body's words, not the body: the words narrow (every
      // body holding the needle has words matching each pattern), the body confirms.
      const words = trigram && columns.includes('body') ? wordPatterns(folded) : [];
      const indexed = columns.map((c) => {
        if (!trigram) return `strpos(t.${c}, $2) > 0`;
        if (c !== 'body' || words.length === 0) return `t.${c} LIKE $2`;
        return `(${words.map((_, i) => `t.body_words LIKE $${i + 3}`).join(' AND ')} AND t.body LIKE $2)`;
      });
      const pending = columns.map((c) => (trigram ? `p.${c} LIKE $2` : `strpos(p.${c}, $2) > 0`));
      const rows = await this.db.rows<{ uid: number }>(
        `SELECT e.uid FROM message_text t JOIN mailbox_entries e ON e.message_id = t.message_id
           WHERE e.mailbox_id = $1 AND (${indexed.join(' OR ')})
         UNION ALL
         SELECT e.uid FROM message_text_pending p JOIN mailbox_entries e ON e.message_id = p.message_id
           WHERE e.mailbox_id = $1 AND (${pending.join(' OR ')})`,
        [mailboxId, trigram ? containsPattern(folded) : folded, ...words],
      );
      for (const row of rows) found.add(row.uid);
    }
    const bodyField = columns.includes('body');
    // A pending message counts as the state it will have: its text is whole unless truncated.
    const slow = await this.db.rows<{ uid: number; message_id: number; text_state: TextState }>(
      `SELECT e.uid, e.message_id, COALESCE(p.state, m.text_state) AS text_state
         FROM messages m JOIN mailbox_entries e ON e.message_id = m.id
         LEFT JOIN message_text_pending p ON p.message_id = m.id
       WHERE m.text_state <> 'complete' AND e.mailbox_id = $1 AND COALESCE(p.state, m.text_state) <> 'complete'`,
      [mailboxId],
    );
    for (const row of slow) {
      if (found.has(row.uid)) continue;
      // A truncated message's header text is whole: only body text needs the body read.
      if (row.text_state === 'truncated' && !bodyField) continue;
      if (await this.matchesWholeBody(row.message_id, columns, folded)) found.add(row.uid);
    }
    return [...found].sort((a, b) => a - b);
  }

  private async matchesWholeBody(messageId: number, columns: readonly TextColumn[], folded: string): Promise<boolean> {
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
