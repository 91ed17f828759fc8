/**
 * The SMTP transport against a real Wharf MX server (and a submission server as smarthost):
 * delivery with per-recipient outcomes, opportunistic STARTTLS, PIPELINING on the wire,
 * connection reuse and the per-host connection limit, the next MX when one refuses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOMAIN, eventually, splitTrace, startServer, type TestServer } from '../smtp/harness.js';
import { testTls } from '../helpers/service.js';
import { startScriptedSmtpServer, type ScriptedSmtpServer } from '../helpers/scripted-smtp-server.js';
import { attempt, makeTransport, recordingProxy } from './transport-helpers.js';

const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const MX_DNS = { mx: { [DOMAIN]: [{ exchange: 'mx.hamburger.edu', priority: 10 }] }, a: { 'mx.hamburger.edu': ['127.0.0.1'] } };
const TEXT = 'From: alice@sender.test\r\nTo: bob@hamburger.edu\r\nSubject: outbound\r\n\r\nHello Bob.\r\n.a line with a dot\r\n';

describe('SMTP transport to a Wharf MX', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ mode: 'mx', users: [BOB, CAROL] });
  });
  after(() => server.close());

  const connections = () => server.logs.filter((l) => l.event === 'connected').length;
  const lastBody = async (address: string) => server.body((await server.inbox(address)).at(-1)!.messageId);

  it('delivers over opportunistic STARTTLS with one outcome per recipient', async () => {
    const { transport, logs } = makeTransport({ port: server.port, dns: MX_DNS });
    try {
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB, `nobody@${DOMAIN}`, CAROL], TEXT));
      assert.deepEqual(
        outcomes.map((o) => [o.address, o.outcome, o.remoteMta]),
        [
          [BOB, 'delivered', 'mx.hamburger.edu'],
          [`nobody@${DOMAIN}`, 'bounced', 'mx.hamburger.edu'],
          [CAROL, 'delivered', 'mx.hamburger.edu'],
        ],
      );
      assert.match(outcomes[0].reply, /^250 2\.0\.0 /);
      assert.match(outcomes[1].reply, /^550 5\.1\.1 <nobody@hamburger\.edu>: Recipient address rejected: User unknown/);
      for (const user of [BOB, CAROL]) {
        const { received, rest } = splitTrace(await lastBody(user));
        assert.equal(rest.toString(), TEXT, 'the stored message is the one sent, dots unstuffed');
        assert.match(received, /from out\.sender\.test/);
        assert.match(received, /with ESMTPS id/, 'TLS was used');
      }
      const delivery = logs.map((l) => JSON.parse(l)).find((l) => l.event === 'delivery');
      assert.equal(delivery.tls, true);
      assert.equal(delivery.delivered, 2);
      assert.equal(delivery.bounced, 1);
    } finally {
      await transport.close();
    }
  });

  it('pipelines MAIL and RCPT to Wharf (seen on the wire)', async () => {
    const proxy = await recordingProxy(server.port);
    // No TLS for this domain, so the proxy can read the commands.
    const { transport } = makeTransport({ port: proxy.port, dns: MX_DNS, delivery: { tlsPolicy: { [DOMAIN]: 'none' } } });
    try {
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB, CAROL], TEXT));
      assert.deepEqual(outcomes.map((o) => o.outcome), ['delivered', 'delivered']);
      const batch = proxy.chunks.find((c) => c.startsWith('MAIL FROM:'));
      assert.equal(batch, `MAIL FROM:<alice@sender.test> SIZE=${Buffer.byteLength(TEXT)}\r\nRCPT TO:<${BOB}>\r\nRCPT TO:<${CAROL}>\r\n`);
      assert.ok(!proxy.chunks.some((c) => c.includes('STARTTLS')));
    } finally {
      await transport.close();
      await proxy.close();
    }
  });

  it('reuses the connection for the next message (RSET between), and closes it when idle', async () => {
    const { transport } = makeTransport({ port: server.port, dns: MX_DNS, idleMs: 300 });
    const before = connections();
    try {
      for (let i = 0; i < 3; i++) {
        const outcomes = await transport.deliver(attempt(DOMAIN, [BOB], TEXT.replace('outbound', `reuse ${i}`)));
        assert.equal(outcomes[0].outcome, 'delivered');
      }
      assert.equal(connections() - before, 1, 'three messages, one connection');
      assert.match(splitTrace(await lastBody(BOB)).rest.toString(), /Subject: reuse 2/);
      // Idle for longer than idleMs: the transport says QUIT.
      await eventually(() => server.listener.sessionCount === 0, 3000);
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered');
      assert.equal(connections() - before, 2, 'a new connection after the idle one was closed');
    } finally {
      await transport.close();
    }
  });

  it('opens a new connection when the pooled one was closed by the server', async () => {
    const { transport } = makeTransport({ port: server.port, dns: MX_DNS, idleMs: 10_000 });
    try {
      assert.equal((await transport.deliver(attempt(DOMAIN, [BOB], TEXT)))[0].outcome, 'delivered');
      // The server ends every session (as after its idle timeout).
      await server.listener.shutdownSessions();
      assert.equal((await transport.deliver(attempt(DOMAIN, [BOB], TEXT)))[0].outcome, 'delivered');
    } finally {
      await transport.close();
    }
  });

  it('tries the next MX when the first refuses the connection', async () => {
    // Nothing listens on 127.0.0.2 at the server's port: connection refused.
    const dns = {
      mx: { [DOMAIN]: [{ exchange: 'dead.hamburger.edu', priority: 5 }, { exchange: 'mx.hamburger.edu', priority: 10 }] },
      a: { 'dead.hamburger.edu': ['127.0.0.2'], 'mx.hamburger.edu': ['127.0.0.1'] },
    };
    const { transport, logs } = makeTransport({ port: server.port, dns });
    try {
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered');
      assert.equal(outcomes[0].remoteMta, 'mx.hamburger.edu');
      assert.ok(logs.some((l) => l.includes('"event":"host failed"') && l.includes('dead.hamburger.edu') && l.includes('connection refused')));
    } finally {
      await transport.close();
    }
  });

  it('tries the next MX after a 4xx greeting, and the next address of a host', async () => {
    let busy: ScriptedSmtpServer | null = null;
    try {
      busy = await startScriptedSmtpServer({ greeting: '421 4.3.2 too busy, try another' }, { host: '127.0.0.3', port: server.port });
    } catch {
      return; // The port is taken on 127.0.0.3 by chance; the refused-connection case above covers the rest.
    }
    const dns = {
      mx: { [DOMAIN]: [{ exchange: 'busy.hamburger.edu', priority: 5 }, { exchange: 'mx.hamburger.edu', priority: 10 }] },
      // mx.hamburger.edu: a dead address first, then the live one.
      a: { 'busy.hamburger.edu': ['127.0.0.3'], 'mx.hamburger.edu': ['127.0.0.2', '127.0.0.1'] },
    };
    const { transport } = makeTransport({ port: server.port, dns });
    try {
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered');
      assert.equal(busy.sessions.length, 1);
      assert.deepEqual(busy.commands(), ['QUIT']);
    } finally {
      await transport.close();
      await busy.close();
    }
  });

  it('keeps to maxConnectionsPerDestination for concurrent deliveries', async () => {
    const scripted = await startScriptedSmtpServer({ dataEnd: () => '250 2.0.0 Ok' });
    const dns = { mx: { 'many.test': [{ exchange: 'mx.many.test', priority: 1 }] }, a: { 'mx.many.test': ['127.0.0.1'] } };
    for (const limit of [1, 2]) {
      scripted.maxOpen = 0;
      const { transport } = makeTransport({ port: scripted.port, dns, delivery: { maxConnectionsPerDestination: limit } });
      try {
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => transport.deliver(attempt('many.test', [`r${i}@many.test`], TEXT))));
        assert.deepEqual(results.map((r) => r[0].outcome), Array(6).fill('delivered'));
        assert.ok(scripted.maxOpen <= limit, `at most ${limit} at once, saw ${scripted.maxOpen}`);
        assert.ok(scripted.maxOpen >= 1);
      } finally {
        await transport.close();
      }
    }
    const quits = scripted.sessions.filter((s) => s.commands.at(-1) === 'QUIT').length;
    assert.equal(quits, scripted.sessions.length, 'close() said QUIT on every pooled connection');
    assert.ok(scripted.sessions.length <= 3, `connections were reused: ${scripted.sessions.length} for 12 messages`);
    const reused = scripted.sessions.find((s) => s.commands.filter((c) => c.startsWith('MAIL')).length > 1)!;
    const second = reused.commands.findIndex((c, i) => c.startsWith('MAIL') && i > reused.commands.findIndex((d) => d.startsWith('MAIL')));
    assert.equal(reused.commands[second - 1], 'RSET', 'RSET before the next message on a reused connection');
    await scripted.close();
  });
});

describe('SMTP transport through a smarthost', () => {
  let submission: TestServer;
  const PASSWORD = 'relay-secret-pw';
  before(async () => {
    submission = await startServer({ mode: 'submission', users: ['alice@hamburger.edu', BOB], passwords: { 'alice@hamburger.edu': PASSWORD } });
  });
  after(() => submission.close());

  // 'localhost' is not in this DNS: the smarthost is found the way the system finds names.
  const relayDns = {};
  // A submission server takes only mail whose From is the logged-in user's.
  const RELAY_TEXT = TEXT.replace('From: alice@sender.test', 'From: alice@hamburger.edu');

  it('sends everything to the relay over verified STARTTLS with AUTH, never logging the password', async () => {
    const tlsMaterial = await testTls();
    const { transport, logs } = makeTransport({
      port: 25,
      dns: relayDns,
      tlsCaPem: tlsMaterial.certPem,
      delivery: { relay: { host: 'localhost', port: submission.port, security: 'starttls', username: 'alice@hamburger.edu', password: PASSWORD } },
    });
    try {
      // The domain has no MX in this DNS at all: the relay is used without asking.
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB], RELAY_TEXT, { mailFrom: 'alice@hamburger.edu' }));
      assert.deepEqual(outcomes.map((o) => [o.outcome, o.remoteMta]), [['delivered', 'localhost']], outcomes[0].reply);
      const { received } = splitTrace(await submission.body((await submission.inbox(BOB)).at(-1)!.messageId));
      assert.match(received, /with ESMTPSA id/, 'TLS and AUTH');
      assert.ok(!logs.join('\n').includes(PASSWORD));
    } finally {
      await transport.close();
    }
  });

  it('defers when the relay refuses the login, or its certificate does not verify', async () => {
    const wrong = makeTransport({
      port: 25,
      dns: relayDns,
      tlsCaPem: (await testTls()).certPem,
      delivery: { relay: { host: 'localhost', port: submission.port, security: 'starttls', username: 'alice@hamburger.edu', password: 'not-it' } },
    });
    try {
      const outcomes = await wrong.transport.deliver(attempt(DOMAIN, [BOB], RELAY_TEXT, { mailFrom: 'alice@hamburger.edu' }));
      assert.equal(outcomes[0].outcome, 'deferred', 'a login problem is for the administrator to fix, not a bounce');
      assert.match(outcomes[0].reply, /^535 5\.7\.8 /);
      assert.ok(!wrong.logs.join('\n').includes('not-it'));
    } finally {
      await wrong.transport.close();
    }
    const untrusted = makeTransport({
      port: 25,
      dns: relayDns,
      delivery: { relay: { host: 'localhost', port: submission.port, security: 'starttls', username: 'alice@hamburger.edu', password: PASSWORD } },
    });
    try {
      const outcomes = await untrusted.transport.deliver(attempt(DOMAIN, [BOB], RELAY_TEXT, { mailFrom: 'alice@hamburger.edu' }));
      assert.equal(outcomes[0].outcome, 'deferred');
      assert.match(outcomes[0].reply, /^451 4\.7\.5 localhost: TLS required \(configuration policy\) and TLS handshake failed: /);
    } finally {
      await untrusted.transport.close();
    }
  });

  it('speaks implicit TLS to a relay on a 465-style port', async () => {
    const implicit = await startServer({ mode: 'submission', users: ['alice@hamburger.edu', BOB], passwords: { 'alice@hamburger.edu': PASSWORD }, implicitTls: true });
    const { transport } = makeTransport({
      port: 25,
      dns: relayDns,
      tlsCaPem: (await testTls()).certPem,
      delivery: { relay: { host: 'localhost', port: implicit.port, security: 'implicit', username: 'alice@hamburger.edu', password: PASSWORD } },
    });
    try {
      const outcomes = await transport.deliver(attempt(DOMAIN, [BOB], RELAY_TEXT, { mailFrom: 'alice@hamburger.edu' }));
      assert.equal(outcomes[0].outcome, 'delivered', outcomes[0].reply);
    } finally {
      await transport.close();
      await implicit.close();
    }
  });
});
