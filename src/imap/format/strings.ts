/**
 * IMAP string syntax for server responses (RFC 9051 4.3): quoted when the value allows it,
 * otherwise a literal. Like Dovecot, a value with CR, LF, 8-bit characters or a quoted-special
 * ('"' or '\') is sent as a literal: clients take both, and a literal needs no escaping.
 */

/** True when `s` can be sent as a quoted string without escapes. */
function quotable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x22 || c === 0x5c || c >= 0x80 || c === 0) return false;
  }
  return true;
}

/** `s` as an IMAP string: "quoted" or a {n}\r\n literal (n counted in UTF-8 octets). */
export function quoteString(s: string): string {
  if (quotable(s)) return `"${s}"`;
  return `{${Buffer.byteLength(s)}}\r\n${s}`;
}

/** An nstring: NIL for null, otherwise as `quoteString`. */
export function nstring(s: string | null | undefined): string {
  return s === null || s === undefined ? 'NIL' : quoteString(s);
}

/**
 * A string meant for people (the ENVELOPE subject), as Dovecot writes it: line breaks removed,
 * runs of spaces and tabs collapsed to one space, leading and trailing white space dropped,
 * NUL shown as 0x80; when any of that changed the value (or it has a quoted-special or 8-bit
 * text) it goes out as a literal.
 */
export function humanString(s: string | null): string {
  if (s === null) return 'NIL';
  const cleaned = s
    .replace(/[\r\n]/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '')
    .replace(/\0/g, '\x80');
  if (cleaned === s && quotable(s)) return `"${s}"`;
  if (cleaned === '') return '""';
  return `{${Buffer.byteLength(cleaned)}}\r\n${cleaned}`;
}
