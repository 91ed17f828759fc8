/** Flags as the session writes them and checks them (the grammar is protocol/flags.ts). */
import { formatFlagList } from './protocol/encode.js';
import { isSettableFlag, SYSTEM_FLAGS } from './protocol/flags.js';

export { SYSTEM_FLAGS };

/** `(\\Seen $Label)`, with \\Recent added where the message is recent for this session. */
export function formatFlags(flags: readonly string[], recent = false): string {
  if (recent) return formatFlagList([...flags, '\\Recent']);
  // Entries with the same flags share one frozen array (entry-cache.ts): format each once.
  if (!Object.isFrozen(flags)) return formatFlagList(flags);
  let text = formatted.get(flags);
  if (text === undefined) {
    text = formatFlagList(flags);
    formatted.set(flags, text);
  }
  return text;
}

const formatted = new WeakMap<readonly string[], string>();

/**
 * Flags from STORE or APPEND (already parsed by the grammar): \\Recent and unknown system
 * flags cannot be set by a client (RFC 9051 2.3.2); the command answers NO.
 */
export function checkClientFlags(flags: readonly string[]): { flags: string[] } | { error: string } {
  const refused = flags.find((f) => !isSettableFlag(f));
  return refused ? { error: `${refused} cannot be stored` } : { flags: [...flags] };
}
