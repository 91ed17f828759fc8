import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCharsetDecoder, createTransferDecoder, decodeEncodedWords, decodeTransferStream } from '../../src/mime/decode.js';

function decodeWhole(encoding: string, input: string): string {
  const d = createTransferDecoder(encoding);
  return Buffer.concat([d.push(Buffer.from(input, 'latin1')), d.end()]).toString('latin1');
}

/** Decodes `input` split into two chunks at every position; all must agree with the whole. */
function assertSplitInvariant(encoding: string, input: string, expected: string): void {
  assert.equal(decodeWhole(encoding, input), expected, 'whole');
  const bytes = Buffer.from(input, 'latin1');
  for (let i = 0; i <= bytes.length; i++) {
    const d = createTransferDecoder(encoding);
    const out = Buffer.concat([d.push(bytes.subarray(0, i)), d.push(bytes.subarray(i)), d.end()]).toString('latin1');
    assert.equal(out, expected, `split at ${i}`);
  }
}

describe('base64 decoder', () => {
  it('skips line breaks, spaces and characters outside the alphabet', () => {
    assertSplitInvariant('base64', 'SGVs bG8s\r\nIHdv!!cmxk\n IQ==\r\n', 'Hello, world!');
  });

  it('stops at the pad and decodes a partial last quantum', () => {
    assertSplitInvariant('BASE64', 'YWI=ignored', 'ab');
    assertSplitInvariant('base64', 'YWJj\r\nZA', 'abcd');
  });
});

describe('quoted-printable decoder', () => {
  it('decodes escapes, soft line breaks (CRLF, LF, with trailing white space)', () => {
    assertSplitInvariant('quoted-printable', 'caf=C3=A9 =\r\nsoft=  \r\nbreak=\nbare\r\n', 'caf\xc3\xa9 softbreakbare\r\n');
  });

  it('drops trailing white space on a line, keeps a literal = without hex digits', () => {
    assertSplitInvariant('Quoted-Printable', 'a  \r\nb\t\r\n= x =4 =zz a=3d', 'a\r\nb\r\n= x =4 =zz a=');
  });

  it('treats = at the very end as a soft break', () => {
    assertSplitInvariant('quoted-printable', 'end=', 'end');
  });
});

describe('other encodings', () => {
  it('pass 7bit, 8bit, binary and unknown encodings through', () => {
    for (const enc of ['7bit', '8bit', 'binary', 'x-uuencode']) assert.equal(decodeWhole(enc, 'a=3D\r\n'), 'a=3D\r\n');
  });

  it('decodes an async stream of chunks', async () => {
    async function* source() {
      yield Buffer.from('SGVsbG');
      yield Buffer.from('8=\r\n');
    }
    const out: Buffer[] = [];
    for await (const chunk of decodeTransferStream('base64', source())) out.push(chunk);
    assert.equal(Buffer.concat(out).toString(), 'Hello');
  });
});

describe('decodeEncodedWords', () => {
  it('decodes B and Q words in any charset', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?B?SsO8cmdlbg==?= <j@x>'), 'Jürgen <j@x>');
    assert.equal(decodeEncodedWords('=?iso-8859-1?q?caf=E9_au_lait?='), 'café au lait');
  });

  it('drops white space between adjacent words, keeps it elsewhere', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?= =?UTF-8?Q?b?=  c =?UTF-8?Q?d?='), 'ab  c d');
    assert.equal(decodeEncodedWords('=?UTF-8?Q?a?=\r\n =?ISO-8859-1?Q?=E9?='), 'aé');
  });

  it('joins a character split across adjacent words', () => {
    // "é" is C3 A9 in UTF-8, split between two words.
    assert.equal(decodeEncodedWords('=?utf-8?q?caf=C3?= =?utf-8?q?=A9?='), 'café');
  });

  it('reads an unknown charset as UTF-8 and leaves malformed words alone', () => {
    assert.equal(decodeEncodedWords('=?x-unknown?Q?ok?='), 'ok');
    assert.equal(decodeEncodedWords('=?utf-8?X?nope?= plain'), '=?utf-8?X?nope?= plain');
  });
});

describe('charset decoding gives well-formed text', () => {
  it('replaces an unpaired UTF-16 surrogate with U+FFFD', () => {
    // 0xD800 alone (little-endian), then "a".
    assert.equal(decodeEncodedWords('=?utf-16le?B?ANhhAA==?='), '\ufffda');
  });

  it('keeps a surrogate pair split between two chunks of a text part', () => {
    const decoder = createCharsetDecoder('utf-16le');
    const grinning = Buffer.from('\u{1f600}', 'utf16le');
    const text = decoder.write(grinning.subarray(0, 2)) + decoder.write(grinning.subarray(2)) + decoder.end();
    assert.equal(text, '\u{1f600}');
    const lone = createCharsetDecoder('utf-16le');
    assert.equal(lone.write(grinning.subarray(0, 2)) + lone.end(), '\ufffd');
  });
});
