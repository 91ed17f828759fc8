/**
 * A push-based, incremental RFC 5322 / MIME parser. It sees each byte once, in chunks split
 * anywhere, and keeps only bounded state: the header block being read (capped), the start of
 * the current line (enough to recognise a boundary), the decoders' carries and the search
 * text (capped). Part boundaries follow RFC 2046 and Dovecot's parser where RFC 2046 leaves
 * room: a delimiter matches by prefix, the longest matching boundary of any enclosing
 * multipart wins, an outer boundary closes inner parts left open, the line break before a
 * delimiter belongs to the delimiter, and a part running into the end of the message keeps
 * its trailing line break.
 */
import type { Envelope, MessageAnalysis, MessageAnalyzer, MimePart } from './analysis.js';
import { createTransferDecoder, decodeEncodedWords, type TransferDecoder } from './decode.js';
import { buildEnvelope } from './envelope.js';
import { parseHeaderSummary } from './header-summary.js';
import { parseHeaderFields, type HeaderField } from './header-fields.js';
import { newPart, readContentFields } from './part-fields.js';
import { PartText, TextBudget } from './text-extract.js';

/** A header block larger than this ends there; the rest of the part counts as body. */
export const MAX_HEADER_BYTES = 256 * 1024;
/** Parts nested deeper than this are not parsed further: their content is an opaque body. */
export const MAX_DEPTH = 50;
/** After this many parts, boundaries are no longer recognised (the rest is opaque body). */
export const MAX_PARTS = 10_000;
export const DEFAULT_MAX_TEXT_BYTES = 2 * 1024 * 1024;
/** Boundaries are compared on at most this many characters (RFC 2046 allows 70). */
const MAX_BOUNDARY = 256;
/** Bytes of a line start looked at for a delimiter: "--" boundary "--". */
const PROBE = MAX_BOUNDARY + 4;

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

interface OpenPart {
  part: MimePart;
  parent: OpenPart | null;
  depth: number;
  /** Whether Content-* fields count without MIME-Version (always for a multipart's child). */
  mimeChild: boolean;
  /** Header mode: the block so far. */
  header: Buffer[] | null;
  headerBytes: number;
  lfAtBodyStart: number;
  kind: 'leaf' | 'multipart' | 'message';
  digest: boolean;
  /** "--boundary" while this multipart's delimiters are recognised. */
  delimiter: Buffer | null;
  decoder: TransferDecoder | null;
  text: PartText | null;
  /** The encapsulated message's root, for a message part. */
  inner: OpenPart | null;
}

class Analyzer implements MessageAnalyzer {
  private offset = 0;
  private lfCount = 0;
  private readonly root: OpenPart;
  private current: OpenPart;
  /** Open multiparts whose delimiters are recognised, innermost last. */
  private readonly boundaries: OpenPart[] = [];
  private partCount = 1;
  private readonly budget: TextBudget;
  private rootFields: HeaderField[] = [];
  private rootHeaderBlock: Buffer = Buffer.alloc(0);
  private rootEnvelope: Envelope | null = null;

  // Line reader state.
  private probe: Buffer[] = [];
  private probeBytes = 0;
  private lineStart = 0;
  private lfAtLineStart = 0;
  /** After the probe of the current line was handled: the rest of the line streams through. */
  private midLine = false;
  /** What the rest of the current line is: header bytes, body content, or a delimiter's tail. */
  private lineRole: 'header' | 'body' | 'delimiter' = 'header';
  /** Body mode: the previous line's break, kept until we know no delimiter follows. */
  private heldEol = 0;
  private heldCR = false;
  /** The held line break is a part's empty header block, not body content. */
  private heldIsBlankHeader = false;
  /** Header mode: the length of the last header line's break (it belongs to a delimiter). */
  private lastHeaderEol = 0;
  /** After a delimiter line: open a new part (true) or continue the epilogue (false). */
  private afterDelimiter: { multipart: OpenPart; close: boolean } | null = null;
  private ended = false;

  constructor(maxTextBytes: number) {
    this.budget = new TextBudget(maxTextBytes);
    this.root = this.openPart(0, null, false);
    this.current = this.root;
  }

