/**
 * Loads the recorded messages and Dovecot's answers (see fixtures/capture-dovecot.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFetchResponses, type ParsedItem } from './imap-response.js';

/** test/mime/fixtures in the source tree (tests run from dist/test/mime). */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'mime', 'fixtures');

export interface DovecotFixture {
  name: string;
  message: Buffer;
  items: Map<string, ParsedItem>;
}

export function loadFixtures(): DovecotFixture[] {
  return readdirSync(join(FIXTURES, 'messages'))
    .filter((n) => n.endsWith('.eml'))
    .sort()
    .map((file) => {
      const name = file.replace(/\.eml$/, '');
      return {
        name,
        message: readFileSync(join(FIXTURES, 'messages', file)),
        items: parseFetchResponses(readFileSync(join(FIXTURES, 'dovecot', `${name}.txt`))),
      };
    });
}

/** "BODY[1.2.MIME]" → { part: [1, 2], text: 'MIME' }; HEADER.FIELDS lists in `fields`. */
export function parseSectionName(item: string): { kind: 'BODY' | 'BINARY' | 'BINARY.SIZE'; part: number[]; text?: string; fields?: string[] } | null {
  const m = /^(BODY|BINARY|BINARY\.SIZE)\[([^\]]*)\]$/.exec(item);
  if (!m) return null;
  const spec = m[2];
  const fm = /^(.*?)(HEADER\.FIELDS(?:\.NOT)?) \(([^)]*)\)$/.exec(spec);
  const head = fm ? fm[1] : spec;
  const nums: number[] = [];
  let text: string | undefined = fm ? fm[2] : undefined;
  for (const piece of head.split('.').filter((p) => p !== '')) {
    if (/^\d+$/.test(piece)) nums.push(Number(piece));
    else text = text ?? head.slice(head.indexOf(piece));
  }
  if (text && !fm) text = text.replace(/\.$/, '');
  return { kind: m[1] as 'BODY' | 'BINARY' | 'BINARY.SIZE', part: nums, text, fields: fm ? fm[3].split(' ') : undefined };
}
