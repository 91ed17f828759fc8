/**
 * The SMTP client against a scripted server: per-recipient outcomes for every kind of reply,
 * PIPELINING, HELO fallback, what a server without 8BITMIME/SMTPUTF8 or with a SIZE limit
 * gets (nothing), a connection dropped mid-DATA, timeouts, AUTH with a masked trace, and
 * STARTTLS with a certificate from a test CA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SmtpClientError } from '../../src/queue/smtp-client/errors.js';
import { SmtpClientSession, type SessionOptions } from '../../src/queue/smtp-client/session.js';
import { sendMessage, type OutgoingMessage } from '../../src/queue/smtp-client/transaction.js';
import { tlsOptions } from '../../src/queue/tls-policy.js';
import { startScriptedSmtpServer, type ScriptedSmtpServer, type SmtpScript } from '../helpers/scripted-smtp-server.js';
import { createTestCa, type TestCa } from './test-ca.js';

const MESSAGE = 'From: a@sender.test\r\nTo: b@rcpt.test\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n';

function message(overrides: Partial<OutgoingMessage> & { text?: string } = {}): OutgoingMessage {
  const bytes = Buffer.from(overrides.text ?? MESSAGE, 'utf8');
  return {
    mailFrom: 'a@sender.test',
    recipients: ['b@rcpt.test'],
    size: bytes.length,
    eightBit: false,
    smtputf8: false,
    async *body() {
      // Several chunks, split inside lines, as a stored body arrives.
      const step = bytes.length > 10_000 ? 16_381 : 7;
      for (let i = 0; i < bytes.length; i += step) yield bytes.subarray(i, i + step);
    },
    ...overrides,
  };
}

function options(server: ScriptedSmtpServer, extra: Partial<SessionOptions> = {}): SessionOptions {
  return { host: '127.0.0.1', port: server.port, serverName: 'mx.rcpt.test', clientName: 'out.sender.test', connectTimeoutMs: 2000, commandTimeoutMs: 2000, ...extra };
}

const servers: ScriptedSmtpServer[] = [];
async function serve(script: SmtpScript): Promise<ScriptedSmtpServer> {
  const server = await startScriptedSmtpServer(script);
  servers.push(server);
  return server;
}
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('mail transaction', () => {
  it('pipelines MAIL and every RCPT, and gives each recipient its own outcome', async () => {
    const server = await serve({
      rcpt: (a) => (a.startsWith('gone') ? '550 5.1.1 <gone@rcpt.test>: no such user' : a.startsWith('full') ? '452 4.2.2 mailbox full' : '250 2.1.5 Ok'),
    });
    const session = await SmtpClientSession.open(options(server));
    const recipients = ['b@rcpt.test', 'gone@rcpt.test', 'full@rcpt.test', 'c@rcpt.test'];
    const result = await sendMessage(session, message({ recipients }));
    assert.deepEqual(
      result.recipients.map((r) => [r.address, r.outcome, r.reply]),
      [
        ['b@rcpt.test', 'delivered', '250 2.0.0 Ok: queued'],
        ['gone@rcpt.test', 'bounced', '550 5.1.1 <gone@rcpt.test>: no such user'],
        ['full@rcpt.test', 'deferred', '452 4.2.2 mailbox full'],
        ['c@rcpt.test', 'delivered', '250 2.0.0 Ok: queued'],
      ],
    );
    assert.equal(result.reusable, true);
    const s = server.sessions[0];
    const mail = s.commands.findIndex((c) => c.startsWith('MAIL'));
    assert.equal(s.commands[mail], 'MAIL FROM:<a@sender.test> SIZE=' + Buffer.byteLength(MESSAGE));
    assert.deepEqual(s.commands.slice(mail + 1, mail + 5), recipients.map((r) => `RCPT TO:<${r}>`));
    assert.ok(s.pendingAfter[mail] > 0, 'the RCPT commands came with MAIL, before its reply');
    assert.equal(s.messages[0].toString(), MESSAGE, 'the server stored the message as given (dots unstuffed)');
    await session.quit();
    assert.equal(s.commands.at(-1), 'QUIT');
  });

  it('waits for each reply when the server does not offer PIPELINING', async () => {
    const server = await serve({ extensions: ['8BITMIME'] });
    const session = await SmtpClientSession.open(options(server));
    const result = await sendMessage(session, message({ recipients: ['b@rcpt.test', 'c@rcpt.test'] }));
    assert.deepEqual(result.recipients.map((r) => r.outcome), ['delivered', 'delivered']);
    const s = server.sessions[0];
    const mail = s.commands.findIndex((c) => c.startsWith('MAIL'));
    assert.equal(s.commands[mail], 'MAIL FROM:<a@sender.test>', 'no SIZE= to a server without SIZE');
    assert.equal(s.pendingAfter[mail], 0);
    assert.equal(s.pendingAfter[mail + 1], 0);
    await session.quit();
  });

  it('falls back to HELO when EHLO is refused with 5xx, and then sends no 8-bit message', async () => {
    const server = await serve({ onCommand: (line) => (line.startsWith('EHLO') ? '502 5.5.1 EHLO not implemented' : undefined) });
    const session = await SmtpClientSession.open(options(server));
    assert.equal(session.extensions.esmtp, false);
    const eight = await sendMessage(session, message({ text: 'Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n', eightBit: true }));
    assert.equal(eight.recipients[0].outcome, 'bounced');
    assert.match(eight.recipients[0].reply, /^554 5\.6\.3 mx\.rcpt\.test does not support 8BITMIME/);
    assert.ok(!server.commands().some((c) => c.startsWith('MAIL')), 'nothing was sent');
    const seven = await sendMessage(session, message());
    assert.equal(seven.recipients[0].outcome, 'delivered');
    assert.deepEqual(server.sessions[0].commands.slice(0, 3), ['EHLO out.sender.test', 'HELO out.sender.test', 'MAIL FROM:<a@sender.test>']);
    await session.quit();
  });

  it('introduces itself with its address literal when it has no name', async () => {
    const server = await serve({});
    const session = await SmtpClientSession.open({ ...options(server), clientName: undefined });
    assert.equal(server.sessions[0].commands[0], 'EHLO [127.0.0.1]');
    await session.quit();
  });

  it('ends the session on a 4xx to EHLO (no HELO then)', async () => {
    const server = await serve({ onCommand: (line) => (line.startsWith('EHLO') ? '421 4.3.2 busy' : undefined) });
    await assert.rejects(SmtpClientSession.open(options(server)), (err: SmtpClientError) => err.kind === 'reply' && err.reply?.code === 421 && !err.permanent);
    assert.ok(!server.commands().some((c) => c.startsWith('HELO')));
  });

  it('asks for BODY=8BITMIME when the message is 8-bit and the server offers it', async () => {
    const server = await serve({});
    const session = await SmtpClientSession.open(options(server));
    const text = 'Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n';
    const result = await sendMessage(session, message({ text, eightBit: true }));
    assert.equal(result.recipients[0].outcome, 'delivered');
    assert.match(server.commands().find((c) => c.startsWith('MAIL'))!, / BODY=8BITMIME/);
    assert.equal(server.messages()[0].toString('utf8'), text);
    await session.quit();
  });

  it('bounces an 8-bit message for a server without 8BITMIME, never sending it raw', async () => {
    const server = await serve({ extensions: ['PIPELINING', 'SIZE 1000000'] });
    const session = await SmtpClientSession.open(options(server));
    const result = await sendMessage(session, message({ eightBit: true, recipients: ['b@rcpt.test', 'c@rcpt.test'] }));
    assert.deepEqual(result.recipients.map((r) => r.outcome), ['bounced', 'bounced']);
    assert.match(result.recipients[0].reply, /^554 5\.6\.3 /);
    assert.ok(!server.commands().some((c) => /^(MAIL|RCPT|DATA)/.test(c)));
    assert.equal(result.reusable, true);
    await session.quit();
  });

  it('bounces a message that needs SMTPUTF8 when the server lacks it', async () => {
    const server = await serve({});
    const session = await SmtpClientSession.open(options(server));
    const result = await sendMessage(session, message({ recipients: ['j\u00f6rg@rcpt.test'], smtputf8: true, eightBit: true }));
    assert.equal(result.recipients[0].outcome, 'bounced');
    assert.match(result.recipients[0].reply, /^553 5\.6\.7 /);
    assert.ok(!server.commands().some((c) => c.startsWith('MAIL')));
    await session.quit();
  });

  it('sends SMTPUTF8 with internationalised addresses to a server that offers it', async () => {
    const server = await serve({ extensions: ['PIPELINING', '8BITMIME', 'SMTPUTF8'] });
    const session = await SmtpClientSession.open(options(server));
    const result = await sendMessage(session, message({ mailFrom: 'andr\u00e9@sender.test', recipients: ['j\u00f6rg@rcpt.test'], smtputf8: true, eightBit: true }));
    assert.equal(result.recipients[0].outcome, 'delivered');
    assert.deepEqual(server.commands().filter((c) => /^(MAIL|RCPT)/.test(c)), ['MAIL FROM:<andr\u00e9@sender.test> BODY=8BITMIME SMTPUTF8', 'RCPT TO:<j\u00f6rg@rcpt.test>']);
    await session.quit();
  });

  it('bounces a message larger than the server\'s SIZE without sending it', async () => {
    const server = await serve({ extensions: ['PIPELINING', 'SIZE 40', '8BITMIME'] });
    const session = await SmtpClientSession.open(options(server));
    const result = await sendMessage(session, message());
    assert.equal(result.recipients[0].outcome, 'bounced');
    assert.match(result.recipients[0].reply, /^552 5\.3\.4 Message of \d+ bytes exceeds the 40 bytes mx\.rcpt\.test accepts/);
    assert.ok(!server.commands().some((c) => c.startsWith('MAIL')));
    await session.quit();
  });

  it('bounces every accepted recipient on a 5xx after the message, defers them on a 4xx', async () => {
    let answer = '554 5.7.1 message refused: spam';
    const server = await serve({ rcpt: (a) => (a.startsWith('gone') ? '550 5.1.1 no such user' : '250 Ok'), dataEnd: () => answer });
    const session = await SmtpClientSession.open(options(server));
    const bounced = await sendMessage(session, message({ recipients: ['b@rcpt.test', 'gone@rcpt.test', 'c@rcpt.test'] }));
    assert.deepEqual(bounced.recipients.map((r) => `${r.outcome} ${r.reply}`), [
      'bounced 554 5.7.1 message refused: spam',
      'bounced 550 5.1.1 no such user',
      'bounced 554 5.7.1 message refused: spam',
    ]);
    answer = '451 4.3.0 try later';
    assert.ok(await session.reset());
    const deferred = await sendMessage(session, message({ recipients: ['b@rcpt.test'] }));
    assert.deepEqual(deferred.recipients.map((r) => `${r.outcome} ${r.reply}`), ['deferred 451 4.3.0 try later']);
    await session.quit();
  });

  it('bounces on a 5xx to DATA and to MAIL, defers on a 4xx to MAIL', async () => {
    const server = await serve({
      onCommand: (line) => {
        if (line === 'DATA') return '554 5.5.1 no valid recipients';
        if (line.includes('<bad@')) return '553 5.1.8 sender domain does not exist';
        if (line.includes('<later@')) return '451 4.3.0 greylisted';
        return undefined;
      },
    });
    const session = await SmtpClientSession.open(options(server));
    const data = await sendMessage(session, message());
    assert.deepEqual([data.recipients[0].outcome, data.recipients[0].reply], ['bounced', '554 5.5.1 no valid recipients']);
    await session.reset();
    const mail = await sendMessage(session, message({ mailFrom: 'bad@sender.test', recipients: ['b@rcpt.test', 'c@rcpt.test'] }));
    assert.deepEqual(mail.recipients.map((r) => r.outcome), ['bounced', 'bounced']);
    await session.reset();
    const grey = await sendMessage(session, message({ mailFrom: 'later@sender.test' }));
    assert.deepEqual([grey.recipients[0].outcome, grey.recipients[0].reply], ['deferred', '451 4.3.0 greylisted']);
    await session.quit();
  });

  it('keeps the refusal of a server that rejects MAIL and hangs up on the pipelined RCPTs', async () => {
    const server = await serve({ onCommand: (line) => (line.startsWith('MAIL') ? '550 5.7.1 you are not welcome' : line.startsWith('RCPT') ? 'drop' : undefined) });
    const session = await SmtpClientSession.open(options(server));
    const result = await sendMessage(session, message({ recipients: ['b@rcpt.test', 'c@rcpt.test'] }));
    assert.deepEqual(result.recipients.map((r) => `${r.outcome} ${r.reply}`), Array(2).fill('bounced 550 5.7.1 you are not welcome'));
    assert.equal(result.reusable, false);
  });

  it('defers the accepted recipients when the connection drops during DATA', async () => {
    const server = await serve({ rcpt: (a) => (a.startsWith('gone') ? '550 5.1.1 no such user' : '250 Ok'), dropDuringDataAfter: 1 });
    const session = await SmtpClientSession.open(options(server));
    const big = 'Subject: big\r\n\r\n' + 'x'.repeat(70).concat('\r\n').repeat(20_000);
    const result = await sendMessage(session, message({ text: big, recipients: ['b@rcpt.test', 'gone@rcpt.test'] }));
    assert.equal(result.recipients[0].outcome, 'deferred');
    assert.match(result.recipients[0].reply, /^451 4\.4\.2 mx\.rcpt\.test: connection closed by the server during (DATA|end of data)/);
    assert.equal(result.recipients[1].outcome, 'bounced', 'a decided refusal stays decided');
    assert.equal(result.reusable, false);
    assert.equal(session.alive, false);
  });

  for (const stopReading of [false, true]) {
  it(`takes the reply of a server that refuses the message before its end and hangs up${stopReading ? ' (and stops reading)' : ''}`, async () => {
    const server = await serve({ replyDuringData: { after: 1, reply: '552 5.3.4 Message size exceeds fixed maximum message size', stopReading } });
    const session = await SmtpClientSession.open(options(server, { commandTimeoutMs: 5000 }));
    const big = 'Subject: big\r\n\r\n' + 'x'.repeat(70).concat('\r\n').repeat(40_000);
    const result = await sendMessage(session, message({ text: big }));
    assert.deepEqual([result.recipients[0].outcome, result.recipients[0].reply], ['bounced', '552 5.3.4 Message size exceeds fixed maximum message size']);
    // The server's end of the connection is seen as soon as it arrives: the session is not reused.
    for (let i = 0; i < 100 && session.alive; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(session.alive, false);
  });
  }

  it('defers on a silent server after the message (command timeout)', async () => {
    const server = await serve({ dataEnd: () => 'silent' });
    const session = await SmtpClientSession.open(options(server, { commandTimeoutMs: 300 }));
    const result = await sendMessage(session, message());
    assert.equal(result.recipients[0].outcome, 'deferred');
    assert.match(result.recipients[0].reply, /^451 4\.4\.2 mx\.rcpt\.test: no reply to end of data within 300 ms/);
    assert.equal(result.reusable, false);
  });

  it('fails to open on a server that never greets, and on a refusing greeting', async () => {
    const silent = await serve({ greeting: 'silent' });
    await assert.rejects(SmtpClientSession.open(options(silent, { commandTimeoutMs: 300 })), (err: SmtpClientError) => err.kind === 'timeout' && err.stage === 'greeting');
    const refusing = await serve({ greeting: '554 5.7.1 no mail from you' });
    await assert.rejects(SmtpClientSession.open(options(refusing)), (err: SmtpClientError) => err.kind === 'reply' && err.permanent && err.stage === 'greeting');
    assert.deepEqual(refusing.commands(), ['QUIT'], 'a refused client says QUIT (RFC 5321 3.1)');
    const garbage = await serve({ greeting: 'SSH-2.0-OpenSSH_9.6' });
    await assert.rejects(SmtpClientSession.open(options(garbage)), (err: SmtpClientError) => err.kind === 'protocol');
  });
});

describe('AUTH and STARTTLS', () => {
  let ca: TestCa;
  let cert: { cert: string; key: string };
  before(async () => {
    ca = await createTestCa();
    cert = await ca.issue(['mx.rcpt.test']);
  });

  for (const mechanism of ['PLAIN', 'LOGIN']) {
    it(`logs in with AUTH ${mechanism} and never shows the password in the trace`, async () => {
      // PLAIN is preferred; a server offering only LOGIN gets LOGIN.
      const authMechanisms = mechanism === 'PLAIN' ? ['LOGIN', 'PLAIN'] : ['CRAM-MD5', 'LOGIN'];
      const server = await serve({ login: { username: 'relay-user', password: 's3cret-pw' }, authMechanisms });
      const trace: string[] = [];
      const session = await SmtpClientSession.open(options(server, { trace: (d, t) => trace.push(`${d}: ${t}`) }));
      await session.login('relay-user', 's3cret-pw');
      assert.equal(server.sessions[0].authenticated, 'relay-user');
      assert.ok(server.sessions[0].commands.some((c) => c.startsWith(`AUTH ${mechanism}`)));
      const text = trace.join('\n');
      assert.ok(!text.includes('s3cret-pw') && !text.includes(Buffer.from('s3cret-pw').toString('base64')), text);
      assert.ok(!text.includes(Buffer.from('\0relay-user\0s3cret-pw').toString('base64')), text);
      assert.match(text, mechanism === 'PLAIN' ? /C: AUTH PLAIN \*\*\*\*/ : /C: \*\*\*\*/);
      assert.match(text, /S: 235 2\.7\.0/);
      await session.quit();
    });
  }

  it('reports a refused login with the server reply', async () => {
    const server = await serve({ login: { username: 'u', password: 'right' } });
    const session = await SmtpClientSession.open(options(server));
    await assert.rejects(session.login('u', 'wrong'), (err: SmtpClientError) => err.kind === 'reply' && err.reply?.code === 535 && !err.message.includes('wrong'));
    await session.quit();
  });

  it('starts TLS, verifies the certificate for the MX name and says EHLO again', async () => {
    const server = await serve({ starttls: cert });
    const session = await SmtpClientSession.open(options(server));
    assert.equal(session.extensions.startTls, true);
    assert.equal(await session.startTls(tlsOptions(true, [ca.certPem])), null);
    assert.equal(session.secure, true);
    assert.equal(session.conn.tlsState?.authorized, true);
    assert.equal(session.extensions.startTls, false, 'what the server offers over TLS replaces what it offered before');
    assert.equal(server.sessions[0].servername, 'mx.rcpt.test');
    assert.deepEqual(server.sessions[0].commands, ['EHLO out.sender.test', 'STARTTLS', 'EHLO out.sender.test']);
    const result = await sendMessage(session, message());
    assert.equal(result.recipients[0].outcome, 'delivered');
    assert.equal(server.sessions[0].tls, true);
    await session.quit();
  });

  it('fails the handshake when the certificate is not for the MX name or from an unknown CA', async () => {
    const server = await serve({ starttls: cert });
    const wrongName = await SmtpClientSession.open(options(server, { serverName: 'other.rcpt.test' }));
    await assert.rejects(wrongName.startTls(tlsOptions(true, [ca.certPem])), (err: SmtpClientError) => err.kind === 'tls' && /altnames|does not match/i.test(err.message));
    const unknownCa = await SmtpClientSession.open(options(server));
    await assert.rejects(unknownCa.startTls(tlsOptions(true, [])), (err: SmtpClientError) => err.kind === 'tls');
    // Unchecked, the same certificate is accepted, and the trace says it was not verified.
    const unchecked = await SmtpClientSession.open(options(server, { serverName: 'other.rcpt.test' }));
    await unchecked.startTls(tlsOptions(false, [ca.certPem]));
    assert.equal(unchecked.conn.tlsState?.authorized, false);
    await unchecked.quit();
  });
});
