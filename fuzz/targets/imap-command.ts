/**
 * IMAP commands as the server reads them (imap/protocol/command-reader.ts over the shared line
 * reader): tags, literals ({n}, {n+}, ~{n}) across lines, nested lists, APPEND streams, and the
 * command grammars (FETCH, SEARCH keys, STORE, LIST, SELECT, STATUS, SORT, THREAD, sequence sets,
 * mailbox names). Invariants: every generated command is read back as exactly the tokens it was
 * made of, with one continuation per synchronising literal; any command read prints back to
 * wire form that reads as the same tokens; nesting and token counts stay within the limits; the
 * grammars refuse only with ImapSyntaxError; sequence sets and mailbox names round-trip.
 */
import fc from 'fast-check';
import { LineReader } from '../../src/net/line-reader.js';
import { ImapBad, ImapNo } from '../../src/imap/errors.js';
import { parseAppendArgs } from '../../src/imap/protocol/append-args.js';
import { tokenText } from '../../src/imap/protocol/args.js';
import { ImapCommandReader, type CommandLimits } from '../../src/imap/protocol/command-reader.js';
import { parseFetch } from '../../src/imap/protocol/fetch.js';
import { parseList } from '../../src/imap/protocol/list.js';
import { decodeModifiedUtf7, encodeModifiedUtf7, mailboxFromToken, validateMailboxName } from '../../src/imap/protocol/mailbox-name.js';
import { parseSearch } from '../../src/imap/protocol/search.js';
import { parseSelect } from '../../src/imap/protocol/select.js';
import { formatSequenceSet, parseSequenceSet } from '../../src/imap/protocol/sequence-set.js';
import { parseSort, parseThread } from '../../src/imap/protocol/sort-thread.js';
import { parseStatus } from '../../src/imap/protocol/status.js';
import { parseStore } from '../../src/imap/protocol/store-args.js';
import { ImapSyntaxError, type Token } from '../../src/imap/protocol/types.js';
import { check, InvariantError, type FuzzTarget } from '../engine/types.js';
import { seedOf } from '../engine/rng.js';
import { FakeSocket, isWellFormed } from './fake-socket.js';

const LIMITS: CommandLimits = { maxCommandBytes: 8192, maxLiteralBytes: 4096, maxDepth: 32, maxTokens: 1000 };
const MAX_LINE_BYTES = 4096;

/** Tokens without how they were written (quoted or literal), for comparison. */
type Plain = { a: string } | { s: string; b?: true } | Plain[];
function plain(tokens: readonly Token[]): Plain[] {
  return tokens.map((t): Plain => (t.kind === 'atom' ? { a: t.value } : t.kind === 'string' ? (t.binary ? { s: t.value.toString('hex'), b: true } : { s: t.value.toString('hex') }) : plain(t.items)));
}

type StringForm = 'quoted' | 'sync' | 'nonsync' | 'binary';
type Gen = { kind: 'atom'; value: string } | { kind: 'string'; value: Buffer; form: StringForm } | { kind: 'list'; items: Gen[] };

/** Wire form; literals end the line they are announced on. Counts synchronising literals. */
function encode(tokens: readonly Gen[], out: { parts: Buffer[]; sync: number }): void {
  tokens.forEach((t, i) => {
    if (i > 0) out.parts.push(Buffer.from(' '));
    if (t.kind === 'atom') out.parts.push(Buffer.from(t.value, 'latin1'));
    else if (t.kind === 'list') {
      out.parts.push(Buffer.from('('));
      encode(t.items, out);
      out.parts.push(Buffer.from(')'));
    } else if (t.form === 'quoted') out.parts.push(Buffer.from(`"${t.value.toString('latin1').replace(/(["\\])/g, '\\$1')}"`, 'latin1'));
    else {
      const marker = t.form === 'binary' ? `~{${t.value.length}}` : t.form === 'nonsync' ? `{${t.value.length}+}` : `{${t.value.length}}`;
      if (t.form !== 'nonsync') out.sync++;
      out.parts.push(Buffer.from(marker + '\r\n', 'latin1'), t.value);
    }
  });
}

