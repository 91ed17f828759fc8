/**
 * Wharf's FTP client against scripted servers that misbehave in ways a real server rarely
 * does on demand: multi-line replies whose inner lines start with digits, EPSV refused (PASV
 * then, and its address ignored in favour of the control connection's), a transfer cut off
 * with 426, a reply that is not FTP, a server that goes silent. Each must end with exit 1 and
 * a clear message, never a hang or a crash.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir, runWharf } from '../helpers/cli.js';

type Handler = (command: string, conn: ScriptedConnection) => Promise<string | null> | string | null;

interface ScriptedConnection {
  /** Opens a passive listener; resolves with its port and a promise of the data socket. */
  passive(): Promise<{ port: number; socket: Promise<net.Socket> }>;
  data: Promise<net.Socket> | null;
  commands: string[];
}

/** A fake FTP server: `greeting` first, then each command line answered by `handle` (null: no answer). */
async function scriptedServer(greeting: string, handle: Handler): Promise<{ port: number; commands: string[]; close(): Promise<void> }> {
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const listeners = new Set<net.Server>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const conn: ScriptedConnection = {
      commands,
      data: null,
      async passive() {
        const l = net.createServer();
        listeners.add(l);
        await new Promise<void>((r) => l.listen(0, '127.0.0.1', r));
        const dataSocket = new Promise<net.Socket>((r) =>
          l.once('connection', (s) => {
            sockets.add(s);
            s.on('error', () => {});
            r(s);
          }),
        );
        conn.data = dataSocket;
        return { port: (l.address() as net.AddressInfo).port, socket: dataSocket };
      },
    };
    socket.write(greeting);
    let buffered = '';
    let queue = Promise.resolve();
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        commands.push(line);
        queue = queue.then(async () => {
          const reply = await handle(line, conn);
          if (reply !== null && !socket.destroyed) socket.write(reply);
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    commands,
    async close() {
      for (const s of sockets) s.destroy();
      for (const l of listeners) l.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Answers login, TYPE and the like; `extra` first. */
function basics(extra: Handler): Handler {
  return async (command, conn) => {
    const answer = await extra(command, conn);
    if (answer !== null) return answer;
    const verb = command.split(' ')[0].toUpperCase();
    switch (verb) {
      case 'AUTH':
        return '502 No TLS here\r\n';
      case 'USER':
        return '331 Password please\r\n';
      case 'PASS':
        return '230 Welcome\r\n';
      case 'QUIT':
        return '221 Bye\r\n';
      default:
        return '200 OK\r\n';
    }
  };
}

/** `wharf ftp ARGS` (PORT replaced); --no-tls unless `offerTls` lets the client ask for it. */
const run = (port: number, args: string[], offerTls = false) =>
  runWharf(['ftp', ...args.map((a) => a.replace('PORT', String(port))), '--password-stdin', ...(offerTls ? [] : ['--no-tls'])], { stdin: 'secret-pw\n', timeoutMs: 60_000 });

describe('wharf ftp against misbehaving FTP servers', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('wharf-ftp-errors-');
  });
  after(async () => {
    await removeDir(dir);
  });

  it('reads multi-line replies with digits inside, falls back from EPSV to PASV and ignores the PASV address', async () => {
    const server = await scriptedServer('220-Welcome\r\n220-123 lines may start with digits\r\n220 Ready\r\n', basics(async (command, conn) => {
      if (command === 'FEAT') return '211-Features:\r\n SIZE\r\n211-not the end\r\n 211 not the end either\r\n211 End\r\n';
      if (command === 'EPSV') return '500 EPSV? Never heard of it\r\n';
      if (command === 'PASV') {
        const { port } = await conn.passive();
        // An address that is not ours: the client must connect to 127.0.0.1 regardless.
        return `227 Entering Passive Mode (10,9,9,9,${port >> 8},${port & 255})\r\n`;
      }
      if (command.startsWith('LIST')) {
        const data = await conn.data!;
        data.end('-rw-r--r-- 1 ftp ftp 5 Dec 02 05:00 one.txt\r\ndrwxr-xr-x 2 ftp ftp 0 Dec 02 05:00 two\r\n');
        return '150 Here it comes\r\n226 Done\r\n';
      }
      return null;
    }));
    try {
      const r = await run(server.port, ['ls', 'ftp://someone@127.0.0.1:PORT/'], true);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '-rw-r--r-- 1 ftp ftp 5 Dec 02 05:00 one.txt\ndrwxr-xr-x 2 ftp ftp 0 Dec 02 05:00 two\n');
      assert.match(r.stderr, /warning: the server does not offer TLS \(502 No TLS here\)/);
      const verbs = server.commands.map((c) => c.split(' ')[0]);
      assert.deepEqual(verbs.slice(verbs.indexOf('EPSV'), verbs.indexOf('EPSV') + 3), ['EPSV', 'PASV', 'LIST']);
      assert.ok(server.commands.includes('PASS secret-pw'));
    } finally {
      await server.close();
    }
  });

  it('a transfer the server aborts with 426: exit 1 with that reply, the partial file kept for --resume', async () => {
    const server = await scriptedServer('220 Ready\r\n', basics(async (command, conn) => {
      if (command === 'EPSV') {
        const { port } = await conn.passive();
        return `229 Extended Passive Mode (|||${port}|)\r\n`;
      }
      if (command.startsWith('SIZE')) return '213 100000\r\n';
      if (command.startsWith('RETR')) {
        const data = await conn.data!;
        data.end(Buffer.alloc(4000, 1));
        return '150 Sending\r\n426 Connection closed; transfer aborted\r\n';
      }
      return null;
    }));
    try {
      const local = path.join(dir, 'cut.bin');
      const r = await run(server.port, ['get', 'ftp://someone@127.0.0.1:PORT/cut.bin', local]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^wharf: RETR failed: 426 Connection closed; transfer aborted$/m);
      assert.equal((await stat(local)).size, 4000, 'what arrived stays for --resume');
    } finally {
      await server.close();
    }
  });

  it('a server that does not speak FTP: exit 1 with "malformed reply"', async () => {
    const server = await scriptedServer('220 Ready\r\n', basics((command) => (command.startsWith('USER') ? 'HELLO THERE\r\n' : null)));
    try {
      const r = await run(server.port, ['ls', 'ftp://someone@127.0.0.1:PORT/']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /malformed reply line "HELLO THERE" in reply to USER/);
    } finally {
      await server.close();
    }
  });

  it('a server that goes silent: exit 1 after --timeout, not a hang', async () => {
    const server = await scriptedServer('220 Ready\r\n', basics((command) => (command.startsWith('PASS') ? new Promise<null>(() => {}) : null)));
    try {
      const r = await run(server.port, ['ls', 'ftp://someone@127.0.0.1:PORT/', '--timeout', '1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no reply to PASS within 1 s/);
    } finally {
      await server.close();
    }
  });
});
