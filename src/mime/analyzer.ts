/**
 * A minimal MessageAnalyzer: the header block and the raw text after it, described as one
 * text/plain part. It gives the store the shape it keeps (structure, envelope, search text)
 * until the MIME parser takes its place; it decodes nothing (no RFC 2047, no transfer
 * encodings, no charsets) and parses no addresses.
 */
import type { Envelope, MessageAnalysis, MessageAnalyzer, MimePart } from './analysis.js';
import { DEFAULT_HEADER_LIMIT, HeaderCollector } from './header-summary.js';

/** Body text kept for the search index when the caller sets no limit. */
const DEFAULT_MAX_TEXT_BYTES = 1024 * 1024;
const LF = 0x0a;

const utf8 = new TextDecoder('utf-8');

/** Unfolded header fields, one `Name: value` per line. */
function headerLines(headerBytes: Buffer): string {
  return utf8
    .decode(headerBytes)
    .replace(/\r?\n(?=[ \t])/g, '')
    .split(/\r?\n/)
    .filter((line) => line.includes(':'))
    .join('\n');
}

export function createMessageAnalyzer(options?: { maxTextBytes?: number }): MessageAnalyzer {
  const maxTextBytes = options?.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  const headers = new HeaderCollector();
  /** The first bytes of the message: header block and as much body text as is kept. */
  const prefix: Buffer[] = [];
  let prefixBytes = 0;
  let size = 0;
  let lines = 0;
  return {
    write(chunk: Buffer): void {
      if (!headers.done) headers.push(chunk);
      const room = DEFAULT_HEADER_LIMIT + 2 + maxTextBytes - prefixBytes;
      if (room > 0) {
        const piece = Buffer.from(chunk.subarray(0, room));
        prefix.push(piece);
        prefixBytes += piece.length;
      }
      size += chunk.length;
      for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, at + 1)) lines++;
    },

    end(): MessageAnalysis {
      const head = Buffer.concat(prefix, prefixBytes);
      const headerBytes = headers.headerBytes();
      let bodyStart = headerBytes.length;
      if (head[bodyStart] === 0x0d && head[bodyStart + 1] === LF) bodyStart += 2;
      else if (head[bodyStart] === LF) bodyStart += 1;
      bodyStart = Math.min(bodyStart, size);
      let headerLineCount = 0;
      for (let i = 0; i < bodyStart; i++) if (head[i] === LF) headerLineCount++;
      const bodyLength = size - bodyStart;
      const textBytes = head.subarray(bodyStart, bodyStart + Math.min(bodyLength, maxTextBytes));
      const summary = headers.summary();
      const root: MimePart = {
        headerStart: 0,
        bodyStart,
        bodyEnd: size,
        bodyLines: lines - headerLineCount,
        type: 'text',
        subtype: 'plain',
        params: { charset: 'us-ascii' },
        id: null,
        description: null,
        md5: null,
        location: null,
        encoding: '7BIT',
        disposition: null,
        language: null,
        decodedSize: bodyLength,
      };
      const envelope: Envelope = {
        date: summary.date ?? null,
        subject: summary.subject ?? null,
        from: null,
        sender: null,
        replyTo: null,
        to: null,
        cc: null,
        bcc: null,
        inReplyTo: summary.inReplyTo ?? null,
        messageId: summary.messageId ?? null,
      };
      return {
        root,
        envelope,
        headers: summary,
        text: {
          headers: headerLines(headerBytes),
          body: utf8.decode(textBytes),
          truncated: bodyLength > maxTextBytes,
        },
      };
    },
  };
}
