/** Submission (RFC 6409): AUTH rules, STARTTLS and implicit TLS. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { DOMAIN, HOSTNAME, RawClient, eventually, runPython, splitTrace, startServer, type TestServer } from './harness.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const BOB = `bob@${DOMAIN}`;
const PASSWORDS = { [BOB]: 'pickles' };

describe('submission from a non-loopback client', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ mode: 'submission', users: [BOB], passwords: PASSWORDS, clientAddress: '192.0.2.7' });
  });
  after(() => server.close());

  it('offers AUTH only after STARTTLS, then submits as ESMTPSA', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    const plain = await c.expect('EHLO client.example', 250);
    assert.ok(plain.lines.includes('STARTTLS'));
    assert.ok(!plain.lines.some((l) => l.startsWith('AUTH')), 'no AUTH in the clear');
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 530, '5.7.0 Must issue a STARTTLS command first');
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 538);
    assert.equal(server.auth.attempts.length, 0, 'no password checked in the clear');

    await c.expect('STARTTLS', 220, '2.0.0 Ready to start TLS');
    await c.startTls();
    // The session starts over: EHLO is required again.
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 503, '5.5.1 Error: send HELO/EHLO first');
    const secured = await c.expect('EHLO client.example', 250);
    assert.ok(!secured.lines.includes('STARTTLS'));
    assert.ok(secured.lines.includes('AUTH PLAIN LOGIN'));
    await c.expect('STARTTLS', 503, '5.5.1 Error: TLS already active');
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 530, '5.7.0 Authentication required');
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0ketchup`)}`, 535, '5.7.8 Authentication credentials invalid');
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 235, '2.7.0 Authentication successful');
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 503);
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 250);
    await c.expect('RCPT TO:<bob@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    c.write('From: bob@hamburger.edu\r\nSubject: note to self\r\n\r\nhi\r\n.\r\n');
    assert.equal((await c.reply()).code, 250);
    c.close();
    const { received } = splitTrace(await server.body((await server.inbox(BOB)).at(-1)!.messageId));
    assert.match(received, /from client\.example \(\[192\.0\.2\.7\]\)/);
    assert.match(received, /with ESMTPSA id/);
    const logged = JSON.stringify(server.logs);
    assert.ok(!logged.includes('pickles') && !logged.includes(b64(`\0${BOB}\0pickles`)), 'no password in logs');
  });

  it('discards commands pipelined after STARTTLS', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO client.example', 250);
    c.write('STARTTLS\r\nNOOP\r\nNOOP\r\n');
    assert.equal((await c.reply()).code, 220);
    await c.startTls();
    // The first reply over TLS answers EHLO, not the injected NOOPs.
    const r = await c.command('EHLO client.example');
    assert.equal(r.code, 250);
    assert.equal(r.lines[0], `${HOSTNAME} Hello client.example`);
    await c.expect('NOOP', 250);
    await c.expect('QUIT', 221);
    await c.waitClosed();
    assert.ok(server.logs.some((l) => l.event === 'discarded input pipelined after STARTTLS'));
    // The listener saw the connection end (the plain socket under TLS closed too).
    await eventually(() => server.listener.sessionCount === 0);
  });
});

describe('submission on loopback and implicit TLS', () => {
  let server: TestServer;
  let implicit: TestServer;
  before(async () => {
    server = await startServer({ mode: 'submission', users: [BOB, `carol@${DOMAIN}`], passwords: PASSWORDS });
    implicit = await startServer({ mode: 'submission', users: [BOB], passwords: PASSWORDS, implicitTls: true });
  });
  after(async () => {
    await server.close();
    await implicit.close();
  });

  it('allows AUTH in the clear on loopback; LOGIN with challenges, PLAIN with a challenge, cancel', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    const ehlo = await c.expect('EHLO localhost', 250);
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'));
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 530, '5.7.0 Authentication required');
    await c.expect('AUTH CRAM-MD5', 504);
    await c.expect('AUTH LOGIN', 334, 'VXNlcm5hbWU6');
    await c.expect('*', 501, '5.0.0 Authentication cancelled');
    await c.expect('AUTH PLAIN', 334);
    await c.expect('not base64!', 501);
    await c.expect('AUTH LOGIN', 334, 'VXNlcm5hbWU6');
    await c.expect(b64(BOB), 334, 'UGFzc3dvcmQ6');
    await c.expect(b64('pickles'), 235);
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 250);
    await c.expect('AUTH LOGIN', 503);
    c.close();
  });

  it('AUTH LOGIN with an initial response and AUTH PLAIN after a challenge', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO localhost', 250);
    await c.expect(`AUTH LOGIN ${b64(BOB)}`, 334, 'UGFzc3dvcmQ6');
    await c.expect(b64('wrong'), 535);
    await c.expect('AUTH PLAIN', 334, '');
    await c.expect(b64(`${BOB}\0${BOB}\0pickles`), 235);
    c.close();
  });

  it('refuses an empty password, and acting as another user', async () => {
    // The store would take the empty password; the SASL rules refuse it before asking.
    const lax = await startServer({ mode: 'submission', users: [`carol@${DOMAIN}`], passwords: { [`carol@${DOMAIN}`]: '' } });
    try {
      const c = await RawClient.connect(lax.port);
      await c.reply();
      await c.expect('EHLO localhost', 250);
      await c.expect(`AUTH PLAIN ${b64(`\0carol@${DOMAIN}\0`)}`, 535, '5.7.8 Authentication credentials invalid');
      await c.expect(`AUTH LOGIN ${b64(`carol@${DOMAIN}`)}`, 334, 'UGFzc3dvcmQ6');
      await c.expect('', 535);
      await c.expect('AUTH PLAIN =', 535);
      assert.deepEqual(lax.auth.attempts, [], 'an empty password reached the authenticator');
      c.close();
    } finally {
      await lax.close();
    }
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO localhost', 250);
    await c.expect(`AUTH PLAIN ${b64(`carol@${DOMAIN}\0${BOB}\0pickles`)}`, 535);
    await c.expect(`AUTH PLAIN ${b64(`${BOB}\0${BOB}\0pickles`)}`, 235);
    c.close();
  });

  it('lets a user send only as their own address, an alias of theirs, or <>', async () => {
    await server.store.addAlias(`bobby@${DOMAIN}`, [BOB]);
    await server.store.addAlias(`carols@${DOMAIN}`, [`carol@${DOMAIN}`]);
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO client.example', 250);
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 235);
    await c.expect(`MAIL FROM:<carol@${DOMAIN}>`, 553, `5.7.1 Sender address <carol@${DOMAIN}> not owned by user ${BOB}`);
    await c.expect(`MAIL FROM:<carols@${DOMAIN}>`, 553);
    await c.expect('MAIL FROM:<ceo@elsewhere.example>', 553);
    await c.expect(`MAIL FROM:<Bob@${DOMAIN.toUpperCase()}>`, 250);
    await c.expect('RSET', 250);
    await c.expect(`MAIL FROM:<bobby@${DOMAIN}>`, 250);
    await c.expect('RSET', 250);
    await c.expect('MAIL FROM:<>', 250);
    await c.expect('QUIT', 221);
    assert.ok(server.logs.some((l) => l.event === 'sender not owned' && l.from === `carol@${DOMAIN}`));
  });

  it('nodemailer with AUTH delivers to local users', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      tls: { rejectUnauthorized: false },
      auth: { user: BOB, pass: 'pickles' },
    });
    const info = await transport.sendMail({ from: BOB, to: `carol@${DOMAIN}`, subject: 'via submission', text: 'hi' });
    transport.close();
    assert.deepEqual(info.accepted, [`carol@${DOMAIN}`]);
    const entry = (await server.inbox(`carol@${DOMAIN}`)).at(-1)!;
    assert.equal((await server.store.getMessage(entry.messageId))?.headers.subject, 'via submission');
  });

  it('python smtplib: starttls + login + send', async () => {
    const script = `
import json, smtplib, ssl, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login(sys.argv[2], sys.argv[3])
    refused = s.sendmail(sys.argv[2], [sys.argv[4]], sys.argv[5])
print(json.dumps({'refused': list(refused)}))
`;
    // With its own Date and Message-ID, the message is stored exactly as it was sent.
    const message =
      `From: Bob <${BOB}>\r\nTo: carol@${DOMAIN}\r\nSubject: py\r\n` +
      'Date: Sat, 1 Mar 2025 14:03:09 +0100\r\nMessage-ID: <py.1@client.example>\r\n\r\nbody\r\n';
    const out = await runPython(script, [String(server.port), BOB, 'pickles', `carol@${DOMAIN}`, message]);
    assert.deepEqual(out, { refused: [] });
    const entry = (await server.inbox(`carol@${DOMAIN}`)).at(-1)!;
    const { rest, received } = splitTrace(await server.body(entry.messageId));
    assert.equal(rest.toString(), message);
    assert.match(received, /with ESMTPSA id/);
  });

  it('implicit TLS: greeting over TLS, no STARTTLS offered, AUTH offered', async () => {
    const c = await RawClient.connect(implicit.port, { tls: true });
    assert.equal((await c.reply()).code, 220);
    const ehlo = await c.expect('EHLO client', 250);
    assert.ok(!ehlo.lines.includes('STARTTLS'));
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'));
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 235);
    await c.expect('MAIL FROM:<bob@hamburger.edu>', 250);
    await c.expect('RCPT TO:<bob@hamburger.edu>', 250);
    await c.expect('DATA', 354);
    c.write('From: bob@hamburger.edu\r\nSubject: tls\r\n\r\nx\r\n.\r\n');
    assert.equal((await c.reply()).code, 250);
    await c.expect('QUIT', 221);
    const { received } = splitTrace(await implicit.body((await implicit.inbox(BOB)).at(-1)!.messageId));
    assert.match(received, /with ESMTPSA id/);
  });
});
