/**
 * Submission's envelope and header rules through the wire (RFC 6409, RFC 5322 3.6), with real
 * clients over STARTTLS + AUTH: who a user may send as, the fields added and removed, and a
 * header block too large to accept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { DOMAIN, RawClient, runPython, splitTrace, startServer, type TestServer } from './harness.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const DAVE = `dave@${DOMAIN}`;
const PASSWORDS = { [BOB]: 'pickles' };

/** smtplib: STARTTLS, login, then each message in turn on the same connection; each one's reply. */
const SEND_PY = `
import json, smtplib, ssl, sys
port, user, password, messages = sys.argv[1:5]
results = []
with smtplib.SMTP('127.0.0.1', int(port), timeout=10) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login(user, password)
    for m in json.loads(messages):
        try:
            s.sendmail(m['from'], m['to'], m['message'].encode())
            results.append({'code': 250})
        except smtplib.SMTPDataError as e:
            results.append({'code': e.smtp_code, 'text': e.smtp_error.decode()})
print(json.dumps(results))
`;

interface PyMessage {
  from: string;
  to: string[];
  message: string;
}

/** Sends the messages as bob with smtplib; the reply to each ({ code: 250 } when accepted). */
async function pySendAll(server: TestServer, messages: PyMessage[]): Promise<Array<{ code: number; text?: string }>> {
  return (await runPython(SEND_PY, [String(server.port), BOB, 'pickles', JSON.stringify(messages)])) as Array<{ code: number; text?: string }>;
}

async function pySend(server: TestServer, mailFrom: string, to: string[], message: string) {
  return (await pySendAll(server, [{ from: mailFrom, to, message }]))[0];
}

function transport(server: TestServer) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: BOB, pass: 'pickles' },
  });
}

