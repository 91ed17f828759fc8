/**
 * The transport's TLS rules and failure outcomes, against scripted servers: 'verify' with a
 * certificate from a test CA (and without one), STARTTLS required but missing, opportunistic
 * TLS falling back to plain text after a broken handshake, MTA-STS enforce and testing with
 * the policy served over HTTPS, and what the queue is told when no host takes the mail.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DOMAIN, startServer, type TestServer } from '../smtp/harness.js';
import { startScriptedSmtpServer, type ScriptedSmtpServer, type SmtpScript } from '../helpers/scripted-smtp-server.js';
import { createTestCa, type TestCa } from './test-ca.js';
import { attempt, makeTransport } from './transport-helpers.js';

const TEXT = 'From: alice@sender.test\r\nTo: x@rcpt.test\r\nSubject: policy\r\n\r\nHello.\r\n';
const DNS = { mx: { 'rcpt.test': [{ exchange: 'mx.rcpt.test', priority: 10 }] }, a: { 'mx.rcpt.test': ['127.0.0.1'] } };

let ca: TestCa;
let mxCert: { cert: string; key: string };
const servers: ScriptedSmtpServer[] = [];
async function serve(script: SmtpScript, listen?: { host?: string; port?: number }): Promise<ScriptedSmtpServer> {
  const server = await startScriptedSmtpServer(script, listen);
  servers.push(server);
  return server;
}
before(async () => {
  ca = await createTestCa();
  mxCert = await ca.issue(['mx.rcpt.test', 'mx1.sts.test']);
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('TLS policy', () => {
  it('verify: delivers over STARTTLS when the certificate is valid for the MX name', async () => {
    const server = await serve({ starttls: mxCert });
    const { transport } = makeTransport({ port: server.port, dns: DNS, tlsCaPem: ca.certPem, delivery: { tlsPolicy: { 'rcpt.test': 'verify' } } });
    try {
      const outcomes = await transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered', outcomes[0].reply);
      assert.equal(server.sessions[0].tls, true);
      assert.equal(server.sessions[0].servername, 'mx.rcpt.test');
      assert.equal(server.messages()[0].toString(), TEXT);
    } finally {
      await transport.close();
    }
  });

  it('verify: defers with a clear reply on a certificate that does not verify, sending nothing', async () => {
    const wharf: TestServer = await startServer({ mode: 'mx', users: [`bob@${DOMAIN}`] });
    const dns = { mx: { [DOMAIN]: [{ exchange: 'mx.hamburger.edu', priority: 10 }] }, a: { 'mx.hamburger.edu': ['127.0.0.1'] } };
    const { transport } = makeTransport({ port: wharf.port, dns, delivery: { tlsPolicy: { [DOMAIN]: 'verify' } } });
    try {
      const outcomes = await transport.deliver(attempt(DOMAIN, [`bob@${DOMAIN}`], TEXT));
      assert.equal(outcomes[0].outcome, 'deferred');
      assert.match(outcomes[0].reply, /^451 4\.7\.5 mx\.hamburger\.edu: TLS required \(configuration policy\) and TLS handshake failed: .*(self-signed|altnames|unable to verify)/i);
      assert.equal((await wharf.inbox(`bob@${DOMAIN}`)).length, 0);
    } finally {
      await transport.close();
      await wharf.close();
    }
  });

  it('verify: defers when the server offers no STARTTLS', async () => {
    const server = await serve({});
    const { transport } = makeTransport({ port: server.port, dns: DNS, delivery: { tlsPolicy: { 'rcpt.test': 'verify' } } });
    try {
      const outcomes = await transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
      assert.equal(outcomes[0].outcome, 'deferred');
      assert.equal(outcomes[0].reply, '451 4.7.4 mx.rcpt.test: TLS required (configuration policy) but mx.rcpt.test does not offer STARTTLS');
      assert.ok(!server.commands().some((c) => c.startsWith('MAIL')));
    } finally {
      await transport.close();
    }
  });

  it('opportunistic: retries the host in plain text when the TLS handshake fails', async () => {
    const server = await serve({ starttls: 'broken' });
    const { transport } = makeTransport({ port: server.port, dns: DNS });
    try {
      const outcomes = await transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered', outcomes[0].reply);
      assert.equal(server.sessions.length, 2);
      assert.ok(server.sessions[0].commands.includes('STARTTLS'));
      assert.ok(!server.sessions[1].commands.includes('STARTTLS'), 'the second try is plain');
      assert.equal(server.sessions[1].messages.length, 1);
    } finally {
      await transport.close();
    }
  });

  it('opportunistic: does not check the certificate; none: never starts TLS', async () => {
    const server = await serve({ starttls: mxCert });
    const opportunistic = makeTransport({ port: server.port, dns: DNS });
    const none = makeTransport({ port: server.port, dns: DNS, delivery: { tlsPolicy: { 'rcpt.test': 'none' } } });
    try {
      assert.equal((await opportunistic.transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT)))[0].outcome, 'delivered');
      assert.equal(server.sessions[0].tls, true, 'TLS with a certificate from a CA nobody trusts here');
      assert.equal((await none.transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT)))[0].outcome, 'delivered');
      assert.ok(!server.sessions[1].commands.includes('STARTTLS'));
    } finally {
      await opportunistic.transport.close();
      await none.transport.close();
    }
  });
});

describe('MTA-STS', () => {
  let https_: https.Server;
  let httpsPort: number;
  let policy = '';
  before(async () => {
    const cert = await ca.issue(['mta-sts.sts.test']);
    https_ = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(policy);
    });
    await new Promise<void>((resolve) => https_.listen(0, '127.0.0.1', resolve));
    httpsPort = (https_.address() as AddressInfo).port;
  });
  after(async () => {
    https_.closeAllConnections();
    await new Promise<void>((resolve) => https_.close(() => resolve()));
  });

  async function stsSetup(mode: 'enforce' | 'testing', goodScript: SmtpScript) {
    policy = `version: STSv1\nmode: ${mode}\nmx: mx1.sts.test\nmax_age: 3600\n`;
    const good = await serve(goodScript);
    // A more preferred MX outside the policy's patterns, on another loopback address.
    let rogue: ScriptedSmtpServer | null = null;
    try {
      rogue = await serve({ starttls: mxCert }, { host: '127.0.0.2', port: good.port });
    } catch {
      rogue = null;
    }
    const dns = {
      mx: { 'sts.test': [{ exchange: 'rogue.sts.test', priority: 5 }, { exchange: 'mx1.sts.test', priority: 10 }] },
      a: { 'rogue.sts.test': [rogue ? '127.0.0.2' : '127.0.0.1'], 'mx1.sts.test': ['127.0.0.1'], 'mta-sts.sts.test': ['127.0.0.1'] },
      txt: { '_mta-sts.sts.test': [[`v=STSv1; id=${mode}1`]] },
    };
    const t = makeTransport({ port: good.port, dns, tlsCaPem: ca.certPem, delivery: { mtaSts: true }, mtaSts: { httpsPort, ca: [ca.certPem] } });
    return { good, rogue, ...t };
  }

  it('enforce: only MX hosts matching the policy, only with a verified certificate', async () => {
    const { good, rogue, transport } = await stsSetup('enforce', { starttls: mxCert });
    try {
      const outcomes = await transport.deliver(attempt('sts.test', ['x@sts.test'], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered', outcomes[0].reply);
      assert.equal(outcomes[0].remoteMta, 'mx1.sts.test');
      if (rogue) assert.equal(rogue.sessions.length, 0, 'the host outside the policy was never contacted');
      assert.equal(good.sessions.at(-1)!.tls, true);
    } finally {
      await transport.close();
    }
  });

  it('enforce: defers when the allowed host offers no TLS', async () => {
    const { good, transport } = await stsSetup('enforce', {});
    try {
      const outcomes = await transport.deliver(attempt('sts.test', ['x@sts.test'], TEXT));
      assert.equal(outcomes[0].outcome, 'deferred');
      assert.match(outcomes[0].reply, /^451 4\.7\.4 mx1\.sts\.test: TLS required \(MTA-STS policy\)/);
      assert.ok(!good.commands().some((c) => c.startsWith('MAIL')));
    } finally {
      await transport.close();
    }
  });

  it('testing: delivers as usual and reports what enforce would have refused', async () => {
    const { transport, logs } = await stsSetup('testing', {});
    try {
      const outcomes = await transport.deliver(attempt('sts.test', ['x@sts.test'], TEXT));
      assert.equal(outcomes[0].outcome, 'delivered');
      assert.ok(logs.some((l) => l.includes('mta-sts testing policy not met')));
    } finally {
      await transport.close();
    }
  });
});

describe('transport outcomes without a willing host', () => {
  it('bounces for a null MX, and for a domain that does not exist, with no remote MTA', async () => {
    const { transport } = makeTransport({ port: 25, dns: { mx: { 'nomail.test': [{ exchange: '', priority: 0 }] } } });
    const [nullMx] = await transport.deliver(attempt('nomail.test', ['x@nomail.test'], TEXT));
    assert.deepEqual([nullMx.outcome, nullMx.remoteMta], ['bounced', undefined]);
    assert.match(nullMx.reply, /^556 5\.1\.10 /);
    const [nx] = await transport.deliver(attempt('nowhere.test', ['x@nowhere.test'], TEXT));
    assert.equal(nx.outcome, 'bounced');
    assert.match(nx.reply, /^550 5\.1\.2 /);
    await transport.close();
  });

  it('bounces when every host refuses with a 5xx greeting, defers when one was temporary', async () => {
    const refusing = await serve({ greeting: '554 5.7.1 no service for you' });
    const hard = makeTransport({ port: refusing.port, dns: DNS });
    const [bounced] = await hard.transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
    assert.deepEqual([bounced.outcome, bounced.reply], ['bounced', '554 5.7.1 no service for you']);
    await hard.transport.close();

    const silent = await serve({ greeting: 'silent' });
    const soft = makeTransport({ port: silent.port, dns: DNS, delivery: { commandTimeoutMs: 300 } });
    const [deferred] = await soft.transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
    assert.equal(deferred.outcome, 'deferred');
    assert.match(deferred.reply, /^451 4\.4\.2 mx\.rcpt\.test: no reply to greeting within 300 ms/);
    await soft.transport.close();
  });

  it('defers when the connection cannot be made in time (connectTimeoutMs)', async () => {
    // A listener that never accepts, with its queue full: the next connection attempt hangs.
    const holder = spawn('python3', ['-c', "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(0)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(60)"]);
    const port = await new Promise<number>((resolve) => holder.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    const filler = net.connect(port, '127.0.0.1');
    filler.on('error', () => {});
    await new Promise((resolve) => filler.once('connect', resolve));
    const { transport } = makeTransport({ port, dns: DNS, delivery: { connectTimeoutMs: 300 } });
    try {
      const [outcome] = await transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
      assert.equal(outcome.outcome, 'deferred');
      assert.equal(outcome.reply, '451 4.4.1 mx.rcpt.test: no connection within 300 ms');
    } finally {
      await transport.close();
      filler.destroy();
      holder.kill();
    }
  });

  it('bounces an 8-bit message for an MX without 8BITMIME', async () => {
    const server = await serve({ extensions: ['PIPELINING'] });
    const { transport } = makeTransport({ port: server.port, dns: DNS });
    const [outcome] = await transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], 'Subject: caf\u00e9\r\n\r\n\u00e9\r\n'));
    assert.equal(outcome.outcome, 'bounced');
    assert.match(outcome.reply, /^554 5\.6\.3 /);
    assert.equal(outcome.remoteMta, 'mx.rcpt.test');
    await transport.close();
  });

  it('defers what is in flight when the delivery is aborted, and everything after close()', async () => {
    const server = await serve({ dataEnd: () => 'silent' });
    const { transport } = makeTransport({ port: server.port, dns: DNS });
    const controller = new AbortController();
    const pending = transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT), controller.signal);
    while (server.messages().length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const [aborted] = await pending;
    assert.equal(aborted.outcome, 'deferred');
    assert.match(aborted.reply, /^451 4\.3\.2 mx\.rcpt\.test: delivery interrupted/);
    await transport.close();
    const [closed] = await transport.deliver(attempt('rcpt.test', ['x@rcpt.test'], TEXT));
    assert.equal(closed.outcome, 'deferred');
  });
});
