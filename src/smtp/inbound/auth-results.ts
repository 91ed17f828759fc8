/**
 * The Authentication-Results header field (RFC 8601): what this server found out about a
 * message's DKIM signatures, its SPF identities and its DMARC alignment, for the mail client
 * and for filters behind us. The values come from the message and from DNS, that is from the
 * sender: everything is escaped so that nothing can break out of the field.
 */

/** One "method=result (comment) ptype.property=value ..." clause (RFC 8601 2.2). */
export interface ResultClause {
  method: 'dkim' | 'spf' | 'dmarc';
  result: string;
  comment?: string;
  /** e.g. [['header.d', 'example.org'], ['smtp.mailfrom', 'a@example.org']]; empty values are left out. */
  properties: Array<[string, string | undefined | null]>;
}

/** RFC 8601 2.2 `value`: a token when it is one (RFC 2045), else a quoted-string. */
export function propertyValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  if (clean.length > 0 && !/[\s()<>,;:\\"/[\]?=]/.test(clean)) return clean;
  return `"${clean.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** A comment's text: no line breaks, and no parenthesis or backslash that could end it early. */
export function commentText(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x1f\x7f]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/[()\\]/g, (c) => `\\${c}`)
  );
}

export function formatClause(c: ResultClause): string {
  let out = `${c.method}=${c.result}`;
  if (c.comment) out += ` (${commentText(c.comment)})`;
  for (const [name, value] of c.properties) {
    if (value) out += ` ${name}=${propertyValue(value)}`;
  }
  return out;
}

/** The whole field, CRLF-terminated, one clause per folded line. */
export function authenticationResults(authservId: string, clauses: readonly ResultClause[]): string {
  const body = clauses.length > 0 ? clauses.map((c) => `;\r\n\t${formatClause(c)}`).join('') : '; none';
  return `Authentication-Results: ${authservId}${body}\r\n`;
}

/**
 * The authserv-id of an Authentication-Results field ("Authentication-Results: id; ..."),
 * lower-cased, or null when the field has none. Used to spot fields that claim to be ours.
 */
export function authservIdOf(field: string): string | null {
  const colon = field.indexOf(':');
  if (colon < 0) return null;
  // Skip RFC 5322 comments before the id; the id ends at white space or ';'.
  const value = field
    .slice(colon + 1)
    .replace(/\r?\n[ \t]/g, ' ')
    .replace(/\([^)]*\)/g, ' ')
    .trim();
  const m = /^([^\s;]+)/.exec(value);
  return m ? m[1].toLowerCase() : null;
}
