/**
 * Where a BODY[section] / BINARY[part] lives in the stored message: a byte range of the body
 * (read straight from the store, never the whole message), or filtered header fields.
 */
import type { MessageStructure, MimePart } from '../../mime/analysis.js';
import { resolveSection } from '../../mime/sections.js';
import type { Section } from '../protocol/types.js';

/** `1.2.HEADER.FIELDS (FROM TO)` as the response echoes it. */
export function sectionLabel(section: Section): string {
  const parts: string[] = [];
  if (section.part.length > 0) parts.push(section.part.join('.'));
  if (section.text) parts.push(section.text);
  let label = parts.join('.');
  if (section.fields) label += ` (${section.fields.join(' ')})`;
  return label;
}

/** The MIME part addressed by part numbers (RFC 9051 6.4.5), or null if there is none. */
export function findPart(structure: MessageStructure, path: number[]): MimePart | null {
  let part: MimePart = structure.root;
  for (let depth = 0; depth < path.length; depth++) {
    const n = path[depth]!;
    // Inside a message/rfc822 the numbering continues with the encapsulated message.
    if (part.message && depth > 0) part = part.message.root;
    if (part.children) {
      const child = part.children[n - 1];
      if (!child) return null;
      part = child;
    } else if (part.message && depth === 0 && n === 1) {
      part = part.message.root;
    } else if (n === 1) {
      // Part 1 of a single-part body is the body itself.
      continue;
    } else {
      return null;
    }
  }
  return part;
}

/** Byte range of a section, or null if the section does not exist in this message. */
export function sectionRange(structure: MessageStructure, section: Section): { start: number; end: number } | null {
  const text = section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT' ? 'HEADER' : section.text;
  return resolveSection(structure, section.part, text);
}
