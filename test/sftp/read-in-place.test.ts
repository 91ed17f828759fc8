/**
 * Replies built without copying, and small uploads written at once, on an in-process channel.
 * A DATA reply may take its header from the bytes in front of its data inside a block read
 * ahead (those bytes were answered already): whatever the offsets, every READ must still return
 * exactly the file's bytes. A small upload's WRITE goes to the store before the CLOSE comes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { SftpSession } from '../../src/sftp/engine.js';
import { OpenFlag, PacketType, Status } from '../../src/sftp/protocol.js';
import { PacketWriter } from '../../src/sftp/wire.js';
import type { FileSpace, FileStore } from '../../src/store/file-store.js';
import { LocalFileStore } from '../../src/store/files/local.js';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { FakeChannel, parseStatus } from './fake-channel.js';
import { watchUploads } from './watched-store.js';

/** A channel that copies each reply as it is written, as ssh2's channels do. */
class CopyingChannel extends FakeChannel {
  /** Replies whose bytes lay inside a larger buffer (a block read ahead). */
  inPlace = 0;

  override _write(chunk: Buffer, encoding: BufferEncoding, done: () => void): void {
    if (chunk.buffer.byteLength > chunk.length + 64) this.inPlace++;
    super._write(Buffer.from(chunk), encoding, done);
  }
}

/** Counts the store writes of every upload and their sizes. */
function countingStore(files: FileStore, writes: number[]): FileStore {
  return watchUploads(files, () => (chunk) => writes.push(chunk.length));
}

describe('SFTP replies without copying, and small uploads written at once', () => {
  let dataDir: string;
  let files: LocalFileStore;
  let nextUser = 1;

  before(async () => {
    dataDir = await makeTempDir('wharf-sftp-inplace-');
    files = await LocalFileStore.open(dataDir);
  });
  after(async () => {
    await files.close();
    await removeDir(dataDir);
  });

  async function start(opts: { store?: FileStore } = {}) {
    const space: FileSpace = { kind: 'user', userId: nextUser, address: `user${nextUser}@hamburger.edu` };
    nextUser++;
    const channel = new CopyingChannel();
    const ctx = { files: opts.store ?? files, space, owner: 'bob', uploadAllowance: async () => null, keepPartial: false, log: createLogger({ level: 'error' }) };
    const session = new SftpSession(ctx, channel, () => {}, true);
    await channel.request(0, new PacketWriter(PacketType.INIT).uint32(3).finish());
    let id = 1;
    const request = (build: (w: PacketWriter) => PacketWriter, type: PacketType) => {
      const n = id++;
      return channel.request(n, build(new PacketWriter(type).uint32(n)).finish());
    };
    const open = async (name: string, flags: number) => {
      const reply = await request((w) => w.text(name).uint32(flags).uint32(0), PacketType.OPEN);
      assert.equal(reply[4], PacketType.HANDLE);
      return Buffer.from(reply.subarray(13, 13 + reply.readUInt32BE(9)));
    };
    return {
      channel,
      space,
      open,
      write: (h: Buffer, offset: number, data: Buffer) => request((w) => w.bytes(h).uint64(offset).bytes(data), PacketType.WRITE),
      close: (h: Buffer) => request((w) => w.bytes(h), PacketType.CLOSE),
      readBack: async (h: Buffer, offset: number, length: number): Promise<Buffer | 'eof'> => {
        const reply = await request((w) => w.bytes(h).uint64(offset).uint32(length), PacketType.READ);
        if (reply[4] === PacketType.STATUS) {
          assert.equal(parseStatus(reply).code, Status.EOF);
          return 'eof';
        }
        assert.equal(reply[4], PacketType.DATA);
        assert.equal(reply.readUInt32BE(0), reply.length - 4, 'the packet length covers the packet');
        return reply.subarray(13, 13 + reply.readUInt32BE(9));
      },
      end: async () => {
        channel.push(null);
        await session.finished;
      },
    };
  }

  const newFile = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC;

  it('answers sequential READs mostly in place, and READs going back over those bytes exactly', async () => {
    const c = await start();
    const size = 1024 * 1024 + 4321;
    const content = randomBytes(size);
    const h = await c.open('/file.bin', newFile);
    for (let offset = 0; offset < size; offset += 30000) {
      assert.equal(parseStatus(await c.write(h, offset, content.subarray(offset, offset + 30000))).code, Status.OK);
    }
    assert.equal(parseStatus(await c.close(h)).code, Status.OK);

    const r = await c.open('/file.bin', OpenFlag.READ);
    const parts: Buffer[] = [];
    for (let offset = 0; ; ) {
      const data = await c.readBack(r, offset, 30000);
      if (data === 'eof') break;
      parts.push(data);
      offset += data.length;
    }
    assert.ok(Buffer.concat(parts).equals(content), 'sequential reads return the file');
    assert.ok(c.channel.inPlace > parts.length / 2, `${c.channel.inPlace} of ${parts.length} replies in place`);

    // Back inside a block whose front bytes carried headers, a few bytes back, the same offset
    // twice, and on from there.
    for (const [offset, length] of [
      [0, 30000],
      [30000, 30000],
      [59990, 30000],
      [90000, 30000],
      [89995, 30000],
      [89995, 30000],
      [119995, 30000],
      [30000 - 13, 13],
      [262144 - 5, 30000],
      [262144 + 30000, 30000],
      [262144 + 60000, 30000],
      [262144 + 29990, 100],
    ]) {
      const data = await c.readBack(r, offset, length);
      assert.notEqual(data, 'eof');
      assert.ok((data as Buffer).equals(content.subarray(offset, offset + length)), `read of ${length} at ${offset}`);
    }
    assert.equal(parseStatus(await c.close(r)).code, Status.OK);
    await c.end();
  });

  it('hands a small upload to the store before its CLOSE, and keeps a large one in large writes', async () => {
    const writes: number[] = [];
    const c = await start({ store: countingStore(files, writes) });
    const h = await c.open('/small.bin', newFile);
    assert.equal(parseStatus(await c.write(h, 0, Buffer.alloc(4096, 1))).code, Status.OK);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, [4096], 'written before the CLOSE');
    assert.equal(parseStatus(await c.close(h)).code, Status.OK);
    assert.equal((await files.stat(c.space, '/small.bin'))?.size, 4096);

    writes.length = 0;
    const chunk = 32 * 1024;
    const size = 4 * 1024 * 1024;
    const big = await c.open('/big.bin', newFile);
    for (let offset = 0; offset < size; offset += chunk) {
      assert.equal(parseStatus(await c.write(big, offset, Buffer.alloc(chunk, offset / chunk))).code, Status.OK);
    }
    assert.equal(parseStatus(await c.close(big)).code, Status.OK);
    assert.equal((await files.stat(c.space, '/big.bin'))?.size, size);
    // At most the first 64 KiB in WRITE-sized pieces, the rest in blocks.
    assert.ok(writes.length <= 7, `${writes.length} store writes: ${writes.join(', ')}`);
    await c.end();
  });
});
