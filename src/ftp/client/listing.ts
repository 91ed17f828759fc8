/**
 * MLSD entries (RFC 3659 7): "fact=value;fact=value; name", one per line. Facts are
 * case-insensitive; the name is everything after the first space and may hold anything but
 * CR and LF (spaces and semicolons included).
 */

export interface ListEntry {
  name: string;
  /** 'file', 'dir', or what the server said ('cdir'/'pdir' are filtered out by the caller). */
  type: string;
  size: number | null;
  /** The modify fact, as a Date (UTC), or null. */
  modified: Date | null;
}

export function parseMlsdLine(line: string): ListEntry | null {
  const space = line.indexOf(' ');
  if (space < 0) return null;
  const facts = new Map<string, string>();
  for (const fact of line.slice(0, space).split(';')) {
    const eq = fact.indexOf('=');
    if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1));
  }
  const name = line.slice(space + 1);
  if (name.length === 0) return null;
  const size = facts.get('size') ?? facts.get('sizd');
  return {
    name,
    type: (facts.get('type') ?? 'file').toLowerCase(),
    size: size !== undefined && /^\d+$/.test(size) ? Number(size) : null,
    modified: parseTimeVal(facts.get('modify')),
  };
}

/** RFC 3659 time-val: YYYYMMDDHHMMSS[.sss], UTC. */
export function parseTimeVal(text: string | undefined): Date | null {
  const m = text ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d+))?$/.exec(text) : null;
  if (!m) return null;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms));
}
