/**
 * The loop POP3 and FTP sessions share (src/net/line-command-session.ts), on a protocol of
 * its own so each rule is seen apart from either: greeting, bad commands, over-long lines,
 * login and idle timeouts, shutdown, and that whatever ends the session releases it once.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LineCommandSession } from '../../src/net/line-command-session.js';
import type { Line } from '../../src/net/line-reader.js';
import { silentLogger } from '../../src/net/log.js';
import type { Connection, ServiceContext } from '../../src/net/types.js';
import { LineClient } from '../helpers/line-client.js';

const REPLIES = {
  greeting: 'HELLO',
  shutdown: 'BYE shutting down',
  idle: 'BYE idle',
  loginTimeout: 'BYE login timeout',
  lineTooLong: 'BYE line too long',
  tooManyErrors: 'BYE too many errors',
};

/**
 * LOGIN logs in; SLOW n answers after n ms; ECHO x answers x; anything else is a bad command.
 * Counts how often it was released.
 */
class TestSession extends LineCommandSession {
  user: string | null = null;
  releases = 0;

  constructor(ctx: ServiceContext, conn: Connection) {
    super(ctx, conn, { protocol: 'test', maxLineBytes: 64, idleTimeoutMs: 400, maxErrors: 3, replies: REPLIES });
    this.start();
  }

  protected get loggedInUser(): string | null {
    return this.user;
  }

  protected async execute(line: Line): Promise<void> {
    const [keyword, argument] = line.bytes.toString('latin1').split(' ');
    if (keyword === 'LOGIN') {
      this.user = 'someone';
      this.loggedIn();
      return this.reply('OK logged in');
    }
    if (keyword === 'SLOW') {
      await new Promise((resolve) => setTimeout(resolve, Number(argument)));
      return this.reply('OK slow');
    }
    if (keyword === 'ECHO') return this.reply(`OK ${argument}`);
    return this.rejectCommand('ERR unknown');
  }

  protected async release(): Promise<void> {
    this.releases++;
  }
}

describe('LineCommandSession', () => {
  let server: net.Server;
  let port: number;
  const sessions: TestSession[] = [];
  const ctx = { config: { limits: { loginTimeoutMs: 300 }, shutdownGraceMs: 2000 } } as unknown as ServiceContext;

  before(async () => {
    server = net.createServer((socket) => {
      const conn: Connection = {
        id: String(sessions.length),
        socket,
        remoteAddress: '127.0.0.1',
        remotePort: socket.remotePort ?? 0,
        localAddress: '127.0.0.1',
        localPort: socket.localPort ?? 0,
        secure: false,
        closed: new AbortController().signal,
        log: silentLogger,
      };
      sessions.push(new TestSession(ctx, conn));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A new client and its session, after the greeting. */
  async function connect(): Promise<{ client: LineClient; session: TestSession }> {
    const before = sessions.length;
    const client = await LineClient.connect(port);
    assert.equal(await client.line(), 'HELLO');
    assert.equal(sessions.length, before + 1);
    return { client, session: sessions[before]! };
  }

  /** The session has ended: the client saw the close, and the session was released once. */
  async function ended(client: LineClient, session: TestSession): Promise<void> {
    assert.equal(await client.readLine(), null);
    await client.closed;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(session.releases, 1);
  }

  it('answers commands in order, pipelined or not, and a bad command with its reply', async () => {
    const { client, session } = await connect();
    client.socket.write('LOGIN\r\nECHO a\r\nECHO b\r\n');
    assert.equal(await client.line(), 'OK logged in');
    assert.equal(await client.line(), 'OK a');
    assert.equal(await client.line(), 'OK b');
    client.send('NOPE');
    assert.equal(await client.line(), 'ERR unknown');
    client.socket.end();
    await client.closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(session.releases, 1);
  });

  it('ends the session at the limit of bad commands, counted before and after login', async () => {
    const { client, session } = await connect();
    client.send('NOPE');
    assert.equal(await client.line(), 'ERR unknown');
    client.send('LOGIN');
    assert.equal(await client.line(), 'OK logged in');
    client.send('NOPE');
    assert.equal(await client.line(), 'ERR unknown');
    client.send('NOPE');
    assert.equal(await client.line(), 'BYE too many errors');
    await ended(client, session);
  });

  it('ends the session on a line over the limit, without waiting for its end', async () => {
    const { client, session } = await connect();
    client.socket.write('ECHO ' + 'x'.repeat(100));
    assert.equal(await client.line(), 'BYE line too long');
    await ended(client, session);
  });

  it('ends a session not logged in at the login deadline, and one logged in when idle', async () => {
    const first = await connect();
    const start = Date.now();
    assert.equal(await first.client.line(), 'BYE login timeout');
    assert.ok(Date.now() - start < 390, 'the login deadline (300 ms) comes before the idle limit (400 ms)');
    await ended(first.client, first.session);

    const second = await connect();
    second.client.send('LOGIN');
    assert.equal(await second.client.line(), 'OK logged in');
    assert.equal(await second.client.line(), 'BYE idle');
    await ended(second.client, second.session);
  });

  it('lets a command in flight finish on shutdown, then says goodbye', async () => {
    const { client, session } = await connect();
    client.send('SLOW 200');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const shutdown = session.shutdown();
    assert.equal(await client.line(), 'OK slow');
    assert.equal(await client.line(), 'BYE shutting down');
    await shutdown;
    await ended(client, session);
  });

  it('says goodbye at once on shutdown when no command runs', async () => {
    const { client, session } = await connect();
    await session.shutdown();
    assert.equal(await client.line(), 'BYE shutting down');
    await ended(client, session);
  });
});
