/**
 * A cursor over a command's argument tokens, shared by the command grammars (FETCH, SEARCH,
 * STORE, ...). Every expect* method throws ImapSyntaxError naming what was missing.
 */
import { ImapSyntaxError, type Token } from './types.js';

/** Largest number that stays exact in a JS number. */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;
/** number64 and mod-sequence-value: 2^63-1. */
const MAX_NUMBER64 = 2n ** 63n - 1n;

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

  /** Tokens not consumed yet. */
  get remaining(): number {
    return this.tokens.length - this.pos;
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

  /** An unsigned decimal number (number64 / mod-sequence); see parseNumber. */
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

/**
 * A decimal number with no sign, up to 2^63-1 (number64, mod-sequence-value); `nonZero` for
 * nz-number. Values past 2^53-1 are clamped to it: the server's own numbers never get that
 * large, so a comparison with a clamped value comes out the same.
 */
export function parseNumber(text: string, what: string, nonZero = false): number {
  if (!/^[0-9]{1,19}$/.test(text) || BigInt(text) > MAX_NUMBER64) throw new ImapSyntaxError(`${what}: not a valid number`);
  const n = Math.min(Number(text), MAX_NUMBER);
  if (nonZero && n === 0) throw new ImapSyntaxError(`${what}: must not be zero`);
  return n;
}

/**
 * A list of keywords from a fixed vocabulary (RETURN options, status items), upper-cased,
 * duplicates dropped; anything else is a syntax error reported as `error`.
 */
export function parseWordList<T extends string>(tokens: readonly Token[], vocabulary: readonly T[], error: string): T[] {
  const out: T[] = [];
  for (const t of tokens) {
    const word = t.kind === 'atom' ? t.value.toUpperCase() : '';
    const known = vocabulary.find((v) => v === word);
    if (!known) throw new ImapSyntaxError(error);
    if (!out.includes(known)) out.push(known);
  }
  return out;
}

/** An atom or string token as text; lists are refused. */
export function tokenText(token: Token, errorMessage: string): string {
  if (token.kind === 'atom') return token.value;
  if (token.kind === 'string') return token.value.toString('utf8');
  throw new ImapSyntaxError(errorMessage);
}
