/**
 * Abuse defences of the MX port: DNS blocklists and early talkers before the greeting, and the
 * limit on unknown recipients (address harvesting).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnsblQueryName, findDnsblListing, isListingAnswer } from '../../src/smtp/inbound/dnsbl.js';
import { FakeDns } from './fake-dns.js';
import { DOMAIN, HOSTNAME, RawClient, run, startServer, type StartOptions } from './harness.js';

async function withServer(opts: StartOptions, fn: (port: number) => Promise<void>): Promise<void> {
  const server = await startServer(opts);
  try {
    await fn(server.port);
  } finally {
    await server.close();
  }
}

describe('DNS blocklists', () => {
  it('names the query for IPv4 and IPv6 clients (RFC 5782 2.1, 2.4)', () => {
    assert.equal(dnsblQueryName('192.0.2.99', 'bl.test'), '99.2.0.192.bl.test');
    assert.equal(dnsblQueryName('192.0.2.99', '.bl.test.'), '99.2.0.192.bl.test');
    assert.equal(
      dnsblQueryName('2001:db8:1:2::ab', 'bl.test'),
      'b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test',
    );
    assert.equal(dnsblQueryName('::1', 'z'), `1.${'0.'.repeat(31)}z`);
    assert.equal(dnsblQueryName('::ffff:192.0.2.1', 'z'), `1.0.2.0.0.0.0.c.f.f.f.f.${'0.'.repeat(20)}z`);
    assert.equal(dnsblQueryName('not-an-ip', 'z'), null);
  });

  it('counts only 127/8 answers as listings, not the lists\' error codes or hijacked NXDOMAINs', async () => {
    assert.equal(isListingAnswer('127.0.0.2'), true);
    assert.equal(isListingAnswer('127.255.255.254'), false);
    assert.equal(isListingAnswer('203.0.113.80'), false);
    const dns = new FakeDns().a('99.2.0.192.first.test', '127.255.255.254').a('99.2.0.192.second.test', '127.0.0.4').fail('A', '99.2.0.192.third.test');
    assert.deepEqual(await findDnsblListing(dns, '192.0.2.99', ['third.test', 'first.test', 'second.test']), { zone: 'second.test', answer: '127.0.0.4' });
    assert.equal(await findDnsblListing(dns, '192.0.2.99', ['third.test', 'first.test']), null);
  });

  it('a listed client gets 554 5.7.1 naming the zone instead of the greeting, and is disconnected (swaks)', async () => {
    const dns = new FakeDns().a('99.2.0.192.bl.test', '127.0.0.2').fail('A', '99.2.0.192.broken.test');
    const config = { mailAuth: { verifyInbound: false, signOutbound: false, dnsbl: ['broken.test', 'bl.test'] } };
    await withServer({ dns, config, clientAddress: '192.0.2.99' }, async (port) => {
      const c = await RawClient.connect(port);
      const r = await c.reply();
      assert.equal(r.raw, '554 5.7.1 Service unavailable; client [192.0.2.99] blocked using bl.test\r\n');
      await c.waitClosed();

      const swaks = await run('swaks', ['--server', '127.0.0.1', '--port', String(port), '--to', `bob@${DOMAIN}`, '--from', 'a@crepes.fr', '--quit-after', 'CONNECT']);
      assert.notEqual(swaks.code, 0);
      assert.match(swaks.stdout, /<\*\* +554 5\.7\.1 Service unavailable; client \[192\.0\.2\.99\] blocked using bl\.test/);
    });
    assert.ok(dns.queries.includes('A 99.2.0.192.bl.test'));
  });

  it('a client that is not listed, or a zone that fails, gets the greeting', async () => {
    const dns = new FakeDns().a('99.2.0.192.bl.test', '127.0.0.2').fail('A', '98.2.0.192.broken.test');
    const config = { mailAuth: { verifyInbound: false, signOutbound: false, dnsbl: ['broken.test', 'bl.test'] } };
    await withServer({ dns, config, clientAddress: '192.0.2.98' }, async (port) => {
      const swaks = await run('swaks', ['--server', '127.0.0.1', '--port', String(port), '--to', `bob@${DOMAIN}`, '--from', 'a@crepes.fr', '--quit-after', 'EHLO']);
      assert.equal(swaks.code, 0, swaks.stdout + swaks.stderr);
      assert.match(swaks.stdout, new RegExp(`<- +220 ${HOSTNAME} ESMTP Wharf`));
    });
    assert.deepEqual(dns.queries.sort(), ['A 98.2.0.192.bl.test', 'A 98.2.0.192.broken.test']);
  });
});

describe('early talkers', () => {
  const delayed = { smtp: { greetingDelayMs: 300 } };
  const earlyTalkerReply = new RegExp(`^554 5\\.5\\.0 ${HOSTNAME} Error: SMTP protocol synchronization`);

  it('a client that speaks during the greeting delay is refused with 554 5.5.0 and disconnected', async () => {
    await withServer({ config: delayed }, async (port) => {
      const c = await RawClient.connect(port);
      c.send('EHLO impatient.example');
      const r = await c.reply();
      assert.match(r.raw, earlyTalkerReply);
      await c.waitClosed();
    });
  });

  it('a client that waits gets the greeting after the delay and is served', async () => {
    await withServer({ config: delayed, users: [`bob@${DOMAIN}`] }, async (port) => {
      const c = await RawClient.connect(port);
      assert.equal((await c.reply()).code, 220);
      await c.expect('EHLO patient.example', 250);
      await c.expect('MAIL FROM:<a@patient.example>', 250);
      await c.expect(`RCPT TO:<bob@${DOMAIN}>`, 250);
      await c.expect('QUIT', 221);
      c.close();
    });
  });

  it('without a delay, bytes that came before the greeting (here: while a blocklist answered) count too', async () => {
    const dns = new FakeDns();
    dns.delayMs = 300;
    const config = { mailAuth: { verifyInbound: false, signOutbound: false, dnsbl: ['bl.test'] } };
    await withServer({ dns, config }, async (port) => {
      const c = await RawClient.connect(port);
      c.send('EHLO impatient.example');
      assert.match((await c.reply()).raw, earlyTalkerReply);
      await c.waitClosed();
    });
  });

  it('the submission port greets at once, whatever the MX delay', async () => {
    await withServer({ mode: 'submission', config: { smtp: { greetingDelayMs: 60_000 } } }, async (port) => {
      const c = await RawClient.connect(port);
      assert.equal((await c.reply()).code, 220);
      c.close();
    });
  });
});

describe('unknown recipients', () => {
  it('after smtp.maxUnknownRecipients unknown local recipients the session ends with 421 4.7.0', async () => {
    await withServer({ users: [`bob@${DOMAIN}`] }, async (port) => {
      const c = await RawClient.connect(port);
      await c.reply();
      await c.expect('EHLO harvester.example', 250);
      await c.expect('MAIL FROM:<h@harvester.example>', 250);
      // Known recipients and remote ones do not count.
      await c.expect(`RCPT TO:<bob@${DOMAIN}>`, 250);
      await c.expect('RCPT TO:<someone@elsewhere.example>', 554);
      for (let i = 1; i <= 10; i++) await c.expect(`RCPT TO:<guess${i}@${DOMAIN}>`, 550, /User unknown/);
      const last = await c.command(`RCPT TO:<guess11@${DOMAIN}>`);
      assert.equal(last.raw, `421 4.7.0 ${HOSTNAME} Error: too many unknown recipients\r\n`);
      await c.waitClosed();
    });
  });
});
