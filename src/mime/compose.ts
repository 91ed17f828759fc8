/**
 * Builds a message to send (RFC 5322 with MIME, RFC 2045-2049): header fields with RFC 2047
 * encoded words where the text is not ASCII, a text/plain UTF-8 body (quoted-printable when
 * it is not plain 7-bit), and attachments as base64 parts of a multipart/mixed, named with
 * RFC 2231 parameters when the file name is not ASCII. Attachments are read from their files
 * as the message is sent, never held whole, and the message size is known beforehand (for
 * SMTP SIZE). Bcc recipients are the sender's business (the envelope): they never appear here.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { encodeWords, foldField, headerParameter, mailboxTokens, quotedPrintable } from './compose-encoding.js';

export interface Mailbox {
  /** Display name (any Unicode text); none when empty. */
  name?: string;
  /** The address; a non-ASCII domain is sent in its ASCII (IDNA) form. */
  address: string;
}

export interface AttachmentSource {
  /** File to read when the message is sent. */
  path: string;
  /** Name shown to the recipient (default: the file's own name). */
  filename?: string;
  /** Media type (default: guessed from the extension, else application/octet-stream). */
  contentType?: string;
}

export interface ComposeInput {
  from: Mailbox;
  to: Mailbox[];
  cc?: Mailbox[];
  subject: string;
  /** The text body; line ends become CRLF. */
  text: string;
  attachments?: AttachmentSource[];
  /** Default: now. */
  date?: Date;
}

export interface ComposedMessage {
  /** "<...@domain>", as in the Message-ID field. */
  messageId: string;
  /** Exact size in bytes of what `body()` yields. */
  size: number;
  /** Raw UTF-8 in the header (an internationalised address): needs SMTPUTF8 and 8BITMIME. */
  smtputf8: boolean;
  eightBit: boolean;
  /** The message bytes; each call starts over (and reopens the attachment files). */
  body(): AsyncIterable<Buffer>;
}

/** Bytes per base64 line: 57 bytes are 76 characters (RFC 2045 6.8). */
const BASE64_LINE_BYTES = 57;
const READ_CHUNK_BYTES = BASE64_LINE_BYTES * 1024;
const CRLF = '\r\n';

const MEDIA_TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.webp': 'image/webp',
  '.ics': 'text/calendar',
  '.eml': 'message/rfc822',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.odt': 'application/vnd.oasis.opendocument.text',
};

export class ComposeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeError';
  }
}

const DOT_ATOM_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/u;

/**
 * An address as it goes on the wire: the domain in ASCII (IDNA), the local part as given.
 * Throws ComposeError for anything that is not a plain local@domain.
 */
export function normalizeAddress(address: string): { address: string; utf8: boolean } {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (at <= 0 || local.length > 64 || !DOT_ATOM_LOCAL.test(local)) throw new ComposeError(`invalid address: ${JSON.stringify(address)}`);
  const asciiDomain = domainToASCII(domain.replace(/\.$/, '')).toLowerCase();
  if (!asciiDomain || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(asciiDomain)) {
    throw new ComposeError(`invalid domain in address: ${JSON.stringify(address)}`);
  }
  // eslint-disable-next-line no-control-regex
  return { address: `${local}@${asciiDomain}`, utf8: /[^\x00-\x7f]/.test(local) };
}

/** "Name <address>", "<address>" or "address", as people type them. */
export function parseMailbox(text: string): Mailbox {
  const trimmed = text.trim();
  if (/[\r\n]/.test(trimmed)) throw new ComposeError('line breaks are not allowed in an address');
  const m = /^(.*?)\s*<([^<>]+)>$/.exec(trimmed);
  if (!m) return { address: normalizeAddress(trimmed).address };
  let name = m[1].trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
  return { ...(name ? { name } : {}), address: normalizeAddress(m[2].trim()).address };
}

