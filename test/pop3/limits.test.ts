/**
 * POP3 limits through the wire on the whole server: an over-long line gets -ERR at once and
 * the connection closes (after the greeting, after STLS, after login); the login must come
 * within limits.loginTimeoutMs, however slowly the client trickles its commands.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FULL_PASSWORD, FULL_USER, startFullServer, type FullServer } from '../helpers/full-server.js';
import { trickle, WireClient } from '../helpers/wire-client.js';

const LOGIN_TIMEOUT_MS = 800;
const MIB = 'a'.repeat(1024 * 1024);

describe('POP3 limits and timeouts', () => {
  let server: FullServer;
  const clients: WireClient[] = [];

  async function connect(): Promise<WireClient> {
    const c = await WireClient.connect(server.ports.pop3);
    clients.push(c);
    await c.until(/^\+OK .*\r\n/);
    return c;
  }

  async function login(c: WireClient): Promise<void> {
    c.send(`USER ${FULL_USER}\r\n`);
    await c.until(/^\+OK.*\r\n/);
    c.send(`PASS ${FULL_PASSWORD}\r\n`);
    assert.match(await c.until(/\r\n/), /^\+OK/);
  }

  before(async () => {
    server = await startFullServer({ pop3: { idleTimeoutMs: 10_000 }, limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS } });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it('answers 1 MiB without a line end with -ERR and closes: after the greeting, after STLS, after login', async () => {
    const fresh = await connect();
    fresh.send(MIB);
    assert.equal(await fresh.closed(5000), '-ERR Line too long\r\n');

    const tls = await connect();
    tls.send('STLS\r\n');
    await tls.until(/^\+OK.*\r\n/);
    await tls.startTls();
    tls.send(MIB);
    assert.equal(await tls.closed(5000), '-ERR Line too long\r\n');

    const authed = await connect();
    await login(authed);
    authed.send(MIB);
    assert.equal(await authed.closed(5000), '-ERR Line too long\r\n');
  });

  it('closes with -ERR when the login does not come within the login timeout', async () => {
    const c = await connect();
    c.send(`USER ${FULL_USER}\r\n`);
    await c.until(/^\+OK.*\r\n/);
    assert.match(await c.closed(LOGIN_TIMEOUT_MS + 5000), /^-ERR /);
  });

  it('closes a client trickling its commands at the login deadline, although each read is short', async () => {
    const c = await connect();
    const started = Date.now();
    void trickle(c, 'NOOP\r\n'.repeat(100), 40);
    const said = await c.closed(LOGIN_TIMEOUT_MS + 5000);
    assert.match(said, /-ERR Timeout: not logged in in time\r\n$/);
    assert.ok(Date.now() - started < LOGIN_TIMEOUT_MS + 3000);
  });

  it('lets a logged-in session outlast the login timeout', async () => {
    const c = await connect();
    await login(c);
    await new Promise((r) => setTimeout(r, LOGIN_TIMEOUT_MS + 300));
    c.send('NOOP\r\n');
    assert.match(await c.until(/\r\n/), /^\+OK/);
    c.send('QUIT\r\n');
    await c.closed();
  });
});
