/**
 * FTP command lines (ftp/command-line.ts) through the shared line reader. Invariants: Telnet
 * bytes before the keyword are dropped, the keyword is 3-8 letters upper-cased, a parsed
 * command prints back to a line that parses the same, and the path quoting of 257 replies
 * (quotePath) reads back to the same path by the rule of RFC 959 appendix II.
 */
import fc from 'fast-check';
import { defaultConfig } from '../../src/config/index.js';
import { parseCommandLine, quotePath } from '../../src/ftp/command-line.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { readLines } from './lines.js';

const MAX_LINE_BYTES = defaultConfig().ftp.maxLineBytes;

const keyword = fc.constantFrom('USER', 'PASS', 'CWD', 'CDUP', 'PWD', 'MKD', 'RMD', 'DELE', 'RNFR', 'RNTO', 'STOR', 'RETR', 'APPE', 'LIST', 'NLST', 'MLSD', 'MLST', 'SIZE', 'MDTM', 'REST', 'PORT', 'EPRT', 'PASV', 'EPSV', 'TYPE', 'AUTH', 'PBSZ', 'PROT', 'FEAT', 'OPTS', 'ABOR', 'QUIT', 'xmkd', 'Stor', 'AB', 'TOOLONGKW');
const argument = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', ' ', '../../etc/passwd', '"quoted"', 'a b', '/', '\\..\\', 'UTF8 ON', 'A N'));
const telnet = fc.array(fc.constantFrom(0xff, 0xf4, 0xf2, 0xfd), { maxLength: 3 }).map((b) => Buffer.from(b));
const line = fc
  .tuple(telnet, keyword, fc.option(argument), fc.constantFrom('\r\n', '\n'))
  .map(([t, k, a, end]) => Buffer.concat([t, Buffer.from(a === null ? k : `${k} ${a}`, 'utf8'), Buffer.from(end)]));

function unquote(reply: string): string {
  check(reply.startsWith('"') && reply.endsWith('"'), 'quoted path not in quotes');
  const inner = reply.slice(1, -1);
  check(!/(^|[^"])"("")*([^"]|$)/.test(inner.replace(/""/g, '')), 'lone quote inside a quoted path');
  return inner.replace(/""/g, '"');
}

const target: FuzzTarget = {
  name: 'ftp-command',
  description: 'FTP command lines through the line reader, and 257 path quoting (ftp/command-line.ts)',
  generator: fc.array(line, { maxLength: 10 }).map((lines) => ({ bytes: Buffer.concat(lines) })),
  dictionary: ['USER ', 'PASS ', 'CWD ', 'RETR ', 'PORT ', 'EPRT ', '\xff\xf4', '\r\n', '""'],
  async run(bytes) {
    for (const l of await readLines(bytes, MAX_LINE_BYTES)) {
      if (l.tooLong) continue;
      const parsed = parseCommandLine(l.bytes);
      let start = 0;
      while (start < l.bytes.length && l.bytes[start] >= 0xf0) start++;
      if (!parsed.ok) continue;
      const { keyword: kw, argument: arg } = parsed.command;
      check(/^[A-Z]{3,8}$/.test(kw), `keyword ${JSON.stringify(kw)}`);
      check(!arg.includes('\n') && !arg.includes('\r\n'), 'line ending inside an argument');
      const text = l.bytes.subarray(start).toString('utf8');
      check(text.slice(0, kw.length).toUpperCase() === kw, 'keyword is not the start of the line');
      const printed = text.includes(' ') ? `${kw} ${arg}` : kw;
      const again = parseCommandLine(Buffer.from(printed, 'utf8'));
      check(again.ok && again.command.keyword === kw && again.command.argument === arg, 'command does not print back to itself');
      check(unquote(quotePath(arg)) === arg, 'quotePath does not read back');
    }
  },
};
export default target;
