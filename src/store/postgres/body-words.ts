/**
 * The words of a message's body text, each once: what the trigram index holds for the body in
 * place of the body itself.
 *
 * pg_trgm's trigrams of a text are the trigrams of its words (it splits at every character that
 * is not a letter or digit, pads each word and keeps each trigram once), so the body's distinct
 * whitespace-separated tokens, joined by single spaces, give the index exactly the trigrams the
 * whole body would, for a fraction of the work: on the multinode bench, extracting and sorting
 * trigrams from the whole body was the largest single cost of the database per delivery, and
 * ordinary mail repeats most of its words many times over.
 *
 * A search still confirms the needle against the whole body (search.ts); the words only narrow.
 * For that, `body LIKE '%needle%'` must imply every pattern of `wordPatterns(needle)` on the
 * words: a part of the needle between two separators lies inside one token of the body, and
 * the separators around it in the needle are separators around it in the body, so the token
 * starts or ends with it, and every token is in the words with a space on each side.
 */

/**
 * What separates tokens: JavaScript's \s, spelled out so that PostgreSQL (bodyWordsSql) splits
 * with the very same class.
 */
const WORD_SEPARATOR_CLASS = '[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]';
const SEPARATORS = new RegExp(`${WORD_SEPARATOR_CLASS}+`);

/**
 * bodyWordsOf in SQL, for the text expression `body` (the migration that filled stored rows,
 * the indexer for rows written without words). The order of the words differs (sorted here),
 * which the index does not see.
 */
export function bodyWordsSql(body: string): string {
  return `(
    SELECT ' ' || COALESCE(string_agg(DISTINCT w, ' '), '') || ' '
    FROM regexp_split_to_table(${body}, '${WORD_SEPARATOR_CLASS}+') AS w WHERE w <> ''
  )`;
}

/** Patterns per search at most: each narrows; the longest parts narrow the most. */
const MAX_PATTERNS = 4;

/** The distinct tokens of `folded` (already case-folded), space-separated, with a space before and after. */
export function bodyWordsOf(folded: string): string {
  const seen = new Set<string>();
  let out = ' ';
  for (const token of folded.split(SEPARATORS)) {
    if (token.length === 0 || seen.has(token)) continue;
    seen.add(token);
    out += token + ' ';
  }
  return out;
}

/**
 * LIKE patterns (escaped with backslash) that the body words of every body containing
 * `folded` match: each part of the needle between separators, anchored by a space on each side
 * where the needle has a separator there. Empty when the needle has no part to narrow with.
 */
export function wordPatterns(folded: string): string[] {
  const parts = folded.split(SEPARATORS);
  const patterns: Array<{ pattern: string; length: number }> = [];
  for (const [i, part] of parts.entries()) {
    if (part.length === 0) continue;
    const escaped = part.replace(/[\\%_]/g, '\\$&');
    const before = i > 0 ? '% ' : '%';
    const after = i < parts.length - 1 ? ' %' : '%';
    patterns.push({ pattern: before + escaped + after, length: part.length + (i > 0 ? 1 : 0) + (i < parts.length - 1 ? 1 : 0) });
  }
  patterns.sort((a, b) => b.length - a.length);
  return patterns.slice(0, MAX_PATTERNS).map((p) => p.pattern);
}
