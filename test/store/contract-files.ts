/**
 * The FileStore contract, run on every implementation (local disk, PostgreSQL): folders,
 * listings, renames, metadata, path checks and spaces kept apart. Uploads and reads are in
 * contract-files-transfer.ts.
 *
 *   runFileStoreContract('local', async () => ({ files, cleanup }));
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FileInfo, FileSpace, FileStore } from '../../src/store/file-store.js';
import { readAll, rejectsWith } from './helpers.js';

export interface FileStoreFixture {
  files: FileStore;
  cleanup(): Promise<void>;
}
export type OpenFileStore = () => Promise<FileStoreFixture>;

export const alice: FileSpace = { kind: 'user', userId: 1, address: 'alice@example.com' };
export const bob: FileSpace = { kind: 'user', userId: 2, address: 'bob@example.com' };
export const anonymous: FileSpace = { kind: 'anonymous' };

/** A describe() whose every test gets a fresh, empty file store. */
export function fileStoreSuite(title: string, open: OpenFileStore, body: (ctx: { readonly files: FileStore }) => void): void {
  describe(title, () => {
    let fixture: FileStoreFixture | null = null;
    const ctx = {
      get files(): FileStore {
        assert.ok(fixture, 'no file store open');
        return fixture.files;
      },
    };
    beforeEach(async () => {
      fixture = await open();
    });
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = null;
    });
    body(ctx);
  });
}

/** Writes `data` to `path` as a new file (in pieces of `pieceSize`) and commits it. */
export async function putFile(
  files: FileStore,
  space: FileSpace,
  path: string,
  data: Buffer | string,
  pieceSize = 64 * 1024,
): Promise<FileInfo> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const upload = await files.createUpload(space, path, { mode: 'replace', maxBytes: null });
  for (let off = 0; off < bytes.length; off += pieceSize) await upload.write(bytes.subarray(off, off + pieceSize));
  return upload.commit();
}

export async function getFile(files: FileStore, space: FileSpace, path: string): Promise<Buffer> {
  const reader = await files.openRead(space, path);
  try {
    return await readAll(reader.stream());
  } finally {
    await reader.close();
  }
}

export const namesOf = (infos: FileInfo[]) => infos.map((i) => i.name);