function toPlain(tokens: readonly Gen[]): Plain[] {
  return tokens.map((t): Plain => (t.kind === 'atom' ? { a: t.value } : t.kind === 'string' ? (t.form === 'binary' ? { s: t.value.toString('hex'), b: true } : { s: t.value.toString('hex') }) : toPlain(t.items)));
}

const atom = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9.:*,\\$+-]{1,10}$/),
  fc.constantFrom('BODY[HEADER.FIELDS (From To)]<0.100>', 'BODY.PEEK[1.2.MIME]', 'BINARY[1]', 'FLAGS', '\\Seen', 'UID', '1:*', '$', 'NIL', 'CHARSET', 'UTF-8', 'OR', 'NOT', 'SINCE', '1-Feb-2024', 'RETURN', 'MIN', 'ALL', 'ENVELOPE', '+FLAGS.SILENT', 'INBOX', 'CHANGEDSINCE', 'MODSEQ', 'REFERENCES', 'ORDEREDSUBJECT', 'REVERSE', 'HEADER', 'Subject'),
);
const stringToken = fc
  .tuple(fc.oneof(fc.string({ maxLength: 12 }).map((s) => Buffer.from(s, 'utf8')), fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b))), fc.constantFrom<StringForm>('quoted', 'sync', 'nonsync', 'binary'))
  .map(([value, form]): Gen => {
    // Only what a quoted string can carry goes quoted; NUL only in literal8.
    const quotable = !value.includes(0) && !value.includes(0x0d) && !value.includes(0x0a);
    const f: StringForm = form === 'quoted' && !quotable ? 'sync' : form;
    return { kind: 'string', value: f !== 'binary' && value.includes(0) ? Buffer.from(value.filter((b) => b !== 0)) : value, form: f };
  });
const tokenTree: fc.Arbitrary<Gen> = fc.letrec<{ t: Gen }>((tie) => ({
  t: fc.oneof({ depthSize: 'small' }, atom.map((value): Gen => ({ kind: 'atom', value })), stringToken, fc.array(tie('t'), { maxLength: 4 }).map((items): Gen => ({ kind: 'list', items }))),
})).t;
const commandName = fc.constantFrom('FETCH', 'UID FETCH', 'SEARCH', 'UID SEARCH', 'STORE', 'LIST', 'SELECT', 'EXAMINE', 'STATUS', 'SORT', 'THREAD', 'COPY', 'UID MOVE', 'CREATE', 'RENAME', 'NOOP', 'LOGIN', 'X-CUSTOM');
const command = fc.tuple(fc.stringMatching(/^[A-Za-z0-9.]{1,6}$/), commandName, fc.array(tokenTree, { maxLength: 6 }));

function runGrammar(name: string, args: Token[], utf8: boolean): void {
  const base = name.replace(/^UID /, '');
  const isUid = name.startsWith('UID ');
  switch (base) {
    case 'FETCH':
      parseFetch(args, isUid);
      break;
    case 'SEARCH':
      parseSearch(args);
      break;
    case 'STORE':
      parseStore(args);
      break;
    case 'LIST':
      parseList(args, utf8);
      break;
    case 'SELECT':
    case 'EXAMINE':
      parseSelect(args, utf8);
      break;
    case 'STATUS':
      parseStatus(args, utf8);
      break;
    case 'SORT':
      parseSort(args);
      break;
    case 'THREAD':
      parseThread(args);
      break;
    case 'COPY':
    case 'MOVE':
    case 'EXPUNGE': {
      if (!args[0]) return;
      const set = parseSequenceSet(tokenText(args[0], 'set'));
      check(formatSequenceSet(parseSequenceSet(formatSequenceSet(set))) === formatSequenceSet(set), 'sequence set does not round-trip');
      break;
    }
    case 'CREATE':
    case 'DELETE':
    case 'RENAME':
    case 'SUBSCRIBE': {
      for (const arg of args.slice(0, 2)) {
        const mailbox = mailboxFromToken(arg, utf8);
        if (validateMailboxName(mailbox) === null) {
          check(isWellFormed(mailbox), 'valid mailbox name with a lone surrogate');
          check(decodeModifiedUtf7(encodeModifiedUtf7(mailbox)) === mailbox, () => `mailbox name ${JSON.stringify(mailbox)} does not round-trip through modified UTF-7`);
        }
      }
      break;
    }
  }
}

