/** CHUNKING (RFC 3030): BDAT chunks, their errors, and BINARYMIME. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOMAIN, RawClient, splitTrace, startServer, type TestServer } from './harness.js';

const BOB = `bob@${DOMAIN}`;

async function ready(server: TestServer, mailParams = ''): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  await c.reply();
  await c.expect('EHLO crepes.fr', 250);
  await c.expect(`MAIL FROM:<alice@crepes.fr>${mailParams}`, 250);
  await c.expect(`RCPT TO:<${BOB}>`, 250);
  return c;
}

describe('BDAT', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ users: [BOB], config: { smtp: { maxMessageBytes: 64 * 1024 } } });
  });
  after(() => server.close());

  it('stores the exact bytes of the chunks, without dot-unstuffing', async () => {
    const c = await ready(server);
    const one = Buffer.from('Subject: chunks\r\n\r\n..not stuffed\r\n.\r\n');
    const two = Buffer.from('second chunk, binary: \0\xff\r\n', 'latin1');
    c.write(`BDAT ${one.length}\r\n`);
    c.write(one);
    const r1 = await c.reply();
    assert.deepEqual([r1.code, r1.lines[0]], [250, `2.0.0 Ok: ${one.length} octets received`]);
    c.write(`BDAT ${two.length} LAST\r\n`);
    c.write(two);
    const r2 = await c.reply();
    assert.equal(r2.code, 250);
    assert.match(r2.lines[0], /^2\.0\.0 Ok: queued as [A-Z2-7]{12}$/);
    c.close();
    const entry = (await server.inbox(BOB)).at(-1)!;
    assert.deepEqual(splitTrace(await server.body(entry.messageId)).rest, Buffer.concat([one, two]));
    assert.equal((await server.store.getMessage(entry.messageId))?.headers.subject, 'chunks');
  });

  it('works pipelined in one write, with BDAT 0 LAST and commands after it', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    c.write('EHLO crepes.fr\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<bob@hamburger.edu>\r\nBDAT 7\r\nSubjectBDAT 4\r\n: x\nBDAT 0 LAST\r\nNOOP\r\n');
    const codes = [];
    for (let i = 0; i < 7; i++) codes.push((await c.reply()).code);
    assert.deepEqual(codes, [250, 250, 250, 250, 250, 250, 250]);
    c.close();
    const entry = (await server.inbox(BOB)).at(-1)!;
    assert.equal(splitTrace(await server.body(entry.messageId)).rest.toString(), 'Subject: x\n');
  });

  it('consumes the chunk of a BDAT without RCPT and answers 503', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    c.write('BDAT 6 LAST\r\nNOOP\r\n');
    assert.equal((await c.reply()).code, 503);
    // The 6 bytes "NOOP\r\n" were chunk data, not a command.
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    c.write('BDAT 5\r\nRSET\r');
    assert.equal((await c.reply()).code, 503);
    await c.expect('NOOP', 250);
    c.close();
  });

  it('refuses DATA after BDAT, and BINARYMIME with DATA', async () => {
    const c = await ready(server);
    c.write('BDAT 3\r\nabc');
    assert.equal((await c.reply()).code, 250);
    await c.expect('DATA', 503, '5.5.1 Error: DATA not allowed during BDAT transfer');
    await c.expect('RSET', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr> BODY=BINARYMIME', 250);
    await c.expect(`RCPT TO:<${BOB}>`, 250);
    await c.expect('DATA', 503, '5.5.1 Error: BINARYMIME requires BDAT');
    c.close();
  });

  it('answers 552 to the chunk that passes the size limit and 503 to the next ones', async () => {
    const before = (await server.inbox(BOB)).length;
    const c = await ready(server);
    const big = Buffer.alloc(70 * 1024, 0x61);
    c.write(`BDAT ${big.length}\r\n`);
    c.write(big);
    c.write('BDAT 3 LAST\r\nxyz');
    const r = await c.reply();
    assert.deepEqual([r.code, r.lines[0]], [552, '5.3.4 Message size exceeds fixed maximum message size']);
    assert.equal((await c.reply()).code, 503);
    await c.expect('NOOP', 250);
    c.close();
    assert.equal((await server.inbox(BOB)).length, before);
  });

  it('rejects a malformed BDAT', async () => {
    const c = await ready(server);
    await c.expect('BDAT', 501, '5.5.4 Syntax: BDAT size [LAST]');
    await c.expect('BDAT 1 FIRST', 501);
    c.close();
  });
});
