/**
 * The seeds' "Alice sends Bob a message", steps 1-5, between two Wharf servers: Alice's user
 * agent submits to crepes.test, whose queue finds hamburger.test's mail exchanger in DNS (a real
 * DNS server) and hands the message over SMTP; Bob reads it over POP3 and IMAP, with the
 * DKIM/SPF/DMARC verdicts of his server on it. Then the failure paths: Bob's server down, a
 * recipient refused, kill -9 mid-queue, relaying and forgery attempts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { runProgram as run } from '../helpers/process.js';
import { ALICE, BOB, PASSWORD, startTwoDomains, type Site, type TwoDomains } from './two-domains.js';

/** Python's smtplib: STARTTLS + AUTH on submission, as a mail client does. */
const SMTPLIB_SEND = String.raw`
import smtplib, ssl, sys, json
port, sender, rcpts, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(','), sys.argv[4]
headers_from = sys.argv[5] if len(sys.argv) > 5 else sender
password = sys.stdin.readline().rstrip('\n')
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = ('From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nDo you like ketchup?\r\n' % (headers_from, ', '.join(rcpts), subject))
out = {}
with smtplib.SMTP('127.0.0.1', port) as s:
    s.starttls(context=ctx)
    s.login(sender, password)
    try:
        out['refused'] = s.sendmail(sender, rcpts, msg)
        out['ok'] = True
    except smtplib.SMTPException as e:
        out['ok'] = False
        out['error'] = [getattr(e, 'smtp_code', 0), str(e)]
print(json.dumps(out))
`;

/** Python's poplib: every message of a maildrop, as text. */
const POPLIB_READ = String.raw`
import poplib, sys, json
host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
password = sys.stdin.readline().rstrip('\n')
p = poplib.POP3(host, port)
p.user(user)
p.pass_(password)
count = p.stat()[0]
out = []
for i in range(1, count + 1):
    out.append('\r\n'.join(l.decode('utf-8', 'replace') for l in p.retr(i)[1]))
p.quit()
print(json.dumps(out))
`;

async function smtplibSend(site: Site, rcpts: string[], subject: string, headerFrom?: string): Promise<{ ok: boolean; error?: [number, string] }> {
  const args = ['-c', SMTPLIB_SEND, String(site.server!.ports.submission), ALICE, rcpts.join(','), subject];
  if (headerFrom) args.push(headerFrom);
  const r = await run('python3', args, { stdin: `${PASSWORD}\n` });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { ok: boolean; error?: [number, string] };
}

