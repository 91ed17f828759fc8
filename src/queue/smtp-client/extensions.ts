/** What a server offers in its EHLO reply (RFC 5321 4.1.1.1), as far as the client uses it. */
import type { SmtpReply } from './reply.js';

export interface Extensions {
  /** True after EHLO; false when the server only took HELO (no extensions at all). */
  esmtp: boolean;
  /** Every keyword offered, upper-cased. */
  keywords: Set<string>;
  /** RFC 2920. */
  pipelining: boolean;
  /** RFC 1870 fixed maximum message size; null when none is declared (or SIZE 0). */
  maxSize: number | null;
  /** RFC 1870 SIZE offered at all (then MAIL carries SIZE=). */
  size: boolean;
  /** RFC 6152. */
  eightBitMime: boolean;
  /** RFC 6531. */
  smtputf8: boolean;
  /** RFC 3207. */
  startTls: boolean;
  /** RFC 4954 mechanisms, upper-cased. */
  auth: string[];
}

/** What a server that only took HELO offers: nothing. */
export const HELO_EXTENSIONS: Readonly<Extensions> = Object.freeze({
  esmtp: false,
  keywords: new Set<string>(),
  pipelining: false,
  maxSize: null,
  size: false,
  eightBitMime: false,
  smtputf8: false,
  startTls: false,
  auth: Object.freeze([]) as unknown as string[],
});

/** Reads the extension lines of a 250 reply to EHLO (the first line is the greeting). */
export function parseEhloReply(reply: SmtpReply): Extensions {
  const keywords = new Set<string>();
  let maxSize: number | null = null;
  const auth = new Set<string>();
  for (const line of reply.lines.slice(1)) {
    const [first, ...params] = line.trim().split(/\s+/);
    if (!first) continue;
    // Some old servers wrote "AUTH=PLAIN LOGIN" (before RFC 4954 was final).
    const [keyword, inline] = first.toUpperCase().split('=', 2);
    keywords.add(keyword);
    if (keyword === 'SIZE' && params[0] && /^\d{1,15}$/.test(params[0])) {
      const n = Number(params[0]);
      maxSize = n > 0 ? n : null;
    }
    if (keyword === 'AUTH') {
      for (const m of [inline, ...params]) if (m) auth.add(m.toUpperCase());
    }
  }
  return {
    esmtp: true,
    keywords,
    pipelining: keywords.has('PIPELINING'),
    maxSize,
    size: keywords.has('SIZE'),
    eightBitMime: keywords.has('8BITMIME'),
    smtputf8: keywords.has('SMTPUTF8'),
    startTls: keywords.has('STARTTLS'),
    auth: [...auth],
  };
}