/** RFC 5322 3.3 date-time in the local time zone: "Tue, 1 Jul 2025 14:03:09 +0200". */
export function formatDate(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${days[date.getDay()]}, ${date.getDate()} ${months[date.getMonth()]} ${date.getFullYear()} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`;
}

/** The text as body lines: CRLF line ends, ending with one. */
function normalizeText(text: string): string {
  const lines = text.replace(/\r\n|\r|\n/g, '\n');
  return (lines.endsWith('\n') || lines === '' ? lines : lines + '\n').replace(/\n/g, CRLF);
}

/** The text part: 7bit when it is ASCII with short lines, else quoted-printable. */
function textPart(text: string): { headers: string; body: string } {
  const body = normalizeText(text);
  // eslint-disable-next-line no-control-regex
  const sevenBit = /^[\x01-\x7f]*$/.test(body) && body.split(CRLF).every((l) => l.length <= 998) && !/\r(?!\n)|(?<!\r)\n/.test(body);
  const encoded = sevenBit ? body : quotedPrintable(Buffer.from(body, 'utf8'));
  return {
    headers: `Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: ${sevenBit ? '7bit' : 'quoted-printable'}${CRLF}`,
    body: encoded,
  };
}

/** Bytes of the base64 lines (76 characters and CRLF each) for `n` bytes of data. */
export function base64Size(n: number): number {
  if (n === 0) return CRLF.length;
  const chars = 4 * Math.ceil(n / 3);
  return chars + CRLF.length * Math.ceil(chars / 76);
}

/** Streams a file as base64 lines; an empty file is one empty line. */
export async function* base64Lines(file: string, expectedSize: number): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    read += chunk.length;
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const whole = data.length - (data.length % BASE64_LINE_BYTES);
    if (whole > 0) yield encodeLines(data.subarray(0, whole));
    carry = Buffer.from(data.subarray(whole));
  }
  if (read !== expectedSize) throw new ComposeError(`${file} changed size while it was being sent`);
  if (carry.length > 0) yield encodeLines(carry);
  if (expectedSize === 0) yield Buffer.from(CRLF);
}

function encodeLines(data: Buffer): Buffer {
  const text = data.toString('base64');
  let out = '';
  for (let i = 0; i < text.length; i += 76) out += text.slice(i, i + 76) + CRLF;
  return Buffer.from(out, 'latin1');
}

function mediaTypeOf(filename: string): string {
  return MEDIA_TYPES[path.extname(filename).toLowerCase()] ?? 'application/octet-stream';
}

/** Checks what will go into header fields and prepares the parts; attachments are stat'ed, not read. */
export async function composeMessage(input: ComposeInput): Promise<ComposedMessage> {
  const all = [input.from, ...input.to, ...(input.cc ?? [])];
  const normalized = all.map((m) => normalizeAddress(m.address));
  const smtputf8 = normalized.some((n) => n.utf8);
  const fix = (m: Mailbox): Mailbox => ({ ...m, address: normalizeAddress(m.address).address });
  const from = fix(input.from);
  const fromDomain = from.address.slice(from.address.lastIndexOf('@') + 1);
  const messageId = `<${Date.now().toString(36)}.${randomBytes(9).toString('hex')}@${fromDomain}>`;

  const fields: string[] = [
    `Date: ${formatDate(input.date ?? new Date())}`,
    foldField('From', mailboxTokens(from)),
    // Without To (only Cc or Bcc), say so rather than leave it out (RFC 5322 3.6.3 allows either).
    input.to.length > 0 ? foldField('To', listTokens(input.to.map(fix))) : 'To: undisclosed-recipients:;',
    ...(input.cc && input.cc.length > 0 ? [foldField('Cc', listTokens(input.cc.map(fix)))] : []),
    foldField('Subject', subjectTokens(input.subject)),
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
  ];

  const text = textPart(input.text);
  const attachments = await Promise.all(
    (input.attachments ?? []).map(async (a) => {
      let info;
      try {
        info = await stat(a.path);
      } catch {
        throw new ComposeError(`cannot read attachment ${a.path}`);
      }
      if (!info.isFile()) throw new ComposeError(`attachment ${a.path} is not a file`);
      const filename = (a.filename ?? path.basename(a.path)).replace(/[\r\n\t]/g, ' ');
      const type = a.contentType ?? mediaTypeOf(filename);
      if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(type)) throw new ComposeError(`invalid media type ${JSON.stringify(type)}`);
      const headers =
        foldField('Content-Type', [`${type};`, ...headerParameter('name', filename)]) +
        CRLF +
        foldField('Content-Disposition', ['attachment;', ...headerParameter('filename', filename)]) +
        CRLF +
        `Content-Transfer-Encoding: base64${CRLF}`;
      return { path: a.path, size: info.size, headers };
    }),
  );

  // The fixed text around the streamed attachments, in order.
  const pieces: Array<string | { path: string; size: number }> = [];
  if (attachments.length === 0) {
    pieces.push(fields.join(CRLF) + CRLF + text.headers + CRLF + text.body);
  } else {
    const boundary = `=_wharf_${randomBytes(12).toString('hex')}`;
    pieces.push(
      fields.join(CRLF) + CRLF +
        `Content-Type: multipart/mixed; boundary="${boundary}"${CRLF}${CRLF}` +
        `This is a message with attachments in MIME format.${CRLF}` +
        // The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1): one more keeps
        // the text's last line end.
        `--${boundary}${CRLF}${text.headers}${CRLF}${text.body}${CRLF}`,
    );
    for (const a of attachments) {
      pieces.push(`--${boundary}${CRLF}${a.headers}${CRLF}`);
      pieces.push({ path: a.path, size: a.size });
    }
    pieces.push(`--${boundary}--${CRLF}`);
  }

  const size = pieces.reduce((sum, p) => sum + (typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : base64Size(p.size)), 0);
  return {
    messageId,
    size,
    smtputf8,
    eightBit: smtputf8,
    async *body() {
      for (const piece of pieces) {
        if (typeof piece === 'string') yield Buffer.from(piece, 'utf8');
        else yield* base64Lines(piece.path, piece.size);
      }
    },
  };
}

function listTokens(mailboxes: Mailbox[]): string[] {
  const tokens: string[] = [];
  mailboxes.forEach((m, i) => {
    const t = mailboxTokens(m);
    if (i < mailboxes.length - 1) t[t.length - 1] += ',';
    tokens.push(...t);
  });
  return tokens;
}

/** ASCII subjects stay readable (folded at spaces); anything else becomes encoded words. */
function subjectTokens(subject: string): string[] {
  const clean = subject.replace(/\r\n|\r|\n/g, ' ');
  // eslint-disable-next-line no-control-regex
  const plain = /^[\x20-\x7e\t]*$/.test(clean) && !clean.includes('=?') && clean.split(' ').every((w) => w.length <= 900);
  return plain ? clean.split(' ') : encodeWords(clean);
}
