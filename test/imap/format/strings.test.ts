import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nstring, quoteString } from '../../../src/imap/format/strings.js';

describe('IMAP strings', () => {
  it('quotes plain ASCII', () => {
    assert.equal(quoteString('Hello world'), '"Hello world"');
    assert.equal(quoteString(''), '""');
  });

  it('sends a literal for line breaks, quoted-specials and 8-bit text (octet count)', () => {
    assert.equal(quoteString('a\r\nb'), '{4}\r\na\r\nb');
    assert.equal(quoteString('say "hi"'), '{8}\r\nsay "hi"');
    assert.equal(quoteString('back\\slash'), '{10}\r\nback\\slash');
    assert.equal(quoteString('Zoë'), '{4}\r\nZoë');
  });

  it('writes NIL for null', () => {
    assert.equal(nstring(null), 'NIL');
    assert.equal(nstring('x'), '"x"');
  });
});
