/**
 * SFTP (SSH) limits through the wire on the whole server: the login deadline of every
 * service (limits.loginTimeoutMs) closes a connection that has not authenticated, even where
 * sftp.loginTimeoutMs is longer; an endless identification line does not keep it open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFullServer, type FullServer } from '../helpers/full-server.js';
import { WireClient } from '../helpers/wire-client.js';

const LOGIN_TIMEOUT_MS = 800;

describe('SFTP limits and timeouts', () => {
  let server: FullServer;
  const clients: WireClient[] = [];

  async function connect(): Promise<WireClient> {
    const c = await WireClient.connect(server.ports.sftp);
    clients.push(c);
    await c.until(/^SSH-2\.0-.*\r\n/);
    return c;
  }

  before(async () => {
    server = await startFullServer({ sftp: { loginTimeoutMs: 30_000, idleTimeoutMs: 30_000 }, limits: { loginTimeoutMs: LOGIN_TIMEOUT_MS } });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it('closes a connection that has not logged in within limits.loginTimeoutMs', async () => {
    const c = await connect();
    const started = Date.now();
    c.send('SSH-2.0-slow_client\r\n');
    await c.closed(LOGIN_TIMEOUT_MS + 5000);
    assert.ok(Date.now() - started < 10_000);
  });

  it('closes a connection whose identification line never ends', async () => {
    const c = await connect();
    c.send('SSH-2.0-' + 'a'.repeat(1024 * 1024));
    await c.closed(5000);
  });
});