async function grammar(name: string, args: Token[], utf8: boolean): Promise<void> {
  try {
    runGrammar(name, args, utf8);
  } catch (err) {
    if (err instanceof ImapSyntaxError || err instanceof ImapBad || err instanceof ImapNo) return;
    throw err;
  }
}

/** Prints tokens in wire form (non-synchronising literals where quoting cannot carry the bytes). */
function print(tokens: readonly Token[]): Buffer[] {
  const parts: Buffer[] = [];
  tokens.forEach((t, i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    if (t.kind === 'atom') parts.push(Buffer.from(t.value, 'latin1'));
    else if (t.kind === 'list') parts.push(Buffer.from('('), ...print(t.items), Buffer.from(')'));
    else if (!t.binary && !t.value.includes(0x0d) && !t.value.includes(0x0a) && !t.value.includes(0)) parts.push(Buffer.from(`"${t.value.toString('latin1').replace(/(["\\])/g, '\\$1')}"`, 'latin1'));
    else parts.push(Buffer.from(`${t.binary ? '~' : ''}{${t.value.length}+}\r\n`, 'latin1'), t.value);
  });
  return parts;
}

interface Read {
  results: Array<{ kind: string; tag: string | null; name?: string; args?: Plain[] }>;
  continuations: number;
}

