/**
 * Where an IMAP body section (RFC 9051 6.4.5) lies in the stored message, from the analysed
 * structure alone, and the HEADER.FIELDS filter over a header block.
 */
import type { MessageStructure, MimePart } from './analysis.js';

export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

/** Part `n` (1-based) of a message whose root is `root`: a multipart's child, or the body itself. */
function partOf(root: MimePart, n: number): MimePart | null {
  if (root.type === 'multipart') return root.children?.[n - 1] ?? null;
  return n === 1 ? root : null;
}

/**
 * The part a section's part number addresses (RFC 9051 6.4.5): numbers count the parts of
 * the top-level message, then of each encapsulated message/rfc822. Null if there is none; the
 * root for an empty part number.
 */
export function findPart(structure: MessageStructure, part: number[]): MimePart | null {
  // The message whose parts the next number counts: the top level, then encapsulated ones.
  let context: MimePart | null = structure.root;
  let target: MimePart | null = structure.root;
  for (const n of part) {
    if (context === null || !Number.isInteger(n) || n < 1) return null;
    target = partOf(context, n);
    if (target === null) return null;
    if (target.message) context = target.message.root;
    else if (target.type === 'multipart') context = target;
    else context = null;
  }
  return target;
}

/**
 * The byte range [start, end) of a section, or null when the part does not exist or the
 * section text does not apply to it. `part` is the section's part number ([] for the whole
 * message); HEADER, HEADER.FIELDS(.NOT) and TEXT of a part address its encapsulated message,
 * so they need a message/rfc822 part; MIME needs a part number.
 */
export function resolveSection(structure: MessageStructure, part: number[], text?: SectionText): { start: number; end: number } | null {
  const root = structure.root;
  if (part.length === 0) {
    switch (text) {
      case undefined:
        return { start: root.headerStart, end: root.bodyEnd };
      case 'HEADER':
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return { start: root.headerStart, end: root.bodyStart };
      case 'TEXT':
        return { start: root.bodyStart, end: root.bodyEnd };
      default:
        return null;
    }
  }
  const p = findPart(structure, part);
  if (p === null) return null;
  switch (text) {
    case undefined:
      return { start: p.bodyStart, end: p.bodyEnd };
    case 'MIME':
      return { start: p.headerStart, end: p.bodyStart };
    case 'HEADER':
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return p.message ? { start: p.message.root.headerStart, end: p.message.root.bodyStart } : null;
    case 'TEXT':
      return p.message ? { start: p.message.root.bodyStart, end: p.message.root.bodyEnd } : null;
  }
}

/**
 * The fields of `headerBlock` named in `fields` (or, with `not`, all the others), each whole
 * with its folded lines and line breaks, in their original order, then the empty line that
 * ends a header. As Dovecot does, HEADER.FIELDS always ends with an empty line, while
 * HEADER.FIELDS.NOT has one only when the original header block had one.
 */
export function filterHeaderFields(headerBlock: Buffer, fields: string[], not: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const out: Buffer[] = [];
  let keep = false;
  let pos = 0;
  let sawEmptyLine = false;
  while (pos < headerBlock.length) {
    const lf = headerBlock.indexOf(0x0a, pos);
    const end = lf < 0 ? headerBlock.length : lf + 1;
    const line = headerBlock.subarray(pos, end);
    pos = end;
    if (line[0] === 0x0a || (line[0] === 0x0d && line[1] === 0x0a)) {
      sawEmptyLine = true;
      break;
    }
    if (line[0] !== 0x20 && line[0] !== 0x09) {
      const colon = line.indexOf(0x3a);
      const name = colon > 0 ? line.subarray(0, colon).toString('latin1').replace(/[ \t]+$/, '').toLowerCase() : null;
      keep = name !== null && wanted.has(name) !== not;
    }
    if (keep) out.push(line);
  }
  if (!not || sawEmptyLine) out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}
