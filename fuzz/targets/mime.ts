/**
 * The MIME part tree (mime/analyzer.ts) and what IMAP makes of it: BODYSTRUCTURE and BODY
 * (imap/format/bodystructure.ts) and BODY[section] ranges (mime/sections.ts). Invariants: the
 * analysis is the same however the message is chunked on its way into the store; every part's
 * offsets satisfy headerStart <= bodyStart <= bodyEnd and slice inside the message, nested
 * parts (children, encapsulated messages) inside their parent's body; decoded text is
 * well-formed Unicode; BODYSTRUCTURE is a well-formed IMAP value whose shape matches the tree;
 * every section resolves to a range inside the message.
 */
import fc from 'fast-check';
import { formatBodyStructure } from '../../src/imap/format/bodystructure.js';
import type { MessageAnalysis, MimePart } from '../../src/mime/analysis.js';
import { analyzeMessage, createMessageAnalyzer, MAX_DEPTH } from '../../src/mime/analyzer.js';
import { findPart, resolveSection, type SectionText } from '../../src/mime/sections.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { isWellFormed, piecesOf } from './fake-socket.js';
import { asList, parseImapValue, type ImapValue } from './imap-value.js';

type Node = { kind: 'leaf'; type: string; encoding: string; body: string } | { kind: 'multi'; subtype: string; boundary: string; parts: Node[] } | { kind: 'message'; inner: Node };

const leaf = fc.record({
  kind: fc.constant('leaf' as const),
  type: fc.constantFrom('text/plain; charset=utf-8', 'text/html; charset="iso-8859-1"', 'application/octet-stream; name="a.bin"', 'image/png', 'text/plain; charset=utf-16', 'TEXT/PLAIN; format=flowed', 'text'),
  encoding: fc.constantFrom('7bit', 'base64', 'quoted-printable', 'Base64', 'x-uuencode', '8bit', 'binary'),
  body: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('=E2=82=AC=\r\nsoft', 'SGVsbG8=\r\n', '--b\r\n', '--', '\r\n\r\n', '.\r\n', 'w6k=', '=\r\n', '=ZZ')),
});
const node: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constant('multi' as const), subtype: fc.constantFrom('mixed', 'alternative', 'digest', 'related', 'signed'), boundary: fc.constantFrom('b', 'b1', 'bb', '=_x', 'b b', 'a'.repeat(70), ''), parts: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('message' as const), inner: tie('node') }),
  ),
})).node;

function render(n: Node, eol: string): string {
  if (n.kind === 'leaf') return `Content-Type: ${n.type}${eol}Content-Transfer-Encoding: ${n.encoding}${eol}${eol}${n.body}`;
  if (n.kind === 'message') return `Content-Type: message/rfc822${eol}${eol}Subject: inner${eol}${render(n.inner, eol)}`;
  const parts = n.parts.map((p) => `--${n.boundary}${eol}${render(p, eol)}${eol}`).join('');
  return `Content-Type: multipart/${n.subtype}; boundary="${n.boundary}"${eol}${eol}preamble${eol}${parts}--${n.boundary}--${eol}epilogue`;
}

const message = fc
  .tuple(node, fc.constantFrom('\r\n', '\n'), fc.constantFrom('', 'From: a@b.c\r\nSubject: =?utf-8?B?w6k=?=\r\n', 'Content-Disposition: attachment; filename*=utf-8\'\'%C3%A9\r\n'))
  .map(([n, eol, head]) => Buffer.from(`MIME-Version: 1.0${eol}${head}${render(n, eol)}`, 'utf8'));

/** The analysis in a comparable form (JSON; undefined fields dropped). */
const snapshot = (a: MessageAnalysis) => JSON.stringify(a);

