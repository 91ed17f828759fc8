/**
 * DKIM, SPF and DMARC verification on the MX port, with the sender's DNS records served by a
 * fake resolver: the Authentication-Results field in front of the stored message, and what
 * the DMARC policy does (reject at the end of DATA, quarantine into Junk).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import { dkimRecordName, dkimTxtRecord, generateDkimKey } from '../../src/smtp/dkim-keys.js';
import type { DkimKey } from '../../src/store/types.js';
import { FakeDns } from './fake-dns.js';
import { DOMAIN, HOSTNAME, RawClient, runPython, startServer, type TestServer } from './harness.js';

const CLIENT_IP = '192.0.2.10';
const BOB = `bob@${DOMAIN}`;

/** Sends a raw message file with Python's smtplib; reports the reply to the end of data. */
const SMTPLIB_SEND_RAW = `
import json, smtplib, sys
port, helo, sender, rcpt, file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
data = open(file, 'rb').read()
with smtplib.SMTP('127.0.0.1', port, local_hostname=helo, timeout=20) as s:
    try:
        s.sendmail(sender, [rcpt], data)
        print(json.dumps({'code': 250}))
    except smtplib.SMTPDataError as e:
        print(json.dumps({'code': e.smtp_code, 'text': e.smtp_error.decode()}))
`;

function message(opts: { from: string; subject: string; body?: string; extra?: string }): string {
  return (
    `From: ${opts.from}\r\n` +
    `To: ${BOB}\r\n` +
    `Subject: ${opts.subject}\r\n` +
    `Message-ID: <${opts.subject.replace(/\W/g, '')}@test>\r\n` +
    (opts.extra ?? '') +
    `\r\n` +
    (opts.body ?? 'Do you like ketchup?\r\n.A line with a leading dot\r\n')
  );
}

async function sign(raw: string, domain: string, key: DkimKey): Promise<string> {
  const signature = { signingDomain: domain, selector: key.selector, privateKey: key.privateKeyPem, algorithm: key.algorithm };
  // mailauth's typings want the signature's fields at the top level too; it reads signatureData.
  const r = await dkimSign(Buffer.from(raw), { ...signature, canonicalization: 'relaxed/relaxed', signatureData: [signature] });
  assert.deepEqual(r.errors, []);
  return r.signatures + raw;
}

