/**
 * Splits the argument part of a command into tokens (RFC 9051 section 4), one line at a time.
 * A command with literals spans several lines: scanning stops at a literal marker ("{5}" at the
 * end of a line), the reader fetches the literal's bytes and hands them in with pushLiteral,
 * then scanning resumes on the next line with the same open lists. The tokenizer itself never
 * touches the socket.
 */
import { ImapSyntaxError, type Token } from './types.js';

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
const LBRACE = 0x7b;
const TILDE = 0x7e;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** A literal announced at the end of a line. */
export interface LiteralMarker {
  /** Announced size; Infinity when it does not fit a JS number. */
  size: number;
  /** {n+}: LITERAL+/LITERAL- non-synchronising, the bytes follow without a continuation. */
  nonSync: boolean;
  /** ~{n}: literal8 (RFC 3516). */
  binary: boolean;
}

export type ScanResult = { kind: 'end' } | { kind: 'literal'; marker: LiteralMarker };

export interface TokenizerLimits {
  /** Deepest list nesting accepted. */
  maxDepth: number;
  /** Most tokens (atoms, strings and lists, nested ones included) in one command. */
  maxTokens: number;
}

const MARKER = /~?\{([0-9]+)(\+?)\}$/;

/** The literal marker ending `line`, if any (also used to skip the rest of a refused command). */
export function trailingLiteral(line: Buffer): LiteralMarker | null {
  // A marker is short; only the tail needs looking at.
  const tail = line.subarray(Math.max(0, line.length - 32)).toString('latin1');
  const m = MARKER.exec(tail);
  if (!m) return null;
  const digits = m[1];
  const size = digits.length > 15 ? Infinity : Number(digits);
  return { size, nonSync: m[2] === '+', binary: m[0].startsWith('~') };
}

export class ArgTokenizer {
  private stack: Token[][] = [[]];
  /** A token just ended: the next byte must be a space, ')' or the line end. */
  private needSeparator = false;
  private count = 0;

  constructor(private readonly limits: TokenizerLimits) {}

  /** Open lists (0 at the top level). */
  get depth(): number {
    return this.stack.length - 1;
  }

  /** Tokens completed so far at the top level. */
  get topLevel(): Token[] {
    return this.stack[0];
  }

  /** Returns the top-level tokens so far and starts a fresh top level (APPEND's messages). */
  takeTopLevel(): Token[] {
    const tokens = this.stack[0];
    this.stack[0] = [];
    return tokens;
  }

  /**
   * Scans `line` from `offset`. Returns 'end' when the line (and, with no list open, the
   * command) ends, or the literal marker that ends the line. Throws ImapSyntaxError.
   */
  scan(line: Buffer, offset: number): ScanResult {
    let i = offset;
    while (i < line.length) {
      const c = line[i];
      if (c === SP) {
        // Runs of spaces are tolerated; some clients send a trailing space.
        this.needSeparator = false;
        i++;
        continue;
      }
      if (c === CLOSE) {
        if (this.stack.length === 1) throw new ImapSyntaxError('Unexpected )');
        const items = this.stack.pop() as Token[];
        this.stack[this.stack.length - 1].push({ kind: 'list', items });
        this.needSeparator = true;
        i++;
        continue;
      }
      if (this.needSeparator) throw new ImapSyntaxError('Missing space between arguments');
      if (c === OPEN) {
        if (this.stack.length > this.limits.maxDepth) throw new ImapSyntaxError('Lists nested too deeply');
        this.counted();
        this.stack.push([]);
        i++;
        continue;
      }
      if (c === LBRACE || (c === TILDE && line[i + 1] === LBRACE)) {
        const marker = line.length - i <= 32 ? trailingLiteral(line) : null;
        if (!marker || !isWholeMarker(line, i)) throw new ImapSyntaxError('Invalid literal');
        return { kind: 'literal', marker };
      }
      i = c === DQUOTE ? this.quoted(line, i) : this.atom(line, i);
    }
    if (this.stack.length > 1) throw new ImapSyntaxError('Unclosed list');
    return { kind: 'end' };
  }

  /** Adds a literal's bytes as the string token its marker announced. */
  pushLiteral(value: Buffer, binary: boolean): void {
    this.push(binary ? { kind: 'string', value, literal: true, binary: true } : { kind: 'string', value, literal: true });
  }

  /** Counts a literal that was streamed to the session instead of becoming a token. */
  skipStreamedLiteral(): void {
    this.counted();
    this.needSeparator = true;
  }

  private push(token: Token): void {
    this.counted();
    this.stack[this.stack.length - 1].push(token);
    this.needSeparator = true;
  }

  private counted(): void {
    if (++this.count > this.limits.maxTokens) throw new ImapSyntaxError('Too many arguments');
  }

  private quoted(line: Buffer, start: number): number {
    const parts: Buffer[] = [];
    let from = start + 1;
    for (let i = from; i < line.length; i++) {
      const c = line[i];
      if (c === DQUOTE) {
        parts.push(line.subarray(from, i));
        this.push({ kind: 'string', value: Buffer.concat(parts), literal: false });
        return i + 1;
      }
      if (c === 0) throw new ImapSyntaxError('NUL in quoted string');
      if (c === BACKSLASH) {
        const next = line[i + 1];
        if (next !== DQUOTE && next !== BACKSLASH) throw new ImapSyntaxError('Invalid escape in quoted string');
        parts.push(line.subarray(from, i));
        from = i + 1;
        i++;
      }
    }
    throw new ImapSyntaxError('Unterminated quoted string');
  }

  /**
   * An atom, stretched to cover section specifiers: from '[' to the matching ']' spaces and
   * parentheses are part of it, so BODY[HEADER.FIELDS (From To)]<0.100> is one token.
   */
  private atom(line: Buffer, start: number): number {
    let i = start;
    while (i < line.length) {
      const c = line[i];
      if (c === SP || c === OPEN || c === CLOSE) break;
      if (c === LBRACKET) {
        const close = line.indexOf(RBRACKET, i + 1);
        if (close < 0) throw new ImapSyntaxError('Missing ]');
        for (let j = i + 1; j < close; j++) {
          if (line[j] < SP || line[j] > TILDE) throw new ImapSyntaxError('Invalid character in section');
        }
        i = close + 1;
        continue;
      }
      if (c <= SP || c >= 0x7f || c === DQUOTE || c === LBRACE) throw new ImapSyntaxError('Invalid character in atom');
      i++;
    }
    this.push({ kind: 'atom', value: line.subarray(start, i).toString('latin1') });
    return i;
  }
}

/** True when the marker starting at `start` runs exactly to the end of the line. */
function isWholeMarker(line: Buffer, start: number): boolean {
  const text = line.subarray(start).toString('latin1');
  return /^~?\{[0-9]+\+?\}$/.test(text);
}
