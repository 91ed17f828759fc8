/**
 * How files are described to clients: LIST lines in the `ls -l` form every client parses
 * (what vsftpd sends), NLST names, and the machine-readable MLST/MLSD facts (RFC 3659
 * section 7). Times are UTC, as RFC 3659 requires and as MDTM reports them.
 */
import type { FileInfo } from '../store/file-store.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** ls shows the year instead of the time for files older than about six months. */
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** "rwxr-xr-x" from permission bits. */
function permissionString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

/** One `ls -l` line: "-rw-r--r--    1 ftp      ftp          1234 Dec 02 05:30 name". */
export function listLine(info: FileInfo, name: string, now = Date.now()): string {
  const kind = info.type === 'directory' ? 'd' : '-';
  const links = info.type === 'directory' ? 2 : 1;
  const m = info.modified;
  const recent = Math.abs(now - m.getTime()) < SIX_MONTHS_MS;
  const when = recent ? `${pad2(m.getUTCHours())}:${pad2(m.getUTCMinutes())}` : ` ${m.getUTCFullYear()}`;
  const date = `${MONTHS[m.getUTCMonth()]} ${pad2(m.getUTCDate())} ${when}`;
  const size = info.type === 'directory' ? 4096 : info.size;
  return `${kind}${permissionString(info.mode)} ${String(links).padStart(4)} ftp      ftp      ${String(size).padStart(12)} ${date} ${name}`;
}

/** "YYYYMMDDHHMMSS" in UTC (MDTM, the MLSx modify fact, MFMT). */
export function ftpTime(date: Date): string {
  return (
    `${date.getUTCFullYear()}${pad2(date.getUTCMonth() + 1)}${pad2(date.getUTCDate())}` +
    `${pad2(date.getUTCHours())}${pad2(date.getUTCMinutes())}${pad2(date.getUTCSeconds())}`
  );
}

/** Parses "YYYYMMDDHHMMSS[.sss]" (MFMT), UTC; null when it is not a valid time. */
export function parseFtpTime(text: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 60) return null;
  return date;
}

/** The MLST facts this server knows; all are shown until OPTS MLST selects fewer (FEAT marks them with "*"). */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];
export const ALL_MLST_FACTS: ReadonlySet<MlstFact> = new Set(MLST_FACTS);

/**
 * The selected facts of one entry, e.g. "type=file;size=12;modify=20261202053000;perm=adfrw;unix.mode=0644;",
 * or "" when none is selected (RFC 3659 section 7.9: a fact not selected MUST NOT be shown).
 * `role` marks the listed folder itself ("cdir") in MLSD. `perm` says what this user may do:
 * the anonymous area is read-only.
 */
export function mlstFacts(info: FileInfo, opts: { readOnly: boolean; selected: ReadonlySet<MlstFact>; role?: 'cdir' }): string {
  const facts: string[] = [];
  for (const fact of MLST_FACTS) {
    if (!opts.selected.has(fact)) continue;
    const value = factValue(fact, info, opts);
    if (value !== null) facts.push(`${fact}=${value};`);
  }
  return facts.join('');
}

/** One fact's value; null where it does not apply (a folder has no size). */
function factValue(fact: MlstFact, info: FileInfo, opts: { readOnly: boolean; role?: 'cdir' }): string | null {
  switch (fact) {
    case 'type':
      return opts.role ?? (info.type === 'directory' ? 'dir' : 'file');
    case 'size':
      return info.type === 'file' ? String(info.size) : null;
    case 'modify':
      return ftpTime(info.modified);
    case 'perm':
      return info.type === 'directory' ? (opts.readOnly ? 'el' : 'flcdmpe') : opts.readOnly ? 'r' : 'adfrw';
    case 'unix.mode':
      return `0${(info.mode & 0o7777).toString(8)}`;
  }
}
