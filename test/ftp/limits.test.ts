/**
 * FTP control-connection limits through the wire on the whole server: an over-long command
 * line gets 500 at once and the connection closes (after the greeting, after AUTH TLS, after
 * login); the login must come within limits.loginTimeoutMs (421 otherwise); ftp.maxErrors bad
 * commands end the session with 421.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FULL_PASSWORD, FULL_USER, startFullServer, type FullServer } from '../helpers/full-server.js';
import { trickle, WireClient } from '../helpers/wire-client.js';

const LOGIN_TIMEOUT_MS = 800;
const MAX_ERRORS = 3;
const MIB = 'a'.repeat(1024 * 1024);

describe('FTP limits and timeouts', () => {
  let server: FullServer;
  const clients: WireClient[] = [];

  async function connect(): Promise<WireClient> {
    const c = await WireClient.connect(server.ports.ftp);
    clients.push(c);
    await c.until(/^220 .*\r\n/);
    return c;
  }

  async function login(c: WireClient): Promise<void> {
    c.send(`USER ${FULL_USER}\r\n`);
    await c.until(/^331 .*\r\n/);
    c.send(`PASS ${FULL_PASSWORD}\r\n`);
    await c.until(/^230 .*\r\n/m);
  }

  before(async () => {
    server = await startFullServer({ ftp: { idleTimeoutMs: 10_000, maxErrors: MAX_ERRORS }, limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS } });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it('answers 1 MiB without a line end with 500 and closes: after the greeting, after AUTH TLS, after login', async () => {
    const fresh = await connect();
    fresh.send(MIB);
    assert.match(await fresh.closed(5000), /^500 [^\r]*\r\n$/);

    const tls = await connect();
    tls.send('AUTH TLS\r\n');
    await tls.until(/^234 .*\r\n/);
    await tls.startTls();
    tls.send(MIB);
    assert.match(await tls.closed(5000), /^500 [^\r]*\r\n$/);

    const authed = await connect();
    await login(authed);
    authed.send(MIB);
    assert.match(await authed.closed(5000), /^500 [^\r]*\r\n$/);
  });

  it('closes with 421 at the ftp.maxErrors-th bad command, counting before and after login', async () => {
    const c = await connect();
    c.send('BOGUS\r\n');
    assert.match(await c.until(/\r\n/), /^500 /);
    await login(c);
    c.send('RETR\r\n');
    assert.match(await c.until(/\r\n/), /^501 /);
    c.send('NOOP\r\n');
    assert.match(await c.until(/\r\n/), /^200 /);
    c.send('XYZZY\r\n');
    assert.match(await c.closed(5000), /^421 Too many bad commands[^\r]*\r\n$/);
  });

  it('closes with 421 when the login does not come within the login timeout, however it trickles', async () => {
    const idle = await connect();
    assert.match(await idle.closed(LOGIN_TIMEOUT_MS + 5000), /^421 /);

    const slow = await connect();
    void trickle(slow, 'NOOP\r\n'.repeat(100), 40);
    assert.match(await slow.closed(LOGIN_TIMEOUT_MS + 5000), /421 Timeout: not logged in in time[^\r]*\r\n$/);
  });

  it('lets a logged-in session outlast the login timeout', async () => {
    const c = await connect();
    await login(c);
    await new Promise((r) => setTimeout(r, LOGIN_TIMEOUT_MS + 300));
    c.send('NOOP\r\n');
    assert.match(await c.until(/\r\n/), /^200 /);
    c.send('QUIT\r\n');
    await c.closed();
  });
});