function checkPart(part: MimePart, lo: number, hi: number, depth: number, where: string): number {
  check(depth <= MAX_DEPTH + 2, `${where}: nested deeper than the limit`);
  check(lo <= part.headerStart && part.headerStart <= part.bodyStart && part.bodyStart <= part.bodyEnd && part.bodyEnd <= hi, () => `${where}: offsets ${part.headerStart}/${part.bodyStart}/${part.bodyEnd} outside ${lo}..${hi}`);
  check(part.bodyLines >= 0 && part.decodedSize >= 0, `${where}: negative size`);
  check(part.type === part.type.toLowerCase() && part.subtype === part.subtype.toLowerCase(), `${where}: type not lower-case`);
  let count = 1;
  let previousEnd = part.bodyStart;
  (part.children ?? []).forEach((child, i) => {
    count += checkPart(child, part.bodyStart, part.bodyEnd, depth + 1, `${where}.${i + 1}`);
    check(child.headerStart >= previousEnd, `${where}.${i + 1}: overlaps its previous sibling`);
    previousEnd = child.bodyEnd;
  });
  if (part.message) count += checkPart(part.message.root, part.bodyStart, part.bodyEnd, depth + 1, `${where}(message)`);
  return count;
}

/** BODYSTRUCTURE must mirror the tree: a multipart is a list starting with its parts. */
function checkShape(v: ImapValue, part: MimePart, where: string): void {
  const items = asList(v, `BODYSTRUCTURE ${where}`);
  if (part.type === 'multipart') {
    const children = part.children ?? [];
    if (children.length === 0) return;
    children.forEach((c, i) => checkShape(items[i], c, `${where}.${i + 1}`));
    check(Buffer.isBuffer(items[children.length]), `${where}: multipart subtype missing`);
    return;
  }
  check(items.length >= 7, `${where}: body with ${items.length} fields`);
  check(Buffer.isBuffer(items[0]) && Buffer.isBuffer(items[1]), `${where}: type or subtype not a string`);
  check(typeof items[6] === 'string' && /^\d+$/.test(items[6] as string), `${where}: size is not a number`);
}

const SECTION_TEXTS: Array<SectionText | undefined> = [undefined, 'HEADER', 'TEXT', 'MIME'];

const target: FuzzTarget = {
  name: 'mime',
  description: 'MIME part tree, BODYSTRUCTURE and section ranges (mime/analyzer.ts, imap/format/bodystructure.ts)',
  generator: message.map((bytes) => ({ bytes })),
  dictionary: ['\r\n--b\r\n', '\r\n--b--\r\n', 'Content-Type: multipart/mixed; boundary=b\r\n', 'Content-Type: message/rfc822\r\n', 'Content-Transfer-Encoding: base64\r\n', '\r\n\r\n', '=?utf-8?B?', "*=utf-8''", '; charset=utf-16', '--'],
  maxInputBytes: 32 * 1024,
  run(bytes) {
    const whole = analyzeMessage(bytes);
    const analyzer = createMessageAnalyzer();
    for (const piece of piecesOf(bytes)) analyzer.write(piece);
    const chunked = analyzer.end();
    check(snapshot(chunked) === snapshot(whole), 'analysis depends on how the message is chunked');
    const root = whole.root;
    check(root.headerStart === 0 && root.bodyEnd === bytes.length, `root spans ${root.headerStart}..${root.bodyEnd}, message is ${bytes.length}`);
    checkPart(root, 0, bytes.length, 0, 'root');
    check(isWellFormed(whole.text.headers) && isWellFormed(whole.text.body), 'search text has a lone surrogate');
    for (const extensible of [true, false]) {
      const bs = formatBodyStructure(root, extensible);
      checkShape(parseImapValue(Buffer.from(bs, 'utf8')), root, 'root');
    }
    // Every section a client can name resolves inside the message.
    const paths: number[][] = [[]];
    for (let a = 1; a <= 3; a++) {
      paths.push([a]);
      for (let b = 1; b <= 3; b++) paths.push([a, b], [a, b, 1]);
    }
    for (const path of paths) {
      const part = findPart(whole, path);
      for (const text of SECTION_TEXTS) {
        const r = resolveSection(whole, path, text);
        if (!r) continue;
        check(part !== null || path.length === 0, 'a section resolved for a part that does not exist');
        check(0 <= r.start && r.start <= r.end && r.end <= bytes.length, () => `section ${path.join('.')} ${text ?? ''} is ${r.start}..${r.end} in ${bytes.length} bytes`);
      }
    }
  },
};
export default target;
