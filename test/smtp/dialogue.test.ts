/** Wire-level tests with a raw socket: the seed dialogue, errors and limits of the MX service. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOMAIN, HOSTNAME, RawClient, delay, splitTrace, startServer, type TestServer } from './harness.js';

describe('SMTP MX dialogue', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({
      users: [`bob@${DOMAIN}`, `carol@${DOMAIN}`, `dave@${DOMAIN}`, { address: `full@${DOMAIN}`, quotaBytes: 10 }],
    });
    await server.store.addAlias(`team@${DOMAIN}`, [`bob@${DOMAIN}`, `carol@${DOMAIN}`]);
    await server.store.addAlias(`postmaster@${DOMAIN}`, [`dave@${DOMAIN}`]);
  });
  after(() => server.close());

  it('runs the seed telnet dialogue exactly', async () => {
    const c = await RawClient.connect(server.port);
    const greeting = await c.reply();
    assert.equal(greeting.raw, `220 ${HOSTNAME} ESMTP Wharf\r\n`);
    await c.expect('HELO crepes.fr', 250, `${HOSTNAME} Hello crepes.fr`);
    await c.expect('MAIL FROM: <alice@crepes.fr>', 250, '2.1.0 Sender <alice@crepes.fr> OK');
    await c.expect('RCPT TO: <bob@hamburger.edu>', 250, '2.1.5 Recipient <bob@hamburger.edu> OK');
    await c.expect('DATA', 354, 'End data with <CR><LF>.<CR><LF>');
    c.send('Do you like ketchup?');
    c.send('How about pickles?');
    const queued = await c.command('.');
    assert.equal(queued.code, 250);
    const m = /^2\.0\.0 Ok: queued as ([A-Z2-7]{12})$/.exec(queued.lines[0]);
    assert.ok(m, queued.raw);
    const queueId = m[1];
    await c.expect('QUIT', 221, `2.0.0 ${HOSTNAME} closing connection`);
    await c.waitClosed();

    const entries = await server.inbox(`bob@${DOMAIN}`);
    assert.equal(entries.length, 1);
    const stored = await server.body(entries[0].messageId);
    const { returnPath, received, rest } = splitTrace(stored);
    assert.equal(returnPath, 'alice@crepes.fr');
    assert.match(received, new RegExp(`^Received: from crepes\\.fr \\(\\[127\\.0\\.0\\.1\\]\\)\r\n\tby ${HOSTNAME} \\(Wharf\\) with SMTP id ${queueId}\r\n\tfor <bob@hamburger\\.edu>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}$`));
    // The seed's text has no header fields: an empty line after the trace makes it the body.
    assert.equal(rest.toString(), '\r\nDo you like ketchup?\r\nHow about pickles?\r\n');
    assert.equal(entries[0].size, stored.length);
    const delivered = server.logs.find((r) => r.event === 'delivered' && r.queueId === queueId);
    assert.ok(delivered, 'delivery logged with the queue id');
    assert.equal(delivered.recipients, 1);
  });

  it('accepts lower-case commands and bare LF line endings', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    c.write('helo crepes.fr\n');
    assert.equal((await c.reply()).code, 250);
    c.write('mail from:<alice@crepes.fr>\n');
    assert.equal((await c.reply()).code, 250);
    c.write('rcpt to:<BOB@Hamburger.EDU>\n');
    assert.equal((await c.reply()).code, 250);
    c.write('data\n');
    assert.equal((await c.reply()).code, 354);
    c.write('Subject: lf\r\n\r\nbody\r\n.\r\n');
    assert.equal((await c.reply()).code, 250);
    c.write('quit\n');
    assert.equal((await c.reply()).code, 221);
    c.close();
  });

  it('lists the extensions in EHLO (no AUTH on MX) and answers HELP, NOOP, RSET, VRFY, EXPN', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    const ehlo = await c.expect('EHLO crepes.fr', 250);
    assert.deepEqual(ehlo.lines, [
      `${HOSTNAME} Hello crepes.fr`,
      'PIPELINING',
      `SIZE ${server.ctx.config.smtp.maxMessageBytes}`,
      '8BITMIME',
      'SMTPUTF8',
      'ENHANCEDSTATUSCODES',
      'STARTTLS',
      'CHUNKING',
      'BINARYMIME',
    ]);
    const help = await c.expect('HELP', 214);
    assert.match(help.lines.join(' '), /MAIL RCPT DATA/);
    await c.expect('NOOP', 250, '2.0.0 Ok');
    await c.expect('NOOP anything', 250, '2.0.0 Ok');
    await c.expect('RSET', 250, '2.0.0 Ok');
    await c.expect('VRFY bob', 252, '2.1.5 Cannot VRFY user, but will accept message and attempt delivery');
    await c.expect('EXPN team', 502);
    await c.expect('AUTH PLAIN AGJvYgBzZWNyZXQ=', 503);
    await c.expect('FOO bar', 500, '5.5.2 Error: command not recognized');
    c.close();
  });

  it('requires HELO/EHLO before MAIL, MAIL before RCPT, RCPT before DATA', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('MAIL FROM:<alice@crepes.fr>', 503, '5.5.1 Error: send HELO/EHLO first');
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('RCPT TO:<bob@hamburger.edu>', 503, '5.5.1 Error: need MAIL command');
    await c.expect('DATA', 503, '5.5.1 Error: need RCPT command');
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 503, '5.5.1 Error: nested MAIL command');
    await c.expect('DATA', 503, '5.5.1 Error: need RCPT command');
    await c.expect('RCPT TO:<nobody@hamburger.edu>', 550);
    await c.expect('DATA', 503, '5.5.1 Error: need RCPT command');
    // EHLO resets the transaction.
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('RCPT TO:<bob@hamburger.edu>', 503, '5.5.1 Error: need MAIL command');
    c.close();
  });

  it('rejects unknown users, relaying, bad syntax and unknown parameters', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM alice@crepes.fr', 501, '5.5.4 Syntax: MAIL FROM:<address>');
    await c.expect('MAIL FROM:<alice@@crepes.fr>', 501, '5.1.7 Bad sender address syntax');
    await c.expect('MAIL FROM:<alice@crepes.fr> FOO=1', 555, '5.5.4 Unsupported parameter FOO');
    await c.expect('MAIL FROM:<alice@crepes.fr> BODY=9BIT', 501);
    await c.expect('MAIL FROM:<>', 250, '2.1.0 Sender <> OK');
    await c.expect(
      'RCPT TO:<nobody@hamburger.edu>',
      550,
      '5.1.1 <nobody@hamburger.edu>: Recipient address rejected: User unknown',
    );
    await c.expect('RCPT TO:<someone@elsewhere.example>', 554, '5.7.1 <someone@elsewhere.example>: Relay access denied');
    await c.expect('RCPT TO:<bob>', 501, '5.1.3 Bad recipient address syntax');
    await c.expect('RCPT <bob@hamburger.edu>', 501, '5.5.4 Syntax: RCPT TO:<address>');
    await c.expect('RCPT TO:<bob@hamburger.edu> NOTIFY=NEVER', 555);
    await c.expect('RCPT TO:<üser@hamburger.edu>', 553, '5.6.7 Non-ASCII address requires SMTPUTF8');
    await c.expect('DATA extra', 501);
    c.close();
  });

  it('delivers once per user when aliases and duplicates name the same user', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect('RCPT TO:<team@hamburger.edu>', 250);
    await c.expect('RCPT TO:<bob@hamburger.edu>', 250);
    await c.expect('RCPT TO:<Bob@hamburger.edu>', 250);
    await c.expect('RCPT TO:<carol@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    c.write('Subject: shared\r\nMessage-ID: <shared@crepes.fr>\r\n\r\n..stuffed\r\n.\r\n');
    assert.equal((await c.reply()).code, 250);
    c.close();
    const bob = (await server.inbox(`bob@${DOMAIN}`)).at(-1);
    const carol = await server.inbox(`carol@${DOMAIN}`);
    assert.equal(carol.length, 1);
    assert.ok(bob);
    assert.equal(bob.messageId, carol[0].messageId, 'one stored message shared by the recipients');
    const bobEntries = await server.inbox(`bob@${DOMAIN}`);
    assert.equal(bobEntries.filter((e) => e.messageId === bob.messageId).length, 1, 'bob has one copy');
    const { rest, received } = splitTrace(await server.body(bob.messageId));
    assert.equal(rest.toString(), 'Subject: shared\r\nMessage-ID: <shared@crepes.fr>\r\n\r\n.stuffed\r\n');
    assert.doesNotMatch(received, /\bfor </, 'no "for" clause with several recipients');
    const msg = await server.store.getMessage(bob.messageId);
    assert.equal(msg?.headers.subject, 'shared');
    assert.equal(msg?.headers.messageId, '<shared@crepes.fr>');
  });

  it('accepts postmaster, with and without a domain', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect('RCPT TO:<Postmaster>', 250, `2.1.5 Recipient <postmaster@${DOMAIN}> OK`);
    await c.expect('RCPT TO:<postmaster@hamburger.edu>', 250);
    c.close();
  });

  it('limits recipients (452 4.5.3) and refuses a full mailbox (452 4.2.2)', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr> SIZE=100', 250);
    await c.expect('RCPT TO:<full@hamburger.edu>', 452, '4.2.2 <full@hamburger.edu>: Mailbox full');
    const max = server.ctx.config.smtp.maxRecipients;
    for (let i = 0; i < max; i++) {
      // Distinct addresses that all reach a local user (aliases are not needed: +tags or case).
      await c.expect(`RCPT TO:<${['bob', 'carol', 'dave', 'team', 'postmaster'][i]}@hamburger.edu>`, 250);
    }
    await c.expect('RCPT TO:<bob@hamburger.edu>', 250, '2.1.5 Recipient <bob@hamburger.edu> OK');
    await c.expect('RCPT TO:<nobody@hamburger.edu>', 452, '4.5.3 Error: too many recipients');
    c.close();
  });

  it('rejects a declared SIZE over the limit at MAIL, and an oversized message after its end', async () => {
    const max = server.ctx.config.smtp.maxMessageBytes;
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect(`MAIL FROM:<alice@crepes.fr> SIZE=${max + 1}`, 552, '5.3.4 Message size exceeds fixed maximum message size');
    const before = (await server.inbox(`dave@${DOMAIN}`)).length;
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect('RCPT TO:<dave@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    const line = 'x'.repeat(998) + '\r\n';
    const big = line.repeat(Math.ceil((max + 10_000) / line.length));
    c.write(big);
    c.write('.\r\n');
    await c
      .reply(10_000)
      .then((r) => assert.deepEqual([r.code, r.lines[0]], [552, '5.3.4 Message size exceeds fixed maximum message size']));
    // The session goes on, reset to after EHLO.
    await c.expect('RCPT TO:<dave@hamburger.edu>', 503);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    c.close();
    assert.equal((await server.inbox(`dave@${DOMAIN}`)).length, before);
  });

  it('answers 500 to a 10 MB line as soon as it passes the limit, without buffering it, and closes', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    // Written without waiting for the server to read: it answers long before the line would end.
    for (let i = 0; i < 10 && !c.closed; i++) c.write(chunk);
    const r = await c.reply(10_000);
    assert.equal(r.raw, '500 5.5.2 Line too long\r\n');
    await c.waitClosed(10_000);
  });

  it('rejects NUL bytes and 8-bit garbage in commands without crashing', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    c.write(Buffer.from('HELO a\0b\r\n'));
    assert.equal((await c.reply()).code, 500);
    c.write(Buffer.from([0x4d, 0x41, 0x49, 0x4c, 0x20, 0xff, 0xfe, 0x80, 0x0d, 0x0a]));
    assert.equal((await c.reply()).code, 500);
    c.write(Buffer.from([0xc3, 0x28, 0x0d, 0x0a]));
    assert.equal((await c.reply()).code, 500);
    await c.expect('EHLO crepes.fr', 250);
    c.close();
  });

  it('refuses a bare CR in a command, which EHLO would echo into its reply and the Received field', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    c.write('EHLO client.test\rX-Injected: 1\r\n');
    assert.equal((await c.reply()).raw, '500 5.5.2 Error: bare CR in command\r\n');
    c.write('VRFY a\rb\r\n');
    assert.equal((await c.reply()).code, 500);
    await c.expect('EHLO client.test', 250);
    c.close();
  });

  it('closes with 421 after too many errors', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    const max = server.ctx.config.smtp.maxErrors;
    for (let i = 0; i < max - 1; i++) assert.equal((await c.command('BOGUS')).code, 500);
    assert.equal((await c.command('BOGUS')).code, 500);
    const last = await c.reply();
    assert.equal(last.raw, `421 4.7.0 ${HOSTNAME} Too many errors\r\n`);
    await c.waitClosed();
  });

  it('answers pipelined commands in order, all from one write', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    const before = (await server.inbox(`carol@${DOMAIN}`)).length;
    c.write(
      'EHLO crepes.fr\r\nMAIL FROM:<alice@crepes.fr>\r\nRCPT TO:<nobody@hamburger.edu>\r\n' +
        'RCPT TO:<carol@hamburger.edu>\r\nDATA\r\n',
    );
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 550);
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 354);
    // The message, the end marker and the next transaction in one write too.
    c.write(
      'Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<carol@hamburger.edu>\r\nDATA\r\n',
    );
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 354);
    c.write('Subject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n');
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 221);
    await c.waitClosed();
    const entries = await server.inbox(`carol@${DOMAIN}`);
    assert.equal(entries.length, before + 2);
    const second = splitTrace(await server.body(entries.at(-1)!.messageId));
    assert.equal(second.returnPath, '');
    assert.equal(second.rest.toString(), 'Subject: two\r\n\r\nsecond\r\n');
  });

  it('does not end a message at LF.LF (smuggling attempt stays inside the message)', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect('RCPT TO:<dave@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    const smuggled = 'Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@x.y>\nRCPT TO:<dave@hamburger.edu>\nDATA\n';
    c.write(smuggled + '\r\n.\r\n');
    const r = await c.reply();
    assert.equal(r.code, 250);
    await delay(50);
    assert.equal(await c.command('NOOP').then((x) => x.code), 250, 'no stray replies');
    c.close();
    const entries = await server.inbox(`dave@${DOMAIN}`);
    const { rest } = splitTrace(await server.body(entries.at(-1)!.messageId));
    assert.equal(rest.toString(), smuggled + '\r\n');
  });

  it('keeps 8-bit bytes of a message as they are', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr> BODY=8BITMIME', 250);
    await c.expect('RCPT TO:<dave@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    const body = Buffer.concat([Buffer.from('Subject: 8bit\r\n\r\n'), Buffer.from([0xe9, 0xff, 0x00, 0x0d, 0x0a])]);
    c.write(body);
    c.write('.\r\n');
    assert.equal((await c.reply()).code, 250);
    c.close();
    const entries = await server.inbox(`dave@${DOMAIN}`);
    assert.deepEqual(splitTrace(await server.body(entries.at(-1)!.messageId)).rest, body);
  });

  it('accepts SMTPUTF8 addresses', async () => {
    await server.store.addAlias(`pierre@${DOMAIN}`, [`dave@${DOMAIN}`]).catch(() => undefined);
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<élise@crêpes.fr> SMTPUTF8', 250, '2.1.0 Sender <élise@crêpes.fr> OK');
    await c.expect('RCPT TO:<dave@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    c.write('Subject: utf8\r\n\r\nhi\r\n.\r\n');
    assert.equal((await c.reply()).code, 250);
    c.close();
    const entries = await server.inbox(`dave@${DOMAIN}`);
    const { returnPath, received } = splitTrace(await server.body(entries.at(-1)!.messageId));
    assert.equal(Buffer.from(returnPath, 'latin1').toString('utf8'), 'élise@crêpes.fr');
    assert.match(received, /with UTF8SMTP id/);
  });
});

describe('SMTP MX with VRFY enabled and no postmaster', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ users: [`bob@${DOMAIN}`], config: { smtp: { vrfy: 'enabled' } } });
  });
  after(() => server.close());

  it('answers VRFY with 250 for a local user and 550 otherwise', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('VRFY <bob@hamburger.edu>', 250, '2.1.5 <bob@hamburger.edu>');
    await c.expect('VRFY Bob Smith <BOB@hamburger.edu>', 250);
    await c.expect('VRFY nobody@hamburger.edu', 550, '5.1.1 <nobody@hamburger.edu>: Recipient address rejected: User unknown');
    await c.expect('VRFY', 501);
    c.close();
  });

  it('rejects postmaster when no such user or alias exists (and logs it), and odd local parts as unknown', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect('RCPT TO:<postmaster>', 550, `5.1.1 <postmaster@${DOMAIN}>: Recipient address rejected: User unknown`);
    assert.ok(server.logs.some((l) => l.event === 'no postmaster mailbox or alias for a local domain'));
    await c.expect('RCPT TO:<"john doe"@hamburger.edu>', 550);
    await c.expect('RCPT TO:<"bob"@hamburger.edu>', 250, '2.1.5 Recipient <bob@hamburger.edu> OK');
    c.close();
  });
});
