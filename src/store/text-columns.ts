/**
 * What the full-text index holds for a message, the same for every backend: the decoded text
 * of a few header fields on their own, all the header fields together, and the body text,
 * as the MIME analyzer extracted them. And the one case folding a search goes through.
 */
import type { MessageAnalysis } from '../mime/analysis.js';
import type { TextField } from './types.js';

/**
 * The case folding both sides of a comparison go through: the stored text and the needle.
 * Each character is lower-cased on its own (locale-independent, no other folding, so 'ß' is
 * not 'ss'). String.prototype.toLowerCase does that except for one rule that looks at the
 * neighbours: a capital sigma ending a word becomes final 'ς', elsewhere 'σ'. Mapping every
 * 'Σ' to 'σ' first leaves toLowerCase nothing context-dependent to do, so a needle 'Σ' (or
 * 'σ') finds the last letter of 'ΟΔΟΣ'.
 */
export function foldCase(text: string): string {
  return text.replace(/\u03a3/g, '\u03c3').toLowerCase();
}

/** The index columns: each header field searchable on its own, all headers, the body. */
export type TextColumn = 'subject' | 'from_addr' | 'to_addr' | 'cc_addr' | 'bcc_addr' | 'headers' | 'body';

/** The columns each searchable field covers. */
export const FIELD_COLUMNS: Readonly<Record<TextField, readonly TextColumn[]>> = {
  subject: ['subject'],
  from: ['from_addr'],
  to: ['to_addr'],
  cc: ['cc_addr'],
  bcc: ['bcc_addr'],
  body: ['body'],
  text: ['headers', 'body'],
};

export type TextColumns = Record<TextColumn, string | null>;

/** The index columns of an analysis: each header field's values (one per line), all headers, the body. */
export function columnsOf(analysis: MessageAnalysis): TextColumns {
  const values = new Map<string, string[]>();
  for (const line of analysis.text.headers.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = values.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    values.set(name, list);
  }
  const header = (name: string) => values.get(name)?.join('\n') ?? null;
  return {
    subject: header('subject'),
    from_addr: header('from'),
    to_addr: header('to'),
    cc_addr: header('cc'),
    bcc_addr: header('bcc'),
    headers: analysis.text.headers,
    body: analysis.text.body,
  };
}

/** Whether any of `columns` of `text` contains the (already folded) needle. */
export function columnsContain(text: TextColumns, columns: readonly TextColumn[], folded: string): boolean {
  return columns.some((c) => text[c] !== null && foldCase(text[c]).includes(folded));
}
