/**
 * Our BODYSTRUCTURE, BODY, ENVELOPE, section byte ranges and BINARY sizes against what Dovecot
 * answered for the same messages (recorded in fixtures/; no Dovecot needed here).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MimePart, MessageAnalysis } from '../../src/mime/analysis.js';
import { analyzeMessage } from '../../src/mime/analyzer.js';
import { createTransferDecoder } from '../../src/mime/decode.js';
import { filterHeaderFields, resolveSection, type SectionText } from '../../src/mime/sections.js';
import { formatBodyStructure } from '../../src/imap/format/bodystructure.js';
import { formatEnvelope } from '../../src/imap/format/envelope.js';
import { loadFixtures, parseSectionName, type DovecotFixture } from './dovecot-fixtures.js';

/** Dovecot stores and serves messages with CRLF line ends whatever was appended. */
function toCrlf(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

const hasBareLf = (message: Buffer) => /(^|[^\r])\n/.test(message.toString('latin1'));

/**
 * Dovecot 2.3 does not look inside message/global (RFC 6532) parts; RFC 9051 lists
 * MESSAGE/GLOBAL with MESSAGE/RFC822 as an encapsulated message, and so do we.
 */
const DEVIATIONS: Record<string, { dovecot: string; ours: string }[]> = {
  '12-prefix-boundaries': [
    {
      dovecot: '("message" "global" NIL NIL NIL "7bit" 65 NIL NIL NIL NIL)',
      ours:
        '("message" "global" NIL NIL NIL "7bit" 65 (NIL "Global message" ((NIL NIL "global" "example.com")) ((NIL NIL "global" "example.com")) ((NIL NIL "global" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)',
    },
    {
      dovecot: '("message" "global" NIL NIL NIL "7bit" 65)',
      ours: '("message" "global" NIL NIL NIL "7bit" 65 (NIL "Global message" ((NIL NIL "global" "example.com")) ((NIL NIL "global" "example.com")) ((NIL NIL "global" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0) 3)',
    },
  ],
};

function expected(f: DovecotFixture, item: string): string {
  const raw = f.items.get(item)?.raw;
  assert.ok(raw, `${item} recorded for ${f.name}`);
  let text = raw.toString('utf8');
  for (const d of DEVIATIONS[f.name] ?? []) text = text.replace(d.dovecot, d.ours);
  return text;
}

function partAt(analysis: MessageAnalysis, numbers: number[]): MimePart {
  let context: MimePart = analysis.root;
  let target: MimePart = context;
  for (const n of numbers) {
    target = context.type === 'multipart' ? context.children![n - 1] : context;
    context = target.message ? target.message.root : target;
  }
  return target;
}

/** The bytes we would answer for a recorded section item. */
function ourSection(message: Buffer, analysis: MessageAnalysis, item: string): Buffer | string {
  const s = parseSectionName(item)!;
  const text = s.text as SectionText | undefined;
  const range = resolveSection(analysis, s.part, text?.startsWith('HEADER.FIELDS') ? 'HEADER' : text);
  assert.ok(range, `${item} resolves`);
  let bytes = message.subarray(range.start, range.end);
  if (s.fields) bytes = filterHeaderFields(bytes, s.fields, text === 'HEADER.FIELDS.NOT');
  if (s.kind === 'BODY') return bytes;
  const part = partAt(analysis, s.part);
  if (s.kind === 'BINARY.SIZE') return String(part.decodedSize);
  const decoder = createTransferDecoder(part.encoding);
  return Buffer.concat([decoder.push(bytes), decoder.end()]);
}

const sectionItems = (f: DovecotFixture) => [...f.items.keys()].filter((k) => parseSectionName(k) !== null);

describe('structure and sections match Dovecot', () => {
  for (const f of loadFixtures()) {
    describe(f.name, () => {
      const message = toCrlf(f.message);
      const analysis = analyzeMessage(message);

      it('BODYSTRUCTURE', () => assert.equal(formatBodyStructure(analysis.root, true), expected(f, 'BODYSTRUCTURE')));
      it('BODY', () => assert.equal(formatBodyStructure(analysis.root, false), expected(f, 'BODY')));
      it('ENVELOPE', () => assert.equal(formatEnvelope(analysis.envelope), expected(f, 'ENVELOPE')));
      it('RFC822.SIZE is the end of the root body', () => assert.equal(String(analysis.root.bodyEnd), f.items.get('RFC822.SIZE')?.value));

      it('every BODY[...] and BINARY[...] section', () => {
        const items = sectionItems(f);
        assert.ok(items.length >= 4);
        for (const item of items) {
          const theirs = f.items.get(item)!.value;
          const ours = ourSection(message, analysis, item);
          assert.deepEqual(typeof ours === 'string' ? ours : ours.toString('latin1'), Buffer.isBuffer(theirs) ? theirs.toString('latin1') : theirs, item);
        }
      });

      if (hasBareLf(f.message)) {
        it('bare-LF original: same sections once line ends are converted, same line counts', () => {
          const lfAnalysis = analyzeMessage(f.message);
          for (const item of sectionItems(f).filter((i) => i.startsWith('BODY['))) {
            const ours = ourSection(f.message, lfAnalysis, item) as Buffer;
            assert.equal(toCrlf(ours).toString('latin1'), (f.items.get(item)!.value as Buffer).toString('latin1'), item);
          }
          const lines = (a: MessageAnalysis) => formatBodyStructure(a.root, true).replace(/"7bit" \d+/g, '"7bit" N');
          assert.equal(lines(lfAnalysis), lines(analysis));
        });
      }
    });
  }
});
