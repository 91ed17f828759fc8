/**
 * The server process as an operator sees it: data and certificate survive restarts, SIGTERM
 * shuts down cleanly (clients told 421, exit code 0), and start-up problems are reported.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { makeTempDir, removeDir, runWharf, cleanEnv } from '../helpers/cli.js';
import { LineClient } from '../helpers/line-client.js';
import { startWharf } from '../helpers/wharf.js';
import { addBob, BOB_PASSWORD, sendMessage } from './setup.js';

const MESSAGES = 20;

function peerCertificate(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.destroy();
      resolve(raw);
    });
    socket.once('error', reject);
  });
}

async function pop3Stat(port: number): Promise<string> {
  const pop = await LineClient.connect(port);
  await pop.line();
  await pop.pop3('user bob@hamburger.edu');
  assert.match(await pop.pop3(`pass ${BOB_PASSWORD}`), /^\+OK/);
  const stat = await pop.pop3('stat');
  await pop.pop3('quit');
  return stat;
}

describe('restarts', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await makeTempDir('wharf-restart-');
  });
  after(async () => {
    await removeDir(dataDir);
  });

  let firstCert: string;

  it('generates a self-signed certificate on first start and serves it', async () => {
    const wharf = await startWharf({ dataDir });
    try {
      const certFile = path.join(dataDir, 'tls', 'self-signed.crt');
      firstCert = await readFile(certFile, 'utf8');
      assert.match(firstCert, /^-----BEGIN CERTIFICATE-----/);
      const keyMode = (await stat(path.join(dataDir, 'tls', 'self-signed.key'))).mode & 0o777;
      assert.equal(keyMode & 0o077, 0, `private key readable by others (mode ${keyMode.toString(8)})`);
      const served = await peerCertificate(wharf.ports.submissions);
      assert.deepEqual(served, new X509Certificate(firstCert).raw);
      await wharf.waitForLog((r) => r.event === 'generated self-signed certificate');
    } finally {
      assert.equal(await wharf.stop(), 0);
    }
  });

  it(`keeps ${MESSAGES} delivered messages and the certificate across SIGTERM and a new start`, async () => {
    const first = await startWharf({ dataDir });
    let exitCode: number;
    try {
      await addBob(first);
      const smtp = await LineClient.connect(first.ports.smtp);
      await smtp.line();
      assert.equal((await smtp.smtp('EHLO crepes.fr')).code, 250);
      for (let i = 1; i <= MESSAGES; i++) await sendMessage(smtp, [`Subject: number ${i}`, '', `Message ${i}`]);
      await smtp.smtp('QUIT');
    } finally {
      exitCode = await first.stop('SIGTERM');
    }
    assert.equal(exitCode, 0, first.stderr());
    await first.waitForLog((r) => r.event === 'stopped');

    const second = await startWharf({ dataDir });
    try {
      assert.match(await pop3Stat(second.ports.pop3), new RegExp(`^\\+OK ${MESSAGES} \\d+`));
      assert.equal(await readFile(path.join(dataDir, 'tls', 'self-signed.crt'), 'utf8'), firstCert, 'same certificate bytes');
      assert.deepEqual(await peerCertificate(second.ports.pop3s), new X509Certificate(firstCert).raw);
      assert.equal(
        second.logs().some((l) => l.includes('generated self-signed certificate')),
        false,
        'no new certificate on restart',
      );
    } finally {
      assert.equal(await second.stop('SIGINT'), 0);
    }
  });
});

describe('a crash', () => {
  it('SIGKILL while clients send: every message answered 250 is there after a restart, whole', async () => {
    const dataDir = await makeTempDir('wharf-crash-');
    try {
      const first = await startWharf({ dataDir });
      await addBob(first);
      const acked = new Set<string>();
      // Each client sends numbered messages until the connection dies under it.
      const client = async (n: number) => {
        const smtp = await LineClient.connect(first.ports.smtp);
        try {
          await smtp.line();
          await smtp.smtp('EHLO crepes.fr');
          for (let i = 1; ; i++) {
            const id = `c${n}-m${i}`;
            await sendMessage(smtp, [`Subject: ${id}`, '', ...Array.from({ length: 200 }, () => `filler for ${id}`), `end of ${id}`]);
            acked.add(id);
          }
        } catch {
          // The server was killed mid-conversation: whatever was not acknowledged may be lost.
        } finally {
          smtp.close();
        }
      };
      const clients = Promise.all([1, 2, 3, 4].map(client));
      while (acked.size < 40) await new Promise((r) => setTimeout(r, 10));
      first.stop('SIGKILL');
      assert.equal(await first.exited, 137);
      await clients;

      const second = await startWharf({ dataDir });
      try {
        const pop = await LineClient.connect(second.ports.pop3);
        await pop.line();
        await pop.pop3('user bob@hamburger.edu');
        assert.match(await pop.pop3(`pass ${BOB_PASSWORD}`), /^\+OK/);
        assert.match(await pop.pop3('list'), /^\+OK/);
        const count = (await pop.pop3Lines()).length;
        const stored = new Set<string>();
        for (let n = 1; n <= count; n++) {
          assert.match(await pop.pop3(`retr ${n}`), /^\+OK/);
          const lines = await pop.pop3Lines();
          const id = lines.find((l) => l.startsWith('Subject: '))?.slice('Subject: '.length);
          assert.ok(id, `message ${n} has no Subject`);
          assert.equal(lines.at(-1), `end of ${id}`, `message ${n} (${id}) is cut short`);
          stored.add(id);
        }
        await pop.pop3('quit');
        const lost = [...acked].filter((id) => !stored.has(id));
        assert.deepEqual(lost, [], `acknowledged but lost: ${lost.join(', ')}`);
        assert.ok(stored.size >= acked.size && stored.size === count, 'no message stored twice');
      } finally {
        assert.equal(await second.stop(), 0);
      }
    } finally {
      await removeDir(dataDir);
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM during an open SMTP session: the client gets 421, the server exits with 0', async () => {
    const wharf = await startWharf();
    try {
      const smtp = await LineClient.connect(wharf.ports.smtp);
      assert.match(await smtp.line(), /^220 /);
      assert.equal((await smtp.smtp('HELO crepes.fr')).code, 250);
      const pop = await LineClient.connect(wharf.ports.pop3);
      assert.match(await pop.line(), /^\+OK/);

      const exit = wharf.stop('SIGTERM');
      const goodbye = await smtp.smtpReply();
      assert.equal(goodbye.code, 421, goodbye.lines.join('\n'));
      assert.match(await pop.line(), /^-ERR/);
      await smtp.closed;
      await pop.closed;
      assert.equal(await exit, 0, wharf.stderr());
      // Nothing listens any more.
      await assert.rejects(
        new Promise((resolve, reject) => net.connect(wharf.ports.smtp, '127.0.0.1', () => resolve(null)).once('error', reject)),
        /ECONNREFUSED/,
      );
    } finally {
      await wharf.stop('SIGKILL');
      await wharf.removeData();
    }
  });

  it('SIGTERM mid-transaction: the message in flight is still accepted, then 421', async () => {
    const wharf = await startWharf();
    try {
      await addBob(wharf);
      const smtp = await LineClient.connect(wharf.ports.smtp);
      await smtp.line();
      await smtp.smtp('HELO crepes.fr');
      await smtp.smtp('MAIL FROM: <alice@crepes.fr>');
      await smtp.smtp('RCPT TO: <bob@hamburger.edu>');
      assert.equal((await smtp.smtp('DATA')).code, 354);
      smtp.send('Do you like ketchup?');
      const exit = wharf.stop('SIGTERM');
      await wharf.waitForLog((r) => r.event === 'shutting down');
      smtp.send('How about pickles?');
      assert.equal((await smtp.smtp('.')).code, 250, 'the transaction in flight completes');
      assert.equal((await smtp.smtpReply()).code, 421);
      assert.equal(await exit, 0, wharf.stderr());

      const again = await startWharf({ dataDir: wharf.dataDir });
      try {
        assert.match(await pop3Stat(again.ports.pop3), /^\+OK 1 /);
      } finally {
        await again.stop();
      }
    } finally {
      await wharf.removeData();
    }
  });

  it('a second signal while shutting down exits at once', async () => {
    const wharf = await startWharf();
    try {
      await addBob(wharf);
      const smtp = await LineClient.connect(wharf.ports.smtp);
      await smtp.line();
      await smtp.smtp('HELO crepes.fr');
      // Leave a transaction hanging in DATA: shutdown waits the grace period (10 s) for it.
      await smtp.smtp('MAIL FROM: <alice@crepes.fr>');
      assert.equal((await smtp.smtp('RCPT TO: <bob@hamburger.edu>')).code, 250);
      assert.equal((await smtp.smtp('DATA')).code, 354);
      smtp.send('Do you like ketchup?');
      process.kill(wharf.pid, 'SIGTERM');
      await wharf.waitForLog((r) => r.event === 'shutting down');
      const started = Date.now();
      assert.equal(await wharf.stop('SIGTERM'), 1);
      assert.ok(Date.now() - started < 5_000);
      smtp.close();
    } finally {
      await wharf.removeData();
    }
  });
});

describe('start-up errors', () => {
  it('a port in use: exit code 1 and a message naming the service and port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dataDir = await makeTempDir('wharf-busy-');
    try {
      const result = await runWharf(['serve'], {
        env: cleanEnv({
          WHARF_DATA: dataDir,
          WHARF_SMTP_PORT: '0',
          WHARF_SUBMISSION_PORT: '0',
          WHARF_SUBMISSIONS_PORT: '0',
          WHARF_POP3_PORT: String(port),
          WHARF_POP3S_PORT: '0',
          WHARF_HTTP_PORT: '0',
        }),
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^wharf: cannot listen for pop3 on 127\\.0\\.0\\.1:${port}: the port is already in use\\n$`));
    } finally {
      blocker.close();
      await removeDir(dataDir);
    }
  });

  it('an invalid configuration: exit code 2 and a one-line message', async () => {
    const result = await runWharf(['serve'], { env: cleanEnv({ WHARF_POP3_PORT: '99999' }) });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^wharf: environment WHARF_POP3_PORT: must be an integer from 0 to 65535 .*\n$/);
  });
});