export function runFileStoreContract(name: string, open: OpenFileStore): void {
  fileStoreSuite(`FileStore contract (${name}): folders and names`, open, (ctx) => {
    it('an empty space has an empty root folder', async () => {
      const root = await ctx.files.stat(alice, '/');
      assert.ok(root);
      assert.equal(root.type, 'directory');
      assert.equal(root.name, '');
      assert.deepEqual(await ctx.files.list(alice, '/'), []);
      assert.equal(await ctx.files.usage(alice), 0);
      assert.equal(await ctx.files.stat(alice, '/missing'), null);
    });

    it('lists a folder sorted by name with types, sizes and modes', async () => {
      await ctx.files.makeDirectory(alice, '/docs');
      await putFile(ctx.files, alice, '/b.txt', 'bee');
      await putFile(ctx.files, alice, '/a.txt', 'a');
      await putFile(ctx.files, alice, '/docs/inner.txt', 'inner');
      const list = await ctx.files.list(alice, '/');
      assert.deepEqual(namesOf(list), ['a.txt', 'b.txt', 'docs']);
      assert.deepEqual(
        list.map((i) => [i.type, i.size, i.mode]),
        [
          ['file', 1, 0o644],
          ['file', 3, 0o644],
          ['directory', 0, 0o755],
        ],
      );
      assert.ok(list.every((i) => i.modified instanceof Date && !Number.isNaN(i.modified.getTime())));
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/docs')), ['inner.txt']);
    });

    it('list of a file is conflict, of a missing folder not-found', async () => {
      await putFile(ctx.files, alice, '/f', 'x');
      await rejectsWith(ctx.files.list(alice, '/f'), 'conflict');
      await rejectsWith(ctx.files.list(alice, '/nope'), 'not-found');
      await rejectsWith(ctx.files.list(alice, '/f/under'), 'not-found');
      assert.equal(await ctx.files.stat(alice, '/f/under'), null, 'a file as a parent means nothing is there');
    });

    it('makeDirectory needs the parent and a free name', async () => {
      const made = await ctx.files.makeDirectory(alice, '/a');
      assert.equal(made.name, 'a');
      assert.equal(made.type, 'directory');
      await ctx.files.makeDirectory(alice, '/a/b');
      assert.equal((await ctx.files.stat(alice, '/a/b'))?.type, 'directory');
      await rejectsWith(ctx.files.makeDirectory(alice, '/a'), 'conflict');
      await rejectsWith(ctx.files.makeDirectory(alice, '/x/y'), 'not-found');
      await putFile(ctx.files, alice, '/f', 'x');
      await rejectsWith(ctx.files.makeDirectory(alice, '/f'), 'conflict');
      await rejectsWith(ctx.files.makeDirectory(alice, '/f/sub'), 'not-found');
    });

    it('removeDirectory removes empty folders only', async () => {
      await ctx.files.makeDirectory(alice, '/a');
      await putFile(ctx.files, alice, '/a/f', 'x');
      await rejectsWith(ctx.files.removeDirectory(alice, '/a'), 'conflict');
      await rejectsWith(ctx.files.removeDirectory(alice, '/a/f'), 'conflict');
      await rejectsWith(ctx.files.removeDirectory(alice, '/missing'), 'not-found');
      await rejectsWith(ctx.files.removeDirectory(alice, '/'), 'invalid');
      await ctx.files.removeFile(alice, '/a/f');
      await ctx.files.removeDirectory(alice, '/a');
      assert.equal(await ctx.files.stat(alice, '/a'), null);
    });

    it('removeFile removes files only', async () => {
      await ctx.files.makeDirectory(alice, '/d');
      await putFile(ctx.files, alice, '/f', 'x');
      await rejectsWith(ctx.files.removeFile(alice, '/d'), 'conflict');
      await rejectsWith(ctx.files.removeFile(alice, '/missing'), 'not-found');
      await ctx.files.removeFile(alice, '/f');
      assert.equal(await ctx.files.stat(alice, '/f'), null);
      await rejectsWith(ctx.files.removeFile(alice, '/f'), 'not-found');
    });

    it('renames a file, without overwrite a taken name is conflict, with overwrite it is replaced', async () => {
      await putFile(ctx.files, alice, '/a', 'aaa');
      await putFile(ctx.files, alice, '/b', 'b');
      await rejectsWith(ctx.files.rename(alice, '/a', '/b'), 'conflict');
      assert.equal((await getFile(ctx.files, alice, '/b')).toString(), 'b');
      await ctx.files.rename(alice, '/a', '/b', { overwrite: true });
      assert.equal(await ctx.files.stat(alice, '/a'), null);
      assert.equal((await getFile(ctx.files, alice, '/b')).toString(), 'aaa');
      assert.equal(await ctx.files.usage(alice), 3);
      await ctx.files.makeDirectory(alice, '/d');
      await ctx.files.rename(alice, '/b', '/d/c');
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/d')), ['c']);
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/')), ['d']);
      await rejectsWith(ctx.files.rename(alice, '/missing', '/x'), 'not-found');
      await rejectsWith(ctx.files.rename(alice, '/d/c', '/nofolder/c'), 'not-found');
    });

    it('renames a folder with everything in it', async () => {
      await ctx.files.makeDirectory(alice, '/a');
      await ctx.files.makeDirectory(alice, '/a/b');
      await putFile(ctx.files, alice, '/a/b/deep.txt', 'deep');
      await putFile(ctx.files, alice, '/a/top.txt', 'top');
      await putFile(ctx.files, alice, '/ab.txt', 'not a child');
      await ctx.files.rename(alice, '/a', '/z');
      assert.equal(await ctx.files.stat(alice, '/a'), null);
      assert.equal(await ctx.files.stat(alice, '/a/b/deep.txt'), null);
      assert.equal((await getFile(ctx.files, alice, '/z/b/deep.txt')).toString(), 'deep');
      assert.equal((await getFile(ctx.files, alice, '/z/top.txt')).toString(), 'top');
      assert.equal((await getFile(ctx.files, alice, '/ab.txt')).toString(), 'not a child');
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/')), ['ab.txt', 'z']);
      assert.equal(await ctx.files.usage(alice), 4 + 3 + 11);
    });

    it('renames folders whose names are outside the Basic Multilingual Plane', async () => {
      await ctx.files.makeDirectory(alice, '/😀 photos');
      await ctx.files.makeDirectory(alice, '/😀 photos/𝄞');
      await putFile(ctx.files, alice, '/😀 photos/𝄞/score.txt', 'music');
      await ctx.files.rename(alice, '/😀 photos', '/ü');
      assert.equal((await getFile(ctx.files, alice, '/ü/𝄞/score.txt')).toString(), 'music');
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/ü')), ['𝄞']);
      await ctx.files.rename(alice, '/ü', '/🎵🎵');
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/🎵🎵/𝄞')), ['score.txt']);
      assert.equal(await ctx.files.stat(alice, '/ü/𝄞'), null);
    });

    it('refuses to move a folder into itself, or over a folder, or a folder over a file', async () => {
      await ctx.files.makeDirectory(alice, '/a');
      await ctx.files.makeDirectory(alice, '/a/b');
      await ctx.files.makeDirectory(alice, '/c');
      await putFile(ctx.files, alice, '/f', 'x');
      await rejectsWith(ctx.files.rename(alice, '/a', '/a/b/a'), 'invalid');
      await rejectsWith(ctx.files.rename(alice, '/a', '/c', { overwrite: true }), 'conflict');
      await rejectsWith(ctx.files.rename(alice, '/a', '/f', { overwrite: true }), 'conflict');
      await rejectsWith(ctx.files.rename(alice, '/f', '/c', { overwrite: true }), 'conflict');
      await rejectsWith(ctx.files.rename(alice, '/', '/x'), 'invalid');
      assert.equal((await ctx.files.stat(alice, '/a/b'))?.type, 'directory');
      await ctx.files.rename(alice, '/f', '/f');
      assert.equal((await ctx.files.stat(alice, '/f'))?.size, 1);
    });

    it('setMode and setModified change what stat and list report', async () => {
      await putFile(ctx.files, alice, '/f', 'x');
      await ctx.files.makeDirectory(alice, '/d');
      await ctx.files.setMode(alice, '/f', 0o640);
      await ctx.files.setMode(alice, '/d', 0o750);
      const when = new Date('2020-01-02T03:04:05Z');
      await ctx.files.setModified(alice, '/f', when);
      const f = await ctx.files.stat(alice, '/f');
      assert.equal(f?.mode, 0o640);
      assert.equal(f?.modified.getTime(), when.getTime());
      assert.equal((await ctx.files.stat(alice, '/d'))?.mode, 0o750);
      // The owner keeps read/write (and search on folders) whatever a client asks for.
      await ctx.files.setMode(alice, '/d', 0o000);
      assert.equal((await ctx.files.stat(alice, '/d'))?.mode, 0o700);
      await ctx.files.setMode(alice, '/f', 0o4777);
      assert.equal((await ctx.files.stat(alice, '/f'))?.mode, 0o777, 'set-user-ID is dropped');
      await rejectsWith(ctx.files.setMode(alice, '/missing', 0o644), 'not-found');
      await rejectsWith(ctx.files.setModified(alice, '/missing', when), 'not-found');
      // A replacing upload keeps the file's mode.
      await putFile(ctx.files, alice, '/f', 'new');
      assert.equal((await ctx.files.stat(alice, '/f'))?.mode, 0o777);
    });

    it('refuses every path that is not normalized, in every method', async () => {
      await putFile(ctx.files, alice, '/ok', 'x');
      const bad = [
        '',
        'relative',
        'a/b',
        '/../etc/passwd',
        '/a/../b',
        '/./a',
        '/a/',
        '//a',
        '/a\u0000b',
        '/a\\b',
        '/' + 'n'.repeat(256),
        '/e\u0301', // not NFC
        '/\ud800',
      ];
      const f = ctx.files;
      for (const path of bad) {
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['stat', () => f.stat(alice, path)],
          ['list', () => f.list(alice, path)],
          ['makeDirectory', () => f.makeDirectory(alice, path)],
          ['removeDirectory', () => f.removeDirectory(alice, path)],
          ['removeFile', () => f.removeFile(alice, path)],
          ['rename from', () => f.rename(alice, path, '/x')],
          ['rename to', () => f.rename(alice, '/ok', path)],
          ['setMode', () => f.setMode(alice, path, 0o644)],
          ['setModified', () => f.setModified(alice, path, new Date())],
          ['openRead', () => f.openRead(alice, path)],
          ['createUpload', () => f.createUpload(alice, path, { mode: 'replace', maxBytes: null })],
        ];
        for (const [method, call] of calls) {
          await assert.rejects(call(), (err: Error & { code?: string }) => {
            assert.equal(err.name, 'StoreError', `${method}(${JSON.stringify(path)}): ${err.message}`);
            assert.equal(err.code, 'invalid', `${method}(${JSON.stringify(path)})`);
            return true;
          });
        }
      }
      assert.equal((await getFile(ctx.files, alice, '/ok')).toString(), 'x', 'nothing moved');
    });

    it('accepts Unicode names in NFC and names of 255 bytes', async () => {
      const long = '/' + 'é'.repeat(127) + 'x'; // 255 bytes
      await putFile(ctx.files, alice, long, 'long');
      await putFile(ctx.files, alice, '/日本語.txt', 'jp');
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/')).sort(), [long.slice(1), '日本語.txt'].sort());
    });

    it('keeps two spaces apart', async () => {
      await putFile(ctx.files, alice, '/mine.txt', 'alice');
      await ctx.files.makeDirectory(bob, '/bobs');
      assert.equal(await ctx.files.stat(bob, '/mine.txt'), null);
      assert.deepEqual(namesOf(await ctx.files.list(bob, '/')), ['bobs']);
      assert.deepEqual(namesOf(await ctx.files.list(alice, '/')), ['mine.txt']);
      await rejectsWith(ctx.files.removeFile(bob, '/mine.txt'), 'not-found');
      await rejectsWith(ctx.files.openRead(bob, '/mine.txt'), 'not-found');
      assert.equal(await ctx.files.usage(bob), 0);
      assert.equal(await ctx.files.usage(alice), 5);
      assert.deepEqual(await ctx.files.list(anonymous, '/'), []);
      await ctx.files.removeSpace(alice);
      assert.deepEqual(await ctx.files.list(alice, '/'), []);
      assert.equal(await ctx.files.usage(alice), 0);
      assert.deepEqual(namesOf(await ctx.files.list(bob, '/')), ['bobs']);
    });

    it('reports usage after uploads, removals and renames', async () => {
      await putFile(ctx.files, alice, '/a', Buffer.alloc(1000));
      assert.equal(await ctx.files.usage(alice), 1000);
      await ctx.files.makeDirectory(alice, '/d');
      await putFile(ctx.files, alice, '/d/b', Buffer.alloc(500));
      assert.equal(await ctx.files.usage(alice), 1500);
      await putFile(ctx.files, alice, '/a', Buffer.alloc(100));
      assert.equal(await ctx.files.usage(alice), 600);
      await ctx.files.rename(alice, '/d/b', '/a', { overwrite: true });
      assert.equal(await ctx.files.usage(alice), 500);
      await ctx.files.removeFile(alice, '/a');
      assert.equal(await ctx.files.usage(alice), 0);
    });

    it('reports the capacity of what holds the files', async () => {
      const cap = await ctx.files.capacity(alice);
      assert.ok(cap.totalBytes > 0);
      assert.ok(cap.freeBytes >= 0 && cap.freeBytes <= cap.totalBytes);
    });
  });
}