async function readAll(bytes: Buffer, limits: CommandLimits, maxLineBytes: number, onCommand: (name: string, args: Token[]) => Promise<void>): Promise<Read> {
  const socket = new FakeSocket();
  const lines = new LineReader(socket.asDuplex(), maxLineBytes);
  let continuations = 0;
  const reader = new ImapCommandReader(lines, { sendContinuation: () => void continuations++, limits });
  const delivering = socket.deliver(bytes);
  const results: Read['results'] = [];
  for (;;) {
    const r = await reader.next();
    if (!r) break;
    if (r.kind === 'bad') {
      results.push({ kind: 'bad', tag: r.tag });
      continue;
    }
    if (r.kind === 'append') {
      results.push({ kind: 'append', tag: r.tag });
      let first = true;
      try {
        for (;;) {
          const m = await r.stream.nextMessage();
          if (!m) break;
          try {
            parseAppendArgs(m.args, first, false);
          } catch (err) {
            if (!(err instanceof ImapSyntaxError)) throw err;
          }
          first = false;
          if ((m.size & 1) === 0) {
            let got = 0;
            for await (const chunk of m.accept()) got += chunk.length;
            check(got === m.size || got < m.size, 'APPEND gave more bytes than announced');
          } else await m.reject();
        }
      } catch (err) {
        if (!(err instanceof ImapSyntaxError)) throw err;
      }
      continue;
    }
    check(/^[\x21-\x7e]+$/.test(r.tag) && !/[(){%*"\\+]/.test(r.tag), `bad tag ${JSON.stringify(r.tag)} accepted`);
    check(r.name === r.name.toUpperCase(), 'command name not upper-cased');
    checkLimits(r.args, limits, 0, { count: 0 });
    results.push({ kind: 'command', tag: r.tag, name: r.name, args: plain(r.args) });
    await onCommand(r.name, r.args);
  }
  await delivering;
  return { results, continuations };
}

function checkLimits(tokens: readonly Token[], limits: CommandLimits, depth: number, seen: { count: number }): void {
  check(depth <= limits.maxDepth, `lists nested ${depth} deep`);
  for (const t of tokens) {
    seen.count++;
    check(seen.count <= limits.maxTokens, 'more tokens than the limit');
    if (t.kind === 'list') checkLimits(t.items, limits, depth + 1, seen);
    if (t.kind === 'string') check(!t.literal || t.value.length <= limits.maxLiteralBytes, 'literal over the limit accepted');
  }
}

const ROUND_TRIP_LIMITS: CommandLimits = { maxCommandBytes: 1 << 30, maxLiteralBytes: 1 << 30, maxDepth: 64, maxTokens: 100_000 };

const target: FuzzTarget<{ commands: Array<{ tag: string; name: string; args: Plain[] }>; sync: number }> = {
  name: 'imap-command',
  description: 'IMAP command reader (literals, lists, APPEND) and command grammars (imap/protocol/)',
  generator: fc.array(command, { maxLength: 5 }).map((cmds) => {
    const out = { parts: [] as Buffer[], sync: 0 };
    const commands = cmds.map(([tag, name, args]) => {
      out.parts.push(Buffer.from(`${tag} ${name}${args.length > 0 ? ' ' : ''}`, 'latin1'));
      encode(args, out);
      out.parts.push(Buffer.from('\r\n'));
      return { tag, name, args: toPlain(args) };
    });
    return { bytes: Buffer.concat(out.parts), expect: { commands, sync: out.sync } };
  }),
  dictionary: ['{5}\r\n', '{0}\r\n', '{4+}\r\n', '~{3}\r\n', '{99999999999999999}\r\n', '(', ')', '"', '\\', 'BODY[', ']', 'A1 ', ' APPEND INBOX ', ' UID ', ' FETCH 1:* ', ' SEARCH ', '\r\n', '*', '$'],
  maxInputBytes: 16 * 1024,
  async run(bytes, expect) {
    const seed = seedOf(bytes);
    const limits: CommandLimits = seed & 1 ? { ...LIMITS, maxNonSyncLiteralBytes: 4096 } : LIMITS;
    const utf8 = (seed & 2) !== 0;
    const read = await readAll(bytes, limits, MAX_LINE_BYTES, async (name, args) => {
      await grammar(name, args, utf8);
      // Printing the command and reading it again gives the same tokens.
      const wire = Buffer.concat([Buffer.from(`T ${name}${args.length > 0 ? ' ' : ''}`, 'latin1'), ...print(args), Buffer.from('\r\n')]);
      // Strings that came as literals may print quoted, so the printed line can be longer than
      // the original ones: the second reading has no line limit to trip on.
      const again = await readAll(wire, ROUND_TRIP_LIMITS, ROUND_TRIP_LIMITS.maxCommandBytes, async () => {});
      const first = again.results[0];
      if (again.results.length !== 1 || first.kind !== 'command' || JSON.stringify(first.args) !== JSON.stringify(plain(args))) {
        throw new InvariantError(`command does not read back as itself: ${JSON.stringify(wire.toString('latin1').slice(0, 200))}`);
      }
    });
    if (expect) {
      const got = read.results.map((r) => ({ tag: r.tag, name: r.name, args: r.args, kind: r.kind }));
      const want = expect.commands.map((c) => ({ tag: c.tag, name: c.name, args: c.args, kind: 'command' }));
      check(JSON.stringify(got) === JSON.stringify(want), () => `generated commands read as ${JSON.stringify(got).slice(0, 300)}, expected ${JSON.stringify(want).slice(0, 300)}`);
      check(read.continuations === expect.sync, `${read.continuations} continuations for ${expect.sync} synchronising literals`);
    }
  },
};
export default target;
