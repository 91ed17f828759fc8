/**
 * Response building blocks (RFC 9051 section 4): strings as atom, quoted or literal, flag
 * lists, date-times. Without UTF-8 (IMAP4rev1 without UTF8=ACCEPT) 8-bit text goes in a literal,
 * since a quoted string is 7-bit there; CR and LF can only ever travel in a literal.
 */
import { formatDateTime } from './date-time.js';

export { formatDateTime, parseDateTime } from './date-time.js';

/** ASTRING-CHAR: ATOM-CHAR or ']' (no CTL, space, ( ) { % * " \). */
const ASTRING_ATOM = /^[!#$&'+,\-./0-9:;<=>?@A-Z[\]^_`a-z|}~]+$/;
/** 7-bit text a quoted string can carry: tab and printable ASCII. */
const QUOTABLE_ASCII = /^[\t\x20-\x7e]*$/;
/** With UTF-8 enabled: anything but NUL, CR, LF and other controls than tab. */
const QUOTABLE_UTF8 = /^[^\0-\x08\x0a-\x1f\x7f]*$/;
/** Longer strings go as literals, so no response line gets unreasonably long. */
const MAX_QUOTED = 4096;

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function literal(value: string): string {
  return `{${Buffer.byteLength(value, 'utf8')}}\r\n${value}`;
}

/** A string (never an atom): quoted when it can be, else a literal. */
export function formatString(value: string, utf8 = false): string {
  const quotable = value.length <= MAX_QUOTED && (utf8 ? QUOTABLE_UTF8 : QUOTABLE_ASCII).test(value);
  return quotable ? quote(value) : literal(value);
}

/** An astring: a bare atom when safe (and not "NIL", which a client might misread), else a string. */
export function formatAstring(value: string, utf8 = false): string {
  if (ASTRING_ATOM.test(value) && value.toUpperCase() !== 'NIL') return value;
  return formatString(value, utf8);
}

/** An nstring: NIL for null. */
export function formatNString(value: string | null, utf8 = false): string {
  return value === null ? 'NIL' : formatString(value, utf8);
}

/**
 * Raw bytes as a string: quoted when they are quotable text (valid UTF-8 counts as text only
 * with `utf8`), else a literal of the exact bytes.
 */
export function formatStringBytes(value: Buffer, utf8: boolean): Buffer {
  let quotable = value.length <= MAX_QUOTED;
  for (const b of quotable ? value : []) {
    if (b === 0x09 || (b >= 0x20 && b < 0x7f)) continue;
    if (b >= 0x80 && utf8) continue;
    quotable = false;
    break;
  }
  if (quotable && utf8 && !isUtf8(value)) quotable = false;
  if (quotable) return Buffer.from(quote(value.toString('utf8')), 'utf8');
  return Buffer.concat([Buffer.from(`{${value.length}}\r\n`, 'latin1'), value]);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Buffer): boolean {
  try {
    utf8Decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A flag list: "(\Seen $Forwarded)". */
export function formatFlagList(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

/** INTERNALDATE's value: the date-time in quotes. */
export function quotedDateTime(date: Date, offsetMinutes = 0): string {
  return `"${formatDateTime(date, offsetMinutes)}"`;
}
