/**
 * Streaming transforms for POP3 multi-line responses (RFC 1939 section 3): byte-stuffing of
 * lines that begin with '.', the terminating ".CRLF", and the TOP cut-off (headers, the blank
 * line, then n body lines).
 *
 * Both work chunk by chunk on Buffers and hand out subarrays of the input, so a message is
 * never copied, converted to a string or held whole in memory. Their state carries across
 * chunk boundaries: a '.' that starts a chunk may start a line that began in the previous one.
 *
 * A line ends at LF. Stored bodies use CRLF; a stray bare LF is still treated as a line end
 * here, because clients split on LF and would otherwise mistake ".\n" inside a message for
 * the end of the response.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** Where stuffing is needed: a line start followed by '.'. */
const LF_DOT = Buffer.from('\n.', 'latin1');
const EXTRA_DOT = Buffer.from('.', 'latin1');
/** Ends a response whose last line was complete. */
const END_AFTER_LINE = Buffer.from('.\r\n', 'latin1');
/** Ends a response whose last line had no line ending: the line is closed first. */
const END_AFTER_PARTIAL_LINE = Buffer.from('\r\n.\r\n', 'latin1');

/**
 * Byte-stuffs a stream: every line that begins with '.' gets one more '.' in front. Output is
 * appended to `out` as slices of the input (plus a shared one-byte '.' buffer).
 */
export class DotStuffer {
  /** True when the next byte starts a new line (at the start, and after every LF). */
  private atLineStart = true;

  stuff(chunk: Buffer, out: Buffer[]): void {
    if (chunk.length === 0) return;
    if (this.atLineStart && chunk[0] === DOT) out.push(EXTRA_DOT);
    let start = 0;
    let hit = chunk.indexOf(LF_DOT, 0);
    while (hit >= 0) {
      out.push(chunk.subarray(start, hit + 1));
      out.push(EXTRA_DOT);
      // The '.' itself is sent as the first byte of the next slice.
      start = hit + 1;
      hit = chunk.indexOf(LF_DOT, start);
    }
    out.push(start === 0 ? chunk : chunk.subarray(start));
    this.atLineStart = chunk[chunk.length - 1] === LF;
  }

  /**
   * The end of the multi-line response. A body that does not end with a line ending gets
   * CRLF first, so the response always ends with CRLF "." CRLF.
   */
  terminator(): Buffer {
    return this.atLineStart ? END_AFTER_LINE : END_AFTER_PARTIAL_LINE;
  }
}

/** Byte-stuffs a whole buffer at once (small responses and tests). */
export function dotStuff(body: Buffer): Buffer {
  const stuffer = new DotStuffer();
  const out: Buffer[] = [];
  stuffer.stuff(body, out);
  out.push(stuffer.terminator());
  return Buffer.concat(out);
}

/**
 * Cuts a message stream for TOP: the header section, the empty line after it, then at most
 * `bodyLines` lines of the body. A message without an empty line is all header and is sent
 * whole.
 */
export class TopLimiter {
  private inBody = false;
  private bodyLinesLeft: number;
  /** Bytes of the current header line seen so far (it may span chunks), LF excluded. */
  private partialLength = 0;
  /** The last byte of that partial line (to recognise a line holding only CR). */
  private partialLastByte = -1;
  /** True once the cut-off point has passed: nothing more is to be sent. */
  done = false;

  constructor(bodyLines: number) {
    this.bodyLinesLeft = bodyLines;
  }

  /** The part of `chunk` that belongs in the response (a slice of it; empty once done). */
  take(chunk: Buffer): Buffer {
    if (this.done) return chunk.subarray(0, 0);
    let pos = 0;
    if (!this.inBody) {
      pos = this.skipHeaders(chunk);
      if (!this.inBody) return chunk;
      if (this.bodyLinesLeft === 0) {
        this.done = true;
        return chunk.subarray(0, pos);
      }
    }
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) return chunk;
      pos = lf + 1;
      if (--this.bodyLinesLeft === 0) {
        this.done = true;
        return chunk.subarray(0, pos);
      }
    }
    return chunk;
  }

  /** Scans header lines; returns the offset just past the empty line, once it is found. */
  private skipHeaders(chunk: Buffer): number {
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.partialLength += chunk.length - pos;
        this.partialLastByte = chunk[chunk.length - 1];
        return chunk.length;
      }
      const length = this.partialLength + (lf - pos);
      const lastByte = lf > pos ? chunk[lf - 1] : this.partialLastByte;
      this.partialLength = 0;
      this.partialLastByte = -1;
      pos = lf + 1;
      if (length === 0 || (length === 1 && lastByte === CR)) {
        this.inBody = true;
        return pos;
      }
    }
    return pos;
  }
}
