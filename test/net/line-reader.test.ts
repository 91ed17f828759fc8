import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { LineReader } from '../../src/net/line-reader.js';

function text(b: Buffer | null | undefined): string | null {
  return b == null ? null : b.toString('latin1');
}

describe('LineReader', () => {
  it('splits CRLF and bare LF lines, across chunk boundaries', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 100);
    s.write('HELO a');
    s.write('\r');
    s.write('\nNOOP\nQU');
    s.end('IT\r\n');
    assert.equal(text((await r.nextLine())?.bytes), 'HELO a');
    assert.equal(text((await r.nextLine())?.bytes), 'NOOP');
    assert.equal(text((await r.nextLine())?.bytes), 'QUIT');
    assert.equal(await r.nextLine(), null);
  });

  it('drops an unterminated fragment at end of stream', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 100);
    s.end('RSET\r\nQUI');
    assert.equal(text((await r.nextLine())?.bytes), 'RSET');
    assert.equal(await r.nextLine(), null);
  });

  it('reports an over-long line once and never buffers it whole', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 64, 256);
    const big = Buffer.alloc(1024 * 1024, 0x41);
    // Written in pieces, as a socket would deliver a 10 MB line.
    const writer = (async () => {
      for (let i = 0; i < 10; i++) {
        if (!s.write(big)) await new Promise((res) => s.once('drain', res));
      }
      s.end('\r\nNOOP\r\n');
    })();
    let maxPending = 0;
    const first = await r.nextLine();
    maxPending = Math.max(maxPending, r.pending);
    assert.equal(first?.tooLong, true);
    assert.equal(first?.bytes.length, 0);
    const second = await r.nextLine();
    assert.equal(text(second?.bytes), 'NOOP');
    assert.equal(second?.tooLong, false);
    await writer;
    assert.ok(maxPending < 4 * 1024 * 1024, `pending ${maxPending}`);
  });

  it('treats a line of exactly the limit as fine and one byte more as too long', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 10);
    s.end('12345678\r\n123456789\r\n');
    const ok = await r.nextLine();
    assert.equal(ok?.tooLong, false);
    assert.equal(text(ok?.bytes), '12345678');
    assert.equal((await r.nextLine())?.tooLong, true);
  });

  it('hands out raw bytes and takes back what a decoder read too far', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 100);
    s.write('DATA\r\nabc');
    assert.equal(text((await r.nextLine())?.bytes), 'DATA');
    const raw = await r.nextBytes(2);
    assert.equal(text(raw), 'ab');
    r.unshift(Buffer.from('b'));
    s.end('\r\nQUIT\r\n');
    assert.equal(text((await r.nextLine())?.bytes), 'bc');
    assert.equal(text((await r.nextLine())?.bytes), 'QUIT');
    assert.equal(await r.nextBytes(10), null);
  });

  it('drops pipelined bytes when switching to a new socket (STARTTLS)', async () => {
    const a = new PassThrough();
    const r = new LineReader(a, 100);
    a.write('STARTTLS\r\nMAIL FROM:<evil@x>\r\n');
    assert.equal(text((await r.nextLine())?.bytes), 'STARTTLS');
    const b = new PassThrough();
    const dropped = r.switchTo(b);
    assert.equal(dropped, 'MAIL FROM:<evil@x>\r\n'.length);
    b.end('EHLO x\r\n');
    assert.equal(text((await r.nextLine())?.bytes), 'EHLO x');
  });

  it('interrupts a waiting read without consuming what arrives after it', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 100);
    assert.equal(r.interrupt(), false, 'no read waiting');
    const waiting = r.nextLine();
    assert.equal(r.interrupt(), true);
    assert.equal(await waiting, null);
    const bytes = r.nextBytes(10);
    assert.equal(r.interrupt(), true);
    assert.equal(await bytes, null);
    s.end('NOOP\r\n');
    assert.equal(text((await r.nextLine())?.bytes), 'NOOP');
  });

  it('keeps NUL and 8-bit bytes as they are', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 100);
    s.end(Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a]));
    const line = await r.nextLine();
    assert.deepEqual([...(line?.bytes ?? [])], [0x00, 0xff, 0x80]);
  });

  it('reports an over-long line as soon as the limit is passed, without waiting for its end', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, 64);
    s.write(Buffer.alloc(65, 0x61));
    // No line end has come (and may never come): the report must not wait for one.
    const line = await r.nextLine();
    assert.equal(line?.tooLong, true);
    assert.equal(r.overlongLines, 1);
    // The rest of that line is skipped up to its end; what follows is read as usual.
    s.end(Buffer.concat([Buffer.alloc(1000, 0x61), Buffer.from('\r\nNOOP\r\n')]));
    assert.equal(text((await r.nextLine())?.bytes), 'NOOP');
    assert.equal(r.overlongLines, 1);
  });
});
