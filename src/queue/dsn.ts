/**
 * Delivery status notifications (RFC 3464, in an RFC 6522 multipart/report): what the sender
 * of a queued message is told when a recipient failed for good (Action: failed) or is taking
 * long (Action: delayed). The report carries the original message's header block only
 * (text/rfc822-headers), read from the start of the stored body only and cut at its end: a
 * bounce of a 50 MB message costs a few kilobytes.
 */
import { randomBytes } from 'node:crypto';
import type { BodyWriter } from '../store/types.js';

/** The most of the original header block a report quotes. */
export const MAX_QUOTED_HEADER_BYTES = 64 * 1024;
/** Longest Diagnostic-Code text kept (a field line stays well under 998 octets). */
const MAX_DIAGNOSTIC_LENGTH = 900;

export interface DsnRecipient {
  address: string;
  /** The last reply or error for it (a peer's SMTP reply, or our own words). */
  reply: string;
  /** The host that answered (Remote-MTA), when one did. */
  remoteMta?: string;
  lastAttemptAt: Date;
}

export interface DsnReport {
  action: 'failed' | 'delayed';
  /** This server's name (Reporting-MTA, From: MAILER-DAEMON@...). */
  hostname: string;
  /** The envelope sender of the original message: the report goes to it. */
  to: string;
  /** When the original message was queued. */
  arrivalDate: Date;
  /** The report's Date. */
  date: Date;
  recipients: DsnRecipient[];
  /** For 'delayed': when the queue gives up. */
  willRetryUntil?: Date;
  /** Explains an expiry in the human-readable part ("gave up after 5 days"). */
  note?: string;
}

/** RFC 5322 date-time in UTC: "Tue, 01 Jul 2025 10:00:00 +0000". */
export function formatMailDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** One line, printable: a reply may hold line breaks (multi-line replies) or control characters. */
export function oneLine(text: string, max = MAX_DIAGNOSTIC_LENGTH): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** The enhanced status code (RFC 3463) of an SMTP reply, e.g. "5.1.1"; null when it has none. */
export function enhancedStatus(reply: string): string | null {
  const m = /^[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})(?=\s|$)/.exec(reply.trim());
  return m ? m[1]! : null;
}

/** Whether `reply` is an SMTP reply (starts with a reply code) rather than our own words. */
function isSmtpReply(reply: string): boolean {
  return /^[2-5]\d\d(?:[ -]|$)/.test(reply.trim());
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

/** RFC 3464 Status for a recipient: the reply's enhanced code, else 5.0.0 (failed) or 4.0.0 (delayed). */
export function dsnStatus(action: DsnReport['action'], reply: string): string {
  return enhancedStatus(reply) ?? (action === 'failed' ? '5.0.0' : '4.0.0');
}

function humanPart(report: DsnReport): string {
  const lines = [`This is the mail system at host ${report.hostname}.`, ''];
  if (report.action === 'failed') {
    lines.push('Your message could not be delivered to one or more recipients.');
    if (report.note) lines.push(report.note);
    lines.push('Its header is attached below.');
  } else {
    lines.push('Your message has not been delivered yet to one or more recipients.');
    if (report.willRetryUntil) {
      lines.push(`The mail system keeps trying until ${formatMailDate(report.willRetryUntil)};`);
      lines.push('you do not need to send it again.');
    }
  }
  lines.push('');
  for (const r of report.recipients) lines.push(`<${r.address}>: ${oneLine(r.reply)}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

function statusPart(report: DsnReport, utf8: boolean): string {
  const addressType = utf8 ? 'utf-8' : 'rfc822';
  const fields = [`Reporting-MTA: dns; ${report.hostname}`, `Arrival-Date: ${formatMailDate(report.arrivalDate)}`, ''];
  for (const r of report.recipients) {
    fields.push(`Final-Recipient: ${addressType}; ${r.address}`);
    fields.push(`Action: ${report.action}`);
    fields.push(`Status: ${dsnStatus(report.action, r.reply)}`);
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${oneLine(r.remoteMta, 255)}`);
    if (r.reply) fields.push(`Diagnostic-Code: ${isSmtpReply(r.reply) ? 'smtp' : 'X-Wharf'}; ${oneLine(r.reply)}`);
    fields.push(`Last-Attempt-Date: ${formatMailDate(r.lastAttemptAt)}`);
    if (report.action === 'delayed' && report.willRetryUntil) {
      fields.push(`Will-Retry-Until: ${formatMailDate(report.willRetryUntil)}`);
    }
    fields.push('');
  }
  // Every field line ends in CRLF; the CRLF before the next boundary belongs to the boundary.
  return fields.join('\r\n') + '\r\n';
}

