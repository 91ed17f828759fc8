import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { LineReader } from '../../../src/net/line-reader.js';
import { type CommandLimits, ImapCommandReader } from '../../../src/imap/protocol/command-reader.js';
import type { AppendStream, ReadResult, Token } from '../../../src/imap/protocol/types.js';

interface Harness {
  socket: PassThrough;
  lines: LineReader;
  reader: ImapCommandReader;
  /** How many continuation requests the reader asked for. */
  continuations: () => number;
}

function harness(limits: Partial<CommandLimits> = {}, maxLine = 1024): Harness {
  const socket = new PassThrough();
  const lines = new LineReader(socket, maxLine);
  let sent = 0;
  const reader = new ImapCommandReader(lines, {
    limits,
    sendContinuation: (text) => {
      assert.equal(text, 'Ready for literal data');
      sent++;
    },
  });
  return { socket, lines, reader, continuations: () => sent };
}

/** Tokens as plain values: atoms as strings, strings as {s}, lists as arrays. */
type Plain = string | { s: string } | Plain[];
function plain(tokens: Token[]): Plain[] {
  return tokens.map((t): Plain => {
    if (t.kind === 'atom') return t.value;
    if (t.kind === 'string') return { s: t.value.toString('latin1') };
    return plain(t.items);
  });
}

async function command(r: ImapCommandReader): Promise<{ tag: string; name: string; args: Plain[] }> {
  const res = await r.next();
  assert.equal(res?.kind, 'command', JSON.stringify(res));
  const c = res as Extract<ReadResult, { kind: 'command' }>;
  return { tag: c.tag, name: c.name, args: plain(c.args) };
}

async function bad(r: ImapCommandReader): Promise<{ tag: string | null; message: string }> {
  const res = await r.next();
  assert.equal(res?.kind, 'bad', JSON.stringify(res));
  const b = res as Extract<ReadResult, { kind: 'bad' }>;
  return { tag: b.tag, message: b.message };
}

async function appendStream(r: ImapCommandReader): Promise<AppendStream> {
  const res = await r.next();
  assert.equal(res?.kind, 'append');
  return (res as Extract<ReadResult, { kind: 'append' }>).stream;
}

async function collect(it: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of it) parts.push(chunk);
  return Buffer.concat(parts).toString('latin1');
}

