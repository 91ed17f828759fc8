/**
 * Splitting a header block into fields, and the MIME Content-* field grammars (RFC 2045,
 * RFC 2183, RFC 2231): media type, parameters, disposition, language.
 */
import { decodeCharset } from './decode.js';
import type { MimeParams } from './analysis.js';

export interface HeaderField {
  /** The field name as written. */
  name: string;
  /** The value unfolded (line breaks removed, white space kept), without leading white space. */
  value: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Header bytes as text: UTF-8 when valid (RFC 6532), otherwise byte-for-byte (Latin-1). */
export function decodeHeaderBytes(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** The fields of a header block (up to its first empty line), in order. */
export function parseHeaderFields(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: HeaderField | null = null;
  for (const line of decodeHeaderBytes(block).split('\n')) {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text === '') break;
    if ((text[0] === ' ' || text[0] === '\t') && current) {
      current.value += text;
      continue;
    }
    const colon = text.indexOf(':');
    // A field name has at least one character (RFC 5322 3.6.8); a white-space line with a colon
    // and no field before it (" : x") is not a field.
    const name = colon < 0 ? '' : text.slice(0, colon).replace(/[ \t]+$/, '');
    if (name === '') {
      current = null;
      continue;
    }
    current = { name, value: text.slice(colon + 1).replace(/^[ \t]+/, '') };
    fields.push(current);
  }
  for (const f of fields) f.value = f.value.replace(/[ \t]+$/, '');
  return fields;
}

/** The first field with this (case-insensitive) name, or undefined. */
export function firstField(fields: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

/** RFC 2045 token characters: printable ASCII except SPACE and tspecials. */
const TSPECIALS = '()<>@,;:\\"/[]?=';
const isTokenChar = (ch: string) => ch > ' ' && ch < '\x7f' && !TSPECIALS.includes(ch);

/** A cursor over a structured field value that skips white space and (nested) comments. */
class FieldScanner {
  pos = 0;
  constructor(readonly text: string) {}

  skipCfws(): void {
    for (;;) {
      while (this.pos < this.text.length && /[ \t\r\n]/.test(this.text[this.pos])) this.pos++;
      if (this.text[this.pos] !== '(') return;
      let depth = 0;
      while (this.pos < this.text.length) {
        const ch = this.text[this.pos++];
        if (ch === '\\') this.pos++;
        else if (ch === '(') depth++;
        else if (ch === ')' && --depth === 0) break;
      }
    }
  }

  token(): string | null {
    this.skipCfws();
    const start = this.pos;
    // Non-ASCII bytes are let through: RFC 6532 and real-world 8-bit values.
    while (this.pos < this.text.length && (isTokenChar(this.text[this.pos]) || this.text.charCodeAt(this.pos) > 0x7f)) this.pos++;
    return this.pos > start ? this.text.slice(start, this.pos) : null;
  }

  quoted(): string | null {
    this.skipCfws();
    if (this.text[this.pos] !== '"') return null;
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos++];
      if (ch === '"') return out;
      if (ch === '\\' && this.pos < this.text.length) out += this.text[this.pos++];
      else out += ch;
    }
    return out;
  }

