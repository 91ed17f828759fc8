/**
 * Write-behind and read-ahead in the SFTP engine, on an in-process channel: WRITEs are
 * answered before the store has the bytes, so every way that can go wrong must still end with
 * CLOSE failing and no file, and READs answered from blocks read ahead must return exactly
 * the file's bytes whatever the offsets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { SftpSession } from '../../src/sftp/engine.js';
import { OpenFlag, PacketType, Status } from '../../src/sftp/protocol.js';
import { PacketWriter } from '../../src/sftp/wire.js';
import { WRITE_BEHIND_BYTES } from '../../src/sftp/write-behind.js';
import type { FileSpace, FileStore } from '../../src/store/file-store.js';
import { LocalFileStore } from '../../src/store/files/local.js';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { FakeChannel, parseStatus } from './fake-channel.js';
import { watchUploads } from './watched-store.js';

const CHUNK = 32 * 1024;

function handleOf(reply: Buffer): Buffer {
  assert.equal(reply[4], PacketType.HANDLE, `expected HANDLE, got packet type ${reply[4]}`);
  return Buffer.from(reply.subarray(13, 13 + reply.readUInt32BE(9)));
}

/** A store whose uploads fail to write once `failAfter` bytes went through. */
function failingStore(files: FileStore, failAfter: number): FileStore {
  return watchUploads(files, () => {
    let written = 0;
    return (chunk) => {
      if (written + chunk.length > failAfter) throw new Error('the disk went away');
      written += chunk.length;
    };
  });
}

