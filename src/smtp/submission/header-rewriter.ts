/**
 * The header rules of a message submission agent (RFC 6409 8, RFC 5322 3.6), applied while the
 * message streams in: the header block is passed on line by line, Bcc fields are dropped, a
 * missing Date or Message-ID is added just before the empty line that ends the block, and
 * From and Sender are recorded for the sender checks. The body then passes through untouched.
 *
 * Nothing is buffered beyond the line being read, and the header block itself is bounded: a
 * block larger than the limit is refused instead of being read on and on.
 */
import { randomBytes } from 'node:crypto';
import { decodeHeaderBytes } from '../../mime/header-fields.js';
import { MessageRefused } from '../message-sink.js';
import { formatReply } from '../reply.js';
import { formatRfc5322Date } from '../trace.js';

/** The largest header block accepted on submission (the client's bytes, Bcc fields included). */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;

export const HEADER_TOO_LARGE = formatReply(552, '5.3.4 Message header block too large');

/**
 * Bcc (RFC 5322 3.6.3) names recipients the other recipients must not see: they are in the
 * envelope (RCPT TO) only, so the field itself never leaves (nor is it stored, since the stored
 * body is the one that is sent). Resent-Bcc (3.6.6) is the same for a resent message.
 */
const DROPPED_FIELDS = new Set(['bcc', 'resent-bcc']);
/** Fields whose values the sender checks need. */
const RECORDED_FIELDS = new Set(['from', 'sender']);

const CRLF = Buffer.from('\r\n');
const LF = 0x0a;

/** What the header block said, once it is complete. */
export interface SubmittedHeader {
  /** Unfolded values of every From field (RFC 5322 allows exactly one). */
  from: string[];
  /** Unfolded values of every Sender field (at most one). */
  sender: string[];
  /** Date was missing and we added one. */
  addedDate: boolean;
  /** Message-ID was missing and we added one. */
  addedMessageId: boolean;
}

/** A new Message-ID (RFC 5322 3.6.4): 128 random bits, unique without any state. */
export function newMessageId(hostname: string): string {
  return `<${randomBytes(16).toString('hex')}@${hostname}>`;
}

/** The lower-cased field name of a header line, or null for a line that is no field. */
function fieldName(line: Buffer): string | null {
  const colon = line.indexOf(0x3a);
  if (colon <= 0) return null;
  const name = line.subarray(0, colon).toString('latin1').replace(/[ \t]+$/, '');
  // A name is printable US-ASCII without spaces (RFC 5322 2.2).
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name) ? name.toLowerCase() : null;
}

const isContinuation = (line: Buffer) => line[0] === 0x20 || line[0] === 0x09;
const isEmptyLine = (line: Buffer) => line[0] === LF || (line[0] === 0x0d && line[1] === LF);

export class HeaderRewriter {
  private state: 'header' | 'body' = 'header';
  /** Bytes of the current, not yet complete line. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Client bytes of the header block so far. */
  private headerBytes = 0;
  private sawField = false;
  /** The field the last line belonged to: its continuation lines go the same way. */
  private current: { drop: boolean; parts: string[] | null } | null = null;
  /** Names of the fields seen (lower-cased). */
  private readonly present = new Set<string>();
  /** From and Sender fields, their lines' text in order (unfolded when the block ends). */
  private readonly recorded: Array<{ name: string; parts: string[] }> = [];
  private summary: SubmittedHeader | null = null;

  constructor(
    /** Our host name, the right-hand side of a Message-ID we add. */
    private readonly hostname: string,
    private readonly now: () => Date = () => new Date(),
    private readonly maxHeaderBytes = MAX_HEADER_BLOCK_BYTES,
  ) {}

  /** The header block as it was, once it has ended (its empty line, or the end of the message). */
  get header(): SubmittedHeader | null {
    return this.summary;
  }

  /**
   * Client bytes in, the bytes to store out (possibly fewer for now: an unfinished line waits
   * for its end). Throws MessageRefused when the header block goes over the limit.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.state === 'body') return [chunk];
    const out: Buffer[] = [];
    let start = 0;
    while (this.state === 'header' && start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf < 0 ? chunk.length : lf + 1;
      this.headerBytes += end - start;
      if (this.headerBytes > this.maxHeaderBytes) throw new MessageRefused(HEADER_TOO_LARGE);
      this.partial.push(chunk.subarray(start, end));
      this.partialBytes += end - start;
      start = end;
      if (lf < 0) break;
      const line = this.partial.length === 1 ? this.partial[0] : Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
      this.headerLine(line, out);
    }
    if (start < chunk.length) out.push(chunk.subarray(start));
    return out.length <= 1 ? out : [Buffer.concat(out)];
  }

  /** The end of the message: a last unfinished line, and the fields to add if the block never ended. */
  end(): Buffer[] {
    if (this.state === 'body') return [];
    const out: Buffer[] = [];
    if (this.partialBytes > 0) {
      // The message ends inside its header block without a line break: end the line first,
      // or the fields we add would run into it.
      this.headerLine(Buffer.concat([...this.partial, CRLF]), out);
      this.partial = [];
      this.partialBytes = 0;
    }
    if (this.state === 'header') this.endHeader(out);
    return out.length <= 1 ? out : [Buffer.concat(out)];
  }

  private headerLine(line: Buffer, out: Buffer[]): void {
    if (isEmptyLine(line)) {
      this.endHeader(out);
      out.push(line);
      return;
    }
    if (isContinuation(line) && this.current) {
      this.current.parts?.push(decodeHeaderBytes(line));
      if (!this.current.drop) out.push(line);
      return;
    }
    const name = isContinuation(line) ? null : fieldName(line);
    if (!this.sawField && name === null) {
      // The message does not start with a header field (text typed straight after DATA): it
      // is all body. Our fields come first, then the empty line that makes the text the body.
      this.endHeader(out);
      out.push(CRLF, line);
      return;
    }
    this.sawField = true;
    // A line that is no field in the middle of the block is kept as it came.
    const drop = name !== null && DROPPED_FIELDS.has(name);
    let parts: string[] | null = null;
    if (name !== null) {
      this.present.add(name);
      if (RECORDED_FIELDS.has(name)) {
        parts = [decodeHeaderBytes(line.subarray(line.indexOf(0x3a) + 1))];
        this.recorded.push({ name, parts });
      }
    }
    this.current = { drop, parts };
    if (!drop) out.push(line);
  }

  /** Adds the missing Date and Message-ID and records what the block held. */
  private endHeader(out: Buffer[]): void {
    this.state = 'body';
    this.current = null;
    const addedDate = !this.present.has('date');
    const addedMessageId = !this.present.has('message-id');
    // RFC 6409 8.2 and 8.3: the MSA adds the fields a sender left out.
    if (addedDate) out.push(Buffer.from(`Date: ${formatRfc5322Date(this.now())}\r\n`));
    if (addedMessageId) out.push(Buffer.from(`Message-ID: ${newMessageId(this.hostname)}\r\n`));
    const values = (name: string) =>
      this.recorded.filter((r) => r.name === name).map((r) => r.parts.join('').replace(/\r?\n/g, '').trim());
    this.summary = {
      from: values('from'),
      sender: values('sender'),
      addedDate,
      addedMessageId,
    };
  }
}
