/**
 * Envelope address parsing for MAIL FROM / RCPT TO (RFC 5321 4.1.2, with the UTF-8 additions
 * of RFC 6531 3.3): paths, mailboxes with dot-string or quoted local parts, domains and
 * address literals, source routes (accepted and ignored, RFC 5321 C), and ESMTP parameters.
 */

export interface Mailbox {
  /** The local part as it must be compared: a quoted string whose content is a valid
   * dot-string is unquoted (`"bob"` and `bob` are the same mailbox); otherwise it keeps its
   * quotes with only the necessary backslashes. */
  local: string;
  /** Domain, or an address literal with its brackets. */
  domain: string;
  /** `local@domain`. */
  address: string;
  /** True when any part of the address is non-ASCII (needs SMTPUTF8, RFC 6531). */
  utf8: boolean;
}

export type PathParseResult =
  | { ok: true; mailbox: Mailbox | null; params: EsmtpParam[] }
  | { ok: false; reason: 'syntax' | 'address' };

export interface EsmtpParam {
  /** Upper-cased keyword. */
  keyword: string;
  /** Value, or null for a keyword without "=". */
  value: string | null;
}

// atext (RFC 5322 3.2.3) plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
const ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u0080-\\u{10FFFF}";
const DOT_STRING = new RegExp(`^[${ATEXT}]+(?:\\.[${ATEXT}]+)*$`, 'u');
/** Let-dig [Ldh-str], with U-labels allowed (RFC 6531). */
const SUB_DOMAIN = /^[A-Za-z0-9\u0080-\u{10FFFF}](?:[A-Za-z0-9\u0080-\u{10FFFF}-]*[A-Za-z0-9\u0080-\u{10FFFF}])?$/u;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** General-address-literal: Standardized-tag ":" 1*dcontent. */
const GENERAL_LITERAL = /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/;
const ESMTP_KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** esmtp-value: printable ASCII except "=" and SP, plus UTF-8 (RFC 6531). */
const ESMTP_VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\u{10FFFF}]+$/u;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

const MAX_DOMAIN_OCTETS = 255;

export function isValidDomain(domain: string): boolean {
  if (domain.length === 0 || Buffer.byteLength(domain) > MAX_DOMAIN_OCTETS) return false;
  return domain.split('.').every((label) => SUB_DOMAIN.test(label));
}

function isValidAddressLiteral(literal: string): boolean {
  if (!literal.startsWith('[') || !literal.endsWith(']')) return false;
  const inner = literal.slice(1, -1);
  if (IPV4.test(inner)) return true;
  if (/^IPv6:/i.test(inner)) return isValidIpv6(inner.slice(5));
  return GENERAL_LITERAL.test(inner);
}

function isValidIpv6(text: string): boolean {
  // IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321 4.1.3).
  let groups = text;
  let maxGroups = 8;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    if (!IPV4.test(text.slice(lastColon + 1))) return false;
    groups = text.slice(0, lastColon + 1) + '0';
    maxGroups = 7;
  }
  const parts = groups.split('::');
  if (parts.length > 2) return false;
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const count = (s: string) => (s === '' ? 0 : s.split(':').length);
  if (!parts.every((p) => p === '' || p.split(':').every((g) => hex.test(g)))) return false;
  if (parts.length === 1) return count(parts[0]) === maxGroups;
  return count(parts[0]) + count(parts[1]) <= maxGroups - 1;
}

/** Parses a quoted string starting at text[start] === '"'; returns its content and end. */
function readQuotedString(text: string, start: number): { content: string; end: number } | null {
  let content = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return { content, end: i + 1 };
    if (c === '\\') {
      const next = text[i + 1];
      // quoted-pairSMTP = "\" followed by any ASCII graphic or space.
      if (next === undefined || next < ' ' || next > '~') return null;
      content += next;
      i++;
      continue;
    }
    // qtextSMTP: printable ASCII except '"' and '\', plus UTF-8.
    if ((c < ' ' || c > '~') && !NON_ASCII.test(c)) return null;
    content += c;
  }
  return null;
}

