/**
 * RFC 2047 encoded words (mime/decode.ts decodeEncodedWords) and RFC 2231 parameters
 * (mime/header-fields.ts parseContentType/parseDisposition). Invariants: decoded text is
 * well-formed Unicode (no lone surrogates: it goes into UTF-8 stores and responses); text
 * without "=?" is left alone; what the composer encodes (encodeWords, headerParameter, the
 * server's own serialisers) decodes back to the same text; parameter names are lower-case and
 * appear once.
 */
import fc from 'fast-check';
import { encodeWords, headerParameter } from '../../src/mime/compose-encoding.js';
import { decodeEncodedWords } from '../../src/mime/decode.js';
import { parseContentType, parseDisposition } from '../../src/mime/header-fields.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { isWellFormed } from './fake-socket.js';

const charset = fc.constantFrom('utf-8', 'UTF-8', 'iso-8859-1', 'windows-1252', 'utf-16', 'utf-16le', 'utf-16be', 'shift_jis', 'koi8-r', 'gb2312', 'big5', 'utf-7', 'x-unknown', 'us-ascii', 'utf-8*en', 'ucs-2', 'utf-32');
const word = fc
  .tuple(charset, fc.constantFrom('B', 'Q', 'b', 'q'), fc.uint8Array({ maxLength: 24 }))
  .map(([cs, enc, data]) => {
    const b = Buffer.from(data);
    const text = enc.toUpperCase() === 'B' ? b.toString('base64') : [...b].map((x) => (x > 0x20 && x < 0x7f && x !== 0x3d && x !== 0x3f && x !== 0x5f ? String.fromCharCode(x) : '=' + x.toString(16).padStart(2, '0'))).join('');
    return `=?${cs}?${enc}?${text}?=`;
  });
const headerValue = fc.array(fc.oneof(word, fc.string({ maxLength: 8 }), fc.constantFrom(' ', '\t', '\r\n ', '=?', '?=', '=?utf-8?B?', '=?utf-8?Q?=E2=82?=')), { maxLength: 8 }).map((p) => p.join(''));
const param = fc.oneof(
  fc.tuple(fc.constantFrom('name', 'filename', 'charset', 'boundary', 'NAME'), fc.string({ maxLength: 20 })).map(([n, v]) => `${n}="${v.replace(/(["\\])/g, '\\$1')}"`),
  fc.tuple(fc.constantFrom('filename', 'name'), fc.nat({ max: 4 }), fc.boolean(), fc.string({ maxLength: 12 })).map(([n, k, star, v]) => `${n}*${k}${star ? '*' : ''}=${k === 0 && star ? "utf-8'en'" : ''}${encodeURIComponent(v)}`),
  fc.constantFrom("title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", "title*0*=us-ascii'en'This%20is%20even%20more%20", 'title*1*=%2A%2A%2Afun%2A%2A%2A%20', 'title*2="isn\'t it!"', 'x*=%ff%fe', "x*=utf-16''%00%d8", "x*=utf-8''%ed%a0%80"),
);
const contentType = fc.tuple(fc.constantFrom('text/plain', 'multipart/mixed', 'application/octet-stream', 'Message/RFC822', 'text', '/x', 'a/b (comment) '), fc.array(param, { maxLength: 5 })).map(([t, p]) => [t, ...p].join('; '));

const target: FuzzTarget = {
  name: 'rfc2047-2231',
  description: 'RFC 2047 encoded words and RFC 2231 parameters (mime/decode.ts, mime/header-fields.ts)',
  generator: fc.oneof(headerValue, contentType, fc.string({ maxLength: 40 })).map((s) => ({ bytes: Buffer.from(s, 'utf8') })),
  dictionary: ['=?utf-8?B?', '=?utf-8?Q?', '=?iso-8859-1?q?', '?=', '=?utf-16?B?', "*=utf-8''", '*0*=', '*1=', '; ', '%', '"', '(', ')'],
  maxInputBytes: 4096,
  run(bytes) {
    const value = bytes.toString('utf8');
    const decoded = decodeEncodedWords(value);
    check(isWellFormed(decoded), () => `decoding gave a lone surrogate: ${JSON.stringify(value.slice(0, 200))}`);
    if (!value.includes('=?')) check(decoded === value, 'text without encoded words was changed');
    // The composer's encoded words decode back to the text.
    const text = value.replace(/[\r\n]/g, ' ');
    if (isWellFormed(text)) {
      check(decodeEncodedWords(encodeWords(text).join(' ')) === text, () => `encodeWords does not round-trip ${JSON.stringify(text.slice(0, 80))}`);
      const tokens = headerParameter('filename', text);
      const ct = parseContentType(`application/octet-stream; ${tokens.join(' ')}`);
      check(ct !== null && ct.params.filename === text, () => `headerParameter does not round-trip ${JSON.stringify(text.slice(0, 80))}: got ${JSON.stringify(ct?.params.filename)}`);
    }
    for (const parsed of [parseContentType(value), parseDisposition(value)]) {
      if (!parsed) continue;
      for (const [name, v] of Object.entries(parsed.params)) {
        check(name === name.toLowerCase(), `parameter name ${name} not lower-case`);
        check(isWellFormed(v), () => `parameter ${name} decoded to a lone surrogate`);
      }
      for (const [name, v] of parsed.reportedParams) check(typeof name === 'string' && typeof v === 'string', 'reported parameter not text');
    }
  },
};
export default target;
