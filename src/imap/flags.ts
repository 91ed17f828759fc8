/** Flags as the session writes them and checks them (the grammar is protocol/flags.ts). */
import { formatFlagList } from './protocol/encode.js';
import { isSettableFlag, SYSTEM_FLAGS } from './protocol/flags.js';

export { SYSTEM_FLAGS };

/** `(\\Seen $Label)`, with \\Recent added where the message is recent for this session. */
export function formatFlags(flags: readonly string[], recent = false): string {
  return formatFlagList(recent ? [...flags, '\\Recent'] : flags);
}

/**
 * Flags from STORE or APPEND (already parsed by the grammar): \\Recent and unknown system
 * flags cannot be set by a client (RFC 9051 2.3.2); the command answers NO.
 */
export function checkClientFlags(flags: readonly string[]): { flags: string[] } | { error: string } {
  const refused = flags.find((f) => !isSettableFlag(f));
  return refused ? { error: `${refused} cannot be stored` } : { flags: [...flags] };
}