describe('submission header rules', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ mode: 'submission', users: [BOB, CAROL, DAVE], passwords: PASSWORDS });
    await server.store.addAlias(`bobby@${DOMAIN}`, [BOB]);
    await server.store.addAlias(`team@${DOMAIN}`, [BOB, CAROL]);
  });
  after(() => server.close());

  /** The client's part of the last message in a user's INBOX. */
  async function lastMessage(address: string): Promise<string> {
    const entry = (await server.inbox(address)).at(-1);
    assert.ok(entry, `nothing in ${address}'s INBOX`);
    return splitTrace(await server.body(entry.messageId)).rest.toString();
  }

  it('refuses a From: that is not the user\'s at the end of DATA, storing nothing', async () => {
    const before = (await server.inbox(CAROL)).length;
    const results = await pySendAll(server, [
      { from: BOB, to: [CAROL], message: `From: Carol <${CAROL}>\r\nSubject: forged\r\n\r\nhi\r\n` },
      { from: BOB, to: [CAROL], message: 'From: ceo@elsewhere.example\r\n\r\nhi\r\n' },
    ]);
    const refused = { code: 553, text: '5.7.1 From: header must be one of your addresses' };
    assert.deepEqual(results, [refused, refused]);
    assert.equal((await server.inbox(CAROL)).length, before);
    assert.ok(server.logs.some((l) => l.event === 'author fields refused' && l.user === BOB));
  });

  it('accepts a From: alias that delivers to the user, also one shared with others', async () => {
    const transporter = transport(server);
    try {
      const info = await transporter.sendMail({ from: `Bobby <bobby@${DOMAIN}>`, to: CAROL, subject: 'alias', text: 'hi' });
      assert.deepEqual(info.accepted, [CAROL]);
      // team@ delivers to bob (and carol): it is one of bob's addresses too.
      const team = await transporter.sendMail({ from: `team@${DOMAIN}`, to: CAROL, subject: 'team', text: 'hi' });
      assert.deepEqual(team.accepted, [CAROL]);
    } finally {
      transporter.close();
    }
    assert.match(await lastMessage(CAROL), /^Subject: team\r\n/m);
  });

  it('refuses a forged envelope sender with 553 5.7.1 (nodemailer)', async () => {
    const transporter = transport(server);
    try {
      await assert.rejects(
        transporter.sendMail({ envelope: { from: CAROL, to: [CAROL] }, from: BOB, to: CAROL, subject: 'x', text: 'x' }),
        (err: { responseCode?: number; response?: string }) => err.responseCode === 553 && /5\.7\.1 Sender address/.test(err.response ?? ''),
      );
    } finally {
      transporter.close();
    }
  });

  it('needs exactly one From:, and a Sender: of the user when From: has several authors', async () => {
    const authors = `From: ${BOB}, ${CAROL}\r\nSubject: co-written\r\n`;
    const send = (message: string) => ({ from: BOB, to: [CAROL], message });
    const results = await pySendAll(server, [
      send('Subject: anonymous\r\n\r\nhi\r\n'),
      send(`From: ${BOB}\r\nFrom: ${CAROL}\r\n\r\nhi\r\n`),
      send(`${authors}\r\nhi\r\n`),
      send(`${authors}Sender: ${CAROL}\r\n\r\nhi\r\n`),
      // A Sender: is checked even with one author.
      send(`From: ${BOB}\r\nSender: ${CAROL}\r\n\r\nhi\r\n`),
      send(`${authors}Sender: ${BOB}\r\n\r\nhi\r\n`),
    ]);
    assert.deepEqual(results, [
      { code: 554, text: '5.6.0 Message must have a From: header' },
      { code: 554, text: '5.6.0 Message must not have more than one From: header' },
      { code: 553, text: '5.7.1 Sender: header required when From: has several addresses' },
      { code: 553, text: '5.7.1 Sender: header must be one of your addresses' },
      { code: 553, text: '5.7.1 Sender: header must be one of your addresses' },
      { code: 250 },
    ]);
    assert.match(await lastMessage(CAROL), /^Subject: co-written\r\n/m);
  });

  it('adds Date and Message-ID when missing and keeps them when present', async () => {
    assert.deepEqual(await pySend(server, BOB, [CAROL], `From: ${BOB}\r\nSubject: bare\r\n\r\nhi\r\n`), { code: 250 });
    const added = await lastMessage(CAROL);
    assert.match(added, /^From: bob@hamburger\.edu\r\nSubject: bare\r\nDate: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\nMessage-ID: <[0-9a-f]{32}@hamburger\.edu>\r\n\r\nhi\r\n$/);
    const entry = (await server.inbox(CAROL)).at(-1)!;
    const indexed = (await server.store.getMessage(entry.messageId))!.headers;
    assert.match(indexed.messageId ?? '', /@hamburger\.edu>$/, 'the index has the added Message-ID');
    assert.ok(indexed.date);

    const transporter = transport(server);
    try {
      const info = await transporter.sendMail({ from: BOB, to: CAROL, subject: 'own ids', text: 'hi', date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) });
      const kept = await lastMessage(CAROL);
      assert.match(kept, new RegExp(`^Message-ID: ${info.messageId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\r\n`, 'mi'));
      assert.match(kept, /^Date: Tue, 02 Jan 2024 03:04:05 \+0000\r\n/m);
      assert.equal(kept.match(/^Date:/gim)?.length, 1);
      assert.equal(kept.match(/^Message-ID:/gim)?.length, 1);
    } finally {
      transporter.close();
    }
  });

  it('removes Bcc, folded too, while the Bcc recipient still gets the message', async () => {
    const message =
      `From: ${BOB}\r\nTo: ${CAROL}\r\nBcc: Dave <${DAVE}>,\r\n\tsomeone@${DOMAIN}\r\nSubject: secret list\r\n` +
      `Date: Sat, 1 Mar 2025 14:03:09 +0100\r\nMessage-ID: <bcc.1@client.example>\r\n\r\nBcc: in the body stays\r\n`;
    assert.deepEqual(await pySend(server, BOB, [CAROL, DAVE], message), { code: 250 });
    const expected =
      `From: ${BOB}\r\nTo: ${CAROL}\r\nSubject: secret list\r\n` +
      `Date: Sat, 1 Mar 2025 14:03:09 +0100\r\nMessage-ID: <bcc.1@client.example>\r\n\r\nBcc: in the body stays\r\n`;
    assert.equal(await lastMessage(CAROL), expected);
    assert.equal(await lastMessage(DAVE), expected, 'the Bcc recipient got it, without the field');
    const entry = (await server.inbox(DAVE)).at(-1)!;
    assert.equal((await server.store.getMessage(entry.messageId))!.headers.bcc, undefined);
  });

  it('applies the rules to BDAT too', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO client.example', 250);
    await c.expect('STARTTLS', 220);
    await c.startTls();
    await c.expect('EHLO client.example', 250);
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 235);
    await c.expect(`MAIL FROM:<${BOB}>`, 250);
    await c.expect(`RCPT TO:<${CAROL}>`, 250);
    const forged = `From: ${CAROL}\r\n\r\nhi\r\n`;
    c.write(`BDAT ${forged.length} LAST\r\n${forged}`);
    const refused = await c.reply();
    assert.equal(refused.code, 553, refused.raw);
    await c.expect(`MAIL FROM:<${BOB}>`, 250);
    await c.expect(`RCPT TO:<${CAROL}>`, 250);
    const first = `From: ${BOB}\r\nBcc: x@${DOMAIN}\r\n`;
    const second = `Subject: chunked\r\n\r\nhi\r\n`;
    await c.expect(`BDAT ${first.length}\r\n${first.slice(0, -2)}`, 250);
    c.write(`BDAT ${second.length} LAST\r\n${second}`);
    assert.equal((await c.reply()).code, 250);
    await c.expect('QUIT', 221);
    assert.match(await lastMessage(CAROL), /^From: bob@hamburger\.edu\r\nSubject: chunked\r\nDate: [^\r]+\r\nMessage-ID: [^\r]+\r\n\r\nhi\r\n$/);
  });

  it('refuses a huge header block cleanly and goes on with the session', async () => {
    const before = (await server.inbox(CAROL)).length;
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO client.example', 250);
    await c.expect('STARTTLS', 220);
    await c.startTls();
    await c.expect('EHLO client.example', 250);
    await c.expect(`AUTH PLAIN ${b64(`\0${BOB}\0pickles`)}`, 235);
    await c.expect(`MAIL FROM:<${BOB}>`, 250);
    await c.expect(`RCPT TO:<${CAROL}>`, 250);
    await c.expect('DATA', 354);
    c.write(`From: ${BOB}\r\n`);
    const line = `X-Filler: ${'x'.repeat(900)}\r\n`;
    for (let i = 0; i < 400; i++) c.write(line); // ~360 KiB of header fields
    c.write('\r\nbody\r\n.\r\n');
    const r = await c.reply(10_000);
    assert.equal(r.code, 552, r.raw);
    assert.match(r.lines[0], /^5\.3\.4 /);
    // The session is still fine for the next message.
    await c.expect(`MAIL FROM:<${BOB}>`, 250);
    await c.expect(`RCPT TO:<${CAROL}>`, 250);
    await c.expect('DATA', 354);
    c.write(`From: ${BOB}\r\nSubject: after\r\n\r\nok\r\n.\r\n`);
    assert.equal((await c.reply()).code, 250);
    await c.expect('QUIT', 221);
    assert.equal((await server.inbox(CAROL)).length, before + 1);
    assert.match(await lastMessage(CAROL), /^Subject: after\r\n/m);
  });
});
