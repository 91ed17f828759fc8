/**
 * Reading command lines the way every line protocol does (net/line-reader.ts), with the
 * reader's own invariant checked on the way: the lines are exactly the input split at LF, one
 * CR before the LF dropped, the unterminated tail dropped, and every line longer than the
 * limit reported as too long instead of returned.
 */
import { LineReader, type Line } from '../../src/net/line-reader.js';
import { check } from '../engine/types.js';
import { FakeSocket } from './fake-socket.js';

export async function readLines(bytes: Buffer, maxLineBytes: number): Promise<Line[]> {
  const socket = new FakeSocket();
  const reader = new LineReader(socket.asDuplex(), maxLineBytes);
  const delivering = socket.deliver(bytes);
  const lines: Line[] = [];
  for (;;) {
    const line = await reader.nextLine();
    if (!line) break;
    lines.push(line);
  }
  await delivering;
  checkLines(bytes, lines, maxLineBytes);
  return lines;
}

function checkLines(bytes: Buffer, lines: Line[], maxLineBytes: number): void {
  const expected: Array<Buffer | null> = [];
  let from = 0;
  for (;;) {
    const lf = bytes.indexOf(0x0a, from);
    if (lf < 0) break;
    const raw = bytes.subarray(from, lf + 1);
    if (raw.length > maxLineBytes) expected.push(null);
    else expected.push(raw.subarray(0, raw.length >= 2 && raw[raw.length - 2] === 0x0d ? raw.length - 2 : raw.length - 1));
    from = lf + 1;
  }
  check(lines.length === expected.length, () => `line reader returned ${lines.length} lines, the input has ${expected.length}`);
  lines.forEach((line, i) => {
    const want = expected[i];
    if (want === null) check(line.tooLong && line.bytes.length === 0, `line ${i} over the limit not reported as too long`);
    else check(!line.tooLong && line.bytes.equals(want), () => `line ${i} is ${JSON.stringify(line.bytes.toString('latin1'))}, expected ${JSON.stringify(want.toString('latin1'))}`);
  });
}
