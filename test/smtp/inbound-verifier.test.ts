/**
 * The inbound verifier on its own (fed the way MessageSink feeds it): streaming a large signed
 * message in bounded memory, oversized header blocks, DMARC pct= sampling and slow DNS.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import { createLogger } from '../../src/net/log.js';
import { dkimRecordName, dkimTxtRecord, generateDkimKey } from '../../src/smtp/dkim-keys.js';
import { authenticationResults, authservIdOf, propertyValue } from '../../src/smtp/inbound/auth-results.js';
import { ForeignResultsFilter } from '../../src/smtp/inbound/foreign-results.js';
import { InboundVerifier, MAX_VERIFIED_HEADER_BYTES, type InboundVerifierOptions } from '../../src/smtp/inbound/verifier.js';
import { peakMemoryGrowth } from '../helpers/memory.js';
import { FakeDns } from './fake-dns.js';

const FACTS = { clientIp: '192.0.2.10', helo: 'mail.crepes.fr', mailFrom: 'alice@crepes.fr', hostname: 'mx.hamburger.edu', queueId: 'TESTQUEUEID1' };
const TRACE = 'Return-Path: <alice@crepes.fr>\r\nReceived: from mail.crepes.fr ([192.0.2.10])\r\n\tby mx.hamburger.edu (Wharf) with ESMTP id TESTQUEUEID1; Sat, 1 Mar 2025 14:03:09 +0100\r\n';

function verifier(dns: FakeDns, extra: Partial<InboundVerifierOptions> = {}): InboundVerifier {
  return new InboundVerifier(FACTS, { resolve: (n, t) => dns.lookup(n, t as never), log: createLogger({ write: () => {} }), ...extra });
}

/** Feeds chunks as the message sink does: one at a time, with the event loop turning between. */
async function feed(v: InboundVerifier, chunks: Iterable<Buffer>): Promise<string> {
  for (const c of chunks) {
    v.write(c);
    await new Promise((r) => setImmediate(r));
    // Paced like a client on a fast link, not faster than one core can hash: on a loaded
    // machine an unpaced feed made the verifier give up ('fell behind', its designed way out)
    // and the test fail for the machine's sake, not the code's.
    const pending = () => (v as unknown as { stream: { writableLength: number } }).stream.writableLength;
    while (pending() > 1024 * 1024) await new Promise((r) => setTimeout(r, 5));
  }
  return ((await v.end()) ?? Buffer.alloc(0)).toString().replace(/\r\n\t/g, ' ');
}

function* bigBody(bytes: number): Generator<Buffer> {
  const line = Buffer.from('All work and no play makes Jack a dull boy. 0123456789 abcdefghijklmnopqrstuvwxyz\r\n');
  const chunk = Buffer.concat(Array.from({ length: Math.ceil((64 * 1024) / line.length) }, () => line));
  for (let sent = 0; sent < bytes; sent += chunk.length) yield chunk;
}

describe('inbound verifier', () => {
  it('verifies a 40 MB signed message in bounded memory', async () => {
    const key = await generateDkimKey('rsa-sha256', 'big');
    const dns = new FakeDns()
      .txt(dkimRecordName('crepes.fr', 'big'), dkimTxtRecord(key))
      .txt('crepes.fr', 'v=spf1 ip4:192.0.2.10 -all')
      .txt('mail.crepes.fr', 'v=spf1 ip4:192.0.2.10 -all')
      .txt('_dmarc.crepes.fr', 'v=DMARC1; p=reject');
    const header = 'From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: big\r\n\r\n';
    const size = 40 * 1024 * 1024;
    const signature = { signingDomain: 'crepes.fr', selector: 'big', privateKey: key.privateKeyPem, algorithm: key.algorithm };
    const signed = await dkimSign(Readable.from((function* () {
      yield Buffer.from(header);
      yield* bigBody(size);
    })()), { ...signature, signatureData: [signature] });
    const v = verifier(dns);
    const { result, peak } = await peakMemoryGrowth(() =>
      feed(
        v,
        (function* () {
          yield Buffer.from(TRACE + signed.signatures + header);
          yield* bigBody(size);
        })(),
      ),
    );
    assert.match(result, /dkim=pass header\.d=crepes\.fr/);
    assert.match(result, /dmarc=pass/);
    assert.deepEqual(v.verdict, { action: 'inbox' });
    assert.ok(peak < 16 * 1024 * 1024, `peak memory growth ${(peak / 1024 / 1024).toFixed(1)} MiB for a 40 MiB message`);
  });

  it('does not verify a header block past the limit, and accepts the message', async () => {
    const dns = new FakeDns().txt('_dmarc.crepes.fr', 'v=DMARC1; p=reject');
    const v = verifier(dns);
    const filler = Buffer.from(`X-Filler: ${'x'.repeat(990)}\r\n`);
    const chunks = [Buffer.from(TRACE + 'From: alice@crepes.fr\r\n')];
    for (let n = 0; n <= MAX_VERIFIED_HEADER_BYTES / filler.length + 1; n++) chunks.push(filler);
    chunks.push(Buffer.from('\r\nbody\r\n'));
    const result = await feed(v, chunks);
    assert.match(result, /dkim=permerror \(header block too large to verify\)/);
    assert.notEqual(v.verdict.action, 'reject');
  });

  it('verifies a message that is all header (no empty line)', async () => {
    const dns = new FakeDns().txt('crepes.fr', 'v=spf1 -all').txt('_dmarc.crepes.fr', 'v=DMARC1; p=reject');
    const v = verifier(dns);
    const result = await feed(v, [Buffer.from(TRACE + 'From: alice@crepes.fr\r\nSubject: no body')]);
    assert.match(result, /dmarc=fail \(p=REJECT\) header\.from=crepes\.fr/);
    assert.equal(v.verdict.action, 'reject');
  });

  it('applies a DMARC policy to the pct= share of failing messages, the next milder one to the rest', async () => {
    const dns = new FakeDns().txt('crepes.fr', 'v=spf1 -all').txt('_dmarc.crepes.fr', 'v=DMARC1; p=reject; pct=30');
    const message = [Buffer.from(TRACE + 'From: alice@crepes.fr\r\n\r\nhi\r\n')];
    const drawn = verifier(dns, { random: () => 0.1 });
    await feed(drawn, message);
    assert.equal(drawn.verdict.action, 'reject');
    assert.match(drawn.verdict.action === 'reject' ? drawn.verdict.reply : '', /^550 5\.7\.1 .*crepes\.fr\r\n$/);
    const spared = verifier(dns, { random: () => 0.9 });
    await feed(spared, message);
    assert.equal(spared.verdict.action, 'junk');
  });

  it('gives up waiting for DNS at the deadline: temperror, and the message goes in', async () => {
    const dns = new FakeDns().txt('_dmarc.crepes.fr', 'v=DMARC1; p=reject');
    dns.delayMs = 5_000;
    const v = verifier(dns, { deadlineMs: 200 });
    const result = await feed(v, [Buffer.from(TRACE + 'From: alice@crepes.fr\r\n\r\nhi\r\n')]);
    assert.match(result, /spf=temperror \(DNS answers too slow\)/);
    assert.equal(v.verdict.action, 'inbox');
  });
});

