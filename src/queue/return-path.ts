/**
 * A stored message starts with the Return-Path field we recorded on receipt (RFC 5321 4.4),
 * which is for the final delivery only: "a message-originating SMTP system SHOULD NOT send a
 * message that already contains a Return-path header field", and the next hop adds its own
 * when it delivers. So the queue drops Return-Path fields of the header block on the way out,
 * streaming: only the header line being read is held, and a line longer than any header line
 * we would have written ends the search (the rest goes through untouched).
 */

const LF = 0x0a;
/** Longer than any Return-Path we write (a path is at most 256 octets, RFC 5321 4.5.3.1.3). */
const MAX_LINE_BYTES = 8 * 1024;
const RETURN_PATH = /^return-path[ \t]*:/i;

export async function* withoutReturnPath(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let inHeader = true;
  let dropping = false;
  let line: Buffer[] = [];
  let lineBytes = 0;
  for await (const chunk of body) {
    if (!inHeader) {
      yield chunk;
      continue;
    }
    const out: Buffer[] = [];
    let start = 0;
    while (inHeader && start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf < 0 ? chunk.length : lf + 1;
      line.push(chunk.subarray(start, end));
      lineBytes += end - start;
      start = end;
      if (lf < 0) {
        if (lineBytes > MAX_LINE_BYTES) {
          // Not a header we wrote: stop looking and pass everything on.
          out.push(...line);
          line = [];
          lineBytes = 0;
          inHeader = false;
        }
        break;
      }
      const whole = Buffer.concat(line, lineBytes);
      line = [];
      lineBytes = 0;
      const first = whole[0];
      if (first === 0x0d || first === LF) {
        inHeader = false; // the empty line ending the header block
        out.push(whole);
      } else if (first === 0x20 || first === 0x09) {
        if (!dropping) out.push(whole); // a continuation of the field before
      } else {
        dropping = RETURN_PATH.test(whole.toString('latin1', 0, Math.min(whole.length, 32)));
        if (!dropping) out.push(whole);
      }
    }
    if (!inHeader && start < chunk.length) out.push(chunk.subarray(start));
    if (out.length > 0) yield out.length === 1 ? out[0] : Buffer.concat(out);
  }
  if (lineBytes > 0) yield Buffer.concat(line, lineBytes);
}
