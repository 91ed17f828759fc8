/**
 * Maildrop semantics over the wire: the lock ([IN-USE]), what QUIT deletes and what a dropped
 * connection, a timeout or a shutdown does not, the snapshot, and plaintext-login policy for
 * clients that are not on loopback.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ServiceContext } from '../../src/net/types.js';
import { createPop3Handler } from '../../src/pop3/index.js';
import type { Store, User } from '../../src/store/types.js';
import { eventually, loginRaw, messageOfSize, RawClient, startPop3Harness, type Pop3Harness } from './harness.js';

/** Logs in, retrying while an earlier session of the same user still holds the lease. */
async function loginWhenFree(port: number, name: string, password: string): Promise<RawClient> {
  let client: RawClient | null = null;
  await eventually(async () => {
    try {
      client = await loginRaw(port, name, password);
      return true;
    } catch (err) {
      if (!String(err).includes('[IN-USE]')) throw err;
      return false;
    }
  });
  return client!;
}

/**
 * Serves POP3 with a given context to connections that claim to come from `remoteAddress`
 * (to test what happens for clients that are not on loopback).
 */
async function serveAs(ctx: ServiceContext, remoteAddress: string): Promise<{ port: number; close: () => void }> {
  const handler = createPop3Handler(ctx);
  let n = 0;
  const server = net.createServer((socket) => {
    const closed = new AbortController();
    socket.once('close', () => closed.abort());
    handler.open({
      id: `fake${n++}`,
      socket,
      remoteAddress,
      remotePort: 40000,
      localAddress: '127.0.0.1',
      localPort: 0,
      secure: false,
      closed: closed.signal,
      log: ctx.log,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => server.close(),
  };
}

describe('POP3 maildrop', () => {
  let h: Pop3Harness;

  before(async () => {
    h = await startPop3Harness((config) => {
      // Short enough that the tests see renewals happen.
      config.pop3.lockTtlMs = 300;
    });
  });
  after(() => h.close());

  async function userWithMessages(local: string, count: number): Promise<User> {
    const user = await h.addUser(local, `pw-${local}`);
    for (let i = 1; i <= count; i++) await h.deliver(messageOfSize(300 + i, `message ${i}`), [user]);
    return user;
  }

  it('locks the maildrop: a second session gets [IN-USE] and stays in AUTHORIZATION', async () => {
    await userWithMessages('lock', 2);
    const a = await loginRaw(h.plain.port, 'lock', 'pw-lock');
    // Longer than the lease TTL: the first session must be renewing it.
    await new Promise((r) => setTimeout(r, 700));
    const b = await RawClient.connect(h.plain.port);
    await b.line();
    assert.equal(await b.command('USER lock'), '+OK');
    assert.equal(await b.command('PASS pw-lock'), '-ERR [IN-USE] Mailbox is locked by another POP3 session');
    assert.equal(await b.command('STAT'), '-ERR Not logged in');
    assert.equal(await b.command('AUTH PLAIN ' + Buffer.from('\0lock\0pw-lock').toString('base64')), '-ERR [IN-USE] Mailbox is locked by another POP3 session');
    assert.equal(await a.command('QUIT'), '+OK Logging out.');
    await a.waitClosed();
    // The lease is released before QUIT is answered: the retry succeeds at once.
    assert.equal(await b.command('USER lock'), '+OK');
    assert.equal(await b.command('PASS pw-lock'), '+OK Logged in.');
    assert.equal(await b.command('STAT'), '+OK 2 603');
    b.close();
  });

  it('deletes nothing when the connection drops, and frees the lock', async () => {
    const user = await userWithMessages('dropper', 3);
    const a = await loginRaw(h.plain.port, 'dropper', 'pw-dropper');
    assert.equal(await a.command('DELE 1'), '+OK Marked to be deleted.');
    assert.equal(await a.command('DELE 3'), '+OK Marked to be deleted.');
    a.close();
    const b = await loginWhenFree(h.plain.port, 'dropper', 'pw-dropper');
    assert.equal(await b.command('STAT'), '+OK 3 906');
    assert.equal(await b.command('QUIT'), '+OK Logging out.');
    assert.equal((await h.inbox(user)).length, 3);
  });

  it('download-and-delete: QUIT removes the marked messages; the next session renumbers', async () => {
    const user = await userWithMessages('deleter', 3);
    const before = await h.inbox(user);
    const a = await loginRaw(h.plain.port, 'deleter', 'pw-deleter');
    assert.equal(await a.command('RETR 1'), '+OK 301 octets');
    await a.multiline();
    assert.equal(await a.command('DELE 1'), '+OK Marked to be deleted.');
    assert.equal(await a.command('DELE 2'), '+OK Marked to be deleted.');
    assert.equal(await a.command('QUIT'), '+OK Logging out, messages deleted.');
    await a.waitClosed();
    const left = await h.inbox(user);
    assert.deepEqual(left.map((e) => e.uid), [before[2].uid]);
    const b = await loginRaw(h.plain.port, 'deleter', 'pw-deleter');
    assert.equal(await b.command('LIST'), '+OK 1 messages (303 octets)');
    assert.deepEqual(await b.listing(), ['1 303']);
    b.close();
    const records = h.logLines.map((l) => JSON.parse(l));
    assert.ok(records.some((r) => r.event === 'logout' && r.user === 'deleter@example.org' && r.deleted === 2 && r.retrieved === 1));
  });

  it('download-and-keep: retrieved messages stay, marked \\Seen', async () => {
    const user = await userWithMessages('keeper', 2);
    const a = await loginRaw(h.plain.port, 'keeper', 'pw-keeper');
    for (const n of [1, 2]) {
      assert.match(await a.command(`RETR ${n}`), /^\+OK \d+ octets$/);
      await a.multiline();
    }
    assert.equal(await a.command('QUIT'), '+OK Logging out.');
    const entries = await h.inbox(user);
    assert.equal(entries.length, 2);
    for (const e of entries) assert.ok(e.flags.includes('\\Seen'), `uid ${e.uid} not seen`);
    const b = await loginRaw(h.plain.port, 'keeper', 'pw-keeper');
    assert.equal(await b.command('STAT'), '+OK 2 603');
    b.close();
  });

  it('shows the maildrop as it was at login; later mail waits for the next session', async () => {
    const user = await userWithMessages('snapshot', 1);
    const a = await loginRaw(h.plain.port, 'snapshot', 'pw-snapshot');
    await h.deliver(messageOfSize(500, 'late'), [user]);
    assert.equal(await a.command('STAT'), '+OK 1 301');
    assert.equal(await a.command('DELE 1'), '+OK Marked to be deleted.');
    assert.equal(await a.command('QUIT'), '+OK Logging out, messages deleted.');
    const b = await loginRaw(h.plain.port, 'snapshot', 'pw-snapshot');
    assert.equal(await b.command('STAT'), '+OK 1 500');
    b.close();
  });

  it('waits out a lease left by a crashed node', async () => {
    const user = await userWithMessages('orphan', 1);
    assert.ok(await h.store.acquireLease(`pop3:${user.id}`, 'crashed-node', 200));
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('USER orphan'), '+OK');
    assert.equal(await c.command('PASS pw-orphan'), '-ERR [IN-USE] Mailbox is locked by another POP3 session');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await c.command('USER orphan'), '+OK');
    assert.equal(await c.command('PASS pw-orphan'), '+OK Logged in.');
    c.close();
  });

  it('refuses to delete at QUIT once the lease was lost to another session', async () => {
    const user = await userWithMessages('stolen', 2);
    let acquired = 0;
    // A store where the lease is taken at login and then belongs to someone else.
    const stealing = new Proxy(h.store, {
      get(target, prop, receiver) {
        if (prop === 'acquireLease') return async () => ++acquired === 1;
        if (prop === 'renewLease') return async () => false;
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    const server = await serveAs({ ...h.ctx, store: stealing }, '127.0.0.1');
    try {
      const c = await loginRaw(server.port, 'stolen', 'pw-stolen');
      assert.equal(await c.command('DELE 1'), '+OK Marked to be deleted.');
      // Renewal runs every lockTtlMs / 3.
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(await c.command('QUIT'), '-ERR [SYS/TEMP] Could not delete the marked messages; none were deleted');
      await c.waitClosed();
      assert.equal((await h.inbox(user)).length, 2);
      assert.ok(h.logLines.some((l) => l.includes('maildrop lease lost')));
    } finally {
      server.close();
    }
  });

  it('STLS drops commands pipelined in the clear and then allows login', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    c.send('STLS\r\nUSER injected\r\n');
    assert.equal(await c.line(), '+OK Begin TLS negotiation');
    await c.startTls();
    assert.equal(await c.command('PASS pw-orphan'), '-ERR No username given, send USER first');
    assert.equal(await c.command('CAPA'), '+OK Capability list follows');
    assert.ok(!(await c.listing()).includes('STLS'));
    assert.equal(await c.command('STLS'), '-ERR Already using TLS');
    c.close();
  });

  it('ends a session on shutdown after the RETR in flight, deleting nothing', async () => {
    const user = await h.addUser('shutdown', 'pw-shutdown');
    const lines = ['Subject: big', ''];
    for (let i = 0; i < 40_000; i++) lines.push(`line ${i} ${'y'.repeat(60)}`);
    const big = Buffer.from(lines.join('\r\n') + '\r\n');
    await h.deliver(big, [user]);
    await h.deliver(messageOfSize(400, 'small'), [user]);
    const c = await loginRaw(h.plain.port, 'shutdown', 'pw-shutdown');
    assert.equal(await c.command('DELE 2'), '+OK Marked to be deleted.');
    c.socket.pause();
    c.send('RETR 1\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const shutdown = h.plain.shutdownSessions();
    c.socket.resume();
    assert.equal(await c.line(), `+OK ${big.length} octets`);
    assert.equal((await c.multiline(10_000)).length, big.length + 3);
    assert.equal(await c.line(), '-ERR [SYS/TEMP] Server shutting down');
    await c.waitClosed();
    await shutdown;
    assert.equal((await h.inbox(user)).length, 2);
  });
});

describe('POP3 idle timeout', () => {
  let h: Pop3Harness;
  before(async () => {
    h = await startPop3Harness((config) => {
      config.pop3.idleTimeoutMs = 300;
    });
  });
  after(() => h.close());

  it('logs out an idle client without deleting anything and frees the lock', async () => {
    const user = await h.addUser('idle', 'pw-idle');
    await h.deliver(messageOfSize(300, 'one'), [user]);
    const a = await loginRaw(h.plain.port, 'idle', 'pw-idle');
    assert.equal(await a.command('DELE 1'), '+OK Marked to be deleted.');
    assert.equal(await a.line(2_000), '-ERR Autologout; idle for too long');
    await a.waitClosed();
    assert.equal((await h.inbox(user)).length, 1);
    // The lock is released as the goodbye goes out, not before it: a client that reconnects at
    // once may find it still held for a moment, as after a dropped connection.
    const b = await loginWhenFree(h.plain.port, 'idle', 'pw-idle');
    assert.equal(await b.command('STAT'), '+OK 1 300');
    b.close();
  });

  it('says goodbye at once to idle sessions on shutdown, in either state', async () => {
    const user = await h.addUser('leaving', 'pw-leaving');
    await h.deliver(messageOfSize(300, 'one'), [user]);
    const loggedIn = await loginRaw(h.plain.port, 'leaving', 'pw-leaving');
    assert.equal(await loggedIn.command('DELE 1'), '+OK Marked to be deleted.');
    const fresh = await RawClient.connect(h.secure.port, true);
    await fresh.line();
    // A slow release (a busy database) still ends before shutdown says it is done: the process
    // exits after it, and a lease left held would lock the maildrop until it expires.
    const release = h.store.releaseLease.bind(h.store);
    h.store.releaseLease = async (name, owner) => {
      await new Promise((r) => setTimeout(r, 100));
      return release(name, owner);
    };
    try {
      await Promise.all([h.plain.shutdownSessions(), h.secure.shutdownSessions()]);
    } finally {
      h.store.releaseLease = release;
    }
    for (const c of [loggedIn, fresh]) {
      assert.equal(await c.line(), '-ERR [SYS/TEMP] Server shutting down');
      await c.waitClosed();
    }
    assert.equal((await h.inbox(user)).length, 1);
    assert.equal(await h.store.acquireLease(`pop3:${user.id}`, 'probe', 1000), true, 'lease still held');
    await h.store.releaseLease(`pop3:${user.id}`, 'probe');
  });

  it('refuses connections over the limits with a -ERR greeting', () => {
    const handler = createPop3Handler(h.ctx);
    assert.equal(handler.refuse('too-many-connections'), '-ERR [SYS/TEMP] Too many connections, try again later\r\n');
    assert.equal(handler.refuse('shutting-down'), '-ERR [SYS/TEMP] Server shutting down\r\n');
  });
});

describe('POP3 for clients off loopback', () => {
  let h: Pop3Harness;
  before(async () => {
    h = await startPop3Harness();
    const user = await h.addUser('remote', 'pw-remote');
    await h.deliver(messageOfSize(300, 'one'), [user]);
  });
  after(() => h.close());

  it('refuses plaintext logins without TLS and stops offering them', async () => {
    const server = await serveAs(h.ctx, '192.0.2.7');
    try {
      const c = await RawClient.connect(server.port);
      await c.line();
      assert.equal(await c.command('CAPA'), '+OK Capability list follows');
      assert.deepEqual(await c.listing(), ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'STLS', 'IMPLEMENTATION Wharf']);
      const refused = '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections';
      assert.equal(await c.command('USER remote'), refused);
      assert.equal(await c.command('PASS pw-remote'), refused);
      assert.equal(await c.command('AUTH PLAIN ' + Buffer.from('\0remote\0pw-remote').toString('base64')), refused);
      assert.equal(await c.command('AUTH'), '+OK');
      assert.deepEqual(await c.listing(), []);
      assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
      await c.startTls();
      assert.equal(await c.command('CAPA'), '+OK Capability list follows');
      assert.ok((await c.listing()).includes('SASL PLAIN'));
      assert.equal(await c.command('USER remote'), '+OK');
      assert.equal(await c.command('PASS pw-remote'), '+OK Logged in.');
      assert.equal(await c.command('QUIT'), '+OK Logging out.');
    } finally {
      server.close();
    }
  });

  it('allows them when the operator set auth.allowInsecure', async () => {
    const config = { ...h.config, auth: { ...h.config.auth, allowInsecure: true } };
    const server = await serveAs({ ...h.ctx, config }, '192.0.2.8');
    try {
      const c = await loginRaw(server.port, 'remote', 'pw-remote');
      assert.equal(await c.command('STAT'), '+OK 1 300');
      assert.equal(await c.command('QUIT'), '+OK Logging out.');
    } finally {
      server.close();
    }
  });

  it('answers -ERR [SYS/TEMP] and deletes nothing when the store cannot expunge', async () => {
    const failing = new Proxy(h.store, {
      get(target, prop, receiver) {
        if (prop === 'expunge') return async () => Promise.reject(new Error('disk full'));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    const server = await serveAs({ ...h.ctx, store: failing }, '127.0.0.1');
    try {
      const c = await loginRaw(server.port, 'remote', 'pw-remote');
      assert.equal(await c.command('DELE 1'), '+OK Marked to be deleted.');
      assert.match(await c.command('QUIT'), /^-ERR \[SYS\/TEMP\] /);
      await c.waitClosed();
      const user = await h.store.getUser('remote@example.org');
      assert.equal((await h.inbox(user!)).length, 1);
      // The lock is free again.
      const d = await loginRaw(h.plain.port, 'remote', 'pw-remote');
      d.close();
    } finally {
      server.close();
    }
  });
});
