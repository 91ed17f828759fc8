/**
 * The SFTP service around the file operations: host keys that survive restarts (checked with
 * OpenSSH's ssh-keyscan and ssh-keygen), the login and idle time limits, and a file far larger
 * than any buffer going up and down unchanged.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { runProgram } from '../helpers/process.js';
import { startWharf, type LogRecord, type WharfProcess } from '../helpers/wharf.js';
import { addUser, call, openSftp } from './sftp-harness.js';

const LIMIT_MS = 2_000;

function hostKeyLogs(wharf: WharfProcess): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const line of wharf.logs()) {
    if (!line.includes('"sftp host key"')) continue;
    const r = JSON.parse(line) as LogRecord;
    keys[String(r.algorithm)] = String(r.fingerprint);
  }
  return keys;
}

describe('SFTP host keys, time limits and large files', () => {
  let dir: string;
  let configFile: string;
  let wharf: WharfProcess;

  before(async () => {
    dir = await makeTempDir('wharf-sftp-life-');
    configFile = path.join(dir, 'wharf.json');
    await writeFile(configFile, JSON.stringify({ sftp: { loginTimeoutMs: LIMIT_MS, idleTimeoutMs: LIMIT_MS } }));
    wharf = await startWharf({ env: { WHARF_CONFIG: configFile } });
    await addUser(wharf);
  });
  after(async () => {
    if (wharf?.alive()) await wharf.stop();
    await wharf?.removeData();
    await removeDir(dir);
  });

  it('generates host keys once, shows their fingerprints, and serves the same keys after a restart', async () => {
    const first = hostKeyLogs(wharf);
    assert.match(first['ssh-ed25519'] ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.ok(first['ecdsa-sha2-nistp256']);
    const keyFile = path.join(wharf.dataDir, 'ssh_host_ed25519_key');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    // What OpenSSH sees on the wire is what the log said.
    const scan = await runProgram('ssh-keyscan', ['-p', String(wharf.ports.sftp), '-t', 'ed25519', '127.0.0.1'], { timeoutMs: 60_000 });
    const printed = await runProgram('ssh-keygen', ['-lf', '-'], { stdin: scan.stdout });
    assert.equal(printed.code, 0, printed.stderr + scan.stderr);
    assert.ok(printed.stdout.includes(first['ssh-ed25519']), printed.stdout);

    await wharf.stop();
    wharf = await startWharf({ dataDir: wharf.dataDir, env: { WHARF_CONFIG: configFile } });
    assert.deepEqual(hostKeyLogs(wharf), first);
    assert.ok(!wharf.logs().some((l) => l.includes('"generated ssh host key"')), 'no new key on the second start');
  });

  it('closes a connection that does not log in within the login time', async () => {
    const socket = net.connect(wharf.ports.sftp, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    // Says its version, then nothing more.
    socket.write('SSH-2.0-Silent_1.0\r\n');
    await once(socket, 'close');
    assert.match(received, /^SSH-2\.0-Wharf/);
    await wharf.waitForLog((r) => r.event === 'login timeout');
  });

  it('closes an SFTP connection idle for longer than the idle time', async () => {
    const s = await openSftp(wharf.ports.sftp);
    await call<string>((cb) => s.sftp.realpath('.', cb));
    await once(s.client, 'close');
    await wharf.waitForLog((r) => r.event === 'idle timeout');
  });

  it('moves 20 MB up and down unchanged (memory: see engine-memory.test.ts)', async () => {
    const size = 20 * 1024 * 1024;
    const local = path.join(dir, 'big.bin');
    const data = randomBytes(size);
    await writeFile(local, data);
    const digest = createHash('sha256').update(data).digest('hex');
    const back = path.join(dir, 'big-back.bin');
    const s = await openSftp(wharf.ports.sftp);
    try {
      await new Promise<void>((resolve, reject) => {
        const out = s.sftp.createWriteStream('/big.bin');
        out.on('close', () => resolve()).on('error', reject);
        createReadStream(local).pipe(out);
      });
      await call((cb) => s.sftp.fastGet('/big.bin', back, { concurrency: 8 }, cb));
    } finally {
      s.end();
    }
    assert.equal(createHash('sha256').update(await readFile(back)).digest('hex'), digest);
  });
});
