/** The submission header rules on their own: fed in any chunking, the same bytes come out. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageRefused } from '../../src/smtp/message-sink.js';
import { HeaderRewriter, type SubmittedHeader } from '../../src/smtp/submission/header-rewriter.js';

const NOW = new Date(2025, 2, 1, 14, 3, 9);

/** Runs the rewriter over the chunks; the output and what it recorded. */
function rewrite(chunks: string[], limit?: number): { out: string; header: SubmittedHeader } {
  const r = new HeaderRewriter('hamburger.edu', () => NOW, limit);
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...r.push(Buffer.from(c, 'latin1')));
  out.push(...r.end());
  assert.ok(r.header, 'the header block ended');
  return { out: Buffer.concat(out).toString('latin1'), header: r.header };
}

/** Every way of cutting `text` in two, and one byte at a time. */
function chunkings(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

const DATE_LINE = /^Date: Sat, 1 Mar 2025 14:03:09 [+-]\d{4}\r\n/m;
const ID_LINE = /^Message-ID: <[0-9a-f]{32}@hamburger\.edu>\r\n/m;

describe('HeaderRewriter', () => {
  it('passes a complete header block and the body through unchanged, however it is cut', () => {
    const msg = 'From: Bob <bob@x.example>\r\nDate: Fri, 28 Feb 2025 10:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nBcc: not a field in the body\r\n';
    for (const chunks of chunkings(msg)) {
      const { out, header } = rewrite(chunks);
      assert.equal(out, msg);
      assert.deepEqual(header, { from: ['Bob <bob@x.example>'], sender: [], addedDate: false, addedMessageId: false });
    }
  });

  it('adds Date and Message-ID before the empty line when missing', () => {
    const { out, header } = rewrite(['From: a@x.example\r\nSubject: s\r\n\r\nbody\r\n']);
    assert.match(out, /^From: a@x\.example\r\nSubject: s\r\nDate: [^\r]+\r\nMessage-ID: [^\r]+\r\n\r\nbody\r\n$/);
    assert.match(out, DATE_LINE);
    assert.match(out, ID_LINE);
    assert.equal(header.addedDate, true);
    assert.equal(header.addedMessageId, true);
    // Only the one that is missing; names are matched without regard to case.
    const one = rewrite(['From: a@x.example\r\nmessage-id: <k@x>\r\n\r\nb']).out;
    assert.match(one, DATE_LINE);
    assert.doesNotMatch(one, ID_LINE);
  });

  it('drops Bcc and Resent-Bcc with their folded lines, bare LF too, and keeps the rest', () => {
    const msg =
      'From: a@x.example\r\nBcc: hidden@y.example,\r\n\tother@y.example\r\nTo: t@y.example\r\n' +
      'BCC : obs@y.example\r\n  more@y.example\r\nResent-Bcc: r@y.example\r\nCc: c@y.example\r\n' +
      'Date: d\r\nMessage-ID: <m@x>\r\n\r\nBcc: stays in the body\r\n';
    const expected =
      'From: a@x.example\r\nTo: t@y.example\r\nCc: c@y.example\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\nBcc: stays in the body\r\n';
    for (const chunks of chunkings(msg)) assert.equal(rewrite(chunks).out, expected);
    const lf = rewrite(['From: a@x.example\nBcc: h@y.example\n  h2@y.example\nDate: d\nMessage-ID: <m@x>\n\nbody\n']).out;
    assert.equal(lf, 'From: a@x.example\nDate: d\nMessage-ID: <m@x>\n\nbody\n');
  });

  it('records every From and Sender unfolded', () => {
    const { header } = rewrite(['From: "A, B" <a@x.example>,\r\n b@x.example\r\nSender: s@x.example\r\nFrom: c@x.example\r\n\r\n']);
    assert.deepEqual(header.from, ['"A, B" <a@x.example>, b@x.example', 'c@x.example']);
    assert.deepEqual(header.sender, ['s@x.example']);
  });

  it('adds the fields at the end of a message without a body, ending its last line first', () => {
    assert.match(rewrite(['From: a@x.example']).out, /^From: a@x\.example\r\nDate: [^\r]+\r\nMessage-ID: [^\r]+\r\n$/);
    assert.match(rewrite([]).out, /^Date: [^\r]+\r\nMessage-ID: [^\r]+\r\n$/);
  });

  it('makes text that is no header block the body, behind the added fields', () => {
    const { out, header } = rewrite(['Do you like ketchup?\r\nFrom: a@x.example\r\n']);
    assert.match(out, /^Date: [^\r]+\r\nMessage-ID: [^\r]+\r\n\r\nDo you like ketchup\?\r\nFrom: a@x\.example\r\n$/);
    assert.deepEqual(header.from, []);
  });

  it('refuses a header block over the limit, without waiting for its end', () => {
    const r = new HeaderRewriter('h', () => NOW, 1000);
    r.push(Buffer.from('From: a@x.example\r\n'));
    assert.throws(
      () => r.push(Buffer.from(`X-Long: ${'a'.repeat(2000)}`)),
      (err: unknown) => err instanceof MessageRefused && /^552 5\.3\.4 /.test(err.reply),
    );
    // A body of any size is fine once the header block ended within the limit.
    const big = rewrite(['From: a@x.example\r\n\r\n', 'b'.repeat(5000)], 1000);
    assert.equal(big.out.length > 5000, true);
  });
});
