/**
 * RFC 8601 5: Authentication-Results fields that arrive with a message and carry our own
 * authserv-id are forgeries (ours is added here, in front of the message) and are deleted
 * before the message is stored, so that no reader can mistake them for ours.
 *
 * A filter in the shape of MessageSink's message filters (client bytes in, bytes to store out):
 * the header block is passed on line by line; an Authentication-Results field is held until it
 * is complete (its authserv-id may follow on a continuation line), then dropped or passed on.
 * The body passes untouched. Memory is bounded: a line or field longer than the limit is passed
 * on unexamined.
 */
import { authservIdOf } from './auth-results.js';

/** Longest field held for examination; real Authentication-Results fields are far smaller. */
export const MAX_HELD_FIELD_BYTES = 64 * 1024;

const LF = 0x0a;
const isContinuation = (line: Buffer) => line[0] === 0x20 || line[0] === 0x09;
const isEmptyLine = (line: Buffer) => line[0] === LF || (line[0] === 0x0d && line[1] === LF);
const AUTH_RESULTS = /^authentication-results[ \t]*:/i;
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

export class ForeignResultsFilter {
  private inHeader = true;
  private sawField = false;
  /** The current unfinished line. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The lines of an Authentication-Results field being held. */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** Fields dropped so far. */
  dropped = 0;

  constructor(
    private readonly authservId: string,
    /** Told, once the header block is done, how many fields were deleted (for the log). */
    private readonly onDropped: (count: number) => void = () => undefined,
  ) {}

  async push(chunk: Buffer): Promise<Buffer[]> {
    if (!this.inHeader) return [chunk];
    const out: Buffer[] = [];
    let start = 0;
    while (this.inHeader && start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf < 0 ? chunk.length : lf + 1;
      this.partial.push(chunk.subarray(start, end));
      this.partialBytes += end - start;
      start = end;
      if (lf < 0) {
        if (this.partialBytes > MAX_HELD_FIELD_BYTES) this.giveUp(out);
        break;
      }
      const line = Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
      this.line(line, out);
    }
    if (start < chunk.length) out.push(chunk.subarray(start));
    return out;
  }

  async end(): Promise<Buffer[]> {
    const out = this.finishHeader();
    if (this.dropped > 0) this.onDropped(this.dropped);
    return out;
  }

  /** Whatever of the header block is still held, when the message ends inside it. */
  private finishHeader(): Buffer[] {
    const out: Buffer[] = [];
    if (!this.inHeader) return out;
    // A last line without its line break is still a whole line.
    if (this.partialBytes > 0) {
      const line = Buffer.concat(this.partial, this.partialBytes);
      this.partial = [];
      this.partialBytes = 0;
      this.line(line, out);
    }
    if (this.inHeader) this.giveUp(out);
    return out;
  }

  private line(line: Buffer, out: Buffer[]): void {
    if (this.held && isContinuation(line)) {
      this.held.push(line);
      this.heldBytes += line.length;
      if (this.heldBytes > MAX_HELD_FIELD_BYTES) this.release(out, false);
      return;
    }
    if (this.held) this.release(out, true);
    const text = line.toString('latin1');
    if (isEmptyLine(line) || (!this.sawField && !FIELD_NAME.test(text))) {
      // The end of the header block (or a message that has none): the rest is body.
      this.inHeader = false;
      out.push(line);
      return;
    }
    this.sawField = true;
    if (AUTH_RESULTS.test(text)) {
      this.held = [line];
      this.heldBytes = line.length;
      return;
    }
    out.push(line);
  }

  /** Passes on, or drops, the held field. */
  private release(out: Buffer[], examine: boolean): void {
    const field = this.held ?? [];
    this.held = null;
    this.heldBytes = 0;
    if (examine && authservIdOf(Buffer.concat(field).toString('latin1')) === this.authservId.toLowerCase()) {
      this.dropped++;
      return;
    }
    out.push(...field);
  }

  /** Stops examining: whatever is held goes on as it is (or dropped, when complete and ours). */
  private giveUp(out: Buffer[]): void {
    if (this.held) this.release(out, this.partialBytes === 0);
    if (this.partialBytes > 0) out.push(Buffer.concat(this.partial, this.partialBytes));
    this.partial = [];
    this.partialBytes = 0;
    this.inHeader = false;
  }
}
