/** Message flags in commands (RFC 9051 2.3.2 and the flag grammar of section 9). */
import { ImapSyntaxError, type Token } from './types.js';

/** The system flags a client may set, in their canonical spelling. */
export const SYSTEM_FLAGS: readonly string[] = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** flag-keyword: an atom, so none of ( ) { SP CTL % * " \ ] and no 8-bit. */
const KEYWORD = /^[!#$&'+,\-./0-9:;<=>?@A-Z[^_`a-z|}~]+$/;

/**
 * A flag a client asks to set or search: system flags in canonical case; \Recent (the server
 * alone sets it) and unknown system flags are refused; keywords are kept as written.
 */
export function parseFlag(text: string): string {
  if (text.startsWith('\\')) {
    const system = SYSTEM_FLAGS.find((f) => f.toLowerCase() === text.toLowerCase());
    if (!system) throw new ImapSyntaxError(`Invalid system flag ${text.slice(0, 30)}`);
    return system;
  }
  if (!KEYWORD.test(text)) throw new ImapSyntaxError(`Invalid flag ${text.slice(0, 30)}`);
  return text;
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
