import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { connectionRateAdmission } from '../../src/net/connection-rate.js';
import { ConnectionCount, listen, normalizeAddress, type ListenOptions, type Listener } from '../../src/net/listener.js';
import { createLogger } from '../../src/net/log.js';
import { generateSelfSigned, tlsMaterialFromPem } from '../../src/net/tls.js';
import type { Connection, SessionHandler } from '../../src/net/types.js';
import { openTestStore } from '../helpers/test-store.js';

const limits = { maxConnections: 3, maxConnectionsPerAddress: 2, maxConnectionsTotal: 1000, maxConnectionRatePerAddress: 100_000 };

/** A one-line "protocol": greets, echoes one line upper-cased, says bye on shutdown. */
function echoHandler(opened: Connection[]): SessionHandler {
  return {
    open(conn) {
      opened.push(conn);
      conn.socket.write('hello\r\n');
      conn.socket.on('data', (d) => conn.socket.write(String(d).toUpperCase()));
      return {
        shutdown: () =>
          new Promise<void>((resolve) => {
            conn.socket.end('bye\r\n');
            conn.socket.once('close', () => resolve());
          }),
      };
    },
    refuse: (reason) => `busy ${reason}\r\n`,
  };
}

function readUntil(socket: net.Socket | tls.TLSSocket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const onData = (d: Buffer) => {
      acc += d.toString();
      if (pattern.test(acc)) {
        socket.off('data', onData);
        resolve(acc);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => resolve(acc));
  });
}

describe('listen', () => {
  const opened: Connection[] = [];
  let plain: Listener;
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });

  before(async () => {
    plain = await listen(echoHandler(opened), { name: 'echo', host: '127.0.0.1', port: 0, limits, log });
  });
  after(async () => {
    await plain.stopAccepting();
    await plain.shutdownSessions();
  });

  it('logs the port it listens on', () => {
    assert.ok(plain.port > 0);
    const rec = lines.map((l) => JSON.parse(l)).find((r) => r.event === 'listening');
    assert.equal(rec?.port, plain.port);
    assert.equal(rec?.service, 'echo');
  });

  it('refuses a client address past its connection limit, with the protocol reply', async () => {
    const a = net.connect(plain.port, '127.0.0.1');
    const b = net.connect(plain.port, '127.0.0.1');
    assert.match(await readUntil(a, /hello/), /hello/);
    assert.match(await readUntil(b, /hello/), /hello/);
    const c = net.connect(plain.port, '127.0.0.1');
    assert.match(await readUntil(c, /busy/), /busy too-many-from-address/);
    a.destroy();
    b.destroy();
    c.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(plain.sessionCount, 0);
  });

  it('gives each connection its own id and the client address', async () => {
    const before = opened.length;
    const a = net.connect(plain.port, '127.0.0.1');
    await readUntil(a, /hello/);
    const conn = opened[before];
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.match(conn.id, /^[A-Za-z0-9_-]{8}$/);
    assert.notEqual(conn.id, opened[0].id);
    a.destroy();
  });

  it('aborts the closed signal of a connection when the client goes away', async () => {
    const before = opened.length;
    const a = net.connect(plain.port, '127.0.0.1');
    await readUntil(a, /hello/);
    const conn = opened[before];
    assert.equal(conn.closed.aborted, false);
    a.destroy();
    // Failing, not hanging, when the signal never comes.
    for (let i = 0; i < 100 && !conn.closed.aborted; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(conn.closed.aborted, true);
  });

  it('shuts sessions down through the protocol and stops accepting', async () => {
    const other = await listen(echoHandler([]), { name: 'echo2', host: '127.0.0.1', port: 0, limits, log });
    const a = net.connect(other.port, '127.0.0.1');
    await readUntil(a, /hello/);
    const rest = readUntil(a, /bye/);
    await other.stopAccepting();
    await other.shutdownSessions();
    assert.match(await rest, /bye/);
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(other.port, '127.0.0.1');
      s.once('error', () => resolve(true));
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
    });
    assert.equal(refused, true);
  });

  it('serves implicit TLS with the generated certificate', async () => {
    const pems = await generateSelfSigned('mail.test');
    const material = tlsMaterialFromPem(pems.certPem, pems.keyPem);
    const secure = await listen(echoHandler([]), {
      name: 'echos',
      host: '127.0.0.1',
      port: 0,
      limits,
      log,
      implicitTls: material,
    });
    const s = tls.connect({ port: secure.port, host: '127.0.0.1', ca: pems.certPem, servername: 'mail.test' });
    assert.match(await readUntil(s, /hello/), /hello/);
    assert.ok(s.authorized, 'certificate verifies against itself for its hostname');
    s.destroy();
    await secure.stopAccepting();
    await secure.shutdownSessions();
  });

  it('unwraps IPv4-mapped IPv6 addresses', () => {
    assert.equal(normalizeAddress('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeAddress('::1'), '::1');
  });
});

