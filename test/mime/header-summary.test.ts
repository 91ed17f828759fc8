import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderCollector, parseHeaderSummary } from '../../src/mime/header-summary.js';

const MESSAGE =
  'From: Alice <alice@crepes.fr>\r\n' +
  'To: bob@hamburger.edu,\r\n' +
  '\tcarol@hamburger.edu\r\n' +
  'Subject: =?utf-8?q?caf=C3=A9?= and\r\n' +
  '  more\r\n' +
  'Date: Sat, 1 Mar 2025 14:03:09 +0100\r\n' +
  'Message-ID: <1@crepes.fr>\r\n' +
  'In-Reply-To: <0@hamburger.edu>\r\n' +
  'References: <a@x> <0@hamburger.edu>\r\n' +
  'Reply-To: list@crepes.fr\r\n' +
  'Cc: dave@x\r\n' +
  'Bcc: eve@x\r\n' +
  'X-Other: ignored\r\n' +
  '\r\n' +
  'Subject: not a header, this is the body\r\n';

const EXPECTED = {
  from: 'Alice <alice@crepes.fr>',
  to: 'bob@hamburger.edu,\tcarol@hamburger.edu',
  subject: '=?utf-8?q?caf=C3=A9?= and  more',
  date: 'Sat, 1 Mar 2025 14:03:09 +0100',
  messageId: '<1@crepes.fr>',
  inReplyTo: '<0@hamburger.edu>',
  references: '<a@x> <0@hamburger.edu>',
  replyTo: 'list@crepes.fr',
  cc: 'dave@x',
  bcc: 'eve@x',
};

describe('parseHeaderSummary', () => {
  it('unfolds, keeps raw values and stops at the empty line', () => {
    assert.deepEqual(parseHeaderSummary(Buffer.from(MESSAGE)), EXPECTED);
  });

  it('handles bare LF, case-insensitive names, space before the colon, first occurrence wins', () => {
    const s = parseHeaderSummary(Buffer.from('SUBJECT : one\nsubject: two\nfrom:x@y\n\nbody'));
    assert.deepEqual(s, { subject: 'one', from: 'x@y' });
  });

  it('skips lines without a colon and keeps UTF-8 values (RFC 6532)', () => {
    const s = parseHeaderSummary(Buffer.from('From alice Sat Mar  1\r\nSubject: Grüße\r\n\r\n'));
    assert.deepEqual(s, { subject: 'Grüße' });
  });

  it('falls back to Latin-1 for 8-bit headers that are not UTF-8', () => {
    const s = parseHeaderSummary(Buffer.from([...Buffer.from('Subject: caf'), 0xe9, 0x0d, 0x0a]));
    assert.equal(s.subject, 'café');
  });

  it('returns nothing for a message that starts with an empty line', () => {
    assert.deepEqual(parseHeaderSummary(Buffer.from('\r\nSubject: body\r\n')), {});
  });
});

describe('HeaderCollector', () => {
  it('gives the same summary whatever the chunking (split at every position)', () => {
    const bytes = Buffer.from(MESSAGE);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const c = new HeaderCollector();
      c.push(bytes.subarray(0, cut));
      c.push(bytes.subarray(cut));
      assert.deepEqual(c.summary(), EXPECTED, `cut at ${cut}`);
      assert.equal(c.done, true);
    }
  });

  it('feeds byte by byte and stops capturing at the end of the header block', () => {
    const bytes = Buffer.from(MESSAGE);
    const c = new HeaderCollector();
    for (let i = 0; i < bytes.length; i++) c.push(bytes.subarray(i, i + 1));
    assert.deepEqual(c.summary(), EXPECTED);
    assert.ok(c.headerBytes().length <= MESSAGE.indexOf('\r\n\r\n') + 4);
  });

  it('is not done before the empty line, and done after it', () => {
    const c = new HeaderCollector();
    c.push(Buffer.from('Subject: a\r\n'));
    assert.equal(c.done, false);
    c.push(Buffer.from('\r'));
    assert.equal(c.done, false);
    c.push(Buffer.from('\nbody'));
    assert.equal(c.done, true);
    assert.deepEqual(c.summary(), { subject: 'a' });
  });

  it('detects an empty header block at the start, even split', () => {
    const c = new HeaderCollector();
    c.push(Buffer.from('\r'));
    c.push(Buffer.from('\nSubject: body\r\n'));
    assert.equal(c.done, true);
    assert.deepEqual(c.summary(), {});
  });

  it('captures at most its limit of a header block that never ends', () => {
    const c = new HeaderCollector(1024);
    c.push(Buffer.from('Subject: x\r\n'));
    for (let i = 0; i < 100; i++) c.push(Buffer.alloc(100, 0x41));
    assert.equal(c.done, true);
    assert.equal(c.headerBytes().length, 1024);
    assert.equal(c.summary().subject, 'x');
  });
});
