/**
 * RFC 5256 section 2.1: the "base subject" SORT and THREAD compare, with "Re:", "Fwd:",
 * "[list]" blobs and "(fwd)" trailers stripped, and whether anything stripped marked the
 * message as a reply or forward (which THREAD=REFERENCES uses when grouping by subject).
 */

export interface BaseSubject {
  subject: string;
  isReplyOrForward: boolean;
}

/** subj-leader's subj-refwd, with any blobs before it: *subj-blob ("re" / "fw" / "fwd") *WSP [subj-blob] ":". */
const REFWD = /^(?:\[[^[\]]*\] *)*(?:re|fwd?) *(?:\[[^[\]]*\] *)?:/i;
const BLOB = /^\[[^[\]]*\] */;

/**
 * Extracts the base subject. The input is the decoded Subject (encoded-words already
 * converted); tabs and line breaks count as spaces and runs of spaces as one (step 1).
 */
export function baseSubject(raw: string): BaseSubject {
  let s = raw.replace(/\r?\n(?=[ \t])/g, '').replace(/[\t\r\n]/g, ' ').replace(/ {2,}/g, ' ');
  let isReplyOrForward = false;
  for (;;) {
    // (2) trailing "(fwd)" and spaces.
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.toLowerCase().endsWith('(fwd)')) {
        s = s.slice(0, -5);
        isReplyOrForward = true;
      } else break;
    }
    // (3)-(5) leaders and leading blobs, until none is left.
    for (;;) {
      const refwd = REFWD.exec(s);
      if (refwd) {
        s = s.slice(refwd[0].length);
        isReplyOrForward = true;
        continue;
      }
      if (s.startsWith(' ')) {
        s = s.slice(1);
        continue;
      }
      const blob = BLOB.exec(s);
      // (4) a blob goes only if something is left after it.
      if (blob && blob[0].length < s.length) {
        s = s.slice(blob[0].length);
        continue;
      }
      break;
    }
    // (6) "[fwd: ... ]" wrapped around the whole subject.
    if (s.toLowerCase().startsWith('[fwd:') && s.endsWith(']')) {
      s = s.slice(5, -1);
      isReplyOrForward = true;
      continue;
    }
    return { subject: s, isReplyOrForward };
  }
}

/**
 * The i;unicode-casemap form (RFC 5051): case-folded and decomposed, so comparisons ignore
 * case and compatibility variants.
 */
export function casemap(text: string): string {
  return text.toUpperCase().normalize('NFKD');
}

/** Compares by Unicode code point (as UTF-8 octets would), not UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
