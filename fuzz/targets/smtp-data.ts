/**
 * SMTP DATA decoding (smtp/wire/data-decoder.ts): dot-unstuffing and the end marker, fed in
 * pieces as TCP delivers them. Invariants: the result does not depend on the chunking; the end
 * is exactly the first CRLF "." CRLF (counting the CRLF that ended the DATA command), never a
 * bare LF or CR variant (SMTP smuggling); the content is the input with the dot after each CRLF
 * removed; what follows the marker is handed back untouched; stuffing the content again and
 * decoding gives the content back.
 */
import fc from 'fast-check';
import { DotDecoder } from '../../src/smtp/wire/data-decoder.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { piecesOf } from './fake-socket.js';

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

/** RFC 5321 4.5.2 transparency, as a client does it. */
export function stuff(content: Buffer): Buffer {
  const text = content.toString('latin1');
  const body = (text.startsWith('.') ? '.' : '') + text.replace(/\r\n\./g, '\r\n..');
  const ending = text === '' || text.endsWith('\r\n') ? '.\r\n' : '\r\n.\r\n';
  return Buffer.from(body + ending, 'latin1');
}

function decode(pieces: Buffer[]): { content: Buffer; done: boolean; rest: Buffer | null; consumed: number } {
  const decoder = new DotDecoder();
  const segments: Buffer[] = [];
  let rest: Buffer | null = null;
  let consumed = 0;
  for (const piece of pieces) {
    if (decoder.done) {
      rest = rest ? Buffer.concat([rest, piece]) : piece;
      continue;
    }
    const r = decoder.push(piece);
    segments.push(...r.segments);
    consumed += piece.length - (r.rest?.length ?? 0);
    if (r.done) rest = r.rest;
  }
  return { content: Buffer.concat(segments), done: decoder.done, rest, consumed };
}

const line = fc.oneof(
  fc.constantFrom('.', '..', '.\r', '.x', 'x.', '', ' .', '\n.\n', '\r.\r', '.\n', 'Subject: a', '\u0000'),
  fc.string({ maxLength: 30 }),
);
const content = fc.array(line, { maxLength: 20 }).map((lines) => Buffer.from(lines.join('\r\n'), 'utf8'));

const target: FuzzTarget<{ content: string }> = {
  name: 'smtp-data',
  description: 'SMTP DATA dot-unstuffing and end marker, chunked (smtp/wire/data-decoder.ts)',
  generator: fc.oneof(
    fc.tuple(content, fc.constantFrom('', 'QUIT\r\n', 'MAIL FROM:<a@b>\r\n')).map(([c, after]) => {
      const wire = Buffer.concat([stuff(c), Buffer.from(after)]);
      const expected = c.length === 0 || c.toString('latin1').endsWith('\r\n') ? c : Buffer.concat([c, Buffer.from('\r\n')]);
      return { bytes: wire, expect: { content: expected.toString('latin1') } };
    }),
    fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b) })),
  ),
  dictionary: ['\r\n.\r\n', '\r\n.', '.\r\n', '\n.\n', '\r.\r', '\n.\r\n', '..', '\r\n..\r\n'],
  run(bytes, expect) {
    const whole = decode([bytes]);
    const chunked = decode(piecesOf(bytes));
    const bytewise = bytes.length <= 512 ? decode([...bytes].map((b) => Buffer.from([b]))) : chunked;
    for (const other of [chunked, bytewise]) {
      check(other.done === whole.done, 'end marker found or not depending on chunking');
      if (whole.done) {
        check(other.content.equals(whole.content), 'content depends on chunking');
        check((other.rest ?? Buffer.alloc(0)).equals(whole.rest ?? Buffer.alloc(0)), 'rest depends on chunking');
      }
    }
    // The end: the first CRLF "." CRLF, where the DATA command's own CRLF counts as the first.
    const framed = Buffer.concat([Buffer.from('\r\n'), bytes]);
    const marker = framed.indexOf(CRLF_DOT_CRLF);
    check(whole.done === marker >= 0, () => `end marker ${whole.done ? 'found' : 'missed'}; first CRLF.CRLF at ${marker - 2}`);
    if (!whole.done) {
      check(whole.content.length <= bytes.length, 'content longer than the input');
      return;
    }
    const end = marker + CRLF_DOT_CRLF.length - 2;
    check(whole.consumed === end, `consumed ${whole.consumed} bytes, the marker ends at ${end}`);
    check((whole.rest ?? Buffer.alloc(0)).equals(bytes.subarray(end)), 'bytes after the marker not handed back');
    const reference = framed.subarray(0, marker + 2).toString('latin1').replace(/\r\n\./g, '\r\n').slice(2);
    check(whole.content.toString('latin1') === reference, 'content is not the input unstuffed');
    if (expect) check(whole.content.toString('latin1') === expect.content, 'generated message not received unchanged');
    const again = decode([stuff(whole.content)]);
    const want = whole.content.length === 0 || whole.content.toString('latin1').endsWith('\r\n') ? whole.content : Buffer.concat([whole.content, Buffer.from('\r\n')]);
    check(again.done && again.content.equals(want) && again.rest === null, 'stuffing then unstuffing changes the message');
  },
};
export default target;
