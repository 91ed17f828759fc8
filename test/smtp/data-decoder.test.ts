import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DotDecoder } from '../../src/smtp/wire/data-decoder.js';

/** Feeds the chunks; returns the content, whether the end was found, and the bytes after it. */
function decode(chunks: Array<string | Buffer>): { content: string; done: boolean; rest: string } {
  const d = new DotDecoder();
  const out: Buffer[] = [];
  let rest = '';
  let done = false;
  for (const c of chunks) {
    const r = d.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'));
    out.push(...r.segments);
    if (r.done) {
      // After the end, everything pushed is handed back untouched.
      if (done) assert.equal(r.segments.length, 0);
      done = true;
      if (r.rest) rest += r.rest.toString('latin1');
    } else {
      assert.equal(r.rest, null);
    }
  }
  return { content: Buffer.concat(out).toString('latin1'), done, rest };
}

describe('DotDecoder', () => {
  it('ends at CRLF.CRLF, keeping the last line break, and returns what follows', () => {
    assert.deepEqual(decode(['Hello\r\nWorld\r\n.\r\nQUIT\r\n']), {
      content: 'Hello\r\nWorld\r\n',
      done: true,
      rest: 'QUIT\r\n',
    });
  });

  it('takes the CRLF of the DATA command as the start: ".\\r\\n" alone is an empty message', () => {
    assert.deepEqual(decode(['.\r\n']), { content: '', done: true, rest: '' });
  });

  it('removes one stuffing dot at the start of lines only', () => {
    const r = decode(['..\r\n..hidden\r\nmid.dle\r\n...\r\n.x\r\n.\r\n']);
    assert.equal(r.content, '.\r\n.hidden\r\nmid.dle\r\n..\r\nx\r\n');
    assert.equal(r.done, true);
  });

  it('does not end at bare LF.LF, LF.CRLF or CRLF.LF (no smuggling)', () => {
    for (const body of ['a\n.\nb', 'a\n.\r\nb', 'a\r\n.\nb', 'a\r.\rb', 'a\r.\r\nb']) {
      const r = decode([body]);
      assert.equal(r.done, false, JSON.stringify(body));
    }
    const r = decode(['a\n.\nMAIL FROM:<x@y>\r\n.\r\n']);
    assert.equal(r.content, 'a\n.\nMAIL FROM:<x@y>\r\n');
    assert.equal(r.done, true);
  });

  it('keeps bare CR and bare LF as they are', () => {
    assert.equal(decode(['a\rb\nc\r\r\n\n\r\n.\r\n']).content, 'a\rb\nc\r\r\n\n\r\n');
    // The dot after a bare LF is content, so this is not the end.
    assert.equal(decode(['a\r\n\n.\r\n']).done, false);
    // A bare LF does not start a line, so its dot is content, not stuffing.
    assert.equal(decode(['x\n..\r\n.\r\n']).content, 'x\n..\r\n');
  });

  it('treats ".\\r" not followed by LF as a stuffed line with a bare CR', () => {
    assert.equal(decode(['a\r\n.\rb\r\n.\r\n']).content, 'a\r\n\rb\r\n');
    assert.equal(decode(['a\r\n.\r\r\n.\r\n']).content, 'a\r\n\r\r\n');
  });

  it('finds the end marker split across two chunks at every position', () => {
    const input = 'Sub: x\r\n\r\n..dot\r\nline\r\n.\r\nRSET\r\n';
    for (let cut = 0; cut <= input.length; cut++) {
      const r = decode([input.slice(0, cut), input.slice(cut)]);
      assert.deepEqual(r, { content: 'Sub: x\r\n\r\n.dot\r\nline\r\n', done: true, rest: 'RSET\r\n' }, `cut ${cut}`);
    }
  });

  it('decodes the same when fed one byte at a time', () => {
    const input = '..a\r\nb\r.\r\n.\rc\n.\r\n..\r\n.\r\nNOOP\r\n';
    const r = decode([...input]);
    assert.deepEqual(r, decode([input]));
    assert.equal(r.content, '.a\r\nb\r.\r\n\rc\n.\r\n.\r\n');
    assert.equal(r.rest, 'NOOP\r\n');
  });

  it('returns the bytes after the end marker as rest, split at every position in three chunks', () => {
    const input = 'x\r\n.\r\nQUIT\r\n';
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b++) {
        const chunks = [input.slice(0, a), input.slice(a, b), input.slice(b)];
        const d = new DotDecoder();
        const content: Buffer[] = [];
        const rest: Buffer[] = [];
        for (const c of chunks) {
          const r = d.push(Buffer.from(c));
          content.push(...r.segments);
          if (r.rest) rest.push(r.rest);
        }
        assert.equal(Buffer.concat(content).toString(), 'x\r\n', `${a}/${b}`);
        assert.equal(Buffer.concat(rest).toString(), 'QUIT\r\n', `${a}/${b}`);
      }
    }
  });

  it('emits slices of the input without copying in the common case', () => {
    const chunk = Buffer.from('line one\r\nline two\r\n');
    const r = new DotDecoder().push(chunk);
    assert.equal(r.segments.length, 1);
    assert.equal(r.segments[0].buffer, chunk.buffer);
  });

  it('passes 8-bit and NUL bytes through', () => {
    const bin = Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a, 0x2e, 0x2e, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]);
    const r = new DotDecoder().push(bin);
    assert.deepEqual(Buffer.concat(r.segments), Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]));
    assert.equal(r.done, true);
  });
});
