/**
 * SFTP request by request with the ssh2 npm client: the exact status codes, what stays
 * inside the user's space, what is refused (shell, exec, forwarding, links, writes out of
 * order), and that an upload exists under its name only once CLOSE was answered OK.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import type { ClientChannel, Stats } from 'ssh2';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { addUser, call, connectSsh, failure, openSftp, PASSWORD, STATUS, USER, type Ssh2Sftp } from './sftp-harness.js';

/** Uploads `data` through a write stream: sequential WRITEs, as OpenSSH's sftp sends them. */
async function upload(s: Ssh2Sftp, path: string, data: Buffer): Promise<void> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 32_768) chunks.push(data.subarray(i, i + 32_768));
  await pipeline(Readable.from(chunks), s.sftp.createWriteStream(path));
}

type ChannelCallback = (err: Error | undefined, channel: ClientChannel) => void;

/**
 * Runs a shell or exec request to its end. The listeners are added in the callback itself:
 * the server's reply, stderr, exit status and close can all arrive in one read.
 */
function refusedCommand(open: (cb: ChannelCallback) => void): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    open((err, stream) => {
      if (err) return reject(err);
      let stderr = '';
      let code = -1;
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('data', () => {});
      stream.on('exit', (c: number) => (code = c));
      stream.on('close', () => resolve({ code, stderr }));
    });
  });
}

