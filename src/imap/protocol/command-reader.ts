/**
 * Reads whole IMAP commands off a connection (RFC 9051 section 2.2.1 and the grammar of
 * section 9): the tag, the command name, and the arguments as tokens, following literals
 * ({n}, {n+} of RFC 7888, ~{n} of RFC 3516) across lines. Synchronising literals get their
 * continuation request only once they pass the limits, so a refused literal is never
 * transmitted; a refused non-synchronising one is read and thrown away. Either way the reader
 * ends up at the start of the next command, and the session only has to answer BAD.
 */
import { AppendReader } from './append-stream.js';
import { CommandInput, type CommandLimits, type LineSource } from './command-input.js';
import { ArgTokenizer } from './tokenizer.js';
import { ImapSyntaxError, type ReadResult } from './types.js';

export { type CommandLimits, type LineSource, LITERAL_MINUS_MAX } from './command-input.js';
export type { AppendMessage, AppendStream, ReadResult } from './types.js';

export const DEFAULT_COMMAND_LIMITS: CommandLimits = {
  maxCommandBytes: 64 * 1024,
  maxLiteralBytes: 64 * 1024,
  maxDepth: 32,
  maxTokens: 10_000,
};

/** tag = 1*<any ASTRING-CHAR except "+">: printable ASCII but ( ) { % * " \ and +. */
const TAG = /^[^(){%*"\\+]+$/;
const PRINTABLE = /^[\x21-\x7e]+$/;

function isTag(text: string): boolean {
  return PRINTABLE.test(text) && TAG.test(text);
}
/** Command names are atoms; extensions use letters, digits and '-'. */
const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

export interface CommandReaderOptions {
  /**
   * Sends a continuation request, "+ <text>\r\n", for a synchronising literal that passed the
   * limits (and for each APPEND message the session accepts).
   */
  sendContinuation: (text: string) => void | Promise<void>;
  /** Defaults: DEFAULT_COMMAND_LIMITS. */
  limits?: Partial<CommandLimits>;
}

interface CommandHead {
  tag: string;
  name: string;
  /** Where the arguments start (after the separating space), or the line length. */
  argsOffset: number;
}

export class ImapCommandReader {
  private readonly input: CommandInput;
  private readonly limits: CommandLimits;
  private append: AppendReader | null = null;

  constructor(lines: LineSource, options: CommandReaderOptions) {
    this.limits = { ...DEFAULT_COMMAND_LIMITS, ...options.limits };
    this.input = new CommandInput(lines, options.sendContinuation, this.limits);
  }

  /**
   * The next command, or null once the connection ends. An APPEND still in progress (messages
   * not asked for, bytes not read) is skipped first.
   */
  async next(): Promise<ReadResult | null> {
    if (this.append) {
      await this.append.skipRest();
      this.append = null;
    }
    const line = await this.input.nextLine();
    if (!line) return null;
    if (line.tooLong) {
      // The tag is known only if its end (a space) came within the bytes kept of the line.
      const tag = line.head && line.head.includes(0x20) ? tagOf(line.head) : null;
      return { kind: 'bad', tag, message: 'Command line too long' };
    }
    if (line.bytes.length === 0) return { kind: 'bad', tag: null, message: 'Empty command line' };
    return this.readCommand(line.bytes);
  }

  /**
   * One raw line (AUTHENTICATE responses, IDLE's DONE), without its line ending; null at end
   * of stream. Throws ImapSyntaxError for a line over the line reader's limit.
   */
  async readRawLine(): Promise<Buffer | null> {
    const line = await this.input.nextLine();
    if (!line) return null;
    if (line.tooLong) throw new ImapSyntaxError('Line too long');
    return line.bytes;
  }

  private async readCommand(first: Buffer): Promise<ReadResult | null> {
    let head: CommandHead;
    try {
      head = parseHead(first);
    } catch (err) {
      if (!(err instanceof ImapSyntaxError)) throw err;
      await this.input.skipRest(first);
      return { kind: 'bad', tag: tagOf(first), message: err.message };
    }
    if (first.length > this.limits.maxCommandBytes) {
      await this.input.skipRest(first);
      return { kind: 'bad', tag: head.tag, message: 'Command too long' };
    }
    const tokens = new ArgTokenizer(this.limits);
    if (head.name === 'APPEND') {
      this.append = new AppendReader(this.input, tokens, first, head.argsOffset);
      return { kind: 'append', tag: head.tag, stream: this.append };
    }
    let line = first;
    let offset = head.argsOffset;
    let total = first.length;
    for (;;) {
      let scanned;
      try {
        scanned = tokens.scan(line, offset);
      } catch (err) {
        if (!(err instanceof ImapSyntaxError)) throw err;
        await this.input.skipRest(line);
        return { kind: 'bad', tag: head.tag, message: err.message };
      }
      if (scanned.kind === 'end') return { kind: 'command', tag: head.tag, name: head.name, args: tokens.topLevel };
      const after = await this.input.takeArgumentLiteral(scanned.marker, tokens, total);
      if (after.kind === 'closed') return null;
      if (after.kind === 'refused') return { kind: 'bad', tag: head.tag, message: after.message };
      line = after.line;
      offset = 0;
      total = after.total;
    }
  }
}

/** Tag, command name (with UID's sub-command) and where the arguments begin. */
function parseHead(line: Buffer): CommandHead {
  const text = line.toString('latin1');
  const words = /^([^ ]*)(?: ([^ ]*))?/.exec(text) as RegExpExecArray;
  const tag = words[1];
  if (!isTag(tag)) throw new ImapSyntaxError('Invalid tag');
  let name = words[2];
  if (name === undefined || name === '') throw new ImapSyntaxError('Missing command');
  if (!COMMAND_NAME.test(name)) throw new ImapSyntaxError('Invalid command name');
  name = name.toUpperCase();
  let end = tag.length + 1 + name.length;
  if (name === 'UID') {
    const sub = /^ ([A-Za-z][A-Za-z0-9-]*)(?= |$)/.exec(text.slice(end));
    if (!sub) throw new ImapSyntaxError('Missing command after UID');
    name = `UID ${sub[1].toUpperCase()}`;
    end += sub[0].length;
  }
  if (end < text.length && text[end] !== ' ') throw new ImapSyntaxError('Invalid command name');
  return { tag, name, argsOffset: Math.min(end + 1, text.length) };
}

/** The tag of a line that failed to parse, if it has a valid one. */
function tagOf(line: Buffer): string | null {
  const space = line.indexOf(0x20);
  const tag = line.subarray(0, space < 0 ? line.length : space).toString('latin1');
  return isTag(tag) ? tag : null;
}
