/** Flag lists as IMAP writes them, and the system flags a client may set. */

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

const SYSTEM_BY_LOWER = new Map<string, string>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** `(\Seen $Label)`, with \Recent added where the message is recent for this session. */
export function formatFlags(flags: readonly string[], recent = false): string {
  const all = recent ? [...flags, '\\Recent'] : flags;
  return `(${all.join(' ')})`;
}

/**
 * Checks flags from STORE or APPEND: system flags are spelled canonically; \Recent cannot be
 * set by a client (RFC 3501 2.3.2), other backslash flags are unknown; keywords must be atoms.
 * Returns the flags to store, or a reason.
 */
export function normalizeClientFlags(flags: string[]): { flags: string[] } | { error: string } {
  const out: string[] = [];
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const canonical = SYSTEM_BY_LOWER.get(f.toLowerCase());
      if (!canonical) {
        if (f.toLowerCase() === '\\recent') return { error: '\\Recent cannot be stored' };
        return { error: `Unknown system flag ${f}` };
      }
      out.push(canonical);
    } else {
      if (!/^[\x21-\x7e]+$/.test(f) || /[(){%*"\\\]]/.test(f)) return { error: `Invalid keyword ${f}` };
      out.push(f);
    }
  }
  return { flags: out };
}
