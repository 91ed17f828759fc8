/**
 * Backend-independent validation and normalisation of the values the store accepts
 * (addresses, domains, mailbox names, flags). Every Store implementation uses these so the
 * SQLite and PostgreSQL backends agree on what is valid and on the stored spelling.
 */
import { createPrivateKey } from 'node:crypto';
import {
  StoreError,
  type DeliveryRequest,
  type DkimKey,
  type EntryRestore,
  type FlagOperation,
  type MailboxRestore,
  type MailboxRole,
} from './types.js';

const MAX_DOMAIN_LENGTH = 253;
const MAX_LOCAL_LENGTH = 64;
/** A DNS label: letters/digits (Unicode letters allowed for IDNs), inner hyphens. */
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;
/** Dot-atom local part without the characters that need quoting (quoted local parts are not supported). */
const LOCAL_PART = /^[^\s@<>()[\]\\,;:"]+$/u;

/** Lower-cases and validates a domain name (a trailing root dot is dropped). */
export function normalizeDomain(name: string): string {
  const domain = String(name).trim().toLowerCase().replace(/\.$/, '');
  if (domain.length === 0 || domain.length > MAX_DOMAIN_LENGTH || !domain.split('.').every((l) => LABEL.test(l))) {
    throw new StoreError('invalid', `invalid domain name: ${JSON.stringify(name)}`);
  }
  return domain;
}

export interface ParsedAddress {
  /** Lower-cased `local@domain`. */
  address: string;
  local: string;
  domain: string;
}

/** Lower-cases and validates `local@domain`. Throws StoreError('invalid'). */
export function parseAddress(input: string): ParsedAddress {
  const raw = String(input).trim();
  const at = raw.lastIndexOf('@');
  if (at <= 0) throw new StoreError('invalid', `invalid address: ${JSON.stringify(input)}`);
  const local = raw.slice(0, at).toLowerCase();
  if (
    local.length > MAX_LOCAL_LENGTH ||
    !LOCAL_PART.test(local) ||
    local.startsWith('.') ||
    local.endsWith('.') ||
    local.includes('..')
  ) {
    throw new StoreError('invalid', `invalid address: ${JSON.stringify(input)}`);
  }
  let domain: string;
  try {
    domain = normalizeDomain(raw.slice(at + 1));
  } catch {
    throw new StoreError('invalid', `invalid address: ${JSON.stringify(input)}`);
  }
  return { address: `${local}@${domain}`, local, domain };
}

/** Like parseAddress, but returns null instead of throwing (for lookups). */
export function tryParseAddress(input: string): ParsedAddress | null {
  try {
    return parseAddress(input);
  } catch {
    return null;
  }
}

/** An alias source: a full address, or `@domain` for the domain's catch-all. */
export function parseAliasSource(input: string): { source: string; domain: string } {
  const raw = String(input).trim();
  if (raw.startsWith('@')) {
    const domain = normalizeDomain(raw.slice(1));
    return { source: `@${domain}`, domain };
  }
  const parsed = parseAddress(raw);
  return { source: parsed.address, domain: parsed.domain };
}

/** `bob+news@x` → `bob@x`; null when the address has no subaddress. */
export function stripSubaddress(address: string): string | null {
  const at = address.lastIndexOf('@');
  const plus = address.indexOf('+');
  if (plus <= 0 || plus > at) return null;
  return address.slice(0, plus) + address.slice(at);
}

/**
 * Mailbox names: '/'-separated, no empty levels; INBOX (any case) is spelled 'INBOX' because
 * IMAP treats it case-insensitively while every other name is case-sensitive.
 */
export function normalizeMailboxName(name: string): string {
  const n = String(name);
  if (
    n.length === 0 ||
    n.length > 1000 ||
    n.split('/').some((part) => part.length === 0) ||
    /[\u0000-\u001f\u007f*%]/.test(n)
  ) {
    throw new StoreError('invalid', `invalid mailbox name: ${JSON.stringify(name)}`);
  }
  if (n.toUpperCase() === 'INBOX') return 'INBOX';
  if (n.toUpperCase().startsWith('INBOX/')) return 'INBOX' + n.slice(5);
  return n;
}

const SYSTEM_FLAGS = new Map(
  ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]),
);
/** IMAP atom characters allowed in a keyword (no specials, no wildcards, no ']'). */
const KEYWORD = /^[^\s()\]{%*"\\\u0000-\u001f\u007f]+$/;

/**
 * Validates flags and returns them de-duplicated (case-insensitively, as IMAP compares them),
 * with system flags in their canonical spelling. `\Recent` is session state, not storable.
 */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const f = String(flag);
    let canonical: string;
    if (f.startsWith('\\')) {
      const system = SYSTEM_FLAGS.get(f.toLowerCase());
      if (!system) throw new StoreError('invalid', `invalid system flag: ${JSON.stringify(f)}`);
      canonical = system;
    } else {
      if (!KEYWORD.test(f)) throw new StoreError('invalid', `invalid flag: ${JSON.stringify(f)}`);
      canonical = f;
    }
    const key = canonical.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(canonical);
    }
  }
  return out;
}

