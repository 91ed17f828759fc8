/**
 * DKIM signing of submitted mail: the signature that goes in front of the stored message
 * verifies with mailauth's verifier against the public key of the domain's stored private key
 * (published through a fake resolver), for RSA and Ed25519 keys.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { silentLogger } from '../../src/net/log.js';
import { DkimSigningObserver } from '../../src/smtp/submission/dkim-signer.js';
import type { DkimKey } from '../../src/store/types.js';
import { DOMAIN, runPython, startServer, type TestServer } from './harness.js';

const BOB = `bob@${DOMAIN}`;
const OTHER = 'other.example';
const PASSWORDS = { [BOB]: 'pickles' };

function newKey(algorithm: DkimKey['algorithm'], selector = 'wharf2026'): DkimKey {
  const { privateKey } =
    algorithm === 'rsa-sha256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return { selector, algorithm, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), createdAt: new Date() };
}

/** The DNS TXT record publishing the public half of a stored key (RFC 6376 3.6.1, RFC 8463 4). */
function txtRecord(key: DkimKey): string {
  const pub = createPublicKey(key.privateKeyPem);
  if (key.algorithm === 'rsa-sha256') return `v=DKIM1; k=rsa; p=${pub.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  // Ed25519: the raw 32-byte key, the tail of its SPKI encoding.
  return `v=DKIM1; k=ed25519; p=${pub.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`;
}

/** mailauth's verdicts on a message, with `records` as the only DNS there is. */
async function verify(message: Buffer, records: Record<string, DkimKey>): Promise<Array<{ domain: string; result: string }>> {
  const resolver = async (name: string, rrtype: string) => {
    const key = records[name.toLowerCase()];
    if (rrtype !== 'TXT' || !key) throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
    return [[txtRecord(key)]];
  };
  const { results } = await dkimVerify(message, { resolver });
  return results.map((r) => ({ domain: String(r.signingDomain), result: String(r.status?.result) }));
}

const MESSAGE =
  'Return-Path: <bob@hamburger.edu>\r\nReceived: from client (127.0.0.1)\r\n\tby hamburger.edu (Wharf); Sat, 1 Mar 2025 14:03:09 +0100\r\n' +
  'From: Bob <bob@hamburger.edu>\r\nTo: carol@elsewhere.example\r\nSubject: signed\r\nDate: Sat, 1 Mar 2025 14:03:09 +0100\r\n' +
  'Message-ID: <s.1@hamburger.edu>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
  'Hello  there, \r\n\r\n' +
  'x'.repeat(70_000) +
  '\r\n\r\n\r\n';

describe('DkimSigningObserver', () => {
  for (const algorithm of ['rsa-sha256', 'ed25519-sha256'] as const) {
    it(`signs as it streams (${algorithm}); the signature verifies`, async () => {
      const key = newKey(algorithm);
      const bytes = Buffer.from(MESSAGE);
      const headerEnd = bytes.indexOf('\r\n\r\n') + 4;
      const signer = new DkimSigningObserver(silentLogger);
      // The header block goes by before the key is known; then the body, in odd pieces.
      signer.write(bytes.subarray(0, 100));
      signer.write(bytes.subarray(100, headerEnd - 1));
      signer.start({ signingDomain: DOMAIN, selector: key.selector, algorithm: key.algorithm, privateKey: key.privateKeyPem });
      for (let i = headerEnd - 1; i < bytes.length; i += 4099) signer.write(bytes.subarray(i, Math.min(i + 4099, bytes.length)));
      const signature = await signer.end();
      assert.ok(signature);
      const text = signature.toString();
      assert.match(text, /^DKIM-Signature: /);
      assert.ok(text.endsWith('\r\n'));
      assert.match(text, /c=relaxed\/relaxed/);
      assert.match(text, new RegExp(`a=${algorithm}`));
      const signed = text.replace(/\r\n[ \t]+/g, ' ').match(/h=([^;]+)/)?.[1].toLowerCase().split(':').map((h) => h.trim());
      for (const field of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) {
        assert.ok(signed?.includes(field), `${field} signed (h=${signed})`);
      }
      assert.ok(!signed?.includes('received') && !signed?.includes('return-path'), 'our trace fields are not signed');
      const message = Buffer.concat([signature, bytes]);
      assert.deepEqual(await verify(message, { [`wharf2026._domainkey.${DOMAIN}`]: key }), [{ domain: DOMAIN, result: 'pass' }]);
      // A changed body or signed field no longer verifies: the check above can fail.
      for (const [from, to] of [['Hello', 'Jello'], ['Subject: signed', 'Subject: signet']]) {
        const tampered = Buffer.from(message.toString().replace(from, to));
        const [verdict] = await verify(tampered, { [`wharf2026._domainkey.${DOMAIN}`]: key });
        assert.notEqual(verdict.result, 'pass', `${to} verified`);
      }
    });
  }

  it('signs the t= tag it writes, however the clock moves while it signs', async () => {
    // The clock read by the signing library moves a second at each reading, so no two readings
    // agree: two readings rounded to seconds differed in about one real signature in 400 (those
    // that straddled a half second).
    const key = newKey('ed25519-sha256');
    const realNow = Date.now;
    let clock = realNow();
    Date.now = () => (clock += 1000);
    let signature: Buffer | null;
    try {
      const signer = new DkimSigningObserver(silentLogger);
      signer.start({ signingDomain: DOMAIN, selector: key.selector, algorithm: key.algorithm, privateKey: key.privateKeyPem });
      signer.write(Buffer.from(MESSAGE));
      signature = await signer.end();
    } finally {
      Date.now = realNow;
    }
    assert.ok(signature);
    const message = Buffer.concat([signature, Buffer.from(MESSAGE)]);
    assert.deepEqual(await verify(message, { [`wharf2026._domainkey.${DOMAIN}`]: key }), [{ domain: DOMAIN, result: 'pass' }]);
  });

  it('gives nothing when it was told to skip the message, or was never started', async () => {
    const skipped = new DkimSigningObserver(silentLogger);
    skipped.write(Buffer.from('From: a@b.example\r\n'));
    skipped.skip();
    skipped.write(Buffer.from('\r\nbody\r\n'));
    assert.equal(await skipped.end(), null);
    const idle = new DkimSigningObserver(silentLogger);
    idle.write(Buffer.from(MESSAGE));
    assert.equal(await idle.end(), null);
  });

  it('logs a key it cannot use without the key, and gives nothing', async () => {
    const records: Array<Record<string, unknown>> = [];
    const log = { ...silentLogger, error: (event: string, fields?: Record<string, unknown>) => records.push({ event, ...fields }) };
    const signer = new DkimSigningObserver(log);
    const broken = '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n';
    signer.start({ signingDomain: DOMAIN, selector: 's', algorithm: 'rsa-sha256', privateKey: broken });
    signer.write(Buffer.from(MESSAGE));
    assert.equal(await signer.end(), null);
    assert.equal(records.length, 1);
    assert.equal(records[0].event, 'dkim signing failed');
    assert.ok(!JSON.stringify(records).includes('not a key'));
  });
});

describe('DKIM signing on submission', () => {
  let server: TestServer;
  let unsigned: TestServer;
  const keys: Record<string, DkimKey> = {};
  before(async () => {
    const users = [BOB, `carol@${DOMAIN}`];
    const opts = { mode: 'submission' as const, users, domains: [DOMAIN, OTHER, 'nokey.example'], passwords: PASSWORDS };
    server = await startServer({ ...opts, config: { mailAuth: { signOutbound: true } } });
    unsigned = await startServer({ ...opts, config: { mailAuth: { signOutbound: false } } });
    keys[`wharf2026._domainkey.${DOMAIN}`] = newKey('rsa-sha256');
    keys[`ed._domainkey.${OTHER}`] = newKey('ed25519-sha256', 'ed');
    for (const s of [server, unsigned]) {
      await s.store.setDkimKey(DOMAIN, keys[`wharf2026._domainkey.${DOMAIN}`]);
      await s.store.setDkimKey(OTHER, keys[`ed._domainkey.${OTHER}`]);
      await s.store.addAlias(`bob@${OTHER}`, [BOB]);
      await s.store.addAlias(`bob@nokey.example`, [BOB]);
    }
  });
  after(async () => {
    await server.close();
    await unsigned.close();
  });

  async function send(target: TestServer, from: string, to = `carol@${DOMAIN}`): Promise<Buffer> {
    const transporter = nodemailer.createTransport({
      host: '127.0.0.1',
      port: target.port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: BOB, pass: 'pickles' },
    });
    try {
      await transporter.sendMail({ from, to, subject: 'Grüße', text: 'Hello  there \n\n\n', html: '<p>hi</p>' });
    } finally {
      transporter.close();
    }
    const entry = (await target.inbox(to)).at(-1)!;
    return target.body(entry.messageId);
  }

  it('signs with the From domain\'s key; the stored message verifies, also without our trace fields', async () => {
    const stored = await send(server, `Bob <${BOB}>`);
    // Our Return-Path and Received head the message, then the signature, then the client's fields.
    assert.match(stored.toString(), /^Return-Path: [^\r]*\r\nReceived: [^\r]*(?:\r\n[ \t][^\r]*)*\r\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=hamburger\.edu;/);
    assert.deepEqual(await verify(stored, keys), [{ domain: DOMAIN, result: 'pass' }]);
    // The queue may send it on without Return-Path: that field is not signed.
    const withoutReturnPath = Buffer.from(stored.toString('latin1').replace(/^Return-Path: [^\r]*\r\n/m, ''), 'latin1');
    assert.deepEqual(await verify(withoutReturnPath, keys), [{ domain: DOMAIN, result: 'pass' }]);
  });

  it('signs an alias in another domain with that domain\'s (Ed25519) key', async () => {
    const stored = await send(server, `bob@${OTHER}`);
    assert.deepEqual(await verify(stored, keys), [{ domain: OTHER, result: 'pass' }]);
  });

  it('covers the fields it added and not the Bcc it removed (smtplib)', async () => {
    const script = `
import smtplib, ssl, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login(sys.argv[2], 'pickles')
    s.sendmail(sys.argv[2], [sys.argv[3], sys.argv[4]], 'From: ' + sys.argv[2] + '\\r\\nTo: ' + sys.argv[3] + '\\r\\nBcc: ' + sys.argv[4] + ',\\r\\n x@y.example\\r\\nSubject: bare\\r\\n\\r\\nbody\\r\\n')
print('{}')
`;
    await runPython(script, [String(server.port), BOB, `carol@${DOMAIN}`, BOB]);
    const stored = await server.body((await server.inbox(BOB)).at(-1)!.messageId);
    const text = stored.toString();
    assert.doesNotMatch(text, /^Bcc:/im);
    const signed = text.replace(/\r\n[ \t]+/g, ' ').match(/^DKIM-Signature:.*?h=([^;]+)/m)?.[1].toLowerCase().split(':').map((h) => h.trim());
    assert.ok(signed?.includes('date') && signed.includes('message-id'), `h=${signed}`);
    assert.ok(!signed?.includes('bcc'));
    assert.deepEqual(await verify(stored, keys), [{ domain: DOMAIN, result: 'pass' }]);
  });

  it('leaves a domain without a key, and everything when signing is off, unsigned', async () => {
    assert.doesNotMatch((await send(server, 'bob@nokey.example')).toString(), /DKIM-Signature/i);
    assert.doesNotMatch((await send(unsigned, BOB)).toString(), /DKIM-Signature/i);
  });
});