describe('mail authentication on the MX port', () => {
  let server: TestServer;
  let dns: FakeDns;
  let tmp: string;
  let crepesKey: DkimKey;
  let n = 0;

  before(async () => {
    crepesKey = await generateDkimKey('rsa-sha256', 'test2026');
    dns = new FakeDns()
      .txt('crepes.fr', `v=spf1 ip4:${CLIENT_IP} -all`)
      .txt('mail.crepes.fr', `v=spf1 ip4:${CLIENT_IP} -all`)
      .txt(dkimRecordName('crepes.fr', crepesKey.selector), dkimTxtRecord(crepesKey))
      .txt('_dmarc.crepes.fr', 'v=DMARC1; p=reject')
      // Domains whose SPF does not list the client and that do not sign.
      .txt('forged.example', 'v=spf1 ip4:198.51.100.1 -all')
      .txt('_dmarc.forged.example', 'v=DMARC1; p=reject; rua=mailto:dmarc@forged.example')
      .txt('spoofed.example', 'v=spf1 -all')
      .txt('_dmarc.spoofed.example', 'v=DMARC1; p=quarantine')
      // SPF cannot be looked up; DMARC says reject.
      .fail('TXT', 'broken.example')
      .txt('_dmarc.broken.example', 'v=DMARC1; p=reject');
    server = await startServer({
      users: [BOB],
      config: { mailAuth: { verifyInbound: true, signOutbound: false, dnsbl: [] } },
      dns,
      clientAddress: CLIENT_IP,
    });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'wharf-mail-auth-'));
  });
  after(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  async function send(raw: string, sender: string, helo = 'mail.crepes.fr'): Promise<{ code: number; text?: string }> {
    const file = path.join(tmp, `m${++n}.eml`);
    await writeFile(file, raw);
    return (await runPython(SMTPLIB_SEND_RAW, [String(server.port), helo, sender, BOB, file])) as { code: number; text?: string };
  }

  async function mailbox(name: string): Promise<string[]> {
    const user = await server.store.getUser(BOB);
    assert.ok(user);
    const box = await server.store.getMailbox(user.id, name);
    assert.ok(box, `no mailbox ${name}`);
    const out: string[] = [];
    for (const e of await server.store.listEntries(box.id)) out.push((await server.body(e.messageId)).toString('utf8'));
    return out;
  }

  /** The stored message with this subject, in INBOX (or another mailbox). */
  async function stored(subject: string, box = 'INBOX'): Promise<string> {
    const found = (await mailbox(box)).find((m) => m.includes(`\r\nSubject: ${subject}\r\n`));
    assert.ok(found, `no message "${subject}" in ${box}`);
    return found;
  }

  /** The Authentication-Results field at the top of a stored message, unfolded. */
  /** The Authentication-Results field, which must come right after our Return-Path and Received. */
  function authResults(stored: string): string {
    const afterTrace = stored.replace(/^Return-Path: [^\r]*\r\nReceived: [^\r]*(?:\r\n[ \t][^\r]*)*\r\n/, '');
    const m = /^Authentication-Results: ([^\r]*(?:\r\n[ \t][^\r]*)*)\r\n/.exec(afterTrace);
    assert.ok(m, `no Authentication-Results after the trace fields in ${JSON.stringify(stored.slice(0, 400))}`);
    return m[1].replace(/\r\n[ \t]+/g, ' ');
  }

  it('a signed message from an SPF-listed address passes DKIM, SPF and DMARC (python smtplib)', async () => {
    const raw = await sign(message({ from: 'Alice <alice@crepes.fr>', subject: 'signed and sealed' }), 'crepes.fr', crepesKey);
    assert.deepEqual(await send(raw, 'alice@crepes.fr'), { code: 250 });
    const text = await stored('signed and sealed');
    const ar = authResults(text);
    assert.match(ar, new RegExp(`^${HOSTNAME.replace(/\./g, '\\.')}; `));
    assert.match(ar, /; dkim=pass header\.d=crepes\.fr header\.i=@crepes\.fr header\.s=test2026 header\.a=rsa-sha256 header\.b=\S+;/);
    assert.match(ar, /; spf=pass \([^)]*\) smtp\.mailfrom=alice@crepes\.fr;/);
    assert.match(ar, /; spf=pass \([^)]*\) smtp\.helo=mail\.crepes\.fr;/);
    assert.match(ar, /; dmarc=pass \(p=REJECT\) header\.from=crepes\.fr$/);
    // Our field first, then our trace fields, then the client's message unchanged.
    assert.ok(text.startsWith(`Return-Path: <alice@crepes.fr>\r\nReceived: from mail.crepes.fr ([${CLIENT_IP}])`), text.slice(0, 200));
    assert.ok(text.endsWith(raw));
    const logged = server.logs.find((r) => r.event === 'mail authentication' && r.from === 'crepes.fr');
    assert.equal(logged?.dkim, 'pass');
    assert.equal(logged?.action, 'inbox');
  });

  it('a body changed after signing fails DKIM (and DMARC still passes on SPF)', async () => {
    const raw = await sign(message({ from: 'alice@crepes.fr', subject: 'tampered body' }), 'crepes.fr', crepesKey);
    const altered = raw.replace('Do you like ketchup?', 'Do you like mustard?');
    assert.deepEqual(await send(altered, 'alice@crepes.fr'), { code: 250 });
    const ar = authResults(await stored('tampered body'));
    assert.match(ar, /; dkim=fail \(body hash did not verify\) header\.d=crepes\.fr /);
    assert.match(ar, /; dmarc=pass /);
  });

  it('a forged signature (a signed header changed) fails DKIM', async () => {
    const raw = await sign(message({ from: 'alice@crepes.fr', subject: 'original subject' }), 'crepes.fr', crepesKey);
    assert.deepEqual(await send(raw.replace('Subject: original subject', 'Subject: forged subject'), 'alice@crepes.fr'), { code: 250 });
    assert.match(authResults(await stored('forged subject')), /; dkim=fail \(bad signature\) header\.d=crepes\.fr /);
  });

  it('an unsigned message: dkim=none', async () => {
    assert.deepEqual(await send(message({ from: 'alice@crepes.fr', subject: 'unsigned' }), 'alice@crepes.fr'), { code: 250 });
    assert.match(authResults(await stored('unsigned')), /; dkim=none \(message not signed\);/);
  });

  it('DMARC p=reject and failing: 550 5.7.1 at the end of DATA, nothing stored', async () => {
    const before = (await mailbox('INBOX')).length;
    const reply = await send(message({ from: 'ceo@forged.example', subject: 'wire the money' }), 'ceo@forged.example', 'mx.forged.example');
    assert.equal(reply.code, 550);
    assert.match(reply.text ?? '', /^5\.7\.1 .*DMARC.*forged\.example/);
    assert.equal((await mailbox('INBOX')).length, before);
    assert.equal((await mailbox('Junk')).some((m) => m.includes('wire the money')), false);
    const logged = server.logs.find((r) => r.event === 'mail authentication' && r.from === 'forged.example');
    assert.equal(logged?.action, 'reject');
    assert.equal(logged?.spf, 'fail');
  });

  it('DMARC p=quarantine and failing: delivered into Junk, with the results', async () => {
    assert.deepEqual(await send(message({ from: 'news@spoofed.example', subject: 'cheap pills' }), 'news@spoofed.example', 'mx.spoofed.example'), {
      code: 250,
    });
    const text = await stored('cheap pills', 'Junk');
    assert.match(authResults(text), /; spf=fail .*; dmarc=fail \(p=QUARANTINE\) header\.from=spoofed\.example$/);
    assert.equal((await mailbox('INBOX')).some((m) => m.includes('cheap pills')), false);
  });

  it('a DNS failure gives temperror and the message is accepted, even under p=reject', async () => {
    const reply = await send(message({ from: 'ops@broken.example', subject: 'dns is down' }), 'ops@broken.example', 'mx.broken.example');
    assert.deepEqual(reply, { code: 250 });
    const ar = authResults(await stored('dns is down'));
    assert.match(ar, /; spf=temperror [^;]*smtp\.mailfrom=ops@broken\.example;/);
    assert.match(ar, /; dmarc=fail /);
  });

  it('deletes Authentication-Results that claim to be ours (RFC 8601 5): only our own is on the message', async () => {
    const raw = message({
      from: 'ceo@forged.example',
      subject: 'trust me',
      extra: `Authentication-Results: ${HOSTNAME}; dkim=pass header.d=forged.example; dmarc=pass header.from=forged.example\r\n`,
    });
    // Sent from the address its SPF lists, so DMARC passes on SPF and the message goes in.
    dns.txt('forged.example', `v=spf1 ip4:198.51.100.1 ip4:${CLIENT_IP} -all`);
    try {
      assert.deepEqual(await send(raw, 'ceo@forged.example', 'mx.forged.example'), { code: 250 });
    } finally {
      dns.txt('forged.example', 'v=spf1 ip4:198.51.100.1 -all');
    }
    const text = await stored('trust me');
    assert.match(authResults(text), /; dkim=none .*; spf=pass .*; dmarc=pass /);
    assert.equal((text.match(/^Authentication-Results:/gim) ?? []).length, 1, text);
    assert.equal(text.includes('dkim=pass header.d=forged.example'), false, text);
    assert.ok(server.logs.some((r) => r.event === 'forged Authentication-Results deleted' && r.count === 1));
  });

  it('verifies mail sent with BDAT as well', async () => {
    const raw = await sign(message({ from: 'alice@crepes.fr', subject: 'in chunks' }), 'crepes.fr', crepesKey);
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO mail.crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect(`RCPT TO:<${BOB}>`, 250);
    const bytes = Buffer.from(raw);
    const half = Math.floor(bytes.length / 2);
    c.write(`BDAT ${half}\r\n`);
    c.write(bytes.subarray(0, half));
    assert.equal((await c.reply()).code, 250);
    c.write(`BDAT ${bytes.length - half} LAST\r\n`);
    c.write(bytes.subarray(half));
    assert.equal((await c.reply()).code, 250);
    await c.expect('QUIT', 221);
    c.close();
    assert.match(authResults(await stored('in chunks')), /; dkim=pass header\.d=crepes\.fr .*; dmarc=pass /);
  });
});

describe('mail authentication switched off', () => {
  it('adds no Authentication-Results and asks no DNS', async () => {
    const dns = new FakeDns();
    const server = await startServer({ users: [BOB], dns });
    try {
      const c = await RawClient.connect(server.port);
      await c.reply();
      await c.expect('HELO mail.crepes.fr', 250);
      await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
      await c.expect(`RCPT TO:<${BOB}>`, 250);
      await c.expect('DATA', 354);
      c.write('From: alice@crepes.fr\r\nSubject: plain\r\n\r\nhi\r\n.\r\n');
      assert.equal((await c.reply()).code, 250);
      c.close();
      const [entry] = await server.inbox(BOB);
      assert.match((await server.body(entry.messageId)).toString(), /^Return-Path: /);
      assert.deepEqual(dns.queries, []);
    } finally {
      await server.close();
    }
  });
});
