/**
 * Replies as an SMTP client reads them (RFC 5321 4.2): "NNN-text" lines continue a reply,
 * "NNN text" (or a bare "NNN") ends it. The enhanced status code (RFC 2034, RFC 3463) is
 * picked out of the first line when its class matches the reply code.
 */

export interface SmtpReply {
  code: number;
  /** "5.1.1" when the server sent one; null otherwise. */
  enhanced: string | null;
  /** The text of each line after "NNN-"/"NNN " (the enhanced code, if any, still in it). */
  lines: string[];
}

/** A reply longer than this many lines is not a reply but a server gone wrong. */
const MAX_REPLY_LINES = 200;
const LINE = /^(\d{3})(?:([ -])(.*))?$/s;
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

/** A line that is not part of a well-formed reply. */
export class MalformedReplyError extends Error {
  constructor(readonly line: string) {
    super(`malformed reply line ${JSON.stringify(line.slice(0, 80))}`);
    this.name = 'MalformedReplyError';
  }
}

/** Collects the lines of one reply; `push` returns the reply once its last line came. */
export class ReplyParser {
  private code = 0;
  private lines: string[] = [];

  push(line: string): SmtpReply | null {
    const m = LINE.exec(line);
    if (!m) throw new MalformedReplyError(line);
    const code = Number(m[1]);
    if (code < 200 || code > 599) throw new MalformedReplyError(line);
    // Every line of a multi-line reply carries the same code (RFC 5321 4.2.1).
    if (this.lines.length > 0 && code !== this.code) throw new MalformedReplyError(line);
    this.code = code;
    this.lines.push(m[3] ?? '');
    if (this.lines.length > MAX_REPLY_LINES) throw new MalformedReplyError(line);
    if (m[2] === '-') return null;
    const lines = this.lines;
    this.lines = [];
    return { code, enhanced: enhancedCode(code, lines[0]), lines };
  }
}

function enhancedCode(code: number, firstLine: string): string | null {
  const m = ENHANCED.exec(firstLine);
  if (!m || Number(m[1]) !== Math.floor(code / 100)) return null;
  return `${m[1]}.${m[2]}.${m[3]}`;
}

/**
 * The reply on one line, as it is recorded and told to a sender: "550 5.1.1 No such user".
 * Servers repeat the enhanced code on every line of a long reply; it is kept only once.
 */
export function replyText(reply: SmtpReply): string {
  const parts = reply.lines.map((line, i) => {
    if (i === 0 || !reply.enhanced) return line.trim();
    return line.startsWith(reply.enhanced) ? line.slice(reply.enhanced.length).trim() : line.trim();
  });
  return `${reply.code} ${parts.filter((p) => p.length > 0).join(' ')}`.trim();
}

export const isPositive = (reply: SmtpReply) => reply.code >= 200 && reply.code < 400;
export const isPermanent = (reply: SmtpReply) => reply.code >= 500;
