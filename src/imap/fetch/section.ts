/**
 * Where a BODY[section] / BINARY[part] lives in the stored message: a byte range of the body
 * (read straight from the store, never the whole message), or filtered header fields.
 */
import type { MessageStructure } from '../../mime/analysis.js';
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

/** Byte range of a section, or null if the section does not exist in this message. */
export function sectionRange(structure: MessageStructure, section: Section): { start: number; end: number } | null {
  const text = section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT' ? 'HEADER' : section.text;
  return resolveSection(structure, section.part, text);
}