  write(chunk: Buffer): void {
    if (this.ended) throw new Error('write after end');
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.midLine) {
        const want = PROBE - this.probeBytes;
        const lf = chunk.indexOf(LF, pos);
        if (lf >= 0 && lf - pos < want) {
          if (this.probeBytes === 0) {
            // The whole line is in this chunk: no copy (nothing keeps the probe past the call).
            this.lineProbe(chunk.subarray(pos, lf + 1), true);
            pos = lf + 1;
            continue;
          }
          this.addProbe(chunk.subarray(pos, lf + 1));
          pos = lf + 1;
          this.lineProbe(this.takeProbe(), true);
          continue;
        }
        const take = Math.min(want, chunk.length - pos);
        this.addProbe(chunk.subarray(pos, pos + take));
        pos += take;
        if (this.probeBytes === PROBE) {
          this.midLine = true;
          this.lineProbe(this.takeProbe(), false);
        }
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      const end = lf >= 0 ? lf + 1 : chunk.length;
      const piece = chunk.subarray(pos, end);
      this.offset += piece.length;
      if (lf >= 0) {
        this.lfCount++;
        this.midLine = false;
      }
      this.lineRest(piece, lf >= 0);
      if (lf >= 0) this.lineEnded();
      pos = end;
    }
  }

  end(): MessageAnalysis {
    if (!this.ended) {
      this.ended = true;
      if (!this.midLine && this.probeBytes > 0) this.lineProbe(this.takeProbe(), false);
      const end = this.offset;
      if (this.current.header !== null) this.finishHeader(this.current, end, end);
      else if (this.lineRole === 'body') this.flushHeld();
      this.closeUpTo(null, end, this.lfCount);
    }
    return {
      root: this.root.part,
      envelope: this.rootEnvelope ?? buildEnvelope([]),
      headers: parseHeaderSummary(this.rootHeaderBlock),
      text: {
        headers: this.rootFields.map((f) => `${f.name}: ${decodeEncodedWords(f.value)}\n`).join(''),
        body: this.budget.text(),
        truncated: this.budget.truncated,
      },
    };
  }

  // --- line reader -------------------------------------------------------------------------

  private addProbe(bytes: Buffer): void {
    // Copied: the caller's chunk may be reused once write() returns.
    this.probe.push(Buffer.from(bytes));
    this.probeBytes += bytes.length;
  }

  private takeProbe(): Buffer {
    const probe = this.probe.length === 1 ? this.probe[0] : Buffer.concat(this.probe, this.probeBytes);
    this.probe = [];
    this.probeBytes = 0;
    return probe;
  }

  /** The first bytes of a line (all of it, with its LF, when `complete`). */
  private lineProbe(probe: Buffer, complete: boolean): void {
    this.lineStart = this.offset;
    this.lfAtLineStart = this.lfCount;
    this.offset += probe.length;
    if (complete) this.lfCount++;
    const matched = this.matchDelimiter(probe);
    if (matched) {
      this.delimiterFound(matched.multipart, matched.close);
      this.lineRole = 'delimiter';
    } else if (this.current.header !== null) {
      this.lineRole = 'header';
      this.headerLine(probe, complete);
    } else {
      this.lineRole = 'body';
      this.flushHeld();
      this.bodySegment(probe, complete);
    }
    if (complete) this.lineEnded();
  }

  private lineRest(piece: Buffer, complete: boolean): void {
    if (this.lineRole === 'header') this.headerBytes(piece, complete);
    else if (this.lineRole === 'body') this.bodySegment(piece, complete);
  }

  private lineEnded(): void {
    if (this.lineRole === 'delimiter' && this.afterDelimiter) {
      const { multipart, close } = this.afterDelimiter;
      this.afterDelimiter = null;
      this.current = multipart;
      if (!close) this.current = this.openPart(this.offset, multipart, true);
      this.heldEol = 0;
      this.heldCR = false;
    }
  }

  // --- delimiters --------------------------------------------------------------------------

  private matchDelimiter(probe: Buffer): { multipart: OpenPart; close: boolean } | null {
    if (this.boundaries.length === 0 || probe.length < 2 || probe[0] !== DASH || probe[1] !== DASH) return null;
    // Past the part cap the current part takes in the rest: the tree stays bounded.
    if (this.partCount >= MAX_PARTS) return null;
    let best: OpenPart | null = null;
    for (const mp of this.boundaries) {
      const d = mp.delimiter!;
      if (probe.length >= d.length && probe.subarray(0, d.length).equals(d) && (!best || best.delimiter!.length < d.length)) best = mp;
    }
    if (!best) return null;
    const d = best.delimiter!.length;
    return { multipart: best, close: probe[d] === DASH && probe[d + 1] === DASH };
  }

  /** Ends every part inside `multipart` where the delimiter line (and its leading break) starts. */
  private delimiterFound(multipart: OpenPart, close: boolean): void {
    let end: number;
    let lfEnd: number;
    if (this.current.header !== null) {
      // A header block cut short by a delimiter: its last line break belongs to the delimiter.
      end = this.lineStart - this.lastHeaderEol;
      lfEnd = this.lfAtLineStart - (this.lastHeaderEol > 0 ? 1 : 0);
      this.finishHeader(this.current, end, end, lfEnd);
    } else {
      end = this.lineStart - this.heldEol;
      lfEnd = this.lfAtLineStart - (this.heldEol > 0 ? 1 : 0);
      if (this.heldIsBlankHeader) {
        this.current.part.bodyStart = end;
        this.current.lfAtBodyStart = lfEnd;
        this.heldIsBlankHeader = false;
      }
      if (this.heldCR) this.content(Buffer.from([CR]));
    }
    this.heldEol = 0;
    this.heldCR = false;
    this.closeUpTo(multipart, end, lfEnd);
    // Boundaries of the parts just closed are forgotten; a close delimiter retires its own.
    const at = this.boundaries.indexOf(multipart);
    this.boundaries.length = close ? at : at + 1;
    if (close) multipart.delimiter = null;
    this.current = multipart;
    this.afterDelimiter = { multipart, close };
  }

  /** Closes the open parts from the current one up to (not including) `stop`. */
  private closeUpTo(stop: OpenPart | null, end: number, lfEnd: number): void {
    for (let op: OpenPart | null = this.current; op && op !== stop; op = op.parent) this.closePart(op, end, lfEnd);
  }

  private closePart(op: OpenPart, end: number, lfEnd: number): void {
    if (op.header !== null) this.finishHeader(op, end, end);
    const part = op.part;
    part.bodyEnd = Math.max(end, part.bodyStart);
    part.bodyLines = Math.max(0, lfEnd - op.lfAtBodyStart);
    if (op.decoder) {
      part.decodedSize += op.decoder.end().length;
      op.decoder = null;
      op.text?.end();
      op.text = null;
    } else {
      part.decodedSize = part.bodyEnd - part.bodyStart;
    }
  }

  // --- header mode -------------------------------------------------------------------------

  private headerLine(probe: Buffer, complete: boolean): void {
    const op = this.current;
    const blank = complete && (probe.length === 1 || (probe.length === 2 && probe[0] === CR));
    if (blank) {
      const first = op.headerBytes === 0;
      this.appendHeader(op, probe);
      this.finishHeader(op, this.offset, this.offset);
      this.lineRole = 'body';
      if (first && op.mimeChild && this.current === op) {
        // A part that starts with an empty line followed by a delimiter is empty: that line
        // break is the delimiter's (RFC 2046 5.1.1), as Dovecot reads it too.
        this.heldEol = probe.length;
        this.heldIsBlankHeader = true;
      }
      return;
    }
    this.headerBytes(probe, complete);
  }

  private headerBytes(bytes: Buffer, complete: boolean): void {
    const op = this.current;
    if (op.header === null) {
      this.bodySegment(bytes, complete);
      return;
    }
    if (op.headerBytes + bytes.length > MAX_HEADER_BYTES) {
      // Too large: the header ends at this line's start; the line so far becomes body.
      const lineSoFar = Buffer.concat(op.header).subarray(this.lineStart - op.part.headerStart);
      op.header = [Buffer.concat(op.header).subarray(0, this.lineStart - op.part.headerStart)];
      op.headerBytes = op.header[0].length;
      this.finishHeader(op, this.lineStart, this.lineStart, this.lfAtLineStart);
      this.lineRole = 'body';
      this.bodySegment(Buffer.concat([lineSoFar, bytes]), complete);
      return;
    }
    this.appendHeader(op, bytes);
    if (complete) this.lastHeaderEol = bytes.length >= 2 && bytes[bytes.length - 2] === CR ? 2 : 1;
  }

  private appendHeader(op: OpenPart, bytes: Buffer): void {
    op.header!.push(Buffer.from(bytes));
    op.headerBytes += bytes.length;
  }

  /** The header block of `op` ends at `headerEnd`; its body starts at `bodyStart`. */
  private finishHeader(op: OpenPart, headerEnd: number, bodyStart: number, lfAtBodyStart = this.lfCount): void {
    const block = Buffer.concat(op.header ?? [], Math.max(0, headerEnd - op.part.headerStart));
    op.header = null;
    op.headerBytes = 0;
    const part = op.part;
    part.bodyStart = bodyStart;
    part.bodyEnd = bodyStart;
    op.lfAtBodyStart = lfAtBodyStart;
    this.heldEol = 0;
    this.heldCR = false;
    this.heldIsBlankHeader = false;
    const fields = parseHeaderFields(block);
    if (op === this.root) {
      this.rootFields = fields;
      this.rootHeaderBlock = block;
      this.rootEnvelope = buildEnvelope(fields);
    }
    if (op.parent?.kind === 'message') op.parent.part.message = { envelope: buildEnvelope(fields), root: part };
    this.applyContentFields(op, fields);
  }

  private applyContentFields(op: OpenPart, fields: HeaderField[]): void {
    const part = op.part;
    readContentFields(part, fields, op.mimeChild, op.parent?.digest ?? false);
    const nestable = op.depth < MAX_DEPTH && this.partCount < MAX_PARTS;
    if (part.type === 'multipart' && nestable) {
      op.kind = 'multipart';
      op.digest = part.subtype === 'digest';
      part.children = [];
      const boundary = part.params.boundary;
      if (boundary) {
        op.delimiter = Buffer.from('--' + boundary.slice(0, MAX_BOUNDARY), 'utf8');
        this.boundaries.push(op);
      }
      return;
    }
    if (part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global') && nestable) {
      op.kind = 'message';
      op.inner = this.openPart(part.bodyStart, op, false);
      return;
    }
    if (part.type === 'multipart') part.children = [];
    op.kind = 'leaf';
    op.decoder = createTransferDecoder(part.encoding);
    if (part.type === 'text' && !this.budget.full) op.text = new PartText(this.budget, part.params.charset, part.subtype);
  }

  private openPart(headerStart: number, parent: OpenPart | null, mimeChild: boolean): OpenPart {
    const op: OpenPart = {
      part: newPart(headerStart),
      parent,
      depth: parent ? parent.depth + 1 : 0,
      mimeChild,
      header: [],
      headerBytes: 0,
      lfAtBodyStart: this.lfCount,
      kind: 'leaf',
      digest: false,
      delimiter: null,
      decoder: null,
      text: null,
      inner: null,
    };
    if (parent) {
      this.partCount++;
      if (parent.kind === 'multipart') parent.part.children!.push(op.part);
      this.current = op;
      this.lastHeaderEol = 0;
    }
    return op;
  }

  // --- body mode ---------------------------------------------------------------------------

  /** A piece of a body line; `complete` when it ends with the line's LF. */
  private bodySegment(seg: Buffer, complete: boolean): void {
    if (seg.length === 0) return;
    if (this.heldCR) {
      this.heldCR = false;
      if (complete && seg.length === 1) {
        this.heldEol = 2;
        return;
      }
      this.content(Buffer.from([CR]));
    }
    if (complete) {
      let contentEnd = seg.length - 1;
      let eol = 1;
      if (contentEnd > 0 && seg[contentEnd - 1] === CR) {
        contentEnd--;
        eol = 2;
      }
      this.content(seg.subarray(0, contentEnd));
      this.heldEol = eol;
      return;
    }
    if (seg[seg.length - 1] === CR) {
      this.content(seg.subarray(0, seg.length - 1));
      this.heldCR = true;
    } else this.content(seg);
  }

  /** Releases a held line break into the body (no delimiter followed it). */
  private flushHeld(): void {
    if (this.heldIsBlankHeader) {
      this.heldIsBlankHeader = false;
      this.heldEol = 0;
    }
    if (this.heldEol > 0) {
      this.content(this.heldEol === 2 ? CRLF : LF_BYTE);
      this.heldEol = 0;
    }
    if (this.heldCR) {
      this.content(Buffer.from([CR]));
      this.heldCR = false;
    }
  }

  private content(bytes: Buffer): void {
    const op = this.current;
    if (bytes.length === 0 || !op.decoder) return;
    const decoded = op.decoder.push(bytes);
    op.part.decodedSize += decoded.length;
    op.text?.push(decoded);
  }
}

const CRLF = Buffer.from('\r\n');
const LF_BYTE = Buffer.from('\n');

export function createMessageAnalyzer(options: { maxTextBytes?: number } = {}): MessageAnalyzer {
  return new Analyzer(options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES);
}

/** Analyses a whole message held in memory (tests, small messages). */
export function analyzeMessage(message: Buffer, options: { maxTextBytes?: number } = {}): MessageAnalysis {
  const analyzer = createMessageAnalyzer(options);
  analyzer.write(message);
  return analyzer.end();
}