/** Applies a flag operation to a flag list (both already normalised). */
export function applyFlagOperation(current: string[], op: 'add' | 'remove' | 'replace', flags: string[]): string[] {
  if (op === 'replace') return [...flags];
  if (op === 'add') return normalizeFlags([...current, ...flags]);
  const removed = new Set(flags.map((f) => f.toLowerCase()));
  return current.filter((f) => !removed.has(f.toLowerCase()));
}

/** True when two normalised flag lists hold the same flags (order and case ignored). */
export function sameFlags(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}

/** Sorted, de-duplicated UIDs; rejects anything that is not a positive integer. */
export function checkUids(uids: readonly number[]): number[] {
  if (!Array.isArray(uids)) throw new StoreError('invalid', 'UIDs must be an array');
  for (const uid of uids) {
    if (!Number.isSafeInteger(uid) || uid < 1) throw new StoreError('invalid', `invalid UID: ${uid}`);
  }
  return [...new Set(uids)].sort((a, b) => a - b);
}

const ROLES: ReadonlySet<string> = new Set(['inbox', 'sent', 'drafts', 'trash', 'junk', 'archive']);
/** UIDs and UIDVALIDITY are 32-bit unsigned numbers in IMAP. */
const UINT32_MAX = 0xffffffff;

/** Validates a mailbox role (null: none). */
export function checkMailboxRole(role: string | null | undefined): MailboxRole | null {
  if (role === null || role === undefined) return null;
  if (!ROLES.has(role)) throw new StoreError('invalid', `invalid mailbox role: ${String(role)}`);
  return role as MailboxRole;
}

function checkInteger(value: number, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new StoreError('invalid', `invalid ${what}: ${String(value)}`);
  }
  return value;
}

/** Validates what restoreMailbox is given; returns it with the name normalised. */
export function normalizeMailboxRestore(input: MailboxRestore): MailboxRestore {
  return {
    name: normalizeMailboxName(input.name),
    role: checkMailboxRole(input.role),
    uidValidity: checkInteger(input.uidValidity, 'UIDVALIDITY', 1, UINT32_MAX),
    uidNext: checkInteger(input.uidNext, 'UIDNEXT', 1, UINT32_MAX + 1),
    highestModseq: checkInteger(input.highestModseq, 'highest modseq', 0),
    subscribed: Boolean(input.subscribed),
  };
}

/**
 * Validates what restoreEntries is given (UIDs strictly ascending, modseqs, dates, flags);
 * returns the entries with their flags normalised and internal dates as milliseconds.
 */
export function normalizeEntryRestores(
  entries: readonly EntryRestore[],
): Array<EntryRestore & { internalDateMs: number }> {
  if (!Array.isArray(entries)) throw new StoreError('invalid', 'entries must be an array');
  let previous = 0;
  return entries.map((entry) => {
    const uid = checkInteger(entry.uid, 'UID', 1, UINT32_MAX);
    if (uid <= previous) throw new StoreError('invalid', `UIDs must ascend: ${uid} after ${previous}`);
    previous = uid;
    const internalDateMs = entry.internalDate instanceof Date ? entry.internalDate.getTime() : NaN;
    if (!Number.isFinite(internalDateMs)) throw new StoreError('invalid', `invalid internalDate of UID ${uid}`);
    const body = entry.body;
    if (body === null || typeof body !== 'object') throw new StoreError('invalid', `no body for UID ${uid}`);
    if ('messageId' in body) checkInteger(body.messageId, 'message id', 1);
    return {
      ...entry,
      uid,
      modseq: checkInteger(entry.modseq, 'modseq', 1),
      flags: normalizeFlags(entry.flags),
      internalDateMs,
    };
  });
}

/** An optional non-negative bound of a listing (fromUid, toUid, limit), or `fallback`. */
export function checkBound<T extends number | null>(value: number | undefined, what: string, fallback: T): number | T {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new StoreError('invalid', `invalid ${what}: ${value}`);
  return value;
}

/** A modseq from a client may exceed 2^53 (RFC 7162 allows 63 bits): compared as given. */
export function checkModseq(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new StoreError('invalid', `invalid ${what}: ${value}`);
  }
  return value;
}

