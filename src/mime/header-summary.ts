/**
 * Extracts the index fields of a message (From, To, Subject, ...) from its header block while
 * the message streams past, without ever holding more than a bounded prefix of it.
 */
import type { HeaderSummary } from '../store/types.js';
import { decodeHeaderBytes } from './header-fields.js';

/** Header fields the store indexes, by lower-cased field name. */
const SUMMARY_FIELDS: Readonly<Record<string, keyof HeaderSummary>> = {
  from: 'from',
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  'reply-to': 'replyTo',
  subject: 'subject',
  date: 'date',
  'message-id': 'messageId',
  'in-reply-to': 'inReplyTo',
  references: 'references',
};

/** How much of a message is examined for its header block by default. */
export const DEFAULT_HEADER_LIMIT = 64 * 1024;

/**
 * Parses a header block (the bytes before the first empty line; a trailing part of the body
 * does no harm since parsing stops at the first empty line). Folded lines are unfolded (the
 * line break is removed, the white space kept, RFC 5322 2.2.3); values are otherwise raw:
 * no MIME encoded-word decoding. The first occurrence of each field wins.
 */
export function parseHeaderSummary(headerBytes: Buffer): HeaderSummary {
  const summary: HeaderSummary = {};
  const lines = decodeHeaderBytes(headerBytes).split(/\r?\n/);
  let name: string | null = null;
  let value = '';
  const commit = () => {
    if (name === null) return;
    const key = SUMMARY_FIELDS[name];
    if (key && summary[key] === undefined) summary[key] = value.replace(/^[ \t]+|[ \t\r]+$/g, '');
    name = null;
  };
  for (const line of lines) {
    if (line === '' || line === '\r') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (name !== null) value += line;
      continue;
    }
    commit();
    const colon = line.indexOf(':');
    // A line without a colon (e.g. an mbox "From " separator) is not a field; skip it.
    if (colon <= 0) continue;
    // obs-syntax (RFC 5322 4.5) allows white space between the field name and the colon.
    name = line.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase();
    value = line.slice(colon + 1);
  }
  commit();
  return summary;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/**
 * Collects the header block of a message fed in arbitrary chunks. Capturing stops at the end
 * of the header block (first empty line) or after `limit` bytes, whichever comes first, so a
 * message of any size costs at most `limit` bytes of memory here.
 */
export class HeaderCollector {
  private captured: Buffer[] = [];
  private capturedBytes = 0;
  private complete = false;

  constructor(private readonly limit = DEFAULT_HEADER_LIMIT) {}

  /** True once the end of the header block was seen or the limit was reached. */
  get done(): boolean {
    return this.complete;
  }

  push(chunk: Buffer): void {
    if (this.complete || chunk.length === 0) return;
    const room = this.limit - this.capturedBytes;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    // Search the new piece together with the last 3 captured bytes, so that an end marker
    // split across chunks is found.
    const tail = this.tail(3);
    const window = tail.length > 0 ? Buffer.concat([tail, piece]) : piece;
    const end = this.findEnd(window, this.capturedBytes - tail.length);
    if (end >= 0) {
      const keep = end - (this.capturedBytes - tail.length);
      this.append(window.subarray(tail.length, Math.max(tail.length, keep)));
      this.complete = true;
      return;
    }
    this.append(piece);
    if (this.capturedBytes >= this.limit) this.complete = true;
  }

  /** The captured header bytes (without the empty line ending them). */
  headerBytes(): Buffer {
    return this.captured.length === 1 ? this.captured[0] : Buffer.concat(this.captured, this.capturedBytes);
  }

  summary(): HeaderSummary {
    return parseHeaderSummary(this.headerBytes());
  }

  /**
   * Absolute offset (from the start of the message) where the header block ends, or -1.
   * `windowStart` is the absolute offset of window[0].
   */
  private findEnd(window: Buffer, windowStart: number): number {
    // A message that starts with an empty line has no header fields at all.
    if (windowStart <= 0) {
      const lead = -windowStart;
      if (window[lead] === 0x0a || (window[lead] === 0x0d && window[lead + 1] === 0x0a)) return 0;
    }
    const a = window.indexOf(CRLFCRLF);
    const b = window.indexOf(LFLF);
    // The header block ends after the line break that terminates its last line.
    const ends: number[] = [];
    if (a >= 0) ends.push(a + 2);
    if (b >= 0) ends.push(b + 1);
    if (ends.length === 0) return -1;
    return windowStart + Math.min(...ends);
  }

  private tail(n: number): Buffer {
    if (this.capturedBytes === 0) return Buffer.alloc(0);
    const last = this.captured[this.captured.length - 1];
    if (last.length >= n || this.captured.length === 1) return last.subarray(Math.max(0, last.length - n));
    const all = this.headerBytes();
    return all.subarray(Math.max(0, all.length - n));
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    this.captured.push(piece);
    this.capturedBytes += piece.length;
  }
}
