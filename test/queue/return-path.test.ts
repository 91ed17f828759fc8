import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withoutReturnPath } from '../../src/queue/return-path.js';

async function strip(chunks: string[]): Promise<string> {
  async function* source() {
    for (const c of chunks) yield Buffer.from(c, 'latin1');
  }
  const out: Buffer[] = [];
  for await (const b of withoutReturnPath(source())) out.push(b);
  return Buffer.concat(out).toString('latin1');
}

describe('withoutReturnPath', () => {
  const message =
    'DKIM-Signature: v=1; d=crepes.test;\r\n\tb=abc\r\nReturn-Path: <alice@crepes.test>\r\nReceived: from x\r\n\tby y\r\n' +
    'Subject: hi\r\n\r\nReturn-Path: <in the body stays>\r\n';
  const expected =
    'DKIM-Signature: v=1; d=crepes.test;\r\n\tb=abc\r\nReceived: from x\r\n\tby y\r\nSubject: hi\r\n\r\nReturn-Path: <in the body stays>\r\n';

  it('drops Return-Path fields of the header block only, keeping every other byte', async () => {
    assert.equal(await strip([message]), expected);
  });

  it('gives the same bytes however the message is cut into chunks', async () => {
    for (let size = 1; size < 40; size += 3) {
      const chunks: string[] = [];
      for (let i = 0; i < message.length; i += size) chunks.push(message.slice(i, i + size));
      assert.equal(await strip(chunks), expected, `chunks of ${size}`);
    }
  });

  it('drops a folded Return-Path with its continuation, and passes a message without header block', async () => {
    assert.equal(await strip(['return-path :\r\n <a@b>\r\nTo: x\r\n\r\nbody']), 'To: x\r\n\r\nbody');
    assert.equal(await strip(['\r\nReturn-Path: <body>\r\n']), '\r\nReturn-Path: <body>\r\n');
    assert.equal(await strip(['Subject: no end of line']), 'Subject: no end of line');
  });

  it('stops looking at a line longer than any field we write, and passes it on whole', async () => {
    const long = `X-Long: ${'a'.repeat(20_000)}\r\nReturn-Path: <kept>\r\n\r\nbody`;
    const chunks: string[] = [];
    for (let i = 0; i < long.length; i += 4096) chunks.push(long.slice(i, i + 4096));
    assert.equal(await strip(chunks), long);
  });
});
