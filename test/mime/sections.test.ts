import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeMessage } from '../../src/mime/analyzer.js';
import { filterHeaderFields, resolveSection } from '../../src/mime/sections.js';

const MESSAGE = Buffer.from(
  'Subject: s\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n' +
    '--x\r\nContent-Type: text/plain\r\n\r\none\r\n' +
    '--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n' +
    '--x--\r\n',
);

describe('resolveSection', () => {
  const structure = analyzeMessage(MESSAGE);
  const text = (part: number[], spec?: Parameters<typeof resolveSection>[2]) => {
    const r = resolveSection(structure, part, spec);
    return r && MESSAGE.subarray(r.start, r.end).toString();
  };

  it('addresses parts, their MIME headers and encapsulated messages', () => {
    assert.equal(text([1]), 'one');
    assert.equal(text([1], 'MIME'), 'Content-Type: text/plain\r\n\r\n');
    assert.equal(text([2]), 'Subject: inner\r\n\r\ninner body');
    assert.equal(text([2], 'HEADER'), 'Subject: inner\r\n\r\n');
    assert.equal(text([2], 'TEXT'), 'inner body');
    assert.equal(text([2, 1]), 'inner body');
    assert.equal(text([], 'HEADER'), 'Subject: s\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n');
    assert.equal(text([]), MESSAGE.toString());
  });

  it('returns null for parts that do not exist and texts that do not apply', () => {
    assert.equal(resolveSection(structure, [3]), null);
    assert.equal(resolveSection(structure, [1, 1]), null);
    assert.equal(resolveSection(structure, [2, 2]), null);
    assert.equal(resolveSection(structure, [1], 'HEADER'), null);
    assert.equal(resolveSection(structure, [0]), null);
    assert.equal(resolveSection(structure, [], 'MIME'), null);
  });

  it('takes part 1 of a single-part message as its body', () => {
    const single = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const r = resolveSection(analyzeMessage(single), [1])!;
    assert.equal(single.subarray(r.start, r.end).toString(), 'body\r\n');
    assert.equal(resolveSection(analyzeMessage(single), [2]), null);
  });
});

describe('filterHeaderFields', () => {
  const header = Buffer.from('From: a@b\r\nTo: c@d,\r\n e@f\r\nSUBJECT: hi\r\nX-To: no\r\nto: again\r\n\r\n');

  it('keeps whole named fields with their folding, in order, then an empty line', () => {
    assert.equal(filterHeaderFields(header, ['to', 'Subject'], false).toString(), 'To: c@d,\r\n e@f\r\nSUBJECT: hi\r\nto: again\r\n\r\n');
    assert.equal(filterHeaderFields(header, ['X-None'], false).toString(), '\r\n');
  });

  it('keeps the other fields with NOT, with the empty line only if the header had one', () => {
    assert.equal(filterHeaderFields(header, ['TO', 'from'], true).toString(), 'SUBJECT: hi\r\nX-To: no\r\n\r\n');
    assert.equal(filterHeaderFields(Buffer.from('A: 1\r\nB: 2\r\n'), ['a'], true).toString(), 'B: 2\r\n');
  });
});
