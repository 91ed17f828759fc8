import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DotStuffer, TopLimiter, dotStuff } from '../../src/pop3/byte-stuffing.js';
import { parseCommandLine, parseNumberArg } from '../../src/pop3/command-line.js';

/** Runs chunks through a stuffer (and optionally a TOP limiter), like sendMessage does. */
function stuffChunks(chunks: string[], limiter?: TopLimiter): string {
  const stuffer = new DotStuffer();
  const out: Buffer[] = [];
  for (const c of chunks) {
    const chunk = limiter ? limiter.take(Buffer.from(c, 'latin1')) : Buffer.from(c, 'latin1');
    stuffer.stuff(chunk, out);
    if (limiter?.done) break;
  }
  out.push(stuffer.terminator());
  return Buffer.concat(out).toString('latin1');
}

/** Every way of cutting `text` into two chunks must give the same result as one chunk. */
function assertSplitInvariant(text: string, expected: string, bodyLines?: number): void {
  for (let cut = 0; cut <= text.length; cut++) {
    const limiter = bodyLines === undefined ? undefined : new TopLimiter(bodyLines);
    assert.equal(stuffChunks([text.slice(0, cut), text.slice(cut)], limiter), expected, `cut at ${cut}`);
  }
}

describe('byte-stuffing', () => {
  it('doubles a dot at the start of the body and after every line ending', () => {
    assert.equal(dotStuff(Buffer.from('.hidden\r\nplain\r\n..two\r\n.\r\n')).toString(), '..hidden\r\nplain\r\n...two\r\n..\r\n.\r\n');
  });

  it('leaves dots that do not start a line alone', () => {
    assert.equal(dotStuff(Buffer.from('a.b\r\n x.\r\n')).toString(), 'a.b\r\n x.\r\n.\r\n');
  });

  it('stuffs a dot that starts a chunk after a chunk ending in LF', () => {
    assert.equal(stuffChunks(['line\r\n', '.dot\r\n']), 'line\r\n..dot\r\n.\r\n');
    assert.equal(stuffChunks(['line\r', '\n.dot\r\n']), 'line\r\n..dot\r\n.\r\n');
    assert.equal(stuffChunks(['line\r\n', '', '.dot\r\n']), 'line\r\n..dot\r\n.\r\n');
  });

  it('does not stuff a dot at a chunk start in the middle of a line', () => {
    assert.equal(stuffChunks(['abc', '.def\r\n']), 'abc.def\r\n.\r\n');
  });

  it('gives the same bytes for every chunk boundary', () => {
    const text = '.a\r\n.\r\n..\r\nx.y\r\n\r\n.end';
    assertSplitInvariant(text, '..a\r\n..\r\n...\r\nx.y\r\n\r\n..end\r\n.\r\n');
  });

  it('closes a body without a final line ending with CRLF before the terminator', () => {
    assert.equal(dotStuff(Buffer.from('no newline')).toString(), 'no newline\r\n.\r\n');
    assert.equal(dotStuff(Buffer.from('line\r\n.')).toString(), 'line\r\n..\r\n.\r\n');
  });

  it('terminates an empty body with the dot line alone', () => {
    assert.equal(dotStuff(Buffer.alloc(0)).toString(), '.\r\n');
  });

  it('treats a bare LF as a line end so ".\\n" can never end the response early', () => {
    assert.equal(dotStuff(Buffer.from('a\n.\nb\n')).toString(), 'a\n..\nb\n.\r\n');
  });

  it('hands out slices of the input instead of copies', () => {
    const input = Buffer.from('x\r\n.y\r\n');
    const out: Buffer[] = [];
    new DotStuffer().stuff(input, out);
    assert.equal(out.length, 3);
    assert.equal(out[0].buffer, input.buffer);
    assert.equal(out[2].buffer, input.buffer);
  });
});

describe('TOP cut-off', () => {
  const message = 'Subject: hi\r\nFrom: a@b\r\n\r\nbody 1\r\n.body 2\r\nbody 3\r\n';

  it('sends headers and the blank line for 0 lines', () => {
    assertSplitInvariant(message, 'Subject: hi\r\nFrom: a@b\r\n\r\n.\r\n', 0);
  });

  it('counts body lines, stuffing them', () => {
    assertSplitInvariant(message, 'Subject: hi\r\nFrom: a@b\r\n\r\nbody 1\r\n..body 2\r\n.\r\n', 2);
  });

  it('sends the whole message when asked for more lines than it has', () => {
    assertSplitInvariant(message, 'Subject: hi\r\nFrom: a@b\r\n\r\nbody 1\r\n..body 2\r\nbody 3\r\n.\r\n', 10);
  });

  it('sends a message without a body whole', () => {
    assertSplitInvariant('Subject: only headers\r\nX: y\r\n', 'Subject: only headers\r\nX: y\r\n.\r\n', 1);
  });

  it('recognises a blank line made of a bare LF, and a last body line without line ending', () => {
    assertSplitInvariant('A: b\n\nline', 'A: b\n\nline\r\n.\r\n', 5);
  });

  it('does not mistake a header line holding one character for the blank line', () => {
    assertSplitInvariant('A: b\r\nx\r\n\r\nbody\r\n', 'A: b\r\nx\r\n\r\n.\r\n', 0);
  });

  it('stops taking input once done', () => {
    const limiter = new TopLimiter(0);
    assert.equal(limiter.take(Buffer.from('A: b\r\n\r\nrest')).toString(), 'A: b\r\n\r\n');
    assert.equal(limiter.done, true);
    assert.equal(limiter.take(Buffer.from('more')).length, 0);
  });
});

describe('command lines', () => {
  it('upper-cases the keyword and splits arguments', () => {
    const parsed = parseCommandLine(Buffer.from('top  1 10'));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.command, { keyword: 'TOP', args: ['1', '10'], rest: ' 1 10' });
  });

  it('keeps spaces in the unsplit rest (PASS)', () => {
    const parsed = parseCommandLine(Buffer.from('pass two words '));
    assert.ok(parsed.ok);
    assert.equal(parsed.command.rest, 'two words ');
  });

  it('rejects NUL bytes and non-letter keywords', () => {
    assert.deepEqual(parseCommandLine(Buffer.from('US\0ER bob')), { ok: false, reason: 'invalid-bytes' });
    assert.deepEqual(parseCommandLine(Buffer.from([0xff, 0xfe, 0x41])), { ok: false, reason: 'syntax' });
    assert.deepEqual(parseCommandLine(Buffer.alloc(0)), { ok: false, reason: 'syntax' });
  });

  it('accepts only plain decimal numbers', () => {
    assert.equal(parseNumberArg('12'), 12);
    assert.equal(parseNumberArg('0'), 0);
    for (const bad of ['-1', '+1', '1.5', '1e3', '', 'x', '12345678901', undefined]) assert.equal(parseNumberArg(bad), null, String(bad));
  });
});
