/** One FTP command line as the client sent it (RFC 959 section 5.3). */
export interface FtpCommand {
  /** Upper-cased keyword: commands are case-insensitive ("user bob" typed by hand works). */
  keyword: string;
  /**
   * Everything after the keyword and its one space, as sent: a path may begin or end with
   * spaces, and a password may contain them. Decoded as UTF-8 (RFC 2640); bytes that are not
   * UTF-8 become U+FFFD, which the path resolver refuses.
   */
  argument: string;
}

/** RFC 959 keywords are 3 or 4 letters; extensions stay short too. */
const KEYWORD = /^[A-Za-z]{3,8}$/;

/**
 * Telnet commands a client may put before ABOR or STAT during a transfer (RFC 959 section
 * 4.1.3: IAC IP, then IAC DM as urgent data). Without SO_OOBINLINE, which Node cannot set, the
 * urgent byte is taken out of the stream, so any mix of these bytes may arrive; none of them
 * can start a keyword, so all are dropped from the front of the line.
 */
const TELNET_BYTE_MIN = 0xf0;

export type ParsedCommand = { ok: true; command: FtpCommand } | { ok: false };

/** Parses a command line (line ending already removed). */
export function parseCommandLine(bytes: Buffer): ParsedCommand {
  let start = 0;
  while (start < bytes.length && bytes[start] >= TELNET_BYTE_MIN) start++;
  const text = bytes.subarray(start).toString('utf8');
  const space = text.indexOf(' ');
  const keyword = space < 0 ? text : text.slice(0, space);
  if (!KEYWORD.test(keyword)) return { ok: false };
  return { ok: true, command: { keyword: keyword.toUpperCase(), argument: space < 0 ? '' : text.slice(space + 1) } };
}

/** The text of a pathname inside a 257 reply: quotes doubled (RFC 959 appendix II). */
export function quotePath(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}
