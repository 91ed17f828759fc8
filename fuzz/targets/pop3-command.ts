/**
 * POP3 commands (pop3/command-line.ts) read through the shared line reader, and the POP3
 * multi-line response transforms (pop3/byte-stuffing.ts) on the same bytes. Invariants: a
 * parsed command prints back to a line that parses the same; NUL is always refused; numbers
 * are plain decimals; stuffing and TOP give the same bytes however the message is chunked;
 * and a stuffed message reads back unchanged through SMTP's DATA decoder, the other
 * implementation of the same rule.
 */
import fc from 'fast-check';
import { parseCommandLine, parseNumberArg } from '../../src/pop3/command-line.js';
import { DotStuffer, TopLimiter, dotStuff } from '../../src/pop3/byte-stuffing.js';
import { DotDecoder } from '../../src/smtp/wire/data-decoder.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { piecesOf } from './fake-socket.js';
import { readLines } from './lines.js';

/** The POP3 session's limit (RFC 2449 4: 255 octets for a command line, with room to spare). */
const MAX_LINE_BYTES = 512;

const keyword = fc.constantFrom('USER', 'PASS', 'STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'QUIT', 'TOP', 'UIDL', 'CAPA', 'STLS', 'AUTH', 'APOP', 'user', 'Retr', 'X', 'TOOLONGKEYWORD');
const arg = fc.oneof(fc.nat({ max: 99 }).map(String), fc.constantFrom('0', '-1', '+1', '4294967296', '99999999999', '1e3', ' ', ''), fc.string({ maxLength: 10 }));
const commandLine = fc.tuple(keyword, fc.array(arg, { maxLength: 3 }), fc.constantFrom('\r\n', '\n', '\r\r\n')).map(([k, a, end]) => [k, ...a].join(' ') + end);

const target: FuzzTarget = {
  name: 'pop3-command',
  description: 'POP3 command lines through the line reader, plus byte-stuffing and TOP (pop3/)',
  generator: fc.array(commandLine, { maxLength: 12 }).map((lines) => ({ bytes: Buffer.from(lines.join(''), 'utf8') })),
  dictionary: ['USER ', 'PASS ', 'RETR ', 'TOP ', 'LIST ', '\r\n', '.\r\n', '\r\n.\r\n', '\u0000'],
  async run(bytes) {
    for (const line of await readLines(bytes, MAX_LINE_BYTES)) {
      if (line.tooLong) continue;
      const parsed = parseCommandLine(line.bytes);
      if (line.bytes.includes(0)) {
        check(!parsed.ok && parsed.reason === 'invalid-bytes', 'a line with NUL was accepted');
        continue;
      }
      if (!parsed.ok) continue;
      const { keyword: kw, args, rest } = parsed.command;
      check(/^[A-Z]{1,8}$/.test(kw), `keyword ${JSON.stringify(kw)}`);
      check(args.every((a) => a.length > 0 && !a.includes(' ')), 'an argument is empty or has a space');
      check(args.join(' ') === rest.split(' ').filter((a) => a).join(' '), 'arguments do not match the rest of the line');
      const again = parseCommandLine(Buffer.from(line.bytes.includes(0x20) ? `${kw} ${rest}` : kw, 'utf8'));
      check(again.ok && JSON.stringify(again.command) === JSON.stringify(parsed.command), 'command does not print back to itself');
      for (const a of args) {
        const n = parseNumberArg(a);
        check(n === null || (Number.isInteger(n) && n >= 0 && String(n) === a.replace(/^0+(?=\d)/, '')), `number ${a} read as ${n}`);
      }
    }
    checkStuffing(bytes);
  },
};

function checkStuffing(message: Buffer): void {
  const whole = dotStuff(message);
  const stuffer = new DotStuffer();
  const out: Buffer[] = [];
  for (const piece of piecesOf(message, 1)) stuffer.stuff(piece, out);
  out.push(stuffer.terminator());
  check(Buffer.concat(out).equals(whole), 'byte-stuffing depends on how the message is chunked');
  // A line ends at LF here (a client splits there), so the response ends LF "." CRLF.
  check(whole.subarray(-4).equals(Buffer.from('\n.\r\n')) || whole.equals(Buffer.from('.\r\n')), 'response does not end with LF . CRLF');
  // Without bare LFs both protocols agree on where lines start, so SMTP's decoder undoes POP3's stuffing.
  if (!/(^|[^\r])\n/.test(message.toString('latin1'))) {
    const decoded = new DotDecoder().push(whole);
    check(decoded.done && decoded.rest === null, 'SMTP decoder did not find the end of a POP3-stuffed message');
    const expected = message.length === 0 || message[message.length - 1] === 0x0a ? message : Buffer.concat([message, Buffer.from('\r\n')]);
    check(Buffer.concat(decoded.segments).equals(expected), 'SMTP decoder does not undo POP3 stuffing');
  }
  // TOP: the same cut whatever the chunking, and always a prefix of the message.
  const lines = message.length % 7;
  const top = (chunks: Buffer[]) => {
    const limiter = new TopLimiter(lines);
    return Buffer.concat(chunks.map((c) => limiter.take(c)));
  };
  const once = top([message]);
  check(top(piecesOf(message, 2)).equals(once), 'TOP depends on how the message is chunked');
  check(message.subarray(0, once.length).equals(once), 'TOP output is not a prefix of the message');
}
export default target;
