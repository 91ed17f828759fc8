/** Timeouts, clients that vanish, shutdown and connection refusal. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSmtpHandler } from '../../src/smtp/index.js';
import type { BodyWriter } from '../../src/store/types.js';
import { DOMAIN, HOSTNAME, RawClient, delay, eventually, startServer, type TestServer } from './harness.js';

const BOB = `bob@${DOMAIN}`;

describe('session limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ users: [BOB], config: { smtp: { idleTimeoutMs: 300, transactionTimeoutMs: 700 } } });
  });
  after(() => server.close());

  it('closes an idle session with 421 4.4.2', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    const started = Date.now();
    const r = await c.reply(3000);
    assert.equal(r.raw, `421 4.4.2 ${HOSTNAME} Error: timeout exceeded\r\n`);
    assert.ok(Date.now() - started >= 250, 'not before the idle time');
    await c.waitClosed();
  });

  it('times out a stalled DATA and stores nothing', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect(`RCPT TO:<${BOB}>`, 250);
    await c.expect('DATA', 354);
    c.write('Subject: stalled\r\n\r\npart');
    assert.equal((await c.reply(3000)).code, 421);
    await c.waitClosed();
    await delay(50);
    assert.equal((await server.inbox(BOB)).length, 0);
  });

  it('ends a transaction that takes too long even when the client keeps talking', async () => {
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    let last;
    for (let i = 0; i < 10; i++) {
      await delay(150);
      last = await c.command('NOOP');
      if (last.code !== 250) break;
    }
    assert.equal(last?.code, 421);
    assert.match(last?.lines[0] ?? '', /^4\.4\.2 /);
    await c.waitClosed();
  });

  it('stores nothing when the client vanishes mid-DATA, and aborts the body', async () => {
    const aborted = trackAborts(server);
    const c = await RawClient.connect(server.port);
    await c.reply();
    await c.expect('EHLO crepes.fr', 250);
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect(`RCPT TO:<${BOB}>`, 250);
    await c.expect('DATA', 354);
    c.write('Subject: gone\r\n\r\n' + 'x'.repeat(100_000));
    await delay(50);
    c.close();
    await eventually(() => server.logs.some((l) => l.event === 'message aborted'));
    await delay(100);
    assert.equal((await server.inbox(BOB)).length, 0);
    assert.equal(aborted.count, 1);
  });
});

/** Counts BodyWriter.abort calls on bodies the store hands out from now on. */
function trackAborts(server: TestServer): { count: number } {
  const counter = { count: 0 };
  const store = server.store;
  const original = store.createBody.bind(store);
  const originals = new WeakMap<BodyWriter, BodyWriter>();
  const deliver = store.deliver.bind(store);
  store.deliver = (req) => deliver({ ...req, body: originals.get(req.body) ?? req.body });
  store.createBody = () => {
    const writer = original();
    const abort = writer.abort.bind(writer);
    const tracked: BodyWriter = {
      write: (chunk) => writer.write(chunk),
      prepend: (bytes) => writer.prepend(bytes),
      abort: async () => {
        counter.count++;
        await abort();
      },
      get size() {
        return writer.size;
      },
    };
    // The store recognises its own writers in deliver(); hand it the original there.
    originals.set(tracked, writer);
    return tracked;
  };
  return counter;
}

describe('delivery through the store', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ users: [BOB] });
  });
  after(() => server.close());

  async function sendOne(c: RawClient): Promise<void> {
    await c.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await c.expect(`RCPT TO:<${BOB}>`, 250);
    await c.expect('DATA', 354);
    c.write('Subject: s\r\n\r\nb\r\n.\r\n');
  }

  it('replies 250 only after the store has the message', async () => {
    const store = server.store;
    const deliver = store.deliver.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let resolved = false;
    store.deliver = async (req) => {
      await gate;
      const result = await deliver(req);
      resolved = true;
      return result;
    };
    try {
      const c = await RawClient.connect(server.port);
      await c.reply();
      await c.expect('EHLO crepes.fr', 250);
      await sendOne(c);
      await assert.rejects(c.reply(300), /no reply in time/);
      release();
      const r = await c.reply();
      assert.equal(r.code, 250);
      assert.equal(resolved, true);
      c.close();
    } finally {
      store.deliver = deliver;
    }
  });

  it('answers 451 4.3.0 when the store fails, and discards the body', async () => {
    const store = server.store;
    const aborted = trackAborts(server);
    const deliver = store.deliver.bind(store);
    store.deliver = async () => {
      throw new Error('disk on fire');
    };
    try {
      const before = (await server.inbox(BOB)).length;
      const c = await RawClient.connect(server.port);
      await c.reply();
      await c.expect('EHLO crepes.fr', 250);
      await sendOne(c);
      const r = await c.reply();
      assert.deepEqual([r.code, r.lines[0].slice(0, 5)], [451, '4.3.0']);
      // The session carries on.
      store.deliver = deliver;
      await sendOne(c);
      assert.equal((await c.reply()).code, 250);
      c.close();
      assert.equal(aborted.count, 1);
      assert.equal((await server.inbox(BOB)).length, before + 1);
    } finally {
      store.deliver = deliver;
    }
  });
});

describe('shutdown', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ users: [BOB], config: { shutdownGraceMs: 3000 } });
  });
  after(() => server.close());

  it('closes idle sessions with 421 4.3.2 and lets a transaction finish first', async () => {
    const idle = await RawClient.connect(server.port);
    await idle.reply();
    await idle.expect('EHLO crepes.fr', 250);
    const busy = await RawClient.connect(server.port);
    await busy.reply();
    await busy.expect('EHLO crepes.fr', 250);
    await busy.expect('MAIL FROM:<alice@crepes.fr>', 250);
    await busy.expect(`RCPT TO:<${BOB}>`, 250);
    await busy.expect('DATA', 354);
    busy.write('Subject: last one\r\n\r\n');

    await server.listener.stopAccepting();
    const done = server.listener.shutdownSessions();
    const r = await idle.reply();
    assert.equal(r.raw, `421 4.3.2 ${HOSTNAME} Service shutting down\r\n`);
    await idle.waitClosed();

    await delay(100);
    busy.write('body\r\n.\r\n');
    assert.equal((await busy.reply()).code, 250);
    assert.equal((await busy.reply()).code, 421);
    await busy.waitClosed();
    await done;
    assert.equal((await server.inbox(BOB)).length, 1);
  });

  it('refuses connections past the limits with a 421 reply', () => {
    const handler = createSmtpHandler(server.ctx, 'mx');
    assert.equal(handler.refuse('too-many-connections'), `421 4.7.0 ${HOSTNAME} Error: too many connections\r\n`);
    assert.match(handler.refuse('too-many-from-address'), /^421 4\.7\.0 /);
    assert.equal(handler.refuse('shutting-down'), `421 4.3.2 ${HOSTNAME} Service shutting down\r\n`);
  });
});
