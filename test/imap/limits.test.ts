/**
 * IMAP limits through the wire on the whole server: an over-long line gets BAD then BYE at
 * once (after the greeting, after STARTTLS, after login); the login must come within
 * limits.loginTimeoutMs; an APPEND literal trickled a byte at a time is cut off by the command
 * deadline; one user may hold imap.maxConnectionsPerUserAddress sessions per client address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FULL_PASSWORD, FULL_USER, startFullServer, type FullServer } from '../helpers/full-server.js';
import { trickle, WireClient } from '../helpers/wire-client.js';

const LOGIN_TIMEOUT_MS = 800;
const COMMAND_TIMEOUT_MS = 800;
const AUTOLOGOUT_MS = 2500;
const PER_USER_ADDRESS = 3;
const MIB = 'a'.repeat(1024 * 1024);

describe('IMAP limits and timeouts', () => {
  let server: FullServer;
  const clients: WireClient[] = [];

  async function connect(localAddress = '127.0.0.1'): Promise<WireClient> {
    const c = await WireClient.connect(server.ports.imap, { localAddress });
    clients.push(c);
    await c.until(/^\* OK .*\r\n/);
    return c;
  }

  /** LOGIN; returns the tagged reply line. */
  async function login(c: WireClient): Promise<string> {
    c.send(`l LOGIN ${FULL_USER} ${FULL_PASSWORD}\r\n`);
    const said = await c.until(/^l (OK|NO|BAD) .*\r\n/m);
    return /^l .*$/m.exec(said)![0].trimEnd();
  }

  before(async () => {
    server = await startFullServer({
      imap: { idleTimeoutMs: AUTOLOGOUT_MS, maxConnectionsPerUserAddress: PER_USER_ADDRESS },
      limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS, commandTimeoutMs: COMMAND_TIMEOUT_MS },
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it('answers 1 MiB without a line end with BAD then BYE and closes: after the greeting, STARTTLS, login', async () => {
    const expected = /^\* BAD [^\r]*too long\r\n\* BYE [^\r]*\r\n$/;
    const fresh = await connect();
    fresh.send(MIB);
    assert.match(await fresh.closed(5000), expected);

    const tls = await connect();
    tls.send('t STARTTLS\r\n');
    await tls.until(/^t OK .*\r\n/m);
    await tls.startTls();
    tls.send(MIB);
    assert.match(await tls.closed(5000), expected);

    const authed = await connect();
    assert.match(await login(authed), /^l OK /);
    authed.send(MIB);
    assert.match(await authed.closed(5000), expected);
    // The session ended: its count for the user and address is released (see below).
  });

  it('answers an over-long line whose tag came first with a tagged BAD, then BYE', async () => {
    const c = await connect();
    c.send('t1 SEARCH SUBJECT ' + MIB);
    assert.match(await c.closed(5000), /^t1 BAD [^\r]*too long\r\n\* BYE [^\r]*\r\n$/);
  });

  it('answers an over-long line after a literal with a tagged BAD, then BYE', async () => {
    const c = await connect();
    assert.match(await login(c), /^l OK /);
    c.send('s SEARCH SUBJECT {3}\r\n');
    await c.until(/^\+ .*\r\n/);
    c.send('abc' + MIB);
    assert.match(await c.closed(5000), /^s BAD [^\r]*too long\r\n\* BYE [^\r]*\r\n$/);
  });

  it('closes with * BYE when the login does not come within the login timeout', async () => {
    const c = await connect();
    c.send('n NOOP\r\n');
    await c.until(/^n OK .*\r\n/m);
    const said = await c.closed(LOGIN_TIMEOUT_MS + 5000);
    assert.match(said, /^\* BYE Timeout: not logged in in time\r\n$/);
  });

  it('drops an APPEND literal trickled a byte at a time at the command deadline', async () => {
    const c = await connect();
    assert.match(await login(c), /^l OK /);
    c.send('a APPEND INBOX {400}\r\n');
    await c.until(/^\+ .*\r\n/);
    const started = Date.now();
    void trickle(c, 'Subject: slow\r\n\r\n' + 'b'.repeat(383), 40);
    assert.match(await c.closed(COMMAND_TIMEOUT_MS + 5000), /\* BYE [^\r]*\r\n$/);
    const took = Date.now() - started;
    assert.ok(took >= COMMAND_TIMEOUT_MS - 150 && took < 10_000, `closed after ${took} ms`);
    // Nothing half-received was filed.
    const check = await connect();
    assert.match(await login(check), /^l OK /);
    check.send('e EXAMINE INBOX\r\n');
    assert.match(await check.until(/^e OK .*\r\n/m), /^\* 0 EXISTS/m);
    check.send('z LOGOUT\r\n');
    await check.closed();
  });

  it('lets a logged-in session outlast the login timeout', async () => {
    const c = await connect();
    assert.match(await login(c), /^l OK /);
    await new Promise((r) => setTimeout(r, LOGIN_TIMEOUT_MS + 300));
    c.send('n NOOP\r\n');
    assert.match(await c.until(/^n .*\r\n/m), /^n OK /m);
    c.send('z LOGOUT\r\n');
    await c.closed();
  });

  it('logs out an authenticated session idle for imap.idleTimeoutMs with * BYE', async () => {
    const c = await connect();
    assert.match(await login(c), /^l OK /);
    const idleFrom = Date.now();
    assert.match(await c.closed(AUTOLOGOUT_MS + 5000), /^\* BYE Autologout/);
    assert.ok(Date.now() - idleFrom >= AUTOLOGOUT_MS - 100);
  });

  it(`allows ${PER_USER_ADDRESS} sessions per user and client address; the next login gets NO [LIMIT]`, async () => {
    const held: WireClient[] = [];
    for (let i = 0; i < PER_USER_ADDRESS; i++) {
      const c = await connect();
      assert.match(await login(c), /^l OK /);
      held.push(c);
    }
    const extra = await connect();
    assert.equal(await login(extra), 'l NO [LIMIT] Too many connections for this user from this address');
    // Still not authenticated, and still connected.
    extra.send('n NOOP\r\n');
    assert.match(await extra.until(/^n .*\r\n/m), /^n OK /m);

    // Another client address is counted on its own.
    const elsewhere = await connect('127.0.0.2');
    assert.match(await login(elsewhere), /^l OK /);

    // One session ends: its slot is free again.
    held[0].send('z LOGOUT\r\n');
    await held[0].closed();
    assert.match(await login(extra), /^l OK /);
    for (const c of [...held.slice(1), extra, elsewhere]) {
      c.send('z LOGOUT\r\n');
      await c.closed();
    }
  });
});
