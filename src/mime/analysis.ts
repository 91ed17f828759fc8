/**
 * What Wharf learns about a message once, while its bytes stream into the store (at delivery
 * and APPEND), and keeps beside it: the MIME part tree with byte offsets (for IMAP
 * BODYSTRUCTURE and BODY[section] without re-parsing), the envelope, and the decoded text the
 * search index is built from. Every value here is JSON-serialisable: the store keeps it as is.
 */
import type { HeaderSummary } from '../store/types.js';

/** Content-Type / Content-Disposition parameters: lower-cased names, RFC 2231-decoded values. */
export type MimeParams = Record<string, string>;

export interface MimePart {
  /** Octet offset (in the whole message) where this part's header block starts. */
  headerStart: number;
  /** Octet offset where the body starts (after the empty line ending the header block). */
  bodyStart: number;
  /** Octet offset just past the body (before the CRLF preceding the next boundary). */
  bodyEnd: number;
  /** Lines in the body (IMAP body-fld-lines for text/* and message/rfc822). */
  bodyLines: number;
  /** Lower-cased media type and subtype (defaults text/plain, or message/rfc822 in a digest). */
  type: string;
  subtype: string;
  params: MimeParams;
  /** Raw Content-ID, Content-Description, Content-MD5 and Content-Location values, or null. */
  id: string | null;
  description: string | null;
  md5: string | null;
  location: string | null;
  /**
   * Content-Transfer-Encoding as given (original case, which is what Dovecot reports in
   * BODYSTRUCTURE), default "7bit". Compare case-insensitively.
   */
  encoding: string;
  disposition: { type: string; params: MimeParams } | null;
  language: string[] | null;
  /** Body size after undoing the transfer encoding (BINARY.SIZE, RFC 3516). */
  decodedSize: number;
  /** The children of a multipart/*. */
  children?: MimePart[];
  /** The encapsulated message of a message/rfc822 (or message/global) part. */
  message?: { envelope: Envelope; root: MimePart };
  /**
   * Content-Type and Content-Disposition exactly as written, for BODYSTRUCTURE: IMAP servers
   * (Dovecot) report the original case, RFC 2231 continuations joined but an extended value
   * left %-encoded under the name "name*", plain parameters first. Absent in data stored
   * before this field existed.
   */
  reported?: ReportedContentFields;
}

export interface ReportedContentFields {
  /** Media type and subtype as written; null when there is no readable Content-Type. */
  type: string | null;
  subtype: string | null;
  params: [string, string][];
  disposition: { type: string; params: [string, string][] } | null;
}

/** An address as IMAP's ENVELOPE lists it (RFC 9051 7.5.2); group syntax uses host null. */
export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/** ENVELOPE fields: raw (not RFC 2047-decoded) header values, null when absent. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface MessageStructure {
  root: MimePart;
  envelope: Envelope;
}

export interface MessageAnalysis extends MessageStructure {
  headers: HeaderSummary;
  /** Decoded text for the search index (UTF-8): header values and text-part bodies. */
  text: {
    /** Every header field of the top-level header block, RFC 2047-decoded, one per line. */
    headers: string;
    /** Text of the text/* parts, transfer-decoded and converted to UTF-8. */
    body: string;
    /** True when the body text was cut at the analyzer's limit: search must check the bytes. */
    truncated: boolean;
  };
}

/** Push-based: the store feeds it each chunk as it is written, then asks for the result. */
export interface MessageAnalyzer {
  write(chunk: Buffer): void;
  end(): MessageAnalysis;
}

/**
 * A part tree with every byte offset moved `by` octets further into the message, except the
 * root's header start: the bytes put in front of a message (header fields the server added
 * once it had seen it all) join the top-level header block. A new tree; `root` is unchanged.
 */
export function shiftStructure(root: MimePart, by: number): MimePart {
  if (by === 0) return root;
  return { ...shiftPart(root, by), headerStart: root.headerStart };
}

function shiftPart(part: MimePart, by: number): MimePart {
  const shifted: MimePart = {
    ...part,
    headerStart: part.headerStart + by,
    bodyStart: part.bodyStart + by,
    bodyEnd: part.bodyEnd + by,
  };
  if (part.children) shifted.children = part.children.map((child) => shiftPart(child, by));
  if (part.message) shifted.message = { envelope: part.message.envelope, root: shiftPart(part.message.root, by) };
  return shifted;
}
