/**
 * Data connections against the in-process server: active and passive, the RFC 2577 attacks
 * (PORT bounce to another address, a stranger taking the passive port), ABOR and STAT during
 * a transfer, time limits, quota and full disk, and a client that dies mid-upload.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectData, FtpTestClient, readAll, writeAndEnd } from './ftp-client.js';
import { PASSWORD, startFtpHarness, type FtpHarness } from './harness.js';

/** A listener on another loopback address that records whether anyone connected. */
async function bystander(host: string): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function portArgument(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

/** A local listener for active mode: resolves with the first connection's bytes. */
async function activeReceiver(host = '127.0.0.1'): Promise<{ port: number; data: Promise<Buffer>; from: Promise<string>; close(): void }> {
  let resolveFrom!: (a: string) => void;
  const from = new Promise<string>((r) => (resolveFrom = r));
  let resolveData!: (b: Buffer) => void;
  const data = new Promise<Buffer>((r) => (resolveData = r));
  const server = net.createServer((s) => {
    resolveFrom(s.remoteAddress ?? '');
    void readAll(s).then(resolveData);
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as net.AddressInfo).port, data, from, close: () => server.close() };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('FTP data connections', () => {
  let h: FtpHarness;
  before(async () => {
    h = await startFtpHarness((c) => {
      c.ftp.dataConnectTimeoutMs = 1_500;
    });
  });
  after(async () => {
    await h.close();
  });

  async function loggedIn(opts: { localAddress?: string } = {}): Promise<FtpTestClient> {
    const c = await FtpTestClient.connect(h.ftpPort, opts);
    await c.login('bob', PASSWORD);
    await c.expect('TYPE I', 200);
    return c;
  }

  it('connects back to the client in active mode (PORT and EPRT), from any port', async () => {
    h.files.put(h.space, '/active.txt', 'active data');
    const c = await loggedIn();
    for (const command of ['PORT', 'EPRT']) {
      const receiver = await activeReceiver();
      const arg = command === 'PORT' ? portArgument('127.0.0.1', receiver.port) : `|1|127.0.0.1|${receiver.port}|`;
      assert.equal((await c.cmd(`${command} ${arg}`)).code, 200);
      assert.equal((await c.cmd('RETR active.txt')).code, 150);
      assert.equal((await receiver.data).toString(), 'active data');
      assert.equal((await c.reply()).code, 226);
    }
    c.close();
  });

  it('refuses PORT and EPRT to another address (no bounce) and never connects there', async () => {
    const victim = await bystander('127.0.0.2');
    const c = await loggedIn();
    assert.equal((await c.cmd(`PORT ${portArgument('127.0.0.2', victim.port)}`)).code, 501);
    assert.equal((await c.cmd(`EPRT |1|127.0.0.2|${victim.port}|`)).code, 501);
    assert.equal((await c.cmd('PORT 127,0,0,1,0,25')).code, 501, 'privileged port');
    assert.equal((await c.cmd('PORT 127,0,0,1,300,1')).code, 501);
    assert.equal((await c.cmd('EPRT |3|x|1|')).code, 522);
    assert.equal((await c.cmd('EPRT |2|127.0.0.1|5000|')).code, 501);
    assert.equal((await c.cmd('EPRT garbage')).code, 501);
    // Nothing was set up: a transfer now has no data connection to use.
    assert.equal((await c.cmd('LIST')).code, 425);
    await sleep(200);
    assert.equal(victim.connections(), 0);
    await victim.close();
    c.close();
  });

  it('drops a passive data connection from another address; the client still connects', async () => {
    h.files.put(h.space, '/secret.txt', 'for bob only');
    const c = await loggedIn();
    const { host, port } = await c.pasv();
    const thief = await connectData(host, port, '127.0.0.2');
    const stolen = readAll(thief);
    const own = await connectData(host, port, '127.0.0.1');
    const received = readAll(own);
    assert.equal((await c.cmd('RETR secret.txt')).code, 150);
    assert.equal((await received).toString(), 'for bob only');
    assert.equal((await c.reply()).code, 226);
    assert.equal((await stolen).length, 0);
    c.close();
  });

  it('offers EPSV and EPSV ALL', async () => {
    h.files.put(h.space, '/e.txt', 'extended');
    const c = await loggedIn();
    assert.equal((await c.cmd('EPSV 2')).code, 522);
    assert.equal((await c.cmd('EPSV foo')).code, 501, 'neither a protocol number nor ALL');
    const port = await c.epsv();
    const socket = await connectData('127.0.0.1', port);
    const received = readAll(socket);
    assert.equal((await c.cmd('RETR e.txt')).code, 150);
    assert.equal((await received).toString(), 'extended');
    assert.equal((await c.reply()).code, 226);
    assert.equal((await c.cmd('EPSV ALL')).code, 200);
    assert.equal((await c.cmd('PASV')).code, 503);
    assert.equal((await c.cmd('PORT 127,0,0,1,100,100')).code, 503);
    assert.equal((await c.cmd('EPSV 1')).code, 229);
    c.close();
  });

  it('answers STAT during a transfer and ABOR with 426 then 226', async () => {
    h.files.put(h.space, '/big.bin', Buffer.alloc(32 * 1024 * 1024, 7));
    const c = await loggedIn();
    const socket = await c.openPassive();
    socket.pause();
    assert.equal((await c.cmd('RETR big.bin')).code, 150);
    const stat = await c.cmd('STAT');
    assert.equal(stat.code, 213);
    assert.match(stat.text, /RETR \/big\.bin: \d+ bytes transferred/);
    c.send(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
    assert.equal((await c.reply()).code, 426);
    assert.equal((await c.reply()).code, 226);
    socket.destroy();
    assert.equal((await c.cmd('ABOR')).code, 225, 'nothing left to abort');
    assert.equal((await c.cmd('NOOP')).code, 200);
    c.close();
  });

  it('aborts an upload whose client stopped sending: 426, 226, and no file', async () => {
    const c = await loggedIn();
    const socket = await c.openPassive();
    socket.on('error', () => {});
    assert.equal((await c.cmd('STOR stopped.bin')).code, 150);
    socket.write(Buffer.alloc(1000, 1));
    await sleep(100);
    assert.equal((await c.cmd('ABOR')).code, 426);
    assert.equal((await c.reply()).code, 226);
    assert.equal(await h.files.stat(h.space, '/stopped.bin'), null);
    socket.destroy();
    c.close();
  });

  it('aborts a transfer still waiting for its data connection', async () => {
    const c = await loggedIn();
    await c.pasv();
    c.send('LIST');
    await sleep(100);
    assert.equal((await c.cmd('ABOR')).code, 426, 'no 150: the connection never came');
    assert.equal((await c.reply()).code, 226);
    c.close();
  });

  it('replies 425 when the client never opens the data connection', async () => {
    h.files.put(h.space, '/x.txt', 'x');
    const c = await loggedIn();
    await c.pasv();
    assert.equal((await c.cmd('RETR x.txt')).code, 425);
    const receiver = await bystander('127.0.0.1');
    await receiver.close();
    assert.equal((await c.cmd(`PORT ${portArgument('127.0.0.1', receiver.port)}`)).code, 200);
    assert.equal((await c.cmd('RETR x.txt')).code, 425, 'nobody listens there');
    c.close();
  });

  it('commits an upload before 226, refuses over quota with 552 and a full disk with 452', async () => {
    const c = await loggedIn();
    const socket = await c.openPassive();
    assert.equal((await c.cmd('STOR durable.txt')).code, 150);
    await writeAndEnd(socket, 'safe');
    assert.equal((await c.reply()).code, 226);
    const commit = h.files.commits.find((x) => x.path === '/durable.txt');
    assert.ok(commit, 'committed when 226 arrived');

    h.allowance = 10;
    try {
      const over = await c.openPassive();
      assert.equal((await c.cmd('STOR over.bin')).code, 150);
      over.on('error', () => {});
      over.write(Buffer.alloc(100));
      assert.equal((await c.reply()).code, 552);
      over.destroy();
      assert.equal(await h.files.stat(h.space, '/over.bin'), null);
    } finally {
      h.allowance = null;
    }

    const full = await c.openPassive();
    h.files.failNextWriteWith = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    assert.equal((await c.cmd('STOR full.bin')).code, 150);
    full.on('error', () => {});
    full.write('bytes');
    assert.equal((await c.reply()).code, 452);
    full.destroy();
    assert.equal(await h.files.stat(h.space, '/full.bin'), null);
    c.close();
  });

  it('leaves no file when the client dies in the middle of an upload', async () => {
    const c = await loggedIn();
    const socket = await c.openPassive();
    assert.equal((await c.cmd('STOR dying.bin')).code, 150);
    socket.write(Buffer.alloc(64 * 1024, 1));
    await sleep(100);
    // What the kernel does for a killed process: both connections closed at once. The data
    // connection's end alone looks like a complete file (stream mode); the control
    // connection closing with it tells the truth. The harder order: data first.
    socket.end();
    c.socket.end();
    await sleep(500);
    assert.equal(await h.files.stat(h.space, '/dying.bin'), null);
    const again = await loggedIn();
    assert.equal((await again.cmd('SIZE dying.bin')).code, 550);
    again.close();
  });
});

describe('FTP time limits and FXP', () => {
  let h: FtpHarness;
  before(async () => {
    h = await startFtpHarness((c) => {
      c.ftp.idleTimeoutMs = 1_000;
      c.ftp.dataIdleTimeoutMs = 1_000;
      c.ftp.fxpUsers = ['bob@example.org'];
    });
  });
  after(async () => {
    await h.close();
  });

  it('closes an idle control connection with 421', async () => {
    const c = await FtpTestClient.connect(h.ftpPort);
    const r = await c.reply(10_000);
    assert.equal(r.code, 421);
    await c.waitClosed();
  });

  it('aborts with 426 a data connection that stops moving', async () => {
    const c = await FtpTestClient.connect(h.ftpPort);
    await c.login('bob', PASSWORD);
    const socket = await c.openPassive();
    assert.equal((await c.cmd('STOR stalled.bin')).code, 150);
    socket.on('error', () => {});
    socket.write('a little');
    assert.equal((await c.reply(10_000)).code, 426);
    assert.equal(await h.files.stat(h.space, '/stalled.bin'), null);
    c.close();
    socket.destroy();
  });

  it('lets an FXP user send the data connection to another address', async () => {
    h.files.put(h.space, '/fxp.txt', 'to a third party');
    const c = await FtpTestClient.connect(h.ftpPort);
    await c.login('bob', PASSWORD);
    await c.expect('TYPE I', 200);
    const receiver = await activeReceiver('127.0.0.2');
    assert.equal((await c.cmd(`PORT ${portArgument('127.0.0.2', receiver.port)}`)).code, 200);
    assert.equal((await c.cmd('RETR fxp.txt')).code, 150);
    assert.equal((await receiver.data).toString(), 'to a third party');
    assert.equal((await c.reply()).code, 226);
    c.close();
  });
});

describe('FTP passive ports behind NAT', () => {
  let h: FtpHarness;
  let first = 0;
  before(async () => {
    first = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    h = await startFtpHarness((c) => {
      c.ftp.passivePortMin = first;
      c.ftp.passivePortMax = first + 3;
      c.ftp.passiveAddress = '198.51.100.7';
    });
  });
  after(async () => {
    await h.close();
  });

  it('takes passive ports from the configured range and announces the configured address', async () => {
    h.files.put(h.space, '/nat.txt', 'behind nat');
    const c = await FtpTestClient.connect(h.ftpPort);
    await c.login('bob', PASSWORD);
    for (let i = 0; i < 6; i++) {
      const { host, port } = await c.pasv();
      assert.equal(host, '198.51.100.7');
      assert.ok(port >= first && port <= first + 3, `port ${port} outside ${first}-${first + 3}`);
      // The announced address is for clients outside; here the port is reached on loopback.
      const socket = await connectData('127.0.0.1', port);
      const data = readAll(socket);
      assert.equal((await c.cmd('RETR nat.txt')).code, 150);
      assert.equal((await data).toString(), 'behind nat');
      assert.equal((await c.reply()).code, 226);
    }
    const port = await c.epsv();
    assert.ok(port >= first && port <= first + 3);
    c.close();
  });

  it('accepts AUTH SSL as AUTH TLS (what older clients send)', async () => {
    const c = await FtpTestClient.connect(h.ftpPort);
    await c.startTls('AUTH SSL');
    await c.login('bob', PASSWORD);
    assert.equal((await c.cmd('PBSZ 0')).code, 200);
    assert.equal((await c.cmd('PROT P')).code, 200);
    c.close();
  });
});

describe('FTP shutdown', () => {
  it('lets a transfer in flight finish, then says 421 and closes; an idle session gets 421 at once', async () => {
    const h = await startFtpHarness();
    try {
      const content = Buffer.alloc(8 * 1024 * 1024, 3);
      h.files.put(h.space, '/big.bin', content);
      const idle = await FtpTestClient.connect(h.ftpPort);
      const busy = await FtpTestClient.connect(h.ftpPort);
      await busy.login('bob', PASSWORD);
      await busy.expect('TYPE I', 200);
      const socket = await busy.openPassive();
      socket.pause();
      assert.equal((await busy.cmd('RETR big.bin')).code, 150);
      await h.plain.stopAccepting();
      const shutdown = h.plain.shutdownSessions();
      assert.equal((await idle.reply()).code, 421);
      await idle.waitClosed();
      const data = readAll(socket);
      socket.resume();
      assert.equal((await data).length, content.length);
      assert.equal((await busy.reply()).code, 226);
      assert.equal((await busy.reply()).code, 421);
      await busy.waitClosed();
      await shutdown;
    } finally {
      await h.close();
    }
  });

  it('destroys a session whose transfer stalls past the grace period, so shutdown never waits on a client', async () => {
    const h = await startFtpHarness();
    try {
      h.files.put(h.space, '/big.bin', Buffer.alloc(64 * 1024 * 1024, 5));
      const stalled = await FtpTestClient.connect(h.ftpPort);
      await stalled.login('bob', PASSWORD);
      await stalled.expect('TYPE I', 200);
      const socket = await stalled.openPassive();
      socket.pause();
      socket.on('error', () => {});
      assert.equal((await stalled.cmd('RETR big.bin')).code, 150);
      await h.plain.stopAccepting();
      const started = Date.now();
      let done = false;
      const shutdown = h.plain.shutdownSessions().then(() => (done = true));
      await new Promise((r) => setTimeout(r, h.config.shutdownGraceMs / 2));
      assert.equal(done, false, 'shutdown waits for the transfer during the grace period');
      await shutdown;
      const took = Date.now() - started;
      assert.ok(took >= h.config.shutdownGraceMs - 50 && took < h.config.shutdownGraceMs + 5000, `shutdown took ${took} ms`);
      await stalled.waitClosed();
      socket.destroy();
    } finally {
      await h.close();
    }
  });
});
