/**
 * SMTP limits through the wire on the whole server: an over-long command line is answered
 * 500 5.5.2 at once and the connection closed (on the MX port, after STARTTLS, after AUTH);
 * submission must log in within limits.loginTimeoutMs while the MX port keeps RFC 5321's
 * per-command timeout; a command line or a message body trickled a byte at a time is cut off
 * by its deadline although every byte restarts nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FULL_PASSWORD, FULL_USER, startFullServer, type FullServer } from '../helpers/full-server.js';
import { runProgram } from '../helpers/process.js';
import { trickle, WireClient } from '../helpers/wire-client.js';

const LOGIN_TIMEOUT_MS = 800;
const IDLE_TIMEOUT_MS = 1500;
const COMMAND_TIMEOUT_MS = 800;
const PLAIN = Buffer.from(`\0${FULL_USER}\0${FULL_PASSWORD}`).toString('base64');
const MIB = 'a'.repeat(1024 * 1024);

describe('SMTP limits and timeouts', () => {
  let server: FullServer;
  const clients: WireClient[] = [];

  async function connect(service: 'smtp' | 'submission'): Promise<WireClient> {
    const c = await WireClient.connect(server.ports[service]);
    clients.push(c);
    await c.until(/^220 .*\r\n/);
    return c;
  }

  async function ehlo(c: WireClient): Promise<void> {
    c.send('EHLO client.example\r\n');
    await c.until(/^250 .*\r\n/m);
  }

  before(async () => {
    server = await startFullServer({
      smtp: { idleTimeoutMs: IDLE_TIMEOUT_MS, transactionTimeoutMs: 60_000 },
      limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS, commandTimeoutMs: COMMAND_TIMEOUT_MS },
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it('answers 1 MiB without a line end with 500 5.5.2 and closes, on the MX port', async () => {
    const c = await connect('smtp');
    c.send(MIB);
    assert.equal(await c.closed(5000), '500 5.5.2 Line too long\r\n');
  });

  it('does the same after STARTTLS and after AUTH (submission)', async () => {
    const tls = await connect('submission');
    await ehlo(tls);
    tls.send('STARTTLS\r\n');
    await tls.until(/^220 /);
    await tls.startTls();
    await ehlo(tls);
    tls.send(MIB);
    assert.equal(await tls.closed(5000), '500 5.5.2 Line too long\r\n');

    const authed = await connect('submission');
    await ehlo(authed);
    authed.send(`AUTH PLAIN ${PLAIN}\r\n`);
    await authed.until(/^235 /);
    authed.send(MIB);
    assert.equal(await authed.closed(5000), '500 5.5.2 Line too long\r\n');
  });

  it('closes an AUTH exchange whose response line is too long', async () => {
    const c = await connect('submission');
    await ehlo(c);
    c.send('AUTH PLAIN\r\n');
    await c.until(/^334/);
    c.send(MIB);
    assert.match(await c.closed(5000), /^500 5\.5\.2 Line too long\r\n$/);
  });

  it('closes submission with 421 4.4.2 when no login came within the login timeout', async () => {
    const c = await connect('submission');
    await ehlo(c);
    const started = Date.now();
    assert.match(await c.closed(LOGIN_TIMEOUT_MS + 5000), /^421 4\.4\.2 /);
    assert.ok(Date.now() - started < IDLE_TIMEOUT_MS + 1000, 'the login deadline, not the idle timer');
  });

  it('lets a logged-in submission session outlast the login timeout', async () => {
    const c = await connect('submission');
    await ehlo(c);
    c.send(`AUTH PLAIN ${PLAIN}\r\n`);
    await c.until(/^235 /);
    await new Promise((r) => setTimeout(r, LOGIN_TIMEOUT_MS + 300));
    c.send('NOOP\r\n');
    assert.match(await c.until(/\r\n/), /^250 /);
  });

  it('has no login deadline on the MX port: the per-command idle timeout applies', async () => {
    const c = await connect('smtp');
    await ehlo(c);
    await new Promise((r) => setTimeout(r, LOGIN_TIMEOUT_MS + 300));
    c.send('NOOP\r\n');
    assert.match(await c.until(/\r\n/), /^250 /);
    const idleFrom = Date.now();
    assert.match(await c.closed(IDLE_TIMEOUT_MS + 5000), /^421 4\.4\.2 /);
    assert.ok(Date.now() - idleFrom >= IDLE_TIMEOUT_MS - 100);
  });

  it('drops a command line trickled a byte at a time once the idle time of that one read is over', async () => {
    const c = await connect('smtp');
    const started = Date.now();
    void trickle(c, 'X'.repeat(500), 100);
    assert.match(await c.closed(IDLE_TIMEOUT_MS + 5000), /^421 4\.4\.2 /);
    assert.ok(Date.now() - started < IDLE_TIMEOUT_MS + 2000);
  });

  it('drops a DATA body trickled a byte at a time at the command deadline, and stores nothing', async () => {
    const c = await connect('smtp');
    await ehlo(c);
    c.send(`MAIL FROM:<alice@example.net>\r\nRCPT TO:<${FULL_USER}>\r\nDATA\r\n`);
    await c.until(/^354 /m);
    const started = Date.now();
    void trickle(c, 'Subject: slow\r\n\r\n' + 'b'.repeat(500), 50);
    assert.match(await c.closed(COMMAND_TIMEOUT_MS + 5000), /^421 4\.4\.2 /);
    const took = Date.now() - started;
    assert.ok(took >= COMMAND_TIMEOUT_MS - 100 && took < IDLE_TIMEOUT_MS + 1000, `closed after ${took} ms`);
    assert.ok(!server.logLines.some((l) => l.includes('"delivered"')), 'nothing delivered');
  });

  it('takes a long line inside DATA as message content: no line limit there, and no wait', async () => {
    const c = await connect('smtp');
    await ehlo(c);
    c.send(`MAIL FROM:<alice@example.net>\r\nRCPT TO:<${FULL_USER}>\r\nDATA\r\n`);
    await c.until(/^354 /m);
    c.send('Subject: long line\r\n\r\n' + 'c'.repeat(200_000) + '\r\n.\r\n');
    assert.match(await c.until(/\r\n/, 10_000), /^250 /);
    c.send('QUIT\r\n');
    await c.closed();
  });

  it('answers python smtplib sending a 1 MiB command, after STARTTLS, with 500 5.5.2, then hangs up', async () => {
    const script = [
      'import smtplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)',
      's.ehlo("client.example"); s.starttls(context=ctx); s.ehlo("client.example")',
      'print(s.docmd("NOOP", "a" * (1 << 20)))',
      'try:',
      '    print(s.noop())',
      'except smtplib.SMTPServerDisconnected:',
      '    print("disconnected")',
    ].join('\n');
    const r = await runProgram('python3', ['-c', script, String(server.ports.submission)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "(500, b'5.5.2 Line too long')\ndisconnected\n");
  });
});

