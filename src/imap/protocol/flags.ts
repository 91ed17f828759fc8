/** Message flags in commands (RFC 9051 2.3.2 and the flag grammar of section 9). */
import { ImapSyntaxError, type Token } from './types.js';

/** The system flags a client may set, in their canonical spelling. */
export const SYSTEM_FLAGS: readonly string[] = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** Flags with a canonical spelling: the settable ones and \Recent, which only the server sets. */
const KNOWN_FLAGS: readonly string[] = [...SYSTEM_FLAGS, '\\Recent'];

/** flag-keyword: an atom, so none of ( ) { SP CTL % * " \ ] and no 8-bit. */
const KEYWORD = /^[!#$&'+,\-./0-9:;<=>?@A-Z[^_`a-z|}~]+$/;

/**
 * A flag as the grammar allows it (flag-keyword, or flag-extension "\\" atom), known system
 * flags in canonical case, keywords as written. Whether a flag may be set (not \\Recent, not
 * an unknown extension) is the command's decision, answered NO rather than BAD.
 */
export function parseFlag(text: string): string {
  if (text.startsWith('\\')) {
    if (!KEYWORD.test(text.slice(1))) throw new ImapSyntaxError(`Invalid flag ${text.slice(0, 30)}`);
    return KNOWN_FLAGS.find((f) => f.toLowerCase() === text.toLowerCase()) ?? text;
  }
  if (!KEYWORD.test(text)) throw new ImapSyntaxError(`Invalid flag ${text.slice(0, 30)}`);
  return text;
}

/** True for the flags a client may set with STORE or APPEND (system flags and keywords). */
export function isSettableFlag(flag: string): boolean {
  return !flag.startsWith('\\') || SYSTEM_FLAGS.includes(flag);
}

/** Flags from tokens (a flag-list's items, or STORE's bare flags), without duplicates. */
export function parseFlags(tokens: readonly Token[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'atom') throw new ImapSyntaxError('Invalid flag');
    const flag = parseFlag(t.value);
    if (seen.has(flag.toLowerCase())) continue;
    seen.add(flag.toLowerCase());
    out.push(flag);
  }
  return out;
}
