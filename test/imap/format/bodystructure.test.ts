import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MimePart } from '../../../src/mime/analysis.js';
import { analyzeMessage } from '../../../src/mime/analyzer.js';
import { formatBodyStructure } from '../../../src/imap/format/bodystructure.js';

describe('formatBodyStructure', () => {
  it('writes a multipart without parts as Dovecot does (one empty text part)', () => {
    const { root } = analyzeMessage(Buffer.from('Content-Type: multipart/mixed\r\n\r\nno boundary\r\n'));
    assert.equal(formatBodyStructure(root, false), '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });

  it('falls back to the normalised fields for parts stored without reported ones', () => {
    const { root } = analyzeMessage(Buffer.from('Content-Type: Text/HTML; Charset=UTF-8\r\n\r\n<p>x</p>\r\n'));
    const older: MimePart = { ...root, reported: undefined };
    assert.equal(formatBodyStructure(root, false), '("Text" "HTML" ("Charset" "UTF-8") NIL NIL "7bit" 10 1)');
    assert.equal(formatBodyStructure(older, false), '("text" "html" ("charset" "UTF-8") NIL NIL "7bit" 10 1)');
  });
});
