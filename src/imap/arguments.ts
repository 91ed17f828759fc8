/**
 * A cursor over a command's argument tokens, so each command file reads its grammar in order
 * (`args.astring()`, `args.number()`, `args.end()`) and any mismatch becomes one BAD reply.
 */
import { ImapSyntaxError, type Token } from './protocol/types.js';

export class Arguments {
  private index = 0;

  constructor(
    readonly tokens: Token[],
    /** For messages: what the arguments belong to. */
    private readonly what = 'command',
  ) {}

  get remaining(): number {
    return this.tokens.length - this.index;
  }

  /** The next token without consuming it, or undefined at the end. */
  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  /** Every token not consumed yet (consumes them). */
  rest(): Token[] {
    const out = this.tokens.slice(this.index);
    this.index = this.tokens.length;
    return out;
  }

  next(expected: string): Token {
    const token = this.tokens[this.index];
    if (!token) throw new ImapSyntaxError(`Missing ${expected}`);
    this.index++;
    return token;
  }

  /** An atom, as sent (case kept). */
  atom(expected = 'argument'): string {
    const t = this.next(expected);
    if (t.kind !== 'atom') throw new ImapSyntaxError(`Expected ${expected}`);
    return t.value;
  }

  /** An astring: atom, quoted string or literal, as UTF-8 text. */
  astring(expected = 'argument'): string {
    const t = this.next(expected);
    if (t.kind === 'list') throw new ImapSyntaxError(`Expected ${expected}, not a list`);
    return t.kind === 'atom' ? t.value : t.value.toString('utf8');
  }

  /** Raw bytes of an astring (passwords and SASL data are compared as bytes). */
  astringBytes(expected = 'argument'): Buffer {
    const t = this.next(expected);
    if (t.kind === 'list') throw new ImapSyntaxError(`Expected ${expected}, not a list`);
    return t.kind === 'atom' ? Buffer.from(t.value, 'utf8') : t.value;
  }

  /** A non-negative number (number64 where `max` allows). */
  number(expected = 'number', max = 0xffffffff): number {
    const text = this.atom(expected);
    return parseNumber(text, expected, max);
  }

  list(expected = 'list'): Token[] {
    const t = this.next(expected);
    if (t.kind !== 'list') throw new ImapSyntaxError(`Expected ${expected} in parentheses`);
    return t.items;
  }

  /** Fails unless every argument was consumed. */
  end(): void {
    if (this.index < this.tokens.length) throw new ImapSyntaxError(`Too many arguments for ${this.what}`);
  }
}

export function parseNumber(text: string, expected: string, max = 0xffffffff): number {
  if (!/^[0-9]{1,20}$/.test(text)) throw new ImapSyntaxError(`Expected ${expected}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > max) throw new ImapSyntaxError(`${expected} out of range`);
  return n;
}

/** Text of a token that is an atom or string; lists are refused. */
export function tokenText(t: Token, expected: string): string {
  if (t.kind === 'list') throw new ImapSyntaxError(`Expected ${expected}, not a list`);
  return t.kind === 'atom' ? t.value : t.value.toString('utf8');
}
