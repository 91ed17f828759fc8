/**
 * Trace fields added to every received message (RFC 5321 4.4): Return-Path records the
 * envelope sender, Received records this hop. Also the queue id that names a transaction in
 * replies, Received and logs, so a message can be followed from the client to the log.
 */
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A short unique id: 12 base32 characters (60 random bits). */
export function newQueueId(): string {
  const bytes = randomBytes(8);
  let out = '';
  let acc = 0n;
  for (const b of bytes) acc = (acc << 8n) | BigInt(b);
  for (let i = 0; i < 12; i++) {
    out += BASE32[Number(acc & 31n)];
    acc >>= 5n;
  }
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 3.3 date-time in the server's local time zone, e.g. "Sat, 1 Mar 2025 14:03:09 +0100". */
export function formatRfc5322Date(date: Date): string {
  const offsetMin = -date.getTimezoneOffset();
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return (
    `${DAYS[date.getDay()]}, ${date.getDate()} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ` +
    `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** An IP address as an RFC 5321 address literal: "[192.0.2.1]", "[IPv6:2001:db8::1]". */
export function addressLiteral(ip: string): string {
  return isIPv6(ip) ? `[IPv6:${ip}]` : `[${ip}]`;
}

export interface ProtocolFacts {
  esmtp: boolean;
  tls: boolean;
  authenticated: boolean;
  smtputf8: boolean;
}

/** The "with" keyword (RFC 3848 for ESMTP/S/A, RFC 6531 3.7.3 for UTF8SMTP). */
export function withProtocol(p: ProtocolFacts): string {
  if (!p.esmtp) return 'SMTP';
  const base = p.smtputf8 ? 'UTF8SMTP' : 'ESMTP';
  return base + (p.tls ? 'S' : '') + (p.authenticated ? 'A' : '');
}

/**
 * A client-chosen HELO name must not break the field (line breaks) or its comment (parentheses).
 * Envelope addresses need no such care: the address parser admits no control characters.
 */
function headerSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f()]/g, '?');
}

export interface TraceInput {
  /** Envelope sender ('' for the null reverse path). */
  mailFrom: string;
  /** The HELO/EHLO argument. */
  helo: string;
  clientIp: string;
  hostname: string;
  protocol: ProtocolFacts;
  queueId: string;
  /** Accepted recipients; the "for" clause is written only for a single one, so a message
   * to several recipients does not reveal the others (e.g. Bcc) to each of them. */
  recipients: string[];
  date: Date;
}

/** Return-Path and Received fields, CRLF-terminated, to put before the client's message. */
export function traceHeaders(t: TraceInput): Buffer {
  const literal = addressLiteral(t.clientIp);
  // Reverse DNS is skipped on purpose (speed, and it proves nothing); the IP is what counts.
  let received =
    `Received: from ${headerSafe(t.helo)} (${literal})\r\n` +
    `\tby ${t.hostname} (Wharf) with ${withProtocol(t.protocol)} id ${t.queueId}`;
  if (t.recipients.length === 1) received += `\r\n\tfor <${t.recipients[0]}>`;
  received += `; ${formatRfc5322Date(t.date)}\r\n`;
  return Buffer.from(`Return-Path: <${t.mailFrom}>\r\n${received}`, 'utf8');
}
