/**
 * The TLS session cache (src/net/tls-sessions.ts): a bounded, expiring store of sessions by id,
 * and that a TLS socket made by hand resumes a TLS 1.2 session by id through it, ticketless,
 * as curl does on FTPS data connections.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { generateSelfSigned } from '../../src/net/tls.js';
import { TlsSessionCache } from '../../src/net/tls-sessions.js';

const id = (n: number) => Buffer.from([n, n, n]);

describe('TlsSessionCache', () => {
  it('gives back what was stored, by id', () => {
    const cache = new TlsSessionCache();
    cache.store(id(1), Buffer.from('one'));
    cache.store(id(2), Buffer.from('two'));
    assert.equal(cache.lookup(id(1))?.toString(), 'one');
    assert.equal(cache.lookup(id(2))?.toString(), 'two');
    assert.equal(cache.lookup(id(3)), null);
  });

  it('keeps at most its limit, dropping the least recently used', () => {
    const cache = new TlsSessionCache(2);
    cache.store(id(1), Buffer.from('one'));
    cache.store(id(2), Buffer.from('two'));
    cache.lookup(id(1));
    cache.store(id(3), Buffer.from('three'));
    assert.equal(cache.size, 2);
    assert.equal(cache.lookup(id(2)), null, 'the least recently used went');
    assert.equal(cache.lookup(id(1))?.toString(), 'one');
    assert.equal(cache.lookup(id(3))?.toString(), 'three');
  });

  it('forgets a session past its lifetime', () => {
    let now = 1_000;
    const cache = new TlsSessionCache(10, 300, () => now);
    cache.store(id(1), Buffer.from('one'));
    now += 299;
    assert.equal(cache.lookup(id(1))?.toString(), 'one');
    now += 300;
    assert.equal(cache.lookup(id(1)), null);
    assert.equal(cache.size, 0);
  });

  it('lets a TLS socket made by hand resume a TLS 1.2 session by id (no ticket)', async () => {
    const material = await generateSelfSigned('localhost');
    const cache = new TlsSessionCache();
    const context = tls.createSecureContext({ cert: material.certPem, key: material.keyPem, sessionIdContext: 'test' });
    const reused: boolean[] = [];
    const server = net.createServer((raw) => {
      const secured = new tls.TLSSocket(raw, { isServer: true, secureContext: context, server: cache.socketServer });
      secured.on('error', () => {});
      secured.on('secure', () => {
        reused.push(secured.isSessionReused());
        secured.end('ok');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const connect = async (session?: Buffer): Promise<Buffer | undefined> => {
      // The client asks for no ticket, so only the id can resume (curl's way).
      const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET, session });
      client.on('data', () => {});
      let kept: Buffer | undefined;
      client.on('session', (s: Buffer) => (kept = s));
      await once(client, 'end');
      client.destroy();
      return kept ?? client.getSession();
    };
    try {
      const first = await connect();
      assert.ok(first, 'the client has a session');
      await connect(first);
      assert.deepEqual(reused, [false, true]);
      assert.ok(cache.size >= 1);
    } finally {
      server.close();
    }
  });
});