describe('SFTP with the ssh2 client', () => {
  let wharf: WharfProcess;
  let s: Ssh2Sftp;

  before(async () => {
    wharf = await startWharf();
    await addUser(wharf);
    s = await openSftp(wharf.ports.sftp);
  });
  after(async () => {
    s?.end();
    await wharf?.stop();
    await wharf?.removeData();
  });

  it('keeps every path inside the space', async () => {
    assert.equal(await call<string>((cb) => s.sftp.realpath('..', cb)), '/');
    assert.equal(await call<string>((cb) => s.sftp.realpath('../../etc/./passwd', cb)), '/etc/passwd');
    assert.equal((await failure(call((cb) => s.sftp.open('../../etc/passwd', 'r', cb)))).code, STATUS.NO_SUCH_FILE);
    await call((cb) => s.sftp.mkdir('../../etc', cb));
    await call((cb) => s.sftp.writeFile('../../etc/passwd', 'mine', cb));
    // It is the user's own /etc/passwd, not the system's.
    assert.equal((await call<Buffer>((cb) => s.sftp.readFile('/etc/passwd', cb))).toString(), 'mine');
    const names = (await call<Array<{ filename: string }>>((cb) => s.sftp.readdir('/', cb))).map((e) => e.filename);
    assert.ok(names.includes('etc'));
    // "." is the folder listed and ".." the one above it, each with its own mode.
    await call((cb) => s.sftp.chmod('/etc', 0o750, cb));
    // ssh2 drops "." and ".." unless asked for everything (an option its types leave out).
    type ReaddirFull = (path: string, opts: { full: boolean }, cb: (err: Error | undefined, list: Array<{ filename: string; attrs: Stats }>) => void) => void;
    const readdirFull = s.sftp.readdir.bind(s.sftp) as unknown as ReaddirFull;
    const listed = await call<Array<{ filename: string; attrs: Stats }>>((cb) => readdirFull('/etc', { full: true }, cb));
    const modeOf = (name: string) => listed.find((e) => e.filename === name)!.attrs.mode & 0o7777;
    const rootMode = (await call<Stats>((cb) => s.sftp.stat('/', cb))).mode & 0o7777;
    assert.equal(modeOf('.'), 0o750);
    assert.equal(modeOf('..'), rootMode);
    assert.notEqual(rootMode, 0o750);
    assert.equal((await failure(call((cb) => s.sftp.stat('/nul\u0000name', cb)))).code, STATUS.FAILURE);
  });

  it('refuses symbolic links with OP_UNSUPPORTED', async () => {
    const link = await failure(call((cb) => s.sftp.symlink('/etc/passwd', '/link', cb)));
    assert.equal(link.code, STATUS.OP_UNSUPPORTED);
    assert.match(link.message, /symbolic links are not supported/);
    assert.equal((await failure(call((cb) => s.sftp.readlink('/etc/passwd', cb)))).code, STATUS.OP_UNSUPPORTED);
  });

  it('answers each name request with the v3 status codes', async () => {
    await call((cb) => s.sftp.mkdir('/codes', cb));
    assert.match((await failure(call((cb) => s.sftp.mkdir('/codes', cb)))).message, /./);
    await call((cb) => s.sftp.writeFile('/codes/a.txt', 'a', cb));
    await call((cb) => s.sftp.writeFile('/codes/b.txt', 'b', cb));
    assert.equal((await failure(call((cb) => s.sftp.rmdir('/codes', cb)))).code, STATUS.FAILURE);
    assert.equal((await failure(call((cb) => s.sftp.unlink('/codes', cb)))).code, STATUS.FAILURE);
    assert.equal((await failure(call((cb) => s.sftp.unlink('/codes/none', cb)))).code, STATUS.NO_SUCH_FILE);
    // Plain RENAME keeps v3's rule: an existing target is an error.
    const exists = await failure(call((cb) => s.sftp.rename('/codes/a.txt', '/codes/b.txt', cb)));
    assert.equal(exists.code, STATUS.FAILURE);
    assert.match(exists.message, /target exists/);
    // posix-rename@openssh.com replaces it, as rename(2).
    await call((cb) => s.sftp.ext_openssh_rename('/codes/a.txt', '/codes/b.txt', cb));
    assert.equal((await call<Buffer>((cb) => s.sftp.readFile('/codes/b.txt', cb))).toString(), 'a');
    assert.equal((await failure(call((cb) => s.sftp.stat('/codes/a.txt', cb)))).code, STATUS.NO_SUCH_FILE);

    await call((cb) => s.sftp.chmod('/codes/b.txt', 0o600, cb));
    await call((cb) => s.sftp.utimes('/codes/b.txt', 1_600_000_000, 1_600_000_000, cb));
    const st = await call<Stats>((cb) => s.sftp.stat('/codes/b.txt', cb));
    assert.equal(st.mode & 0o7777, 0o600);
    assert.ok(st.isFile());
    assert.equal(st.mtime, 1_600_000_000);
    assert.equal((await failure(call((cb) => s.sftp.chown('/codes/b.txt', 0, 0, cb)))).code, STATUS.OP_UNSUPPORTED);
    assert.ok((await call<Stats>((cb) => s.sftp.stat('/codes', cb))).isDirectory());

    const vfs = await call<Record<string, number>>((cb) => s.sftp.ext_openssh_statvfs('/', cb));
    assert.equal(vfs.f_bsize, 4096);
    assert.ok(vfs.f_blocks > 0 && vfs.f_bavail <= vfs.f_blocks, JSON.stringify(vfs));
    assert.equal(vfs.f_namemax, 255);
  });

  it('maps open flags: read, exclusive create, read-and-write refused', async () => {
    assert.equal((await failure(call((cb) => s.sftp.open('/missing', 'r', cb)))).code, STATUS.NO_SUCH_FILE);
    await call((cb) => s.sftp.writeFile('/flags.txt', 'x', cb));
    const excl = await failure(call((cb) => s.sftp.open('/flags.txt', 'wx', cb)));
    assert.equal(excl.code, STATUS.FAILURE);
    assert.match(excl.message, /file exists/);
    const both = await failure(call((cb) => s.sftp.open('/flags.txt', 'r+', cb)));
    assert.equal(both.code, STATUS.OP_UNSUPPORTED);
    // Append adds at the end, whatever offset the WRITE names.
    await call((cb) => s.sftp.appendFile('/flags.txt', 'yz', cb));
    assert.equal((await call<Buffer>((cb) => s.sftp.readFile('/flags.txt', cb))).toString(), 'xyz');
    assert.equal((await failure(call((cb) => s.sftp.open('/codes', 'r', cb)))).message, 'is a directory');
    // 'w' is CREAT|TRUNC, which goes to the store without a STAT first: the answer is the same.
    const folder = await failure(call((cb) => s.sftp.open('/codes', 'w', cb)));
    assert.deepEqual([folder.code, folder.message], [STATUS.FAILURE, 'is a directory']);
  });

  it('refuses a WRITE going back, holds one ahead until the gap is filled, and fails CLOSE over a gap', async () => {
    const handle = await call<Buffer>((cb) => s.sftp.open('/gap.bin', 'w', cb));
    await call((cb) => s.sftp.write(handle, Buffer.alloc(100, 1), 0, 100, 0, cb));
    const back = await failure(call((cb) => s.sftp.write(handle, Buffer.alloc(10, 2), 0, 10, 50, cb)));
    assert.equal(back.code, STATUS.OP_UNSUPPORTED);
    assert.match(back.message, /expected offset 100, got 50/);
    // Ahead of the end: held, written once the bytes before it arrive.
    await call((cb) => s.sftp.write(handle, Buffer.alloc(100, 4), 0, 100, 200, cb));
    await call((cb) => s.sftp.write(handle, Buffer.alloc(100, 3), 0, 100, 100, cb));
    await call((cb) => s.sftp.write(handle, Buffer.alloc(100, 6), 0, 100, 400, cb));
    const gap = await failure(call((cb) => s.sftp.close(handle, cb)));
    assert.equal(gap.code, STATUS.FAILURE);
    assert.match(gap.message, /gap at offset 300/);
    assert.equal((await failure(call((cb) => s.sftp.stat('/gap.bin', cb)))).code, STATUS.NO_SUCH_FILE);

    const whole = await call<Buffer>((cb) => s.sftp.open('/whole.bin', 'w', cb));
    await call((cb) => s.sftp.write(whole, Buffer.alloc(100, 2), 0, 100, 100, cb));
    await call((cb) => s.sftp.write(whole, Buffer.alloc(100, 1), 0, 100, 0, cb));
    await call((cb) => s.sftp.close(whole, cb));
    const content = await call<Buffer>((cb) => s.sftp.readFile('/whole.bin', cb));
    assert.ok(content.equals(Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(100, 2)])));
  });

  it('takes ssh2 fastPut uploads, whose parallel WRITEs arrive out of order', async () => {
    const data = randomBytes(3_000_000);
    const dir = await makeTempDir('wharf-sftp-fastput-');
    try {
      const local = path.join(dir, 'up.bin');
      await writeFile(local, data);
      await call((cb) => s.sftp.fastPut(local, '/fast.bin', { concurrency: 16 }, cb));
      assert.ok((await call<Buffer>((cb) => s.sftp.readFile('/fast.bin', cb))).equals(data));
    } finally {
      await removeDir(dir);
    }
  });

  it('shows an upload under its name only after CLOSE is answered, and the old file until then', async () => {
    await call((cb) => s.sftp.writeFile('/visible.txt', 'old', cb));
    const other = await openSftp(wharf.ports.sftp);
    try {
      const handle = await call<Buffer>((cb) => s.sftp.open('/visible.txt', 'w', cb));
      await call((cb) => s.sftp.write(handle, Buffer.from('new content'), 0, 11, 0, cb));
      assert.equal((await call<Buffer>((cb) => other.sftp.readFile('/visible.txt', cb))).toString(), 'old');
      const fresh = await call<Buffer>((cb) => s.sftp.open('/fresh.txt', 'w', cb));
      await call((cb) => s.sftp.write(fresh, Buffer.from('x'), 0, 1, 0, cb));
      assert.equal((await failure(call((cb) => other.sftp.stat('/fresh.txt', cb)))).code, STATUS.NO_SUCH_FILE);
      await call((cb) => s.sftp.close(handle, cb));
      await call((cb) => s.sftp.close(fresh, cb));
      assert.equal((await call<Buffer>((cb) => other.sftp.readFile('/visible.txt', cb))).toString(), 'new content');
      assert.equal((await call<Stats>((cb) => other.sftp.stat('/fresh.txt', cb))).size, 1);
    } finally {
      other.end();
    }
  });

  it('leaves no file when the client is killed mid-upload', async () => {
    const victim = await openSftp(wharf.ports.sftp);
    const handle = await call<Buffer>((cb) => victim.sftp.open('/killed.bin', 'w', cb));
    await call((cb) => victim.sftp.write(handle, randomBytes(65_536), 0, 65_536, 0, cb));
    const closed = once(victim.client, 'close');
    // No CLOSE, no SSH disconnect: the TCP connection just goes.
    (victim.client as unknown as { _sock: { destroy(): void } })._sock.destroy();
    await closed;
    await wharf.waitForLog((r) => r.event === 'upload abandoned' && r.path === '/killed.bin', 30_000);
    assert.equal((await failure(call((cb) => s.sftp.stat('/killed.bin', cb)))).code, STATUS.NO_SUCH_FILE);
  });

  it('fails an upload over quota with "quota exceeded" and keeps nothing of it', async () => {
    const quota = await wharf.cli(['user', 'quota', USER, '200K']);
    assert.equal(quota.code, 0, quota.stderr);
    try {
      const err = await failure(upload(s, '/too-big.bin', randomBytes(600_000)));
      assert.equal(err.code, STATUS.FAILURE);
      assert.match(err.message, /quota exceeded/);
      assert.equal((await failure(call((cb) => s.sftp.stat('/too-big.bin', cb)))).code, STATUS.NO_SUCH_FILE);
      const vfs = await call<Record<string, number>>((cb) => s.sftp.ext_openssh_statvfs('/', cb));
      // df: what is available is what the quota leaves, never the disk's free space.
      assert.ok(vfs.f_bavail * vfs.f_bsize <= 200 * 1024, JSON.stringify(vfs));
      assert.ok(vfs.f_bavail <= vfs.f_blocks);
    } finally {
      assert.equal((await wharf.cli(['user', 'quota', USER, 'unlimited'])).code, 0);
    }
  });

  it('refuses shell and exec with a message and exit status 1, and every kind of forwarding', async () => {
    const client = s.client;
    for (const open of [(cb: ChannelCallback) => client.exec('cat /etc/passwd', cb), (cb: ChannelCallback) => client.shell(cb)]) {
      const { code, stderr } = await refusedCommand(open);
      assert.equal(code, 1);
      assert.match(stderr, /only SFTP/);
    }
    await assert.rejects(call((cb) => client.forwardOut('127.0.0.1', 5000, '127.0.0.1', wharf.ports.smtp, cb)));
    await assert.rejects(call((cb) => client.forwardIn('127.0.0.1', 0, cb)));
    await assert.rejects(call((cb) => client.subsys('netconf', cb)));
  });

  it('refuses a wrong password and throttles repeated guesses', async () => {
    for (let i = 0; i < 5; i++) {
      await assert.rejects(connectSsh(wharf.ports.sftp, { password: `guess-${i}` }), /authentication methods failed/);
    }
    await wharf.waitForLog((r) => r.event === 'login throttled', 30_000);
    const ok = await connectSsh(wharf.ports.sftp, { password: PASSWORD });
    ok.end();
  });
});