describe('SFTP write-behind and read-ahead', () => {
  let dataDir: string;
  let files: LocalFileStore;
  let nextUser = 1;

  before(async () => {
    dataDir = await makeTempDir('wharf-sftp-wb-');
    files = await LocalFileStore.open(dataDir);
  });
  after(async () => {
    await files.close();
    await removeDir(dataDir);
  });

  /** A session of a fresh user, with the INIT exchange done. */
  async function start(opts: { store?: (files: FileStore) => FileStore; allowance?: number | null; space?: FileSpace } = {}) {
    const space: FileSpace = opts.space ?? { kind: 'user', userId: nextUser, address: `user${nextUser}@hamburger.edu` };
    nextUser++;
    const channel = new FakeChannel();
    const session = new SftpSession(
      {
        files: opts.store ? opts.store(files) : files,
        space,
        owner: 'bob',
        uploadAllowance: async () => opts.allowance ?? null,
        keepPartial: false,
        log: createLogger({ level: 'error' }),
      },
      channel,
    );
    await channel.request(0, new PacketWriter(PacketType.INIT).uint32(3).finish());
    let id = 1;
    const c = {
      channel,
      session,
      space,
      request: (build: (w: PacketWriter) => PacketWriter, type: PacketType) => {
        const n = id++;
        return channel.request(n, build(new PacketWriter(type).uint32(n)).finish());
      },
      open: async (name: string, flags: number) => handleOf(await c.request((w) => w.text(name).uint32(flags).uint32(0), PacketType.OPEN)),
      write: (h: Buffer, offset: number, data: Buffer) => c.request((w) => w.bytes(h).uint64(offset).bytes(data), PacketType.WRITE),
      read: (h: Buffer, offset: number, length: number) => c.request((w) => w.bytes(h).uint64(offset).uint32(length), PacketType.READ),
      close: (h: Buffer) => c.request((w) => w.bytes(h), PacketType.CLOSE),
      end: async () => {
        channel.push(null);
        await session.finished;
      },
    };
    return c;
  }

  const newFile = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC;
  const leftovers = () => readdir(path.join(dataDir, 'files-uploads')).catch(() => []);

  it('fails the CLOSE, and leaves no file, when a block written behind fails', async () => {
    const c = await start({ store: (f) => failingStore(f, 0) });
    const h = await c.open('/doomed.bin', newFile);
    // Answered at once: the store has not seen these bytes yet.
    const statuses: number[] = [];
    for (let n = 0; n * CHUNK < WRITE_BEHIND_BYTES + 4 * CHUNK; n++) {
      statuses.push(parseStatus(await c.write(h, n * CHUNK, Buffer.alloc(CHUNK, n))).code);
    }
    assert.equal(statuses[0], Status.OK);
    // The block failed meanwhile: later WRITEs say so once it has, and CLOSE certainly does.
    assert.ok(statuses.every((s) => s === Status.OK || s === Status.FAILURE));
    const close = parseStatus(await c.close(h));
    assert.equal(close.code, Status.FAILURE);
    assert.equal(await files.stat(c.space, '/doomed.bin'), null);
    assert.deepEqual(await leftovers(), []);
    await c.end();
  });

  it('fails the CLOSE when a small upload\'s bytes, written right after its WRITE was answered, fail', async () => {
    const c = await start({ store: (f) => failingStore(f, 0) });
    const h = await c.open('/small.bin', newFile);
    assert.equal(parseStatus(await c.write(h, 0, Buffer.from('hello'))).code, Status.OK);
    const close = parseStatus(await c.close(h));
    assert.deepEqual(close, { code: Status.FAILURE, message: 'internal error' });
    assert.equal(await files.stat(c.space, '/small.bin'), null);
    assert.deepEqual(await leftovers(), []);
    await c.end();
  });

  it('leaves no file when the client goes away with WRITEs answered but not yet written', async () => {
    const c = await start();
    const h = await c.open('/gone.bin', newFile);
    for (let n = 0; n < 5; n++) assert.equal(parseStatus(await c.write(h, n * CHUNK, Buffer.alloc(CHUNK, 7))).code, Status.OK);
    await c.end();
    assert.equal(await files.stat(c.space, '/gone.bin'), null);
    assert.deepEqual(await leftovers(), []);
  });

  it('refuses the WRITE that goes over the quota at once, and the CLOSE after it', async () => {
    const c = await start({ allowance: 3 * CHUNK + 10 });
    const h = await c.open('/over.bin', newFile);
    for (let n = 0; n < 3; n++) assert.equal(parseStatus(await c.write(h, n * CHUNK, Buffer.alloc(CHUNK))).code, Status.OK);
    assert.deepEqual(parseStatus(await c.write(h, 3 * CHUNK, Buffer.alloc(CHUNK))), { code: Status.FAILURE, message: 'quota exceeded' });
    assert.equal(parseStatus(await c.write(h, 4 * CHUNK, Buffer.alloc(CHUNK))).code, Status.FAILURE);
    assert.equal(parseStatus(await c.close(h)).code, Status.FAILURE);
    assert.equal(await files.stat(c.space, '/over.bin'), null);
    await c.end();
  });

  it('counts only the growth against the quota when a larger file is replaced', async () => {
    const c = await start();
    const h = await c.open('/big.bin', newFile);
    for (let n = 0; n < 8; n++) assert.equal(parseStatus(await c.write(h, n * CHUNK, Buffer.alloc(CHUNK, 1))).code, Status.OK);
    assert.equal(parseStatus(await c.close(h)).code, Status.OK);
    await c.end();
    // The same user with only one chunk of quota left replaces it with a smaller file.
    const d = await start({ allowance: CHUNK, space: c.space });
    const h2 = await d.open('/big.bin', newFile);
    for (let n = 0; n < 6; n++) assert.equal(parseStatus(await d.write(h2, n * CHUNK, Buffer.alloc(CHUNK, 2))).code, Status.OK);
    assert.equal(parseStatus(await d.close(h2)).code, Status.OK);
    assert.equal((await files.stat(d.space, '/big.bin'))?.size, 6 * CHUNK);
    await d.end();
  });

  it('answers READs from blocks read ahead with the exact bytes, in order, after jumps and across blocks', async () => {
    const c = await start();
    const size = 3 * 1024 * 1024 + 12345;
    const content = randomBytes(size);
    const h = await c.open('/file.bin', newFile);
    for (let offset = 0; offset < size; offset += CHUNK) {
      assert.equal(parseStatus(await c.write(h, offset, content.subarray(offset, offset + CHUNK))).code, Status.OK);
    }
    assert.equal(parseStatus(await c.close(h)).code, Status.OK);

    const r = await c.open('/file.bin', OpenFlag.READ);
    const readBack = async (offset: number, length: number): Promise<Buffer | 'eof'> => {
      const reply = await c.read(r, offset, length);
      if (reply[4] === PacketType.STATUS) {
        assert.equal(parseStatus(reply).code, Status.EOF);
        return 'eof';
      }
      assert.equal(reply[4], PacketType.DATA);
      return Buffer.from(reply.subarray(13, 13 + reply.readUInt32BE(9)));
    };
    // Sequential, with a length that does not divide the block size.
    const parts: Buffer[] = [];
    for (let offset = 0; ; ) {
      const data = await readBack(offset, 30000);
      if (data === 'eof') break;
      parts.push(data);
      offset += data.length;
    }
    assert.ok(Buffer.concat(parts).equals(content), 'sequential reads return the file');
    // Jumps back and forth, reads across a block boundary, and sequential runs after a jump.
    for (const [offset, length] of [
      [1024 * 1024 - 100, 65536],
      [17, 1000],
      [2 * 1024 * 1024 - 1, 2],
      [2 * 1024 * 1024 + 1, 30000],
      [2 * 1024 * 1024 + 30001, 30000],
      [size - 10, 30000],
      [5, 65536],
    ]) {
      const data = await readBack(offset, length);
      assert.notEqual(data, 'eof');
      assert.ok((data as Buffer).equals(content.subarray(offset, offset + length)), `read of ${length} at ${offset}`);
    }
    assert.equal(await readBack(size, 100), 'eof');
    assert.equal(await readBack(size + 5000, 100), 'eof');
    assert.equal(parseStatus(await c.close(r)).code, Status.OK);
    await c.end();
  });
});
