import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import {
  ConnectionClosedError,
  ReadInterruptedError,
  TIMED_OUT,
  WireTransport,
  type WireTransportOptions,
} from '../../src/net/transport.js';
import { testTls } from '../helpers/service.js';

/** A one-connection server that hands its socket to `session` as a WireTransport. */
async function serveOnce(
  session: (t: WireTransport) => Promise<void>,
  opts: Partial<WireTransportOptions> = {},
): Promise<{ port: number; finished: Promise<void>; transport: Promise<WireTransport> }> {
  const server = net.createServer();
  let handOver!: (t: WireTransport) => void;
  const transport = new Promise<WireTransport>((resolve) => (handOver = resolve));
  const finished = new Promise<void>((resolve, reject) => {
    server.once('connection', (socket) => {
      server.close();
      socket.on('error', () => {});
      const t = new WireTransport(socket, { maxLineBytes: 1024, secure: false, stallTimeoutMs: 10_000, ...opts });
      handOver(t);
      session(t).then(resolve, reject);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, finished, transport };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads from a socket until `text` has arrived; returns everything read. */
function readUntil(socket: net.Socket | tls.TLSSocket, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => done(new Error(`no ${JSON.stringify(text)}; got ${JSON.stringify(got)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes(text)) done();
    };
    const onClose = () => done(new Error(`closed; got ${JSON.stringify(got)}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(got);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

function text(line: unknown): string | null {
  if (line === null || line === TIMED_OUT) return null;
  return (line as { bytes: Buffer }).bytes.toString('latin1');
}

/**
 * A tiny line protocol: STARTTLS (220, then TLS), NOOP (250), BIG (a 16 KB reply), QUIT.
 * Records what it executed.
 */
async function miniProtocol(t: WireTransport, log: { executed: string[]; dropped: Array<number | null> }, handshakeMs = 5000) {
  const material = await testTls();
  for (;;) {
    const line = await t.readLine(10_000);
    const command = text(line);
    if (command === null) break;
    log.executed.push(command);
    if (command === 'STARTTLS') {
      t.send('220 go ahead\r\n');
      const dropped = await t.upgradeToTls(material, handshakeMs);
      log.dropped.push(dropped);
      if (dropped === null) break;
    } else if (command === 'NOOP') {
      t.send('250 ok\r\n');
    } else if (command === 'BIG') {
      t.send('250-' + 'x'.repeat(16 * 1024 - 6) + '\r\n');
    } else if (command === 'QUIT') {
      t.close(`221 bye, secure=${t.secure}\r\n`);
      break;
    } else {
      t.send(`500 unknown ${command}\r\n`);
    }
  }
}

describe('WireTransport', () => {

  it('discards commands pipelined in the clear after STARTTLS and continues over TLS', async () => {
    const log = { executed: [] as string[], dropped: [] as Array<number | null> };
    const server = await serveOnce((t) => miniProtocol(t, log));
    const plain = await connect(server.port);
    plain.setNoDelay(true);
    // One packet: the injected NOOP travels with STARTTLS (CVE-2011-0411).
    plain.write('STARTTLS\r\nNOOP\r\n');
    const before = await readUntil(plain, '\r\n');
    assert.equal(before, '220 go ahead\r\n', 'nothing but the 220 before TLS');
    const secured = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', resolve);
      secured.once('error', reject);
    });
    secured.write('QUIT\r\n');
    const reply = await readUntil(secured, '\r\n');
    // The first reply over TLS answers QUIT: the NOOP was never executed.
    assert.equal(reply, '221 bye, secure=true\r\n');
    await server.finished;
    assert.deepEqual(log.executed, ['STARTTLS', 'QUIT']);
    assert.deepEqual(log.dropped, ['NOOP\r\n'.length]);
    secured.destroy();
  });

  it('drops a client that never starts the TLS handshake', async () => {
    const log = { executed: [] as string[], dropped: [] as Array<number | null> };
    const server = await serveOnce((t) => miniProtocol(t, log, 200));
    const client = await connect(server.port);
    client.on('error', () => {});
    client.write('STARTTLS\r\n');
    await readUntil(client, '220 go ahead\r\n');
    // Silence: the server gives up and closes the connection.
    await closed(client);
    await server.finished;
    assert.deepEqual(log.dropped, [null]);
  });

  it('drops a client that answers STARTTLS with plaintext instead of a handshake', async () => {
    const log = { executed: [] as string[], dropped: [] as Array<number | null> };
    const server = await serveOnce((t) => miniProtocol(t, log));
    const client = await connect(server.port);
    client.on('error', () => {});
    client.write('STARTTLS\r\n');
    await readUntil(client, '220 go ahead\r\n');
    client.write('NOOP\r\nNOOP\r\n');
    await closed(client);
    await server.finished;
    assert.deepEqual(log.executed, ['STARTTLS']);
    assert.deepEqual(log.dropped, [null]);
  });

  it('stops reading the commands of a client that does not read its replies, and resumes', async () => {
    const COMMANDS = 2000;
    const REPLY = 16 * 1024;
    const MAX_UNREAD = 64 * 1024;
    const log = { executed: [] as string[], dropped: [] as Array<number | null> };
    const server = await serveOnce((t) => miniProtocol(t, log), { maxUnreadReplyBytes: MAX_UNREAD });
    const client = await connect(server.port);
    client.pause();
    client.write('BIG\r\n'.repeat(COMMANDS) + 'QUIT\r\n');
    const transport = await server.transport;
    // Wait until the server stopped executing: the kernel's buffers are full and it waits.
    let last = -1;
    let maxUnread = 0;
    while (log.executed.length !== last) {
      last = log.executed.length;
      for (let i = 0; i < 10; i++) {
        maxUnread = Math.max(maxUnread, transport.socket.writableLength);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(log.executed.length < COMMANDS, `executed ${log.executed.length} commands without the client reading`);
    assert.ok(maxUnread <= MAX_UNREAD + 2 * REPLY, `${maxUnread} reply bytes buffered`);
    // The client catches up: every reply arrives, then the goodbye.
    let received = 0;
    client.on('data', (d: Buffer) => (received += d.length));
    client.resume();
    await closed(client);
    await server.finished;
    assert.equal(log.executed.length, COMMANDS + 1);
    assert.equal(received, COMMANDS * REPLY + '221 bye, secure=false\r\n'.length);
  });

  it('makes write() wait for a slow reader and drops one that stalls', async () => {
    let outcome: unknown = null;
    let waited = 0;
    const server = await serveOnce(
      async (t) => {
        const chunk = Buffer.alloc(256 * 1024, 0x61);
        try {
          for (let i = 0; i < 1000; i++) {
            const full = t.write(chunk);
            if (full) {
              waited++;
              await full;
            }
          }
        } catch (err) {
          outcome = err;
        }
      },
      { stallTimeoutMs: 300 },
    );
    const client = await connect(server.port);
    client.on('error', () => {});
    client.pause();
    await server.finished;
    assert.ok(outcome instanceof ConnectionClosedError, String(outcome));
    assert.ok(waited > 0);
    client.destroy();
  });

  it('streams an exact number of bytes in bounded chunks, then reads lines again', async () => {
    const chunks: Buffer[] = [];
    let after: string | null = null;
    const server = await serveOnce(async (t) => {
      assert.equal(text(await t.readLine(5000)), 'APPEND {10}');
      for await (const chunk of t.readExactly(10, 5000, 4)) chunks.push(chunk);
      after = text(await t.readLine(5000));
    });
    const client = await connect(server.port);
    client.write('APPEND {10}\r\n0123');
    await new Promise((r) => setTimeout(r, 20));
    client.write('456789NOOP\r\n');
    await server.finished;
    assert.equal(Buffer.concat(chunks).toString(), '0123456789');
    assert.ok(chunks.every((c) => c.length <= 4));
    assert.equal(after, 'NOOP');
    client.destroy();
  });

  it('fails a fixed-length read when the client leaves early', async () => {
    let failure: unknown = null;
    const server = await serveOnce(async (t) => {
      try {
        for await (const chunk of t.readExactly(100, 5000)) assert.ok(chunk.length > 0);
      } catch (err) {
        failure = err;
      }
    });
    const client = await connect(server.port);
    client.end('only ten b');
    await server.finished;
    assert.ok(failure instanceof ReadInterruptedError);
    assert.equal(failure.reason, 'closed');
  });

  it('times out and cancels reads without losing the line that comes later', async () => {
    const results: Array<string | null | typeof TIMED_OUT> = [];
    const server = await serveOnce(async (t) => {
      const first = await t.readLine(50);
      results.push(first === TIMED_OUT ? first : text(first));
      const cancelled = t.readLine();
      assert.equal(t.waitingForClient, true);
      t.cancelRead();
      results.push(text(await cancelled));
      results.push(text(await t.readLine(5000)));
    });
    const client = await connect(server.port);
    await new Promise((r) => setTimeout(r, 200));
    client.write('HELLO\r\n');
    await server.finished;
    assert.deepEqual(results, [TIMED_OUT, null, 'HELLO']);
    client.destroy();
  });

  it('sends the replies of one event-loop turn together and the last reply before closing', async () => {
    const server = await serveOnce(async (t) => {
      t.send('250-one\r\n');
      t.send('250 two\r\n');
      assert.equal(t.socket.writableLength, '250-one\r\n250 two\r\n'.length, 'corked until the turn ends');
      t.close('221 bye\r\n');
      assert.throws(() => t.write('late\r\n'), ConnectionClosedError);
    });
    const client = await connect(server.port);
    let got = '';
    client.on('data', (d: Buffer) => (got += d.toString()));
    await closed(client);
    await server.finished;
    assert.equal(got, '250-one\r\n250 two\r\n221 bye\r\n');
  });

  it('ends a read trickled a byte at a time at the stage deadline, though each chunk restarts the idle time', async () => {
    let result: { bytes: number; outcome: unknown; stage: unknown; ms: number } | null = null;
    const server = await serveOnce(async (t) => {
      const started = Date.now();
      t.deadlines.set('command', 400);
      let bytes = 0;
      for (;;) {
        // Each read may wait 300 ms: the client's bytes come every 30 ms, so this alone never ends.
        const chunk = await t.readBytes(1024, 300);
        if (chunk === TIMED_OUT || chunk === null) {
          result = { bytes, outcome: chunk, stage: t.expiredDeadline(), ms: Date.now() - started };
          return;
        }
        bytes += chunk.length;
      }
    });
    const client = await connect(server.port);
    const dripping = setInterval(() => client.write('x'), 30);
    await server.finished;
    clearInterval(dripping);
    client.destroy();
    const r = result!;
    assert.equal(r.outcome, TIMED_OUT);
    assert.equal(r.stage, 'command');
    assert.ok(r.bytes > 3, `bytes arrived meanwhile (${r.bytes})`);
    assert.ok(r.ms >= 350 && r.ms < 3000, `ended after ${r.ms} ms`);
  });

  it('tells an idle timeout from a deadline, and reads freely once the deadline is cleared', async () => {
    const stages: unknown[] = [];
    const server = await serveOnce(async (t) => {
      t.deadlines.set('login', 10_000);
      assert.equal(await t.readLine(50), TIMED_OUT);
      stages.push(t.expiredDeadline());
      t.deadlines.set('login', 50);
      assert.equal(await t.readLine(5000), TIMED_OUT);
      stages.push(t.expiredDeadline());
      // Past its deadline every read ends at once, even with a line waiting.
      assert.equal(await t.readLine(5000), TIMED_OUT);
      t.deadlines.clear('login');
      stages.push(text(await t.readLine(5000)));
    });
    const client = await connect(server.port);
    await new Promise((r) => setTimeout(r, 300));
    client.write('HELLO\r\n');
    await server.finished;
    client.destroy();
    assert.deepEqual(stages, [null, 'login', 'HELLO']);
  });
});
