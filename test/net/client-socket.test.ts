/**
 * awaitTlsHandshake: the client side of an upgrade to TLS (SMTP STARTTLS, FTP AUTH TLS), against
 * a real TLS server, a server that says nothing, and one that hangs up.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { awaitTlsHandshake } from '../../src/net/client-socket.js';
import { testTls } from '../helpers/service.js';

type Behaviour = 'tls' | 'silent' | 'hang-up';

describe('awaitTlsHandshake', () => {
  let server: net.Server;
  let port = 0;
  let behaviour: Behaviour = 'tls';
  const held: net.Socket[] = [];

  before(async () => {
    const material = await testTls();
    server = net.createServer((socket) => {
      held.push(socket);
      socket.on('error', () => {});
      if (behaviour === 'hang-up') socket.destroy();
      else if (behaviour === 'tls') new tls.TLSSocket(socket, material.upgradeOptions()).on('error', () => {});
      // 'silent': reads the ClientHello and never answers.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Starts TLS on a fresh connection to the test server; `done` is awaitTlsHandshake's promise. */
  async function upgrade(kind: Behaviour, timeoutMs: number): Promise<{ secured: tls.TLSSocket; done: Promise<void> }> {
    behaviour = kind;
    const plain = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => plain.once('connect', resolve));
    const secured = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    secured.on('error', () => {});
    return { secured, done: awaitTlsHandshake(secured, timeoutMs) };
  }

  it('resolves once the handshake is done', async () => {
    const { secured, done } = await upgrade('tls', 5_000);
    await done;
    assert.ok(secured.getProtocol()?.startsWith('TLS'));
    assert.equal(secured.destroyed, false);
    secured.destroy();
  });

  it('rejects with the time limit when the server never answers, and destroys the socket', async () => {
    const started = Date.now();
    const { secured, done } = await upgrade('silent', 200);
    await assert.rejects(done, /^Error: TLS handshake not done within 200 ms$/);
    assert.ok(Date.now() - started >= 190);
    assert.equal(secured.destroyed, true);
  });

  it('rejects when the server hangs up during the handshake, and destroys the socket', async () => {
    const { secured, done } = await upgrade('hang-up', 5_000);
    await assert.rejects(done, /TLS handshake failed|connection closed during the TLS handshake/);
    assert.equal(secured.destroyed, true);
  });
});
