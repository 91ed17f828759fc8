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

describe('SFTP write-behind, read-ahead and copy-data', () => {
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
  async function start(
    opts: { store?: (files: FileStore) => FileStore; allowance?: number | null; space?: FileSpace; channelCopiesWrites?: boolean } = {},
  ) {
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
      // As ssh2's channels do (see SftpSessionOptions): the read-ahead then reuses its blocks.
      { channelCopiesWrites: opts.channelCopiesWrites ?? false },
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
      copy: (from: Buffer, readOffset: number, length: number, to: Buffer, writeOffset: number) =>
        c.request((w) => w.text('copy-data').bytes(from).uint64(readOffset).uint64(length).bytes(to).uint64(writeOffset), PacketType.EXTENDED),
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

  it('copies with copy-data: the whole file, a part of it after bytes written, and refuses handles the wrong way round', async () => {
    const c = await start({ channelCopiesWrites: true });
    const content = randomBytes(WRITE_BEHIND_BYTES * 2 + 12_345);
    const src = await c.open('/source.bin', newFile);
    for (let offset = 0; offset < content.length; offset += CHUNK) {
      assert.equal(parseStatus(await c.write(src, offset, content.subarray(offset, offset + CHUNK))).code, Status.OK);
    }
    assert.equal(parseStatus(await c.close(src)).code, Status.OK);

    // OpenSSH's cp: from 0, length 0 (to the end), into a new file.
    const r = await c.open('/source.bin', OpenFlag.READ);
    const whole = await c.open('/whole.bin', newFile);
    assert.deepEqual(parseStatus(await c.copy(r, 0, 0, whole, 0)), { code: Status.OK, message: 'Success' });
    assert.equal(parseStatus(await c.close(whole)).code, Status.OK);
    const w = await c.open('/whole.bin', OpenFlag.READ);
    assert.ok((await files.stat(c.space, '/whole.bin'))?.size === content.length);

    // A part, after bytes the client wrote itself: both land where they were sent.
    const part = await c.open('/part.bin', newFile);
    assert.equal(parseStatus(await c.write(part, 0, Buffer.from('head:'))).code, Status.OK);
    assert.equal(parseStatus(await c.copy(r, 1000, 70_000, part, 5)).code, Status.OK);
    assert.equal(parseStatus(await c.close(part)).code, Status.OK);

    // Copied ahead of a gap (held back until the client's WRITE fills it), more than the
    // read-ahead's blocks hold: the bytes held back must not change as those blocks are reused.
    const gap = await c.open('/gap.bin', newFile);
    assert.equal(parseStatus(await c.copy(r, 0, 600_000, gap, 100)).code, Status.OK);
    assert.equal(parseStatus(await c.write(gap, 0, Buffer.alloc(100, 0x2a))).code, Status.OK);
    assert.equal(parseStatus(await c.close(gap)).code, Status.OK);

    // Reading handle and writing handle the wrong way round, and an unknown handle.
    const other = await c.open('/other.bin', newFile);
    assert.deepEqual(parseStatus(await c.copy(other, 0, 0, r, 0)), { code: Status.FAILURE, message: 'the handle to copy from is not open for reading' });
    assert.deepEqual(parseStatus(await c.copy(r, 0, 0, w, 0)), { code: Status.FAILURE, message: 'the handle to copy to is not open for writing' });
    assert.deepEqual(parseStatus(await c.copy(r, 0, 0, Buffer.from('nope'), 0)), { code: Status.FAILURE, message: 'invalid handle' });
    for (const h of [r, w, other]) assert.equal(parseStatus(await c.close(h)).code, Status.OK);
    await c.end();

    const read = async (name: string) => {
      const reader = await files.openRead(c.space, name);
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of reader.stream()) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } finally {
        await reader.close();
      }
    };
    assert.ok((await read('/whole.bin')).equals(content), 'the copy has every byte');
    assert.ok((await read('/part.bin')).equals(Buffer.concat([Buffer.from('head:'), content.subarray(1000, 71_000)])), 'the part is where it was sent');
    assert.ok((await read('/gap.bin')).equals(Buffer.concat([Buffer.alloc(100, 0x2a), content.subarray(0, 600_000)])), 'the bytes held back are intact');
  });

  it('stops a copy-data when the session ends, and commits nothing of it', async () => {
    // Bytes the store was given for each upload, in the order the uploads were made.
    const written: number[] = [];
    const c = await start({
      channelCopiesWrites: true,
      store: (f) =>
        watchUploads(f, () => {
          const n = written.push(0) - 1;
          return (chunk) => {
            written[n]! += chunk.length;
          };
        }),
    });
    const size = 32 * 1024 * 1024;
    const src = await c.open('/long-source.bin', newFile);
    for (let offset = 0; offset < size; offset += CHUNK) await c.write(src, offset, Buffer.alloc(CHUNK, offset % 251));
    assert.equal(parseStatus(await c.close(src)).code, Status.OK);
    const r = await c.open('/long-source.bin', OpenFlag.READ);
    const dest = await c.open('/long-copy.bin', newFile);
    // Not awaited: the session ends before it is answered.
    void c.copy(r, 0, 0, dest, 0);
    while ((written[1] ?? 0) === 0) await new Promise((resolve) => setImmediate(resolve));
    await c.session.stop();
    assert.ok(written[1]! < size / 2, `the copy went on after the session ended: ${written[1]} of ${size} bytes written`);
    assert.equal(await files.stat(c.space, '/long-copy.bin'), null);
    assert.deepEqual(await leftovers(), []);
  });
});
