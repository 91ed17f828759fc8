/**
 * The encodings a composed message needs (compose.ts): header fields folded to 78 characters
 * (RFC 5322 2.2.3), RFC 2047 encoded words for non-ASCII text, RFC 2231 parameters for
 * non-ASCII or long file names, and quoted-printable bodies (RFC 2045 6.7).
 */
import type { Mailbox } from './compose.js';

const CRLF = '\r\n';
/** RFC 5322 2.1.1: lines SHOULD be at most 78 characters. */
const LINE_LIMIT = 78;
/**
 * UTF-8 bytes per encoded word: base64 of 39 bytes is 52 characters, 64 with "=?utf-8?B?" and
 * "?=", so that even the first word fits on the line after "Subject: " (RFC 2047 2: 75 at most).
 */
const WORD_BYTES = 39;
/** Characters of one RFC 2231 parameter segment. */
const SEGMENT_CHARS = 60;

/**
 * "Name: token token ...", folded before a token that would make the line longer than 78
 * characters. Unfolding (removing the CRLFs) gives back the tokens joined by single spaces.
 */
export function foldField(name: string, tokens: string[]): string {
  let out = `${name}:`;
  let lineLength = out.length;
  let first = true;
  for (const token of tokens) {
    if (!first && lineLength + 1 + token.length > LINE_LIMIT) {
      out += `${CRLF} ${token}`;
      lineLength = 1 + token.length;
    } else {
      out += ` ${token}`;
      lineLength += 1 + token.length;
    }
    first = false;
  }
  return out;
}

/** RFC 2047 "B" encoded words for `text`, each whole UTF-8 characters, each under 75 characters. */
export function encodeWords(text: string): string[] {
  const words: string[] = [];
  let chunk = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > WORD_BYTES && chunk) {
      words.push(encodedWord(chunk));
      chunk = '';
      bytes = 0;
    }
    chunk += ch;
    bytes += n;
  }
  if (chunk || words.length === 0) words.push(encodedWord(chunk));
  return words;
}

function encodedWord(text: string): string {
  return `=?utf-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

const ATEXT_PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/;

/** A mailbox as tokens to fold: the display name (as atoms, a quoted string or encoded words) and <address>. */
export function mailboxTokens(mailbox: Mailbox): string[] {
  const name = mailbox.name?.replace(/[\r\n\t]+/g, ' ').trim();
  if (!name) return [mailbox.address];
  const addr = `<${mailbox.address}>`;
  // eslint-disable-next-line no-control-regex
  if (/[^\x20-\x7e]/.test(name) || name.includes('=?')) return [...encodeWords(name), addr];
  if (ATEXT_PHRASE.test(name)) return [...name.split(/ +/), addr];
  return [`"${name.replace(/(["\\])/g, '\\$1')}"`, addr];
}

/** RFC 2231 attribute-char: what may stand unencoded in an extended parameter value. */
const ATTRIBUTE_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

/**
 * A MIME parameter as tokens ("name=\"...\"", or RFC 2231 "name*=utf-8''..." split into
 * numbered segments when long). Every token but the last ends with ";".
 */
export function headerParameter(name: string, value: string): string[] {
  const quoted = `${name}="${value.replace(/(["\\])/g, '\\$1')}"`;
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(value) && quoted.length <= SEGMENT_CHARS + 10) return [quoted];
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    encoded += byte < 0x80 && ATTRIBUTE_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  const segments: string[] = [];
  for (let i = 0; i < encoded.length; ) {
    let end = Math.min(encoded.length, i + SEGMENT_CHARS);
    // Never split a %XX escape.
    const pct = encoded.lastIndexOf('%', end - 1);
    if (pct > end - 3 && pct >= i && end < encoded.length) end = pct;
    segments.push(encoded.slice(i, end));
    i = end;
  }
  if (segments.length === 1) return [`${name}*=utf-8''${segments[0]}`];
  return segments.map((s, i) => `${name}*${i}*=${i === 0 ? "utf-8''" : ''}${s}${i < segments.length - 1 ? ';' : ''}`);
}

/**
 * Quoted-printable (RFC 2045 6.7) of CRLF-separated lines: "=", control and 8-bit octets as
 * =XX, whitespace at a line end encoded, lines at most 76 characters with soft breaks.
 */
export function quotedPrintable(data: Buffer): string {
  const lines = data.toString('latin1').split(CRLF);
  return lines
    .map((line) => {
      let out = '';
      let length = 0;
      for (let i = 0; i < line.length; i++) {
        const c = line.charCodeAt(i);
        const lastOnLine = i === line.length - 1;
        const literal = (c >= 33 && c <= 126 && c !== 61) || ((c === 0x20 || c === 0x09) && !lastOnLine);
        const token = literal ? line[i] : `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
        if (length + token.length > 75) {
          out += `=${CRLF}`;
          length = 0;
        }
        out += token;
        length += token.length;
      }
      return out;
    })
    .join(CRLF);
}