describe('Authentication-Results formatting', () => {
  it('quotes values and escapes comments so nothing from the sender breaks the field', () => {
    assert.equal(propertyValue('crepes.fr'), 'crepes.fr');
    assert.equal(propertyValue('a b;c'), '"a b;c"');
    assert.equal(propertyValue('evil\r\nX-Injected: yes'), '"evil X-Injected: yes"');
    const field = authenticationResults('mx.test', [
      { method: 'dkim', result: 'fail', comment: 'bad (sig)\r\nX: y', properties: [['header.d', 'x"y'], ['header.s', null]] },
    ]);
    assert.equal(field, 'Authentication-Results: mx.test;\r\n\tdkim=fail (bad \\(sig\\) X: y) header.d="x\\"y"\r\n');
    assert.equal(authservIdOf('Authentication-Results: (comment) MX.Test; dkim=pass'), 'mx.test');
    assert.equal(authservIdOf('Authentication-Results:\r\n mx.test;\r\n spf=pass'), 'mx.test');
  });
});

describe('forged Authentication-Results', () => {
  const input =
    'Authentication-Results: mx.hamburger.edu; dkim=pass header.d=bank.example\r\n' +
    'From: ceo@bank.example\r\n' +
    'Authentication-Results: (claims to be us)\r\n MX.Hamburger.EDU;\r\n\tspf=pass\r\n' +
    'Authentication-Results: relay.crepes.fr; spf=pass smtp.mailfrom=crepes.fr\r\n' +
    'Subject: hi\r\n' +
    '\r\n' +
    'Authentication-Results: mx.hamburger.edu; this is body text\r\n';
  const expected =
    'From: ceo@bank.example\r\n' +
    'Authentication-Results: relay.crepes.fr; spf=pass smtp.mailfrom=crepes.fr\r\n' +
    'Subject: hi\r\n' +
    '\r\n' +
    'Authentication-Results: mx.hamburger.edu; this is body text\r\n';

  async function filtered(chunks: Buffer[]): Promise<{ text: string; dropped: number }> {
    const f = new ForeignResultsFilter('mx.hamburger.edu');
    const out: Buffer[] = [];
    for (const c of chunks) out.push(...(await f.push(c)));
    out.push(...(await f.end()));
    return { text: Buffer.concat(out).toString(), dropped: f.dropped };
  }

  it('drops the header fields that claim our authserv-id, whole or byte by byte, and keeps the rest', async () => {
    assert.deepEqual(await filtered([Buffer.from(input)]), { text: expected, dropped: 2 });
    const bytes = Buffer.from(input);
    const oneByOne = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(await filtered(oneByOne), { text: expected, dropped: 2 });
  });

  it('leaves a message without header fields, and one ending inside its header, intact', async () => {
    assert.deepEqual(await filtered([Buffer.from('Do you like ketchup?\r\n')]), { text: 'Do you like ketchup?\r\n', dropped: 0 });
    assert.deepEqual(await filtered([Buffer.from('Subject: x\r\nAuthentication-Results: mx.hamburger.edu; none')]), {
      text: 'Subject: x\r\n',
      dropped: 1,
    });
  });
});