function quoteLocalPart(content: string): string {
  if (DOT_STRING.test(content)) return content;
  return '"' + content.replace(/(["\\])/g, '\\$1') + '"';
}

/** Parses `local@domain` (no brackets). */
export function parseMailbox(text: string): Mailbox | null {
  let local: string;
  let rest: string;
  if (text.startsWith('"')) {
    const q = readQuotedString(text, 0);
    if (!q || text[q.end] !== '@') return null;
    local = quoteLocalPart(q.content);
    rest = text.slice(q.end + 1);
  } else {
    const at = text.lastIndexOf('@');
    if (at <= 0) return null;
    local = text.slice(0, at);
    if (!DOT_STRING.test(local)) return null;
    rest = text.slice(at + 1);
  }
  if (Buffer.byteLength(local) === 0) return null;
  const domain = rest.startsWith('[') ? rest : rest.replace(/\.$/, '');
  if (domain.startsWith('[') ? !isValidAddressLiteral(domain) : !isValidDomain(domain)) return null;
  const address = `${local}@${domain}`;
  return { local, domain, address, utf8: NON_ASCII.test(address) };
}

/** Finds the ">" closing a path that starts at text[0] === "<", skipping quoted strings. */
function findPathEnd(text: string): number {
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === '>') return i;
    if (c === '"') {
      const q = readQuotedString(text, i);
      if (!q) return -1;
      i = q.end - 1;
    }
  }
  return -1;
}

export function parseEsmtpParams(text: string): EsmtpParam[] | null {
  const params: EsmtpParam[] = [];
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const keyword = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? null : word.slice(eq + 1);
    if (!ESMTP_KEYWORD.test(keyword)) return null;
    if (value !== null && !ESMTP_VALUE.test(value)) return null;
    params.push({ keyword: keyword.toUpperCase(), value });
  }
  return params;
}

/**
 * Parses what follows "MAIL FROM:" or "RCPT TO:": a path in angle brackets (white space
 * before it is tolerated, as many clients send "MAIL FROM: <a@b>"), optionally followed by
 * parameters. `<>` yields mailbox null (only valid as a reverse path; the caller decides).
 * A bare address without brackets is accepted too, as most servers do.
 */
export function parsePathArgument(argument: string): PathParseResult {
  const text = argument.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  if (text.length === 0) return { ok: false, reason: 'syntax' };
  let pathText: string;
  let rest: string;
  if (text.startsWith('<')) {
    const end = findPathEnd(text);
    if (end < 0) return { ok: false, reason: 'syntax' };
    pathText = text.slice(1, end);
    rest = text.slice(end + 1);
    if (rest.length > 0 && rest[0] !== ' ') return { ok: false, reason: 'syntax' };
  } else {
    const space = text.indexOf(' ');
    pathText = space < 0 ? text : text.slice(0, space);
    rest = space < 0 ? '' : text.slice(space);
  }
  const params = parseEsmtpParams(rest);
  if (!params) return { ok: false, reason: 'syntax' };
  if (pathText === '') return { ok: true, mailbox: null, params };
  // A-d-l ":" — the source route is obsolete and ignored (RFC 5321 3.3 and appendix C).
  if (pathText.startsWith('@')) {
    const colon = pathText.indexOf(':');
    if (colon < 0) return { ok: false, reason: 'address' };
    const route = pathText.slice(0, colon).split(',');
    if (!route.every((hop) => hop.startsWith('@') && isValidDomain(hop.slice(1)))) return { ok: false, reason: 'address' };
    pathText = pathText.slice(colon + 1);
  }
  const mailbox = parseMailbox(pathText);
  if (!mailbox) return { ok: false, reason: 'address' };
  return { ok: true, mailbox, params };
}
