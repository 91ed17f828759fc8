/**
 * Mailbox names on the wire and in the store: modified UTF-7 (RFC 3501 5.1.3) for IMAP4rev1
 * clients, plain UTF-8 once IMAP4rev2 or UTF8=ACCEPT (RFC 6855) is enabled; INBOX is
 * case-insensitive; '/' separates hierarchy levels; LIST patterns use '*' and '%'.
 */
import { ImapSyntaxError, type Token } from './types.js';

const SEPARATOR = '/';
const MAX_COMPONENT_BYTES = 255;
const MAX_NAME_BYTES = 1000;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes modified UTF-7; throws ImapSyntaxError for anything RFC 3501 5.1.3 does not allow. */
export function decodeModifiedUtf7(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new ImapSyntaxError('Mailbox name is not valid modified UTF-7');
    if (c !== 0x26) {
      out += text[i++];
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) throw new ImapSyntaxError('Mailbox name is not valid modified UTF-7');
    if (end === i + 1) {
      out += '&';
    } else {
      out += decodeShifted(text.slice(i + 1, end));
    }
    i = end + 1;
  }
  return out;
}

/** The UTF-16 text of one &...- run (base64 with ',' for '/', no padding). */
function decodeShifted(b64: string): string {
  if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw new ImapSyntaxError('Mailbox name is not valid modified UTF-7');
  const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
  // Whole UTF-16 units only, and the leftover bits of the last base64 digit must be zero.
  const bits = b64.length * 6;
  if (bytes.length % 2 !== 0 || bits - bytes.length * 8 >= 6 || encodeShifted(bytes) !== b64) {
    throw new ImapSyntaxError('Mailbox name is not valid modified UTF-7');
  }
  let out = '';
  for (let i = 0; i < bytes.length; i += 2) {
    const unit = bytes.readUInt16BE(i);
    // Printable ASCII must be written directly, never base64-encoded.
    if (unit >= 0x20 && unit <= 0x7e) throw new ImapSyntaxError('Mailbox name is not valid modified UTF-7');
    out += String.fromCharCode(unit);
  }
  return out;
}

function encodeShifted(utf16be: Buffer): string {
  return utf16be.toString('base64').replace(/=+$/, '').replace(/\//g, ',');
}

/** Encodes a name as modified UTF-7. */
export function encodeModifiedUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      out += c === 0x26 ? '&-' : name[i];
      i++;
      continue;
    }
    let j = i;
    while (j < name.length && (name.charCodeAt(j) < 0x20 || name.charCodeAt(j) > 0x7e)) j++;
    const units = Buffer.alloc((j - i) * 2);
    for (let k = i; k < j; k++) units.writeUInt16BE(name.charCodeAt(k), (k - i) * 2);
    out += `&${encodeShifted(units)}-`;
    i = j;
  }
  return out;
}

/** "inbox" and "Inbox/x" become "INBOX" and "INBOX/x": INBOX is case-insensitive (RFC 9051 5.1). */
export function normaliseInbox(name: string): string {
  if (name.length >= 5 && name.slice(0, 5).toUpperCase() === 'INBOX' && (name.length === 5 || name[5] === SEPARATOR)) {
    return 'INBOX' + name.slice(5);
  }
  return name;
}

/**
 * A mailbox or pattern argument as text: modified UTF-7 undone unless `utf8` (IMAP4rev2 or
 * UTF8=ACCEPT enabled, names travel as UTF-8). No INBOX normalisation (LIST references and
 * patterns are normalised when matched).
 */
export function mailboxTextFromToken(token: Token, utf8: boolean): string {
  if (token.kind === 'list') throw new ImapSyntaxError('Expected a mailbox name');
  let text: string;
  if (token.kind === 'atom') {
    text = token.value;
  } else {
    try {
      text = utf8Decoder.decode(token.value);
    } catch {
      throw new ImapSyntaxError('Mailbox name is not valid UTF-8');
    }
  }
  return utf8 ? text : decodeModifiedUtf7(text);
}

/** A mailbox argument as the name it stands for: decoded (see above), INBOX normalised. */
export function mailboxFromToken(token: Token, utf8: boolean): string {
  return normaliseInbox(mailboxTextFromToken(token, utf8));
}

/** A mailbox argument's text (atom or decoded string) as a name: modified UTF-7 undone unless `utf8`. */
export function decodeMailboxName(raw: string, utf8: boolean): string {
  return utf8 ? raw : decodeModifiedUtf7(raw);
}

/** A name for responses: modified UTF-7 unless `utf8`. Quoting is the encoder's job. */
export function encodeMailboxName(name: string, utf8: boolean): string {
  return utf8 ? name : encodeModifiedUtf7(name);
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `name` cannot be a mailbox name, or null if it can. A trailing separator (CREATE "a/")
 * counts as an empty component; strip it first where RFC 9051 6.3.4 allows it.
 */
export function validateMailboxName(name: string): string | null {
  if (name === '') return 'Mailbox name is empty';
  if (/[\0\r\n]/.test(name)) return 'Mailbox name contains NUL, CR or LF';
  if (UNPAIRED_SURROGATE.test(name)) return 'Mailbox name contains an unpaired surrogate';
  if (name.startsWith(SEPARATOR)) return `Mailbox name starts with ${SEPARATOR}`;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `Mailbox name is longer than ${MAX_NAME_BYTES} bytes`;
  for (const component of name.split(SEPARATOR)) {
    if (component === '') return 'Mailbox name has an empty level';
    if (component === '.' || component === '..') return 'Mailbox name has a . or .. level';
    if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES) {
      return `Mailbox name has a level longer than ${MAX_COMPONENT_BYTES} bytes`;
    }
  }
  return null;
}

/**
 * A LIST matcher for reference + pattern (RFC 9051 6.3.9): '*' matches anything, '%' anything
 * but the separator. The INBOX part of a name matches case-insensitively. Linear in the
 * pattern times the name, however many wildcards the pattern has.
 */
export function listMatcher(reference: string, pattern: string): (name: string) => boolean {
  const full = reference + pattern;
  return (name) => matchMailboxPattern(full, name);
}

/** Whether `name` matches a full LIST pattern (reference and pattern already joined). */
export function matchMailboxPattern(pattern: string, name: string): boolean {
  return globMatch(normaliseInbox(pattern), name);
}

function globMatch(pattern: string, name: string): boolean {
  const n = name.length;
  const inboxChars = name === 'INBOX' || name.startsWith('INBOX' + SEPARATOR) ? 5 : 0;
  let states = new Uint8Array(n + 1);
  states[0] = 1;
  for (const pc of pattern) {
    const next = new Uint8Array(n + 1);
    if (pc === '*' || pc === '%') {
      next[0] = states[0];
      for (let j = 1; j <= n; j++) {
        next[j] = states[j] || (next[j - 1] && (pc === '*' || name[j - 1] !== SEPARATOR)) ? 1 : 0;
      }
    } else {
      for (let j = 0; j < n; j++) {
        if (!states[j]) continue;
        const nc = name[j];
        if (pc === nc || (j < inboxChars && pc.toUpperCase() === nc)) next[j + 1] = 1;
      }
    }
    states = next;
  }
  return states[n] === 1;
}
