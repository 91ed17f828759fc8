/** One POP3 command as the client sent it (RFC 1939 section 3). */
export interface Pop3Command {
  /** Upper-cased keyword: commands are case-insensitive, and `user bob` typed by hand works. */
  keyword: string;
  /** Space-separated arguments (runs of spaces are tolerated). */
  args: string[];
  /**
   * Everything after the keyword and its space, unsplit. PASS takes this: RFC 1939 lets a
   * server treat spaces in the argument as part of the password.
   */
  rest: string;
}

/** A keyword is 3 or 4 letters in RFC 1939; extensions use up to 8 (RFC 2449 section 3). */
const KEYWORD = /^[A-Za-z]{1,8}$/;

export type ParsedCommand = { ok: true; command: Pop3Command } | { ok: false; reason: 'invalid-bytes' | 'syntax' };

/**
 * Parses a command line (line ending already removed). Arguments are decoded as UTF-8 for
 * passwords and user names; a NUL anywhere makes the line invalid (it could truncate a name
 * further down, and no POP3 command may contain one).
 */
export function parseCommandLine(bytes: Buffer): ParsedCommand {
  if (bytes.indexOf(0) >= 0) return { ok: false, reason: 'invalid-bytes' };
  const text = bytes.toString('utf8');
  const space = text.indexOf(' ');
  const keyword = space < 0 ? text : text.slice(0, space);
  if (!KEYWORD.test(keyword)) return { ok: false, reason: 'syntax' };
  const rest = space < 0 ? '' : text.slice(space + 1);
  const args = rest.split(' ').filter((a) => a.length > 0);
  return { ok: true, command: { keyword: keyword.toUpperCase(), args, rest } };
}

/**
 * A message-number or count argument: decimal digits only, no sign. Returns null when it is
 * not one (the caller replies -ERR); huge values are kept as numbers and simply not found.
 */
export function parseNumberArg(arg: string | undefined): number | null {
  if (arg === undefined || !/^[0-9]{1,10}$/.test(arg)) return null;
  return Number(arg);
}