describe('ImapCommandReader: commands', () => {
  const good: Array<[string, { tag: string; name: string; args: Plain[] }]> = [
    ['a1 noop', { tag: 'a1', name: 'NOOP', args: [] }],
    ['A2 uid fetch 1:* (FLAGS)', { tag: 'A2', name: 'UID FETCH', args: ['1:*', ['FLAGS']] }],
    ['t LOGIN "fred" "a \\"b\\" \\\\c"', { tag: 't', name: 'LOGIN', args: [{ s: 'fred' }, { s: 'a "b" \\c' }] }],
    [
      'x FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)',
      { tag: 'x', name: 'FETCH', args: ['1', ['BODY.PEEK[HEADER.FIELDS (From To)]<0.100>', 'UID']] },
    ],
    ['x STORE 1 +FLAGS (\\Seen \\*)', { tag: 'x', name: 'STORE', args: ['1', '+FLAGS', ['\\Seen', '\\*']] }],
    ['x LIST "" %/*', { tag: 'x', name: 'LIST', args: [{ s: '' }, '%/*'] }],
    ['x SEARCH (OR (A B) ((C))) NIL', { tag: 'x', name: 'SEARCH', args: [['OR', ['A', 'B'], [['C']]], 'NIL'] }],
    ['x] SELECT INBOX', { tag: 'x]', name: 'SELECT', args: ['INBOX'] }],
    ['x ID ()', { tag: 'x', name: 'ID', args: [[]] }],
    ['x SELECT "\u00e9t\u00e9"', { tag: 'x', name: 'SELECT', args: [{ s: Buffer.from('\u00e9t\u00e9').toString('latin1') }] }],
  ];
  for (const [line, expected] of good) {
    it(`reads ${JSON.stringify(line)}`, async () => {
      const h = harness();
      h.socket.write(line + '\r\n');
      assert.deepEqual(await command(h.reader), expected);
    });
  }

  const badLines: Array<[string, string | null]> = [
    ['+ NOOP', null],
    ['a* NOOP', null],
    ['a% NOOP', null],
    ['a"b NOOP', null],
    ['a(b NOOP', null],
    ['a{b NOOP', null],
    ['a\\b NOOP', null],
    ['onlytag', 'onlytag'],
    ['t F(OO', 't'],
    ['t UID', 't'],
    ['t FETCH 1 (FLAGS', 't'],
    ['t FETCH 1 FLAGS)', 't'],
    ['t LOGIN "unterminated', 't'],
    ['t LOGIN "bad \\n escape"', 't'],
    ['t LOGIN a"b', 't'],
    ['t FETCH 1 BODY[1', 't'],
    ['t LOGIN "a""b"', 't'],
    ['t LOGIN {3} x', 't'],
    ['t LOGIN {3', 't'],
    ['t LOGIN \u00e9', 't'],
  ];
  for (const [line, tag] of badLines) {
    it(`refuses ${JSON.stringify(line)} and reads on`, async () => {
      const h = harness();
      h.socket.write(Buffer.from(line + '\r\nn2 NOOP\r\n', 'utf8'));
      assert.equal((await bad(h.reader)).tag, tag);
      assert.deepEqual(await command(h.reader), { tag: 'n2', name: 'NOOP', args: [] });
    });
  }

  it('skips the non-synchronising literal at the end of a malformed line', async () => {
    const h = harness();
    h.socket.end('t FETCH ) {5+}\r\nhello {2+}\r\n()\r\nu FETCH ) {5}\r\nn2 NOOP\r\n');
    assert.equal((await bad(h.reader)).tag, 't');
    // A synchronising literal is never sent without a continuation.
    assert.equal((await bad(h.reader)).tag, 'u');
    assert.equal((await command(h.reader)).tag, 'n2');
    assert.equal(h.continuations(), 0);
  });

  it('answers an empty line with an untagged BAD and returns null at end of stream', async () => {
    const h = harness();
    h.socket.end('\r\na NOOP\r\n');
    assert.deepEqual(await bad(h.reader), { tag: null, message: 'Empty command line' });
    assert.equal((await command(h.reader)).name, 'NOOP');
    assert.equal(await h.reader.next(), null);
  });

  it('reads a command split into two packets at every byte', async () => {
    const wire = 'A5 LOGIN {4}\r\nfred ("x y" {3+}\r\nabc) BODY[TEXT]<1.2>\r\n';
    for (let cut = 1; cut < wire.length; cut++) {
      const h = harness();
      h.socket.write(wire.slice(0, cut));
      const pending = h.reader.next();
      await new Promise((resolve) => setImmediate(resolve));
      h.socket.write(wire.slice(cut));
      const res = await pending;
      assert.equal(res?.kind, 'command', `cut at ${cut}`);
      const c = res as Extract<ReadResult, { kind: 'command' }>;
      assert.deepEqual(plain(c.args), [{ s: 'fred' }, [{ s: 'x y' }, { s: 'abc' }], 'BODY[TEXT]<1.2>'], `cut at ${cut}`);
      assert.equal(h.continuations(), 1, `cut at ${cut}`);
    }
  });

  it('keeps literal bytes exactly, CR LF and binary included', async () => {
    const h = harness();
    h.socket.write(Buffer.from('a X {5}\r\n\r\n\0\xff) ~{2+}\r\n\r\n\r\n', 'latin1'));
    const res = (await h.reader.next()) as Extract<ReadResult, { kind: 'command' }>;
    const [first, second] = res.args;
    assert.deepEqual(first, { kind: 'string', value: Buffer.from('\r\n\0\xff)', 'latin1'), literal: true });
    assert.deepEqual(second, { kind: 'string', value: Buffer.from('\r\n'), literal: true, binary: true });
  });

  it('refuses a synchronising literal over the limit before reading its bytes', async () => {
    const h = harness({ maxLiteralBytes: 100 });
    // The stream ends after what a client would send: a reader that waited for the literal's
    // bytes would take "b NOOP" as part of it and then see the end of the stream.
    h.socket.end('a LOGIN {101}\r\nb NOOP\r\n');
    assert.deepEqual(await bad(h.reader), { tag: 'a', message: 'Literal too large' });
    assert.equal(h.continuations(), 0);
    // The client never got a continuation, so what follows is the next command.
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('discards a LITERAL+ literal over the limit and the rest of its command', async () => {
    const h = harness({ maxLiteralBytes: 100 });
    const payload = 'x'.repeat(500);
    h.socket.write(`a LOGIN {500+}\r\n${payload} {3+}\r\nabc\r\nb NOOP\r\n`);
    assert.deepEqual(await bad(h.reader), { tag: 'a', message: 'Literal too large' });
    assert.equal(h.continuations(), 0);
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('refuses a command whose literals together pass the command limit', async () => {
    const h = harness({ maxLiteralBytes: 100, maxCommandBytes: 150 });
    h.socket.write(`a X {90+}\r\n${'y'.repeat(90)} {90}\r\nb NOOP\r\n`);
    assert.deepEqual(await bad(h.reader), { tag: 'a', message: 'Command too long' });
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('LITERAL-: a non-synchronising literal over 4096 bytes is discarded and refused', async () => {
    const h = harness({ maxLiteralBytes: 10_000, maxCommandBytes: 20_000, maxNonSyncLiteralBytes: 4096 });
    h.socket.write(`a X {4097+}\r\n${'z'.repeat(4097)}\r\nb X {4096+}\r\n${'z'.repeat(4096)}\r\n`);
    assert.equal((await bad(h.reader)).tag, 'a');
    const ok = await command(h.reader);
    assert.deepEqual(ok.args, [{ s: 'z'.repeat(4096) }]);
  });

  it('reports an over-long line with its tag when the tag came whole, else without one', async () => {
    const h = harness({}, 64);
    h.socket.write(`a X ${'q'.repeat(100)}\r\n${'t'.repeat(200)}\r\nb NOOP\r\n`);
    assert.equal((await bad(h.reader)).tag, 'a');
    assert.equal((await bad(h.reader)).tag, null);
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('limits nesting depth and token count', async () => {
    const h = harness({ maxDepth: 3, maxTokens: 5 });
    h.socket.write('a X (((1)))\r\nb X ((((1))))\r\nc X 1 2 3 4 5 6\r\n');
    assert.equal((await command(h.reader)).tag, 'a');
    assert.equal((await bad(h.reader)).tag, 'b');
    assert.equal((await bad(h.reader)).tag, 'c');
  });

  it('reads raw lines for AUTHENTICATE and IDLE', async () => {
    const h = harness({}, 16);
    h.socket.end(`dGVzdA==\r\n${'x'.repeat(40)}\r\nDONE\r\n`);
    assert.equal((await h.reader.readRawLine())?.toString(), 'dGVzdA==');
    await assert.rejects(h.reader.readRawLine(), /too long/);
    assert.equal((await h.reader.readRawLine())?.toString(), 'DONE');
    assert.equal(await h.reader.readRawLine(), null);
  });
});

describe('ImapCommandReader: APPEND', () => {
  it('streams three MULTIAPPEND messages with their options', async () => {
    const h = harness();
    h.socket.write(
      'a APPEND {5}\r\nSaved (\\Seen) " 1-Jan-2020 10:00:00 +0000" {3}\r\none {4+}\r\ntwo! (\\Flagged) ~{5}\r\nth\0ee\r\nb NOOP\r\n',
    );
    const stream = await appendStream(h.reader);
    const first = await stream.nextMessage();
    assert.ok(first);
    assert.deepEqual(plain(first.args), [{ s: 'Saved' }, ['\\Seen'], { s: ' 1-Jan-2020 10:00:00 +0000' }]);
    assert.equal(first.size, 3);
    assert.equal(h.continuations(), 1, 'the mailbox literal');
    assert.equal(await collect(first.accept()), 'one');
    assert.equal(h.continuations(), 2);
    const second = await stream.nextMessage();
    assert.ok(second);
    assert.deepEqual(plain(second.args), []);
    assert.equal(await collect(second.accept()), 'two!');
    assert.equal(h.continuations(), 2, 'no continuation for {4+}');
    const third = await stream.nextMessage();
    assert.ok(third);
    assert.equal(third.binary, true);
    assert.deepEqual(plain(third.args), [['\\Flagged']]);
    assert.equal(await collect(third.accept()), 'th\0ee');
    assert.equal(await stream.nextMessage(), null);
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('a rejected synchronising message ends the command without a continuation', async () => {
    const h = harness();
    h.socket.end('a APPEND INBOX {999999}\r\nb NOOP\r\n');
    const stream = await appendStream(h.reader);
    const msg = await stream.nextMessage();
    assert.equal(msg?.size, 999999);
    await msg?.reject();
    assert.equal(h.continuations(), 0);
    assert.equal(await stream.nextMessage(), null);
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('a rejected non-synchronising message is discarded with the rest of the command', async () => {
    const h = harness();
    h.socket.write(`a APPEND INBOX {10+}\r\n0123456789 {2+}\r\nxy\r\nb NOOP\r\n`);
    const stream = await appendStream(h.reader);
    await (await stream.nextMessage())?.reject();
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('skips a message the session did not finish reading', async () => {
    const h = harness();
    h.socket.write(`a APPEND INBOX {10}\r\n0123456789\r\nb NOOP\r\n`);
    const stream = await appendStream(h.reader);
    const msg = await stream.nextMessage();
    assert.ok(msg);
    for await (const chunk of msg.accept()) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.equal((await command(h.reader)).tag, 'b');
  });

  const badAppends: Array<[string, RegExp]> = [
    ['a APPEND INBOX\r\n', /missing message/],
    ['a APPEND INBOX {1}\r\nx junk\r\n', /unexpected arguments/],
    ['a APPEND INBOX (\\Seen {1}\r\nx\r\n', /Unclosed list/],
  ];
  for (const [wire, error] of badAppends) {
    it(`refuses ${JSON.stringify(wire)}`, async () => {
      const h = harness();
      h.socket.write(wire + 'b NOOP\r\n');
      const stream = await appendStream(h.reader);
      await assert.rejects(async () => {
        for (;;) {
          const m = await stream.nextMessage();
          if (!m) break;
          await collect(m.accept());
        }
      }, error);
      assert.equal((await command(h.reader)).tag, 'b');
    });
  }

  it('refuses a mailbox literal over the argument limit without reading it', async () => {
    const h = harness({ maxLiteralBytes: 10 });
    h.socket.end('a APPEND {11}\r\nb NOOP\r\n');
    const stream = await appendStream(h.reader);
    await assert.rejects(stream.nextMessage(), /Literal too large/);
    assert.equal(h.continuations(), 0);
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('the next command skips an APPEND the session never read', async () => {
    const h = harness();
    h.socket.write('a APPEND INBOX (\\Seen) {3+}\r\nabc {2+}\r\nde\r\nb NOOP\r\n');
    await appendStream(h.reader);
    assert.equal((await command(h.reader)).tag, 'b');
  });

  it('LITERAL-: refuses a non-synchronising message over 4096 bytes after discarding it', async () => {
    const h = harness({ maxNonSyncLiteralBytes: 4096 });
    h.socket.write(`a APPEND INBOX {5000+}\r\n${'m'.repeat(5000)}\r\nb NOOP\r\n`);
    const stream = await appendStream(h.reader);
    await assert.rejects(stream.nextMessage(), /4096/);
    assert.equal((await command(h.reader)).tag, 'b');
  });
});
