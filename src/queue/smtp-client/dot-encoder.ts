/**
 * The sending side of the DATA wire format (RFC 5321 4.5.2): a "." is put in front of every
 * line that starts with ".", and the message ends with CRLF "." CRLF. The counterpart of
 * src/smtp/wire/data-decoder.ts.
 *
 * Line endings go out as CRLF only: a bare LF becomes CRLF and a bare CR becomes CRLF. RFC
 * 5321 2.3.8 forbids sending them bare, and a bare LF followed by "." is exactly what lets a
 * message hide a second one from a server that reads line ends differently from the next
 * hop ("SMTP smuggling"). With every line end a CRLF, every line start is stuffed.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BYTE = Buffer.from([CR]);
const LF_BYTE = Buffer.from([LF]);
const DOT_BYTE = Buffer.from([DOT]);
const CRLF = Buffer.from('\r\n');
const END_MARKER = Buffer.from('.\r\n');

/** Incremental encoder: feed the message chunk by chunk, then send `end()`. */
export class DotEncoder {
  /** The next byte starts a line (true at the very start: the DATA command ended a line). */
  private lineStart = true;
  /** The last byte was a CR whose LF has not been seen yet. */
  private pendingCr = false;
  private bytesIn = 0;

  /** Message bytes taken so far (before stuffing). */
  get size(): number {
    return this.bytesIn;
  }

  /** The wire bytes for `chunk`: slices of it with stuffing dots and line-end fixes between. */
  push(chunk: Buffer): Buffer {
    this.bytesIn += chunk.length;
    const out: Buffer[] = [];
    let from = 0;
    const cut = (to: number) => {
      if (to > from) out.push(chunk.subarray(from, to));
      from = to;
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.pendingCr) {
        this.pendingCr = false;
        this.lineStart = true;
        if (b === LF) {
          continue;
        }
        // A bare CR: finish it as a line end.
        cut(i);
        out.push(LF_BYTE);
      }
      if (this.lineStart) {
        this.lineStart = false;
        if (b === DOT) {
          cut(i);
          out.push(DOT_BYTE);
        }
      }
      if (b === CR) {
        this.pendingCr = true;
      } else if (b === LF) {
        // A bare LF (a CR before it would have been consumed above): give it its CR.
        cut(i);
        out.push(CR_BYTE);
        this.lineStart = true;
      }
    }
    cut(chunk.length);
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /** The end of the message: a CRLF if the last line had none, then "." CRLF. */
  end(): Buffer {
    const parts: Buffer[] = [];
    if (this.pendingCr) {
      this.pendingCr = false;
      parts.push(LF_BYTE);
    } else if (!this.lineStart) {
      parts.push(CRLF);
    }
    this.lineStart = true;
    parts.push(END_MARKER);
    return Buffer.concat(parts);
  }
}