  char(ch: string): boolean {
    this.skipCfws();
    if (this.text[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  /** Skips to just after the next ';' (error recovery); false at the end. */
  skipPastSemicolon(): boolean {
    const next = this.text.indexOf(';', this.pos);
    if (next < 0) {
      this.pos = this.text.length;
      return false;
    }
    this.pos = next + 1;
    return true;
  }
}

/** Parameters as written: names and values in order (values unquoted). */
function readParameters(scanner: FieldScanner): [string, string][] {
  const params: [string, string][] = [];
  for (;;) {
    if (!scanner.char(';')) {
      // Garbage between parameters: resynchronise at the next ';'.
      if (scanner.pos >= scanner.text.length || !scanner.skipPastSemicolon()) return params;
    }
    const name = scanner.token();
    if (name === null) continue;
    if (!scanner.char('=')) continue;
    const value = scanner.quoted() ?? scanner.token();
    if (value === null) continue;
    params.push([name, value]);
  }
}

interface Rfc2231Piece {
  section: number;
  encoded: boolean;
  value: string;
}

/**
 * Joins RFC 2231 continuations. Returns the parameters as Dovecot reports them (plain ones
 * first in order, then the joined ones by name; an extended value stays %-encoded under the
 * name "name*") and decoded values by lower-cased name (charset applied).
 */
function joinRfc2231(raw: [string, string][]): { reported: [string, string][]; decoded: MimeParams } {
  const plain: [string, string][] = [];
  const extended = new Map<string, { name: string; pieces: Rfc2231Piece[] }>();
  for (const [name, value] of raw) {
    const m = /^(.*?)\*(?:(\d+)\*?|)$/.exec(name);
    const star = /\*$/.test(name);
    if (!m) {
      plain.push([name, value]);
      continue;
    }
    const base = m[1];
    const key = base.toLowerCase();
    const section = m[2] === undefined ? 0 : Number(m[2]);
    if (!extended.has(key)) extended.set(key, { name: base, pieces: [] });
    extended.get(key)!.pieces.push({ section, encoded: star, value });
  }
  const reported: [string, string][] = [...plain];
  const decoded: MimeParams = {};
  for (const [name, value] of plain) {
    const key = name.toLowerCase();
    if (!(key in decoded)) decoded[key] = value;
  }
  const names = [...extended.keys()].sort();
  for (const key of names) {
    const { name, pieces } = extended.get(key)!;
    pieces.sort((a, b) => a.section - b.section);
    const anyEncoded = pieces.some((p) => p.encoded);
    if (!anyEncoded) {
      const joined = pieces.map((p) => p.value).join('');
      reported.push([name, joined]);
      decoded[key] = joined;
      continue;
    }
    // The first encoded piece carries charset'language'; later plain pieces are literal text.
    let charset = '';
    let bytes: number[] = [];
    let wire = '';
    pieces.forEach((p, i) => {
      let v = p.value;
      if (i === 0 && p.encoded) {
        const parts = v.split("'");
        if (parts.length >= 3) {
          charset = parts[0];
          wire += `${parts[0]}'${parts[1]}'`;
          v = parts.slice(2).join("'");
        }
      }
      wire += v;
      if (p.encoded) bytes = bytes.concat(percentDecode(v));
      else bytes = bytes.concat([...Buffer.from(v, 'utf8')]);
    });
    reported.push([`${name}*`, wire]);
    decoded[key] = decodeCharset(Buffer.from(bytes), charset);
  }
  return { reported, decoded };
}

function percentDecode(v: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '%' && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) {
      out.push(parseInt(v.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(v[i], 'utf8'));
  }
  return out;
}

export interface ParsedContentType {
  /** As written (original case). */
  type: string;
  subtype: string;
  reportedParams: [string, string][];
  params: MimeParams;
}

/** Content-Type: type "/" subtype *(";" parameter); null when the media type is unreadable. */
export function parseContentType(value: string): ParsedContentType | null {
  const scanner = new FieldScanner(value);
  const type = scanner.token();
  if (type === null || !scanner.char('/')) return null;
  const subtype = scanner.token();
  if (subtype === null) return null;
  const { reported, decoded } = joinRfc2231(readParameters(scanner));
  return { type, subtype, reportedParams: reported, params: decoded };
}

export interface ParsedDisposition {
  type: string;
  reportedParams: [string, string][];
  params: MimeParams;
}

/** Content-Disposition (RFC 2183): a token then parameters. */
export function parseDisposition(value: string): ParsedDisposition | null {
  const scanner = new FieldScanner(value);
  const type = scanner.token();
  if (type === null) return null;
  const { reported, decoded } = joinRfc2231(readParameters(scanner));
  return { type, reportedParams: reported, params: decoded };
}

/** A single token (Content-Transfer-Encoding), or null. */
export function parseToken(value: string): string | null {
  return new FieldScanner(value).token();
}

/** Content-Language: a comma-separated list of language tags; null when there is none. */
export function parseLanguages(value: string): string[] | null {
  const scanner = new FieldScanner(value);
  const tags: string[] = [];
  for (;;) {
    const tag = scanner.token();
    if (tag === null) break;
    tags.push(tag);
    if (!scanner.char(',')) break;
  }
  return tags.length > 0 ? tags : null;
}
