import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MimePart } from '../../src/mime/analysis.js';
import { analyzeMessage, createMessageAnalyzer, MAX_DEPTH, MAX_HEADER_BYTES, MAX_PARTS } from '../../src/mime/analyzer.js';
import { parseHeaderSummary } from '../../src/mime/header-summary.js';
import { FIXTURES } from './dovecot-fixtures.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'messages', name));

function analyzeInChunks(message: Buffer, cuts: number[]) {
  const analyzer = createMessageAnalyzer();
  let last = 0;
  for (const cut of [...cuts, message.length]) {
    analyzer.write(message.subarray(last, cut));
    last = cut;
  }
  return analyzer.end();
}

function depthOf(part: MimePart): number {
  const inner = part.message ? [part.message.root] : (part.children ?? []);
  return 1 + Math.max(0, ...inner.map(depthOf));
}

describe('createMessageAnalyzer', () => {
  it('gives the same result for every split of a multipart message into two chunks', () => {
    const message = fixture('02-nested.eml');
    const whole = analyzeMessage(message);
    for (let i = 0; i <= message.length; i++) assert.deepEqual(analyzeInChunks(message, [i]), whole, `split at ${i}`);
  });

  it('gives the same result fed one byte at a time, also with bare LF and prefix boundaries', () => {
    for (const name of ['02-nested.eml', '07-bare-lf.eml', '12-prefix-boundaries.eml', '13-multipart-headers-only.eml', '06-base64-qp.eml']) {
      const message = fixture(name);
      const cuts = Array.from({ length: message.length }, (_, i) => i + 1);
      assert.deepEqual(analyzeInChunks(message, cuts), analyzeMessage(message), name);
    }
  });

  it('produces a JSON-serialisable analysis (the store keeps it as is)', () => {
    const analysis = analyzeMessage(fixture('02-nested.eml'));
    assert.deepEqual(JSON.parse(JSON.stringify(analysis)), analysis);
  });

  it('reports offsets of a bare-LF message in the original bytes', () => {
    const message = Buffer.from('Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\n--b--\n');
    const { root } = analyzeMessage(message);
    const part = root.children![0];
    assert.equal(message.subarray(part.bodyStart, part.bodyEnd).toString(), 'hello');
    assert.equal(message.subarray(root.bodyStart, root.bodyEnd).toString(), '--b\n\nhello\n--b--\n');
  });

  it('streams a 20 MB base64 attachment without holding it', () => {
    const head = Buffer.from(
      'From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=big\r\n\r\n' +
        '--big\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    );
    const tail = Buffer.from('\r\n--big--\r\n');
    // 76-character base64 lines of 57 bytes each, assembled into 64 KiB chunks.
    const line = Buffer.from(Buffer.alloc(57, 0xa5).toString('base64') + '\r\n');
    const lines = Math.ceil((20 * 1024 * 1024) / 57);
    const analyzer = createMessageAnalyzer();
    analyzer.write(head);
    const chunk = Buffer.alloc(64 * 1024);
    let fill = 0;
    let written = 0;
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    for (let i = 0; i < lines; i++) {
      if (fill + line.length > chunk.length) {
        analyzer.write(chunk.subarray(0, fill));
        written += fill;
        fill = 0;
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
      line.copy(chunk, fill);
      fill += line.length;
    }
    analyzer.write(chunk.subarray(0, fill));
    written += fill;
    analyzer.write(tail);
    const result = analyzer.end();
    const attachment = result.root.children![1];
    // The CRLF ending the tail's first line belongs to the delimiter, not the attachment.
    assert.equal(attachment.bodyEnd - attachment.bodyStart, written);
    assert.equal(attachment.decodedSize, lines * 57);
    assert.equal(result.text.body, 'see attachment');
    assert.ok(peak - before < 8 * 1024 * 1024, `heap grew by ${peak - before} bytes`);
  });

  it('builds the search text: decoded header fields, text parts converted to UTF-8, HTML as text', () => {
    const nested = analyzeMessage(fixture('02-nested.eml'));
    assert.match(nested.text.headers, /^From: "Smith, John" <john@example.com>\n/);
    const [plain, html, inner] = nested.text.body.split('\n').filter((l) => l !== '').reduce<string[]>((acc, l) => {
      if (acc.length === 1 && l.startsWith('This line')) acc[0] += '\n' + l;
      else acc.push(l);
      return acc;
    }, []);
    assert.equal(plain, 'Café menu: crêpes and coffee. \nThis line is soft broken.');
    assert.equal(html.replace(/\s+/g, ' ').trim(), 'Caf&eacute; menu'.replace('&eacute;', 'é'));
    assert.equal(inner, 'Inner text body.');
    const encoded = analyzeMessage(fixture('04-encoded-words.eml'));
    assert.match(encoded.text.headers, /\nSubject: Grüße aus München and café\n/);
    assert.match(encoded.text.headers, /^From: Jürgen Müller <juergen@example.de>\n/);
    assert.equal(encoded.text.body, 'Grüße, café.\n');
    const encodings = analyzeMessage(fixture('06-base64-qp.eml'));
    assert.equal(encodings.text.body, 'Hello, world!\nThis is base64 text with ümlauts.\n\nSoft line break, trailing space \ntab\tand equals= sign, müde.');
    assert.equal(encodings.text.truncated, false);
  });

  it('cuts the search text at maxTextBytes and says so', () => {
    const message = Buffer.from('Subject: long\r\n\r\n' + 'é'.repeat(100));
    const result = createMessageAnalyzer({ maxTextBytes: 51 });
    result.write(message);
    const { text } = result.end();
    assert.equal(text.body, 'é'.repeat(25));
    assert.equal(text.truncated, true);
  });

  it('keeps the header summary rules of parseHeaderSummary', () => {
    const message = fixture('09-groups.eml');
    const header = message.subarray(0, message.indexOf('\r\n\r\n') + 2);
    assert.deepEqual(analyzeMessage(message).headers, parseHeaderSummary(header));
  });

  it('decodes RFC 2231 parameters and keeps 8-bit UTF-8 header values', () => {
    const { root } = analyzeMessage(fixture('03-rfc2231.eml'));
    assert.equal(root.children![1].params.name, '€ rates for 2025.pdf');
    assert.equal(root.children![1].disposition?.params.filename, '£ report.pdf');
    assert.deepEqual(root.children![0].language, ['en', 'de']);
    const utf8 = analyzeMessage(fixture('05-utf8-headers.eml'));
    assert.equal(utf8.envelope.subject, 'Grüße aus München — ünïcödé');
    assert.deepEqual(utf8.envelope.from, [{ name: 'Jürgen Müller', adl: null, mailbox: 'jürgen', host: 'müller.example' }]);
    const latin1 = analyzeMessage(Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]));
    assert.equal(latin1.envelope.subject, 'café');
  });

  it('stops nesting at the depth cap and treats deeper content as an opaque body', () => {
    const levels = MAX_DEPTH + 20;
    let message = 'Content-Type: multipart/mixed; boundary=b0\r\n\r\n';
    for (let i = 1; i < levels; i++) message += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary=b${i}\r\n\r\n`;
    message += `--b${levels - 1}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n`;
    const { root } = analyzeMessage(Buffer.from(message));
    assert.equal(depthOf(root), MAX_DEPTH + 1);
  });

  it('stops making parts at the part cap; the last part takes in the rest', () => {
    const message = Buffer.from('Content-Type: multipart/mixed; boundary=p\r\n\r\n' + '--p\r\n\r\nx\r\n'.repeat(MAX_PARTS + 50) + '--p--\r\n');
    const { root } = analyzeMessage(message);
    assert.equal(root.children!.length, MAX_PARTS - 1);
    const last = root.children![MAX_PARTS - 2];
    assert.equal(last.bodyEnd, message.length);
    assert.equal(root.bodyEnd, message.length);
  });

  it('ends an oversized header block at the cap and reads on', () => {
    const big = 'X-Filler: ' + 'a'.repeat(1000) + '\r\n';
    const count = Math.ceil(MAX_HEADER_BYTES / big.length) + 5;
    const message = Buffer.from('Subject: huge\r\n' + big.repeat(count) + '\r\nbody\r\n');
    const result = analyzeInChunks(message, [100, 70_000, 200_000]);
    assert.ok(result.root.bodyStart <= MAX_HEADER_BYTES);
    assert.equal(result.root.bodyEnd, message.length);
    assert.equal(result.envelope.subject, 'huge');
  });

  it('treats a message without an empty line as all header', () => {
    const message = Buffer.from('Subject: only\r\nFrom: a@b\r\n');
    const { root, envelope } = analyzeMessage(message);
    assert.equal(root.bodyStart, message.length);
    assert.equal(root.bodyEnd, message.length);
    assert.equal(envelope.subject, 'only');
  });
});