/** Where the header block in `data` ends (after the line break of its last field), or -1 if not in it. */
function headerEnd(data: Buffer): number {
  if (data[0] === 0x0a) return 0;
  if (data[0] === 0x0d && data[1] === 0x0a) return 0;
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  const ends = [crlf >= 0 ? crlf + 2 : -1, lf >= 0 ? lf + 1 : -1].filter((e) => e >= 0);
  return ends.length > 0 ? Math.min(...ends) : -1;
}

/**
 * The header block of a stored message: the bytes up to and including the line break that
 * ends its last field, at most `maxBytes` (then cut after the last whole line). Stops reading
 * `body` there; callers pass a body read with a range of `maxBytes`, so nothing past that is
 * read from the store either.
 */
export async function readHeaderBlock(body: AsyncIterable<Buffer>, maxBytes = MAX_QUOTED_HEADER_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    parts.push(chunk);
    total += chunk.length;
    // Everything so far (at most about maxBytes): a blank line may straddle two chunks.
    const data = parts.length === 1 ? chunk : Buffer.concat(parts);
    const end = headerEnd(data);
    if (end >= 0 && end <= maxBytes) return data.subarray(0, end);
    if (total >= maxBytes) break;
    if (parts.length > 1) parts.splice(0, parts.length, data);
  }
  const data = Buffer.concat(parts).subarray(0, maxBytes);
  const lastBreak = data.lastIndexOf(0x0a);
  return total >= maxBytes && lastBreak >= 0 ? data.subarray(0, lastBreak + 1) : data;
}

/**
 * Writes the report into `writer` as a whole message (header and multipart/report body),
 * quoting the header block of `originalHeaders` (see readHeaderBlock). Resolves with whether
 * the report holds 8-bit octets (UTF-8 addresses, or the quoted header had them).
 */
export async function writeDsn(
  writer: BodyWriter,
  report: DsnReport,
  originalHeaders: AsyncIterable<Buffer>,
): Promise<{ eightBit: boolean }> {
  const boundary = `=_wharf_dsn_${randomBytes(12).toString('hex')}`;
  const utf8 = !isAscii(report.to) || report.recipients.some((r) => !isAscii(r.address));
  let eightBit = utf8;
  const write = (text: string) => writer.write(Buffer.from(text, 'utf8'));
  const subject =
    report.action === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const messageId = `<dsn.${report.date.getTime().toString(36)}.${randomBytes(6).toString('hex')}@${report.hostname}>`;
  await write(
    [
      `From: Mail Delivery System <MAILER-DAEMON@${report.hostname}>`,
      `To: <${report.to}>`,
      `Subject: ${subject}`,
      `Date: ${formatMailDate(report.date)}`,
      `Message-ID: ${messageId}`,
      // RFC 3834: an automatic answer; nobody should answer it automatically in turn.
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
      '',
      'This is a MIME-encapsulated delivery status notification.',
      '',
      `--${boundary}`,
      `Content-Type: text/plain; charset=utf-8`,
      `Content-Transfer-Encoding: ${utf8 ? '8bit' : '7bit'}`,
      '',
      humanPart(report) + `--${boundary}`,
      // RFC 6533: UTF-8 addresses need the "global" report type.
      `Content-Type: message/${utf8 ? 'global-delivery-status' : 'delivery-status'}`,
      '',
      statusPart(report, utf8) + `--${boundary}`,
      'Content-Type: text/rfc822-headers',
      '',
      '',
    ].join('\r\n'),
  );
  const quoted = await readHeaderBlock(originalHeaders);
  if (quoted.some((byte) => byte > 0x7f)) eightBit = true;
  if (quoted.length > 0) await writer.write(quoted);
  const last = quoted.length > 0 ? quoted[quoted.length - 1] : 0x0a;
  await write(`${last === 0x0a ? '' : '\r\n'}\r\n--${boundary}--\r\n`);
  return { eightBit };
}