/** A setFlags request checked once for both backends: the operation, flags, UIDs and UNCHANGEDSINCE. */
export function checkFlagRequest(
  uids: readonly number[],
  op: FlagOperation,
  flags: readonly string[],
  options: { unchangedSince?: number },
): { wanted: string[]; sorted: number[]; unchangedSince: number | null } {
  if (op !== 'add' && op !== 'remove' && op !== 'replace') {
    throw new StoreError('invalid', `invalid flag operation: ${String(op)}`);
  }
  return {
    wanted: normalizeFlags([...flags]),
    sorted: checkUids(uids),
    unchangedSince: options.unchangedSince === undefined ? null : checkModseq(options.unchangedSince, 'unchangedSince'),
  };
}

/** An internal date given to deliver/append, as milliseconds; 'invalid' when it is no date. */
export function checkInternalDate(date: Date): number {
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new StoreError('invalid', 'invalid internalDate');
  return ms;
}

/** The byte range [start, end) of a body of `size` bytes that readBody was asked for, clipped to the body. */
export function checkBodyRange(range: { start: number; end?: number } | undefined, size: number): { start: number; end: number } {
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? size, size);
  if (!Number.isInteger(start) || start < 0 || !Number.isInteger(end) || end < start) {
    throw new StoreError('invalid', `invalid range ${JSON.stringify(range)}`);
  }
  return { start, end };
}

/** Where a delivery's entries go, checked: see DeliveryRequest. */
export interface DeliveryTargets {
  /** Distinct, in the order first given. */
  userIds: number[];
  /** The role of the users' mailbox the entries go to (INBOX when a user has no such mailbox). */
  folder: 'inbox' | 'junk';
  copies: Array<{ mailboxId: number; flags: string[] }>;
}

/** Checks a delivery's targets; 'invalid' when it has none at all (no users, copies nor outbound). */
export function checkDeliveryTargets(request: DeliveryRequest): DeliveryTargets {
  const userIds = [...new Set(request.userIds ?? [])];
  const folder = request.folder ?? 'inbox';
  if (folder !== 'inbox' && folder !== 'junk') throw new StoreError('invalid', `invalid folder: ${JSON.stringify(folder)}`);
  const copies = (request.copies ?? []).map((copy) => ({ mailboxId: copy.mailboxId, flags: normalizeFlags(copy.flags ?? []) }));
  if (userIds.length === 0 && copies.length === 0 && !request.outbound) {
    throw new StoreError('invalid', 'a delivery needs a user, a copy or outbound recipients');
  }
  return { userIds, folder, copies };
}

/** A DKIM selector: one or more DNS labels (RFC 6376 3.1: sub-domains). */
const SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const KEY_TYPES: Record<DkimKey['algorithm'], string> = { 'rsa-sha256': 'rsa', 'ed25519-sha256': 'ed25519' };

/**
 * Checks a DKIM key before it is stored: a selector of DNS labels, a known algorithm, a
 * PKCS#8 PEM private key of that algorithm's type, a valid date. Messages never quote the key.
 */
export function checkDkimKey(key: DkimKey): DkimKey {
  const { selector, algorithm, privateKeyPem, createdAt } = key ?? ({} as DkimKey);
  if (typeof selector !== 'string' || selector.length > 253 || !SELECTOR.test(selector)) {
    throw new StoreError('invalid', `invalid DKIM selector: ${JSON.stringify(selector)}`);
  }
  const keyType = Object.hasOwn(KEY_TYPES, algorithm) ? KEY_TYPES[algorithm] : undefined;
  if (!keyType) throw new StoreError('invalid', `invalid DKIM algorithm: ${JSON.stringify(algorithm)}`);
  if (typeof privateKeyPem !== 'string' || !privateKeyPem.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new StoreError('invalid', 'the DKIM key must be a PKCS#8 PEM private key');
  }
  let actualType: string | undefined;
  try {
    actualType = createPrivateKey(privateKeyPem).asymmetricKeyType;
  } catch {
    throw new StoreError('invalid', 'the DKIM private key cannot be read');
  }
  if (actualType !== keyType) throw new StoreError('invalid', `the DKIM private key is not an ${keyType} key`);
  if (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime())) {
    throw new StoreError('invalid', 'invalid DKIM key creation date');
  }
  return { selector, algorithm, privateKeyPem, createdAt: new Date(createdAt.getTime()) };
}

/** A counter's name and, for counting, its window. */
export function checkCounterArgs(name: string, windowMs?: number): void {
  if (typeof name !== 'string' || name.length === 0) throw new StoreError('invalid', 'counter name is empty');
  if (windowMs !== undefined && (!Number.isFinite(windowMs) || windowMs <= 0)) {
    throw new StoreError('invalid', `invalid counter window: ${windowMs}`);
  }
}