describe('limits shared by several listeners', () => {
  const log = createLogger({ write: () => {} });
  const open: Listener[] = [];
  const sockets: net.Socket[] = [];

  async function start(extra: Partial<ListenOptions>, more: Partial<typeof limits> = {}): Promise<Listener> {
    const l = await listen(echoHandler([]), { name: 'echo', host: '127.0.0.1', port: 0, limits: { ...limits, maxConnectionsPerAddress: 50, maxConnections: 50, ...more }, log, ...extra });
    open.push(l);
    return l;
  }

  /** Connects and returns the first thing the server says ("hello" or "busy <reason>"). */
  async function greet(l: Listener): Promise<string> {
    const s = net.connect(l.port, '127.0.0.1');
    sockets.push(s);
    return (await readUntil(s, /hello|busy \S+/)).trim();
  }

  after(async () => {
    for (const s of sockets) s.destroy();
    for (const l of open) {
      await l.stopAccepting();
      await l.shutdownSessions();
    }
  });

  it('caps the connections of all listeners together (limits.maxConnectionsTotal)', async () => {
    const allConnections = new ConnectionCount();
    const a = await start({ allConnections }, { maxConnectionsTotal: 2 });
    const b = await start({ allConnections }, { maxConnectionsTotal: 2 });
    assert.equal(await greet(a), 'hello');
    assert.equal(await greet(b), 'hello');
    assert.equal(await greet(a), 'busy too-many-connections');
    assert.equal(await greet(b), 'busy too-many-connections');
    // One leaves: room for one more, on either listener.
    sockets[0].destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(allConnections.open, 1);
    assert.equal(await greet(b), 'hello');
  });

  it('counts the connections of one client address over every listener together (limits.maxConnectionsPerAddress)', async () => {
    const allConnections = new ConnectionCount();
    const a = await start({ allConnections }, { maxConnectionsPerAddress: 3 });
    const b = await start({ allConnections }, { maxConnectionsPerAddress: 3 });
    assert.equal(await greet(a), 'hello');
    assert.equal(await greet(b), 'hello');
    assert.equal(await greet(a), 'hello');
    // The fourth from 127.0.0.1, on either listener, is one too many.
    assert.equal(await greet(b), 'busy too-many-from-address');
    assert.equal(await greet(a), 'busy too-many-from-address');
    assert.equal(allConnections.from('127.0.0.1'), 3);
    // Another address has its own count.
    const other = net.connect({ port: b.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    sockets.push(other);
    assert.equal((await readUntil(other, /hello|busy \S+/)).trim(), 'hello');
    assert.equal(allConnections.from('127.0.0.2'), 1);
    // One leaves: room for one more from 127.0.0.1.
    sockets[sockets.length - 6].destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(allConnections.from('127.0.0.1'), 2);
    assert.equal(await greet(b), 'hello');
  });

  it('asks admit for each connection; its connection rate is counted in the store, for every listener (node)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-listener-'));
    const store = await openTestStore(dir);
    try {
      // Two listeners with their own counts (two nodes), one store.
      const admit = connectionRateAdmission(store, 3);
      const a = await start({ admit });
      const b = await start({ admit: connectionRateAdmission(store, 3) });
      assert.equal(await greet(a), 'hello');
      assert.equal(await greet(b), 'hello');
      assert.equal(await greet(a), 'hello');
      assert.equal(await greet(b), 'busy too-many-from-address');
      assert.equal(await greet(a), 'busy too-many-from-address');
      assert.equal(await store.peekCounter('connections:127.0.0.1'), 5);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('admits when admit fails (a store outage does not lock every client out)', async () => {
    const l = await start({ admit: () => Promise.reject(new Error('database down')) });
    assert.equal(await greet(l), 'hello');
  });
});

describe('logger', () => {
  it('writes one JSON object per line and never a secret field', () => {
    const out: string[] = [];
    const log = createLogger({ write: (l) => out.push(l) }).child({ session: 's1' });
    log.info('login failed', { user: 'bob', password: 'hungry', authPayload: 'AGJvYgBodW5ncnk=' });
    assert.equal(out.length, 1);
    assert.ok(out[0].endsWith('\n'));
    const rec = JSON.parse(out[0]);
    assert.equal(rec.event, 'login failed');
    assert.equal(rec.session, 's1');
    assert.equal(rec.user, 'bob');
    assert.ok(!out[0].includes('hungry'));
    assert.ok(!out[0].includes('AGJvYgBodW5ncnk='));
  });

  it('drops lines below its level', () => {
    const out: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => out.push(l) });
    log.info('x');
    log.warn('y');
    assert.equal(out.length, 1);
  });
});
