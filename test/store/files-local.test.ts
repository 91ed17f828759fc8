/**
 * LocalFileStore: the FileStore contract on real files, plus what only the disk has: the
 * folder layout an admin backs up, planted symbolic links that must never be followed,
 * temporary files out of sight, leftovers of a crash, and a killed process leaving no half file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalFileStore } from '../../src/store/files/local.js';
import { alice, bob, anonymous, getFile, namesOf, putFile, runFileStoreContract, type OpenFileStore } from './contract-files.js';
import { runFileTransferContract } from './contract-files-transfer.js';
import { rejectsWith, waitFor } from './helpers.js';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-files-'));
  tempDirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const openLocal: OpenFileStore = async () => {
  const dir = await tempDir();
  const files = await LocalFileStore.open(dir);
  return {
    files,
    cleanup: async () => {
      await files.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};
runFileStoreContract('local', openLocal);
runFileTransferContract('local', openLocal);

async function withStore(fn: (files: LocalFileStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const files = await LocalFileStore.open(dir);
  try {
    await fn(files, dir);
  } finally {
    await files.close();
  }
}

describe('LocalFileStore on disk', () => {
  it('keeps real files in <data>/files/<domain>/<local>, folders 0700, anonymous apart', async () => {
    await withStore(async (files, dir) => {
      await files.makeDirectory(alice, '/docs');
      await putFile(files, alice, '/docs/report.txt', 'report');
      await putFile(files, { kind: 'user', userId: 3, address: 'Carol@Example.COM' }, '/c.txt', 'carol');
      assert.equal(await readFile(join(dir, 'files', 'example.com', 'alice', 'docs', 'report.txt'), 'utf8'), 'report');
      assert.equal(await readFile(join(dir, 'files', 'example.com', 'carol', 'c.txt'), 'utf8'), 'carol');
      assert.equal((await stat(join(dir, 'files', 'example.com', 'alice'))).mode & 0o777, 0o700);
      assert.deepEqual(await files.list(anonymous, '/'), [], 'the anonymous folder is made on first use');
      await writeFile(join(dir, 'files-anonymous', 'readme.txt'), 'public');
      assert.equal((await getFile(files, anonymous, '/readme.txt')).toString(), 'public');
    });
  });

  it('readInto fills the caller\'s buffer: whole, short at the end, empty past it', async () => {
    await withStore(async (files) => {
      const data = Buffer.from('0123456789abcdefghij');
      await putFile(files, alice, '/r.bin', data);
      const reader = await files.openRead(alice, '/r.bin');
      assert.ok(reader.readInto, 'the local store reads into buffers');
      const target = Buffer.alloc(8, 0x2e);
      assert.equal(await reader.readInto(target, 4), 8);
      assert.equal(target.toString(), '456789ab');
      assert.equal(await reader.readInto(target, 16), 4);
      assert.equal(target.subarray(0, 4).toString(), 'ghij');
      assert.equal(await reader.readInto(target, 20), 0);
      assert.equal(await reader.readInto(target, 99), 0);
      await rejectsWith(reader.readInto(target, -1), 'invalid');
      await reader.close();
      await assert.rejects(reader.readInto(target, 0), /closed/);
    });
  });

  it('refuses addresses that could name another folder', async () => {
    await withStore(async (files) => {
      for (const address of ['../x@example.com', 'a@..', 'a/b@example.com', 'a@exa/mple.com', 'a\u0000@example.com', '@example.com', 'nobody']) {
        await rejectsWith(files.list({ kind: 'user', userId: 9, address }, '/'), 'invalid');
      }
    });
  });

  it('never follows a symbolic link planted in a user folder', async () => {
    await withStore(async (files, dir) => {
      const outside = join(dir, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'secret.txt'), 'secret');
      await putFile(files, alice, '/mine.txt', 'mine');
      const root = join(dir, 'files', 'example.com', 'alice');
      await symlink(outside, join(root, 'escape'));
      await symlink(join(outside, 'secret.txt'), join(root, 'secret-link'));
      await symlink('/etc', join(root, 'etc'));

      assert.deepEqual(namesOf(await files.list(alice, '/')), ['mine.txt'], 'links are not listed');
      for (const path of ['/escape', '/secret-link', '/etc', '/escape/secret.txt', '/etc/passwd']) {
        assert.equal(await files.stat(alice, path), null, path);
        await rejectsWith(files.openRead(alice, path), 'not-found');
        await rejectsWith(files.removeFile(alice, path), 'not-found');
        await rejectsWith(files.setMode(alice, path, 0o777), 'not-found');
        await rejectsWith(files.setModified(alice, path, new Date(0)), 'not-found');
        await rejectsWith(files.rename(alice, path, '/moved'), 'not-found');
      }
      await rejectsWith(files.list(alice, '/escape'), 'not-found');
      await rejectsWith(files.createUpload(alice, '/escape/new.txt', { mode: 'replace', maxBytes: null }), 'not-found');
      await rejectsWith(files.createUpload(alice, '/secret-link', { mode: 'append', maxBytes: null }), 'conflict');
      await rejectsWith(files.createUpload(alice, '/secret-link', { mode: 'replace', maxBytes: null }), 'conflict');
      await rejectsWith(files.makeDirectory(alice, '/escape/sub'), 'not-found');
      await rejectsWith(files.removeDirectory(alice, '/escape'), 'not-found');
      await rejectsWith(files.rename(alice, '/mine.txt', '/escape/mine.txt'), 'not-found');
      await rejectsWith(files.rename(alice, '/mine.txt', '/secret-link', { overwrite: true }), 'conflict');

      assert.deepEqual(await readdir(outside), ['secret.txt'], 'nothing outside changed');
      assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret');
      assert.equal((await stat(join(outside, 'secret.txt'))).mode & 0o777, 0o644);
      assert.equal(await files.usage(alice), 4, 'a link counts nothing');
    });
  });

  it("a path the file system cannot hold is 'invalid', not an unexpected error", async () => {
    await withStore(async (files) => {
      // Store paths may have 4096 bytes; under the data folder that passes Linux's PATH_MAX.
      let path = '';
      for (let i = 0; i < 16; i++) {
        path += '/' + String(i).padEnd(250, 'd');
        await files.makeDirectory(alice, path);
      }
      const tooDeep = path + '/' + 'f'.repeat(4096 - path.length - 1);
      await rejectsWith(files.makeDirectory(alice, tooDeep), 'invalid');
      await rejectsWith(files.createUpload(alice, tooDeep, { mode: 'replace', maxBytes: null }), 'invalid');
      await rejectsWith(files.stat(alice, tooDeep), 'invalid');
      await rejectsWith(files.list(alice, tooDeep), 'invalid');
    });
  });

  it('refuses a user folder that is itself a link', async () => {
    await withStore(async (files, dir) => {
      const outside = join(dir, 'outside');
      await mkdir(outside);
      await mkdir(join(dir, 'files', 'example.com'), { recursive: true });
      await symlink(outside, join(dir, 'files', 'example.com', 'bob'));
      await rejectsWith(files.list(bob, '/'), 'invalid');
      await rejectsWith(files.createUpload(bob, '/x', { mode: 'replace', maxBytes: null }), 'invalid');
      assert.deepEqual(await readdir(outside), []);
    });
  });

  it('writes uploads in the uploads folder, out of every listing, and removes crash leftovers at open', async () => {
    const dir = await tempDir();
    const files = await LocalFileStore.open(dir);
    const upload = await files.createUpload(alice, '/f', { mode: 'replace', maxBytes: null });
    await upload.write(Buffer.from('in progress'));
    const temps = await readdir(join(dir, 'files-uploads'));
    assert.equal(temps.length, 1);
    assert.deepEqual(await files.list(alice, '/'), []);
    // Another store on the same data folder (the CLI) must not take a live upload for a leftover.
    const other = await LocalFileStore.open(dir);
    await other.close();
    assert.deepEqual(await readdir(join(dir, 'files-uploads')), temps);
    await upload.commit();
    assert.deepEqual(await readdir(join(dir, 'files-uploads')), []);
    await files.close();

    // A dead process's temporary file, and one of ours nobody knows (a restart with the same pid).
    await writeFile(join(dir, 'files-uploads', '999999999-deadbeef.part'), 'left over');
    await writeFile(join(dir, 'files-uploads', `${process.pid}-cafe.part`), 'left over');
    const reopened = await LocalFileStore.open(dir);
    assert.deepEqual(await readdir(join(dir, 'files-uploads')), []);
    await reopened.close();
  });

  it('counts files an admin put in place at the first usage()', async () => {
    await withStore(async (files, dir) => {
      const root = join(dir, 'files', 'example.com', 'alice');
      await mkdir(join(root, 'a', 'b'), { recursive: true });
      await writeFile(join(root, 'a', 'b', 'x'), Buffer.alloc(300));
      await writeFile(join(root, 'y'), Buffer.alloc(20));
      assert.equal(await files.usage(alice), 320);
      await putFile(files, alice, '/a/z', Buffer.alloc(5));
      assert.equal(await files.usage(alice), 325);
    });
  });

  it('commit syncs the data before the rename and the folder after it', async () => {
    await withStore(async (files, dir) => {
      const target = join(dir, 'files', 'example.com', 'alice', 'durable.txt');
      const upload = await files.createUpload(alice, '/durable.txt', { mode: 'replace', maxBytes: null });
      await upload.write(Buffer.from('durable'));
      // Every FileHandle shares one prototype: spy on its sync() for the commit.
      const probe = await open(join(dir, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
      await probe.close();
      const original = proto.sync;
      const seen: boolean[] = [];
      const exists = () => stat(target).then(() => true, () => false);
      proto.sync = async function (this: unknown) {
        seen.push(await exists());
        // A slow disk: the rename, whose checks run alongside, must still wait for the sync.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await original.call(this);
        seen.push(await exists());
      };
      try {
        await upload.commit();
      } finally {
        proto.sync = original;
      }
      assert.deepEqual(seen, [false, false, true, true], 'fsync of the file while its name is not there yet, then of the folder holding the name');
    });
  });

  it('an upload refused at the start leaves no temporary file', async () => {
    await withStore(async (files, dir) => {
      await files.makeDirectory(alice, '/folder');
      await putFile(files, alice, '/taken.txt', 'taken');
      await rejectsWith(files.createUpload(alice, '/folder', { mode: 'replace', maxBytes: null }), 'conflict');
      await rejectsWith(files.createUpload(alice, '/taken.txt', { mode: 'replace', maxBytes: null, exclusive: true }), 'conflict');
      await rejectsWith(files.createUpload(alice, '/missing/x.txt', { mode: 'replace', maxBytes: null }), 'not-found');
      await rejectsWith(files.createUpload(alice, '/taken.txt/x.txt', { mode: 'replace', maxBytes: null }), 'not-found');
      assert.deepEqual(await readdir(join(dir, 'files-uploads')), []);
      // A space's first upload, into a folder below it, once the folder is made.
      const carol = { kind: 'user' as const, userId: 3, address: 'carol@example.com' };
      await rejectsWith(files.createUpload(carol, '/sub/a.txt', { mode: 'replace', maxBytes: null }), 'not-found');
      await files.makeDirectory(carol, '/sub');
      await putFile(files, carol, '/sub/a.txt', 'a');
      assert.equal((await getFile(files, carol, '/sub/a.txt')).toString(), 'a');
      assert.deepEqual(await readdir(join(dir, 'files-uploads')), []);
    });
  });

  it('a process killed during an upload leaves no file under the target name', async () => {
    const dir = await tempDir();
    const script = fileURLToPath(new URL('./files-local-writer.js', import.meta.url));
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => out.includes('writing'), 'the child to start writing', 30_000);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const files = await LocalFileStore.open(dir);
    try {
      assert.equal(await files.stat(alice, '/big.bin'), null);
      assert.deepEqual(await files.list(alice, '/'), []);
      assert.deepEqual(await readdir(join(dir, 'files-uploads')), [], 'the leftover is removed at open');
    } finally {
      await files.close();
    }
  });
});
