/**
 * What kind of temporary failure a store error is, so that every service answers a full disk,
 * an I/O error or a database that went away with the same class of reply: "try again later"
 * (SMTP 4xx, IMAP NO, FTP 45x), never a success and never a dropped connection.
 *
 * - 'no-space': the disk (or the database's disk) is full — SMTP 452 4.3.1, IMAP NO [OVERQUOTA]
 *   (what Dovecot answers for ENOSPC), FTP 452.
 * - 'io': the disk failed a read, write or fsync — SMTP 451 4.3.0, IMAP NO [SERVERBUG], FTP 451.
 * - 'unavailable': the database cannot be reached or is busy — SMTP 451 4.3.0,
 *   IMAP NO [UNAVAILABLE], FTP 451.
 */
export type StoreFailureKind = 'no-space' | 'io' | 'unavailable';

/** errno codes from Node's fs (and the disk under the SQLite file). */
const ERRNO: Record<string, StoreFailureKind> = {
  ENOSPC: 'no-space',
  EDQUOT: 'no-space',
  EFBIG: 'no-space',
  EIO: 'io',
  EROFS: 'io',
  ENXIO: 'io',
  // A connection to PostgreSQL that failed or broke.
  ECONNREFUSED: 'unavailable',
  ECONNRESET: 'unavailable',
  EPIPE: 'unavailable',
  ETIMEDOUT: 'unavailable',
  EHOSTUNREACH: 'unavailable',
  ENETUNREACH: 'unavailable',
  EAI_AGAIN: 'unavailable',
};

/** PostgreSQL SQLSTATE classes and codes (Appendix A of its manual). */
function postgresKind(code: string): StoreFailureKind | null {
  if (code === '53100') return 'no-space'; // disk_full
  if (code === '58030' || code === 'XX001' || code === 'XX002') return 'io'; // io_error, data_corrupted, index_corrupted
  // 08: connection exception; 53: insufficient resources; 57P01-57P03: shut down or starting up;
  // 40001/40P01: serialization failure or deadlock (the retries ran out); 55P03: lock not available.
  if (code.startsWith('08') || code.startsWith('53') || /^57P0[1-3]$/.test(code)) return 'unavailable';
  if (code === '40001' || code === '40P01' || code === '55P03') return 'unavailable';
  return null;
}

/** SQLite result codes (better-sqlite3 puts the extended name in `code`, e.g. SQLITE_IOERR_FSYNC). */
function sqliteKind(code: string): StoreFailureKind | null {
  if (code === 'SQLITE_FULL') return 'no-space';
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY_')) return 'io';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'unavailable';
  return null;
}

/** Messages of the pg driver when its connection ended (which carry no code), or of a database closed to connections. */
const CONNECTION_LOST =
  /Connection terminated|connection (?:is )?closed|Client has encountered a connection error|timeout exceeded when trying to connect|is not currently accepting connections/i;

/**
 * The kind of temporary store failure `err` is (looking through `cause` chains), or null
 * when it is none of them (a bug, or a refusal such as a quota, which callers answer on their own).
 */
export function storeFailureKind(err: unknown): StoreFailureKind | null {
  let e = err as { code?: unknown; cause?: unknown; message?: unknown } | null | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++, e = e.cause as typeof e) {
    const code = typeof e.code === 'string' ? e.code : null;
    if (code) {
      const kind = ERRNO[code] ?? (code.startsWith('SQLITE_') ? sqliteKind(code) : /^[0-9A-Z]{5}$/.test(code) ? postgresKind(code) : null);
      if (kind) return kind;
    }
    if (typeof e.message === 'string' && CONNECTION_LOST.test(e.message)) return 'unavailable';
  }
  return null;
}
