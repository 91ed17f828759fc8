/**
 * The DATA wire format (RFC 5321 4.1.1.4 and 4.5.2): the message ends at CRLF "." CRLF, and a
 * line starting with "." had an extra "." put in front of it by the client (dot-stuffing).
 *
 * Only a real CRLF starts a line here. A bare LF or a bare CR never does, so "\n.\n",
 * "\n.\r\n" or "\r.\r" are message content, not the end: accepting them as an end marker would
 * let a client hide a second message inside the first ("SMTP smuggling", CVE-2023-51764 etc.),
 * because the next server on the path may see it differently. Bare CR/LF are kept as they are.
 */

const enum State {
  /** Inside a line. */
  Mid,
  /** Inside a line, the last byte was CR (it may be the start of a CRLF). */
  Cr,
  /** Right after a CRLF (or at the very start: the CRLF ending the DATA command counts). */
  LineStart,
  /** A "." at the start of a line was read and dropped. */
  Dot,
  /** "." CR at the start of a line were read; an LF now ends the message. */
  DotCr,
}

const CRLF_DOT = Buffer.from('\r\n.');
const CR = Buffer.from('\r');

export interface DecodeResult {
  /** Message bytes, dot-unstuffed: slices of the input (no copies), in order. */
  segments: Buffer[];
  /** True once the end marker was read. */
  done: boolean;
  /** Input after the end marker (pipelined commands): give it back to the line reader. */
  rest: Buffer | null;
}

/**
 * Incremental decoder: feed it the raw bytes after the 354 reply chunk by chunk; it reports
 * the message content and where the end marker was. The CRLF before the final "." belongs to
 * the message (it ends its last line), so the content is emitted as it goes and only the
 * ".\r\n" of the end marker (and stuffing dots) are dropped.
 */
export class DotDecoder {
  private state: State = State.LineStart;
  private ended = false;

  get done(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): DecodeResult {
    const segments: Buffer[] = [];
    if (this.ended) return { segments, done: true, rest: chunk.length > 0 ? chunk : null };
    const len = chunk.length;
    let pos = 0;
    /** Start of the content run not yet emitted. */
    let from = 0;
    const emit = (to: number) => {
      if (to > from) segments.push(chunk.subarray(from, to));
    };

    while (pos < len) {
      switch (this.state) {
        case State.Mid: {
          // Fast path: only a CRLF followed by "." needs attention; everything up to it is
          // plain content.
          const i = chunk.indexOf(CRLF_DOT, pos);
          if (i >= 0) {
            pos = i + 2;
            this.state = State.LineStart;
          } else {
            // No line starting with "." in the rest of this chunk; the end of the chunk may
            // still be the start of one.
            if (chunk[len - 1] === 0x0d) this.state = State.Cr;
            else if (len - pos >= 2 && chunk[len - 2] === 0x0d && chunk[len - 1] === 0x0a) this.state = State.LineStart;
            pos = len;
          }
          break;
        }
        case State.Cr:
          if (chunk[pos] === 0x0a) {
            pos++;
            this.state = State.LineStart;
          } else {
            this.state = State.Mid;
          }
          break;
        case State.LineStart:
          if (chunk[pos] === 0x2e) {
            // Drop the dot: either stuffing or the start of the end marker.
            emit(pos);
            pos++;
            from = pos;
            this.state = State.Dot;
          } else {
            this.state = State.Mid;
          }
          break;
        case State.Dot:
          if (chunk[pos] === 0x0d) {
            // Hold the CR back: if an LF follows, this is the end marker.
            emit(pos);
            pos++;
            from = pos;
            this.state = State.DotCr;
          } else {
            this.state = State.Mid;
          }
          break;
        case State.DotCr:
          if (chunk[pos] === 0x0a) {
            emit(from);
            pos++;
            this.ended = true;
            return { segments, done: true, rest: pos < len ? chunk.subarray(pos) : null };
          }
          // "." CR not followed by LF: a line starting with "." and a bare CR. The dot was
          // stuffing; the held-back CR is content (and may itself start a CRLF).
          if (from === pos && pos > 0 && chunk[pos - 1] === 0x0d) from = pos - 1;
          else segments.push(CR);
          this.state = State.Cr;
          break;
      }
    }
    emit(len);
    return { segments, done: false, rest: null };
  }
}