async function popMessages(site: Site, user: string): Promise<string[]> {
  const r = await run('python3', ['-c', POPLIB_READ, site.host, String(site.server!.ports.pop3), user], { stdin: `${PASSWORD}\n` });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

/** Polls a maildrop until `done` holds for its messages (the queue works in the background). */
async function waitForMessages(site: Site, user: string, done: (messages: string[]) => boolean, timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await popMessages(site, user);
    if (done(messages)) return messages;
    if (Date.now() > deadline) {
      const queue = await site.cli(['queue', 'list']).catch(() => null);
      assert.fail(`condition not met within ${timeoutMs} ms; ${messages.length} messages; queue: ${queue?.stdout ?? '?'}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const subjectOf = (m: string): string => /^Subject: (.*)$/m.exec(m)?.[1] ?? '';
const withSubject = (messages: string[], s: string): string[] => messages.filter((m) => subjectOf(m) === s);

describe('mail between servers', () => {
  let world: TwoDomains;

  before(async () => {
    world = await startTwoDomains();
  });
  after(async () => {
    await world?.close();
  });

  it('Alice submits with wharf send, smtplib and nodemailer; Bob reads it over POP3 and IMAP, DKIM/SPF/DMARC passing', async () => {
    const { alice, bob } = world;
    const sent = await alice.cli(
      ['send', '--server', `127.0.0.1:${alice.server!.ports.submission}`, '--user', ALICE, '--insecure', '--password-stdin',
        '--from', ALICE, '--to', BOB, '--subject', 'via wharf send', '--body', 'Do you like ketchup?'],
      `${PASSWORD}\n`,
    );
    assert.equal(sent.code, 0, sent.stderr);
    assert.deepEqual(await smtplibSend(alice, [BOB], 'via smtplib'), { refused: {}, ok: true });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: alice.server!.ports.submission,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: ALICE, pass: PASSWORD },
    });
    // A blind copy to Alice herself: delivered locally while Bob's copy goes through the queue.
    const info = await transport.sendMail({ from: ALICE, to: BOB, bcc: ALICE, subject: 'via nodemailer', text: 'Crêpes?' });
    assert.deepEqual(info.accepted.sort(), [ALICE, BOB].sort());
    transport.close();

    const subjects = ['via wharf send', 'via smtplib', 'via nodemailer'];
    const messages = await waitForMessages(bob, BOB, (ms) => subjects.every((s) => withSubject(ms, s).length === 1));
    for (const s of subjects) {
      const m = withSubject(messages, s)[0];
      const results = /^Authentication-Results: (.*(?:\r\n[ \t].*)*)/m.exec(m)?.[1] ?? '';
      assert.match(results, /^mx\.hamburger\.test;/, m);
      assert.match(results, /dkim=pass/, results);
      assert.match(results, /spf=pass/, results);
      assert.match(results, /dmarc=pass/, results);
      assert.match(m, /^DKIM-Signature: .*d=crepes\.test/m);
      assert.match(m, /^Received: from mx\.crepes\.test/m);
      assert.doesNotMatch(m, /^Bcc:/im, 'Bcc never leaves the sender');
      assert.match(m, /^Message-ID: </im);
      assert.match(m, /^Date: /m);
    }

    const imap = new ImapFlow({ host: bob.host, port: bob.server!.ports.imap, secure: false, tls: { rejectUnauthorized: false }, logger: false, auth: { user: BOB, pass: PASSWORD } });
    await imap.connect();
    try {
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const seen: string[] = [];
        for await (const msg of imap.fetch('1:*', { envelope: true })) seen.push(msg.envelope?.subject ?? '');
        for (const s of subjects) assert.ok(seen.includes(s), `${s} in ${seen.join(', ')}`);
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
    // Alice's copy is in her Sent mailbox.
    const aliceImap = new ImapFlow({ host: alice.host, port: alice.server!.ports.imap, secure: false, tls: { rejectUnauthorized: false }, logger: false, auth: { user: ALICE, pass: PASSWORD } });
    await aliceImap.connect();
    try {
      const status = await aliceImap.status('Sent', { messages: true });
      assert.ok((status.messages ?? 0) >= 3, `Sent holds ${status.messages}`);
    } finally {
      await aliceImap.logout();
    }
  });

  it('refuses to relay for an unauthenticated client, and refuses a forged sender on submission', async () => {
    const { alice } = world;
    const r = await run('python3', ['-c', String.raw`
import smtplib, sys, json
out = {}
with smtplib.SMTP(sys.argv[1], int(sys.argv[2])) as s:
    s.ehlo('client.test')
    s.mail('mallory@evil.test')
    out['rcpt'] = s.rcpt('bob@hamburger.test')[0]
print(json.dumps(out))
`, alice.host, String(world.smtpPort)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).rcpt, 554);

    const forged = await smtplibSend(alice, [BOB], 'forged from', 'president@hamburger.test');
    assert.equal(forged.ok, false);
    assert.equal(forged.error?.[0], 553);
  });

  it('a recipient refused by the destination gets the sender a DSN, the other recipient the message', async () => {
    const { alice, bob } = world;
    assert.deepEqual(await smtplibSend(alice, [BOB, 'nobody@hamburger.test'], 'one of two'), { refused: {}, ok: true });
    await waitForMessages(bob, BOB, (ms) => withSubject(ms, 'one of two').length === 1);
    const aliceBox = await waitForMessages(alice, ALICE, (ms) => ms.some((m) => /nobody@hamburger\.test/.test(m) && /multipart\/report/i.test(m)));
    const dsn = aliceBox.find((m) => /multipart\/report/i.test(m))!;
    assert.match(dsn, /report-type="?delivery-status/i);
    assert.match(dsn, /^Final-Recipient: rfc822; ?nobody@hamburger\.test/im);
    assert.match(dsn, /^Action: failed/im);
    assert.match(dsn, /^Status: 5\.1\.1/im);
    assert.match(dsn, /^Subject: one of two/m, 'the original headers are in the report');
    assert.doesNotMatch(dsn, /^Final-Recipient: rfc822; ?bob@/im);
  });

  it("keeps a message while Bob's server is down and delivers it when it is back", async () => {
    const { alice, bob } = world;
    await bob.server!.stop();
    assert.deepEqual(await smtplibSend(alice, [BOB], 'while down'), { refused: {}, ok: true });
    // It waits in Alice's queue, with the reason.
    const deadline = Date.now() + 15_000;
    let listing = '';
    while (Date.now() < deadline) {
      listing = (await alice.cli(['queue', 'list'])).stdout;
      if (/bob@hamburger\.test/.test(listing) && /refused|unreachable|connect/i.test(listing)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(listing, /bob@hamburger\.test/, listing);
    await world.start(bob);
    await waitForMessages(bob, BOB, (ms) => withSubject(ms, 'while down').length === 1);
    const after = (await alice.cli(['queue', 'list'])).stdout;
    assert.doesNotMatch(after, /while down/);
  });

  it('a forged DKIM signature verifies as dkim=fail; a DMARC p=reject failure is refused at end of DATA', async () => {
    const { bob } = world;
    const messages = await popMessages(bob, BOB);
    const signed = withSubject(messages, 'via smtplib')[0];
    assert.ok(signed, 'a signed message to replay');
    // Replay Alice's signed message with its body changed, from Alice's address (SPF passes).
    const headerEnd = signed.indexOf('\r\n\r\n');
    const headers = signed
      .slice(0, headerEnd)
      .split(/\r\n(?![ \t])/)
      .filter((f) => /^(DKIM-Signature|From|To|Subject|Date|Message-ID|MIME-Version|Content-Type|Content-Transfer-Encoding):/i.test(f))
      .join('\r\n');
    const tampered = `${headers}\r\n\r\nDo you like mustard?\r\n`;
    const forged = `From: ${ALICE}\r\nTo: ${BOB}\r\nSubject: not from alice\r\n\r\nSend money.\r\n`;
    const r = await run('python3', ['-c', String.raw`
import smtplib, sys, json
host, port = sys.argv[1], int(sys.argv[2])
tampered, forged = json.loads(sys.stdin.read())
out = {}
with smtplib.SMTP(host, port, local_hostname='mx.crepes.test', source_address=('127.0.0.1', 0)) as s:
    out['tampered'] = s.sendmail('alice@crepes.test', ['bob@hamburger.test'], tampered)
    try:
        s.sendmail('mallory@evil.test', ['bob@hamburger.test'], forged)
        out['forged'] = 250
    except smtplib.SMTPDataError as e:
        out['forged'] = e.smtp_code
        out['forged_text'] = e.smtp_error.decode()
print(json.dumps(out))
`, bob.host, String(world.smtpPort)], { stdin: JSON.stringify([tampered, forged]) });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { tampered: object; forged: number; forged_text?: string };
    assert.deepEqual(out.tampered, {});
    assert.equal(out.forged, 550, out.forged_text);
    assert.match(out.forged_text ?? '', /5\.7\.1/);
    const after = await popMessages(bob, BOB);
    const replayed = after.filter((m) => /Do you like mustard\?/.test(m));
    assert.equal(replayed.length, 1);
    const results = /^Authentication-Results: (.*(?:\r\n[ \t].*)*)/m.exec(replayed[0])?.[1] ?? '';
    assert.match(results, /dkim=fail/, results);
    assert.equal(after.filter((m) => /Send money\./.test(m)).length, 0);
  });

  it('loses nothing when the sending server is killed (-9) again and again mid-queue; duplicates are counted', async () => {
    const { alice, bob } = world;
    const count = 20;
    const subjects = Array.from({ length: count }, (_, i) => `kill test ${i}`);
    // Bob's server is down while the messages pile up, so the kills fall while they are delivered.
    await bob.server!.stop();
    for (const s of subjects) assert.deepEqual(await smtplibSend(alice, [BOB], s), { refused: {}, ok: true });
    await world.start(bob);
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 150 + round * 200));
      await alice.server!.stop('SIGKILL');
      await world.start(alice);
    }
    // Messages a killed node had claimed wait for its lease (a minute) to run out.
    const messages = await waitForMessages(bob, BOB, (ms) => subjects.every((s) => withSubject(ms, s).length >= 1), 150_000);
    const delivered = messages.filter((m) => subjects.includes(subjectOf(m)));
    const duplicates = delivered.length - count;
    // RFC 5321 6.1: a kill between the peer's 250 and our commit of it may repeat a message;
    // that is the only duplicate allowed, so there are at most as many as messages in flight.
    console.log(`# kill -9 x3 with ${count} queued messages: ${duplicates} duplicate(s)`);
    assert.ok(delivered.length >= count);
  });
});
