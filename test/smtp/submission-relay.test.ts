/**
 * Where submitted mail goes (RFC 6409): remote recipients of a logged-in user into the outbound
 * queue and local ones straight into their INBOX, in one delivery; the sender's Sent copy; and
 * nobody relays without logging in, on either port.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { DOMAIN, RawClient, runPython, startServer, type TestServer } from './harness.js';

const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const PASSWORDS = { [BOB]: 'pickles' };
const FRIEND = 'friend@elsewhere.example';

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

/** The store's queue id of the last delivery (logged with it). */
function lastOutboundQueueId(server: TestServer): number {
  const delivered = server.logs.filter((l) => l.event === 'delivered').at(-1);
  assert.ok(delivered, 'nothing delivered');
  assert.equal(typeof delivered.outboundQueueId, 'number', `no queue id logged: ${JSON.stringify(delivered)}`);
  return delivered.outboundQueueId as number;
}

async function mailboxEntries(server: TestServer, address: string, role: 'inbox' | 'sent') {
  const user = await server.store.getUser(address);
  assert.ok(user);
  const mailbox = (await server.store.listMailboxes(user.id)).find((m) => m.role === role);
  assert.ok(mailbox, `${address} has no ${role} mailbox`);
  return server.store.listEntries(mailbox.id);
}

describe('submission to remote recipients', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ mode: 'submission', users: [BOB, CAROL], passwords: PASSWORDS });
  });
  after(() => server.close());

  it('queues a remote recipient and delivers the local one in the same transaction (nodemailer)', async () => {
    const transporter = transport(server);
    let info;
    try {
      info = await transporter.sendMail({ from: BOB, to: [CAROL, FRIEND], subject: 'to both', text: 'hi' });
    } finally {
      transporter.close();
    }
    assert.deepEqual(info.accepted.sort(), [CAROL, FRIEND].sort());
    assert.deepEqual(info.rejected, []);
    const local = (await server.inbox(CAROL)).at(-1);
    assert.ok(local, 'the local recipient got it');
    const queueId = lastOutboundQueueId(server);
    const queued = await server.store.getQueued(queueId);
    assert.ok(queued, 'the message is in the queue');
    assert.equal(queued.messageId, local.messageId, 'one stored body for both');
    assert.equal(queued.mailFrom, BOB);
    assert.equal(queued.senderUserId, (await server.store.getUser(BOB))!.id);
    assert.deepEqual(
      queued.recipients.map((r) => [r.address, r.status]),
      [[FRIEND, 'pending']],
      'only the remote recipient is queued',
    );
    assert.equal((await server.store.getMessage(local.messageId))?.headers.subject, 'to both');
    assert.equal(queued.eightBit, false, 'plain ASCII is 7-bit');
  });

  it('marks a message 8-bit when it has 8-bit bytes the client did not declare (smtplib, no BODY=)', async () => {
    const script = `
import json, smtplib, ssl, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login(sys.argv[2], 'pickles')
    msg = 'From: ' + sys.argv[2] + '\\r\\nSubject: undeclared\\r\\n\\r\\ncr\\u00eapes\\r\\n'
    refused = s.sendmail(sys.argv[2], ['pal@elsewhere.example'], msg.encode('utf-8'))
print(json.dumps({'refused': list(refused)}))
`;
    assert.deepEqual(await runPython(script, [String(server.port), BOB]), { refused: [] });
    const queued = await server.store.getQueued(lastOutboundQueueId(server));
    assert.equal(queued?.eightBit, true, 'the queue will not send it raw to a server without 8BITMIME');
  });

  it('queues mail with only remote recipients, domains lower-cased, 8BITMIME noted (smtplib)', async () => {
    const script = `
import json, smtplib, ssl, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login(sys.argv[2], 'pickles')
    msg = 'From: ' + sys.argv[2] + '\\r\\nSubject: caf\\u00e9\\r\\n\\r\\ncaf\\u00e9\\r\\n'
    refused = s.sendmail(sys.argv[2], ['Pal@ElseWhere.Example', 'x@third.example'], msg.encode('utf-8'), mail_options=['BODY=8BITMIME'])
print(json.dumps({'refused': list(refused)}))
`;
    assert.deepEqual(await runPython(script, [String(server.port), BOB]), { refused: [] });
    const queued = await server.store.getQueued(lastOutboundQueueId(server));
    assert.ok(queued);
    assert.deepEqual(queued.recipients.map((r) => r.address).sort(), ['Pal@elsewhere.example', 'x@third.example']);
    assert.equal(queued.eightBit, true);
    assert.equal(queued.smtputf8, false);
    assert.deepEqual(await mailboxEntries(server, BOB, 'sent'), [], 'no Sent copy when saveSent is off');
  });
});

describe('submission with saveSent', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ mode: 'submission', users: [BOB, CAROL], passwords: PASSWORDS, config: { submission: { saveSent: true } } });
  });
  after(() => server.close());

  it('files a \\Seen copy in the sender\'s Sent mailbox, the same message the recipients get', async () => {
    const transporter = transport(server);
    try {
      await transporter.sendMail({ from: BOB, to: CAROL, bcc: FRIEND, subject: 'kept', text: 'hi' });
    } finally {
      transporter.close();
    }
    const sent = await mailboxEntries(server, BOB, 'sent');
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].flags, ['\\Seen']);
    const delivered = (await server.inbox(CAROL)).at(-1)!;
    assert.equal(sent[0].messageId, delivered.messageId);
    assert.equal((await server.store.getQueued(lastOutboundQueueId(server)))?.messageId, delivered.messageId);
    assert.deepEqual(await mailboxEntries(server, BOB, 'inbox'), [], 'the sender gets no INBOX copy');
  });
});

describe('relaying without logging in', () => {
  let mx: TestServer;
  let submission: TestServer;
  before(async () => {
    mx = await startServer({ users: [CAROL] });
    submission = await startServer({ mode: 'submission', users: [BOB], passwords: PASSWORDS, clientAddress: '192.0.2.7' });
  });
  after(async () => {
    await mx.close();
    await submission.close();
  });

  it('is refused on the MX port (554 5.7.1) and needs a login on the submission port', async () => {
    const c = await RawClient.connect(mx.port);
    await c.reply();
    await c.expect('EHLO client.example', 250);
    await c.expect(`MAIL FROM:<${BOB}>`, 250);
    await c.expect(`RCPT TO:<${FRIEND}>`, 554, `5.7.1 <${FRIEND}>: Relay access denied`);
    await c.expect(`RCPT TO:<${CAROL}>`, 250);
    await c.expect('QUIT', 221);

    const s = await RawClient.connect(submission.port);
    await s.reply();
    await s.expect('EHLO client.example', 250);
    await s.expect('STARTTLS', 220);
    await s.startTls();
    await s.expect('EHLO client.example', 250);
    await s.expect(`MAIL FROM:<${BOB}>`, 530, '5.7.0 Authentication required');
    await s.expect(`RCPT TO:<${FRIEND}>`, 503);
    await s.expect('QUIT', 221);
    assert.deepEqual(await submission.store.listQueue().catch(() => []), []);
  });

  it('is refused for nodemailer without credentials', async () => {
    const transporter = nodemailer.createTransport({ host: '127.0.0.1', port: mx.port, secure: false, tls: { rejectUnauthorized: false } });
    try {
      await assert.rejects(
        transporter.sendMail({ from: BOB, to: FRIEND, subject: 'relay?', text: 'x' }),
        (err: { responseCode?: number }) => err.responseCode === 554,
      );
    } finally {
      transporter.close();
    }
  });
});
