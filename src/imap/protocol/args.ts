/**
 * A cursor over a command's argument tokens, shared by the command grammars (FETCH, SEARCH,
 * STORE, ...). Every expect* method throws ImapSyntaxError naming what was missing.
 */
import { ImapSyntaxError, type Token } from './types.js';

/** Largest mod-sequence and number64 value that stays exact in a JS number. */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;

export class ArgCursor {
  private pos = 0;

  constructor(
    private readonly tokens: readonly Token[],
    /** What the tokens are the arguments of, for error messages ("FETCH", "SEARCH key"). */
    private readonly what: string,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  /** The next token's value if it is an atom (upper-cased), else null; does not consume. */
  peekAtom(): string | null {
    const t = this.tokens[this.pos];
    return t?.kind === 'atom' ? t.value.toUpperCase() : null;
  }

  next(expected: string): Token {
    const t = this.tokens[this.pos];
    if (!t) throw new ImapSyntaxError(`${this.what}: missing ${expected}`);
    this.pos++;
    return t;
  }

  atom(expected: string): string {
    const t = this.next(expected);
    if (t.kind !== 'atom') throw new ImapSyntaxError(`${this.what}: expected ${expected}`);
    return t.value;
  }

  /** An astring or nstring-like argument as text (atoms as they are, strings decoded as UTF-8). */
  astring(expected: string): string {
    return tokenText(this.next(expected), `${this.what}: expected ${expected}`);
  }

  list(expected: string): Token[] {
    const t = this.next(expected);
    if (t.kind !== 'list') throw new ImapSyntaxError(`${this.what}: expected ${expected} list`);
    return t.items;
  }

  /** An unsigned decimal number (number64 / mod-sequence), at most 2^53-1. */
  number(expected: string): number {
    return parseNumber(this.atom(expected), `${this.what}: ${expected}`);
  }

  /** Consumes an atom if it equals `word` (case-insensitive). */
  acceptAtom(word: string): boolean {
    if (this.peekAtom() !== word) return false;
    this.pos++;
    return true;
  }

  /** Throws unless every token was consumed. */
  end(): void {
    if (!this.atEnd) throw new ImapSyntaxError(`${this.what}: unexpected extra arguments`);
  }
}

/** A header field name: printable ASCII except ':' (RFC 5322 2.2). */
export function isHeaderFieldName(text: string): boolean {
  return /^[!-9;-~]+$/.test(text);
}

/** A decimal number with no sign; `nonZero` for nz-number. */
export function parseNumber(text: string, what: string, nonZero = false): number {
  if (!/^[0-9]{1,16}$/.test(text)) throw new ImapSyntaxError(`${what}: not a number`);
  const n = Number(text);
  if (n > MAX_NUMBER) throw new ImapSyntaxError(`${what}: number too large`);
  if (nonZero && n === 0) throw new ImapSyntaxError(`${what}: must not be zero`);
  return n;
}

/** An atom or string token as text; lists are refused. */
export function tokenText(token: Token, errorMessage: string): string {
  if (token.kind === 'atom') return token.value;
  if (token.kind === 'string') return token.value.toString('utf8');
  throw new ImapSyntaxError(errorMessage);
}
