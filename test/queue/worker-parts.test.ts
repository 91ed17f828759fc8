/** The queue worker's pure parts: the retry schedule and the pieces of a delivery status notification. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dsnStatus, enhancedStatus, formatMailDate, oneLine, readHeaderBlock, writeDsn } from '../../src/queue/dsn.js';
import type { BodyWriter } from '../../src/store/types.js';
import { hasExpired, needsDelayNotice, retryDelay } from '../../src/queue/schedule.js';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

describe('retry schedule', () => {
  const settings = { firstRetryMs: 60_000, maxRetryMs: 3_600_000, giveUpMs: 86_400_000, delayNoticeMs: 14_400_000 };
  it('starts at firstRetryMs and doubles per attempt up to maxRetryMs', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 100, 5000].map((n) => retryDelay(n, settings) / 60_000),
      [1, 2, 4, 8, 16, 32, 60, 60, 60, 60],
    );
  });
  it('gives up and sends delay notices by the time since queueing', () => {
    const created = new Date(0);
    assert.equal(hasExpired(created, new Date(86_399_999), settings), false);
    assert.equal(hasExpired(created, new Date(86_400_000), settings), true);
    assert.equal(needsDelayNotice(created, new Date(14_399_999), settings), false);
    assert.equal(needsDelayNotice(created, new Date(14_400_000), settings), true);
  });
});

describe('delivery status notification parts', () => {
  it('reads the header block only, wherever the blank line falls', async () => {
    const header = 'Subject: x\r\nFrom: a@b\r\n';
    assert.equal((await readHeaderBlock(chunks(`${header}\r\nbody\r\n`))).toString(), header);
    assert.equal((await readHeaderBlock(chunks('Subject: x\r\nFrom: a@b\r', '\n\r', '\nbody'))).toString(), header);
    assert.equal((await readHeaderBlock(chunks('Subject: x\nFrom: a@b\n', '\nbody'))).toString(), 'Subject: x\nFrom: a@b\n');
    assert.equal((await readHeaderBlock(chunks('\r\nno header at all'))).toString(), '');
    assert.equal((await readHeaderBlock(chunks('Subject: only a header\r\n'))).toString(), 'Subject: only a header\r\n');
    // Stops reading at the blank line.
    let read = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (const part of [header, '\r\n', 'body '.repeat(100), 'more']) {
        read++;
        yield Buffer.from(part);
      }
    }
    await readHeaderBlock(counted());
    assert.equal(read, 2);
  });

  it('cuts an endless header block after the last whole line within the limit', async () => {
    const line = 'X-Filler: ' + 'y'.repeat(88) + '\r\n'; // 100 bytes
    const block = await readHeaderBlock(chunks(line.repeat(30), line.repeat(30)), 1050);
    assert.equal(block.length, 1000);
    assert.ok(block.toString().endsWith('\r\n'));
  });

  it('takes the status from the enhanced code, else 5.0.0 or 4.0.0', () => {
    assert.equal(enhancedStatus('550 5.1.1 <x@y>: unknown'), '5.1.1');
    assert.equal(enhancedStatus('550-5.7.1 first line'), '5.7.1');
    assert.equal(enhancedStatus('550 user unknown'), null);
    assert.equal(enhancedStatus('connection refused'), null);
    assert.equal(dsnStatus('failed', '554 no'), '5.0.0');
    assert.equal(dsnStatus('delayed', 'connection timed out'), '4.0.0');
    assert.equal(dsnStatus('failed', '451 4.4.1 no answer'), '4.4.1');
  });

  it('writes dates and diagnostic text as single clean lines', () => {
    assert.equal(formatMailDate(new Date(Date.UTC(2025, 6, 1, 10, 0, 0))), 'Tue, 01 Jul 2025 10:00:00 +0000');
    assert.equal(oneLine('550-5.1.1 a\r\n550 5.1.1 b\u0000c'), '550-5.1.1 a 550 5.1.1 b c');
    assert.equal(oneLine('x'.repeat(2000)).length, 900);
  });

  it('uses the global report type (RFC 6533) for UTF-8 addresses and says when the report is 8-bit', async () => {
    const written: Buffer[] = [];
    const writer = {
      size: 0,
      write: async (chunk: Buffer) => void written.push(chunk),
      abort: async () => undefined,
      prepend: () => undefined,
    } as BodyWriter;
    const date = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    const { eightBit } = await writeDsn(
      writer,
      {
        action: 'failed',
        hostname: 'mx.example.org',
        to: 'sender@example.org',
        arrivalDate: date,
        date,
        recipients: [{ address: 'j\u00f6rg@b\u00fccher.example', reply: '550 5.1.1 unknown', lastAttemptAt: date }],
      },
      chunks('Subject: plain\r\n\r\nbody'),
    );
    const text = Buffer.concat(written).toString('utf8');
    assert.equal(eightBit, true);
    assert.match(text, /^Content-Type: message\/global-delivery-status\r$/m);
    assert.match(text, /^Final-Recipient: utf-8; j\u00f6rg@b\u00fccher\.example\r$/m);
    assert.match(text, /^Content-Transfer-Encoding: 8bit\r$/m);
    assert.ok(text.endsWith('Subject: plain\r\n\r\n--' + /boundary="([^"]+)"/.exec(text)![1] + '--\r\n'));
  });
});
