/**
 * FTP replies (RFC 959 4.2): a three-digit code and text, or a multi-line reply that starts
 * with "123-" and ends with a line starting "123 " (same code). Lines in between may hold
 * anything, including other digits (e.g. FEAT's " MLST size*;modify*;" or a LIST-like STAT),
 * so only the terminating line is recognised by its prefix.
 */

export interface FtpReply {
  code: number;
  /** The text of each line, without the code and separator on the first and last line. */
  lines: string[];
}

export class MalformedReplyError extends Error {}

/** Longest multi-line reply accepted (lines); a server that never ends one is not FTP. */
const MAX_REPLY_LINES = 10_000;

/** Feeds reply lines one at a time; `push` returns the reply once its last line has arrived. */
export class FtpReplyParser {
  private code: number | null = null;
  private lines: string[] = [];

  push(line: string): FtpReply | null {
    if (this.code === null) {
      const m = /^([1-5]\d\d)([ -]|$)(.*)$/.exec(line);
      if (!m) throw new MalformedReplyError(`malformed reply line ${JSON.stringify(line.slice(0, 80))}`);
      const code = Number(m[1]);
      if (m[2] !== '-') return { code, lines: [m[3]] };
      this.code = code;
      this.lines = [m[3]];
      return null;
    }
    const end = `${this.code} `;
    if (line.startsWith(end) || line === String(this.code)) {
      const reply = { code: this.code, lines: [...this.lines, line.slice(end.length)] };
      this.code = null;
      this.lines = [];
      return reply;
    }
    if (this.lines.length >= MAX_REPLY_LINES) throw new MalformedReplyError(`multi-line reply longer than ${MAX_REPLY_LINES} lines`);
    // RFC 959 lets inner lines start with the code and '-'; that prefix is not part of the text.
    this.lines.push(line.startsWith(`${this.code}-`) ? line.slice(4) : line);
    return null;
  }
}

/** The reply as one line for messages: "550 No such file." (multi-line replies joined). */
export function replyText(reply: FtpReply): string {
  return `${reply.code} ${reply.lines.map((l) => l.trim()).filter(Boolean).join(' ')}`.trim();
}

/** 1xx: preliminary (a data transfer starts). */
export const isPreliminary = (r: FtpReply) => r.code >= 100 && r.code < 200;
/** 2xx: done. */
export const isCompletion = (r: FtpReply) => r.code >= 200 && r.code < 300;
/** 3xx: go on (PASS after USER, STOR after REST). */
export const isIntermediate = (r: FtpReply) => r.code >= 300 && r.code < 400;
