/**
 * Replies built without copying, blocks read ahead reused, and small uploads written at once,
 * on an in-process channel. A DATA reply may take its header from the bytes in front of its
 * data inside a block read ahead (those bytes were answered already): whatever the offsets,
 * every READ must still return exactly the file's bytes. A block is read into again only once
 * no reply in it waits in the channel. A small upload's WRITE goes to the store before the
 * CLOSE comes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { SftpSession } from '../../src/sftp/engine.js';
import { OpenFlag, PacketType, Status } from '../../src/sftp/protocol.js';
import { PacketWriter } from '../../src/sftp/wire.js';
import type { FileReader, FileSpace, FileStore } from '../../src/store/file-store.js';
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

/**
 * A channel that, like a slow client's, queues replies: each write is finished (and only then
 * copied) a moment later, so writableLength stays above 0 in between. A block reused while a
 * reply built in it waits here would send the wrong bytes.
 */
class QueueingChannel extends FakeChannel {
  constructor() {
    // A long queue: write() keeps saying go on while a megabyte of replies waits.
    super({ writableHighWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: () => void): void {
    setTimeout(() => super._write(Buffer.from(chunk), encoding, done), 1);
  }
}

/** `files`, with every buffer its readers read into recorded in `targets`. */
function watchReads(files: FileStore, targets: Buffer[]): FileStore {
  return new Proxy(files, {
    get(target, prop, receiver) {
      if (prop !== 'openRead') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<FileStore['openRead']>): Promise<FileReader> => {
        const reader = await target.openRead(...args);
        assert.ok(reader.readInto, 'the local store reads into the caller\'s buffers');
        return {
          info: reader.info,
          read: (position, length) => reader.read(position, length),
          stream: (start) => reader.stream(start),
          readInto: (buffer, position) => {
            targets.push(buffer);
            return reader.readInto!(buffer, position);
          },
          close: () => reader.close(),
        };
      };
    },
  });
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

  async function start(opts: { store?: FileStore; channel?: FakeChannel } = {}) {
    const space: FileSpace = { kind: 'user', userId: nextUser, address: `user${nextUser}@hamburger.edu` };
    nextUser++;
    const channel = opts.channel ?? new CopyingChannel();
    const ctx = { files: opts.store ?? files, space, owner: 'bob', uploadAllowance: async () => null, keepPartial: false, log: createLogger({ level: 'error' }) };
    const session = new SftpSession(ctx, channel, { channelCopiesWrites: true });
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
  type Client = Awaited<ReturnType<typeof start>>;

  /** Uploads `content` as `name` in WRITEs of 30,000 bytes. */
  async function upload(c: Client, name: string, content: Buffer): Promise<void> {
    const h = await c.open(name, newFile);
    for (let offset = 0; offset < content.length; offset += 30000) {
      assert.equal(parseStatus(await c.write(h, offset, content.subarray(offset, offset + 30000))).code, Status.OK);
    }
    assert.equal(parseStatus(await c.close(h)).code, Status.OK);
  }

  it('answers sequential READs mostly in place, and READs going back over those bytes exactly', async () => {
    const c = await start();
    const size = 1024 * 1024 + 4321;
    const content = randomBytes(size);
    await upload(c, '/file.bin', content);

    const r = await c.open('/file.bin', OpenFlag.READ);
    const parts: Buffer[] = [];
    for (let offset = 0; ; ) {
      const data = await c.readBack(r, offset, 30000);
      if (data === 'eof') break;
      parts.push(data);
      offset += data.length;
    }
    assert.ok(Buffer.concat(parts).equals(content), 'sequential reads return the file');
    const inPlace = (c.channel as CopyingChannel).inPlace;
    assert.ok(inPlace > parts.length / 2, `${inPlace} of ${parts.length} replies in place`);

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

  /**
   * Uploads `content` as `name` and downloads it with sequential READs of `readBytes`, up to
   * `inFlight` of them sent before their replies come back (as real clients pipeline them).
   */
  async function roundTrip(c: Client, name: string, content: Buffer, readBytes = 30000, inFlight = 1): Promise<Buffer> {
    await upload(c, name, content);
    const r = await c.open(name, OpenFlag.READ);
    const parts: Buffer[] = [];
    for (let offset = 0; offset < content.length; offset += readBytes * inFlight) {
      const replies: Promise<Buffer | 'eof'>[] = [];
      for (let i = 0; i < inFlight; i++) replies.push(c.readBack(r, offset + i * readBytes, readBytes));
      for (const data of await Promise.all(replies)) if (data !== 'eof') parts.push(Buffer.from(data));
    }
    assert.equal(await c.readBack(r, content.length, readBytes), 'eof');
    assert.equal(parseStatus(await c.close(r)).code, Status.OK);
    return Buffer.concat(parts);
  }

  it('reads a long download into a few blocks, reused once the replies in them are copied', async () => {
    const targets: Buffer[] = [];
    const c = await start({ store: watchReads(files, targets) });
    const content = randomBytes(3 * 1024 * 1024 + 777);
    assert.ok((await roundTrip(c, '/long.bin', content)).equals(content), 'the download returns the file');
    const distinct = new Set(targets).size;
    assert.ok(targets.length >= 12, `${targets.length} block reads`);
    // The current block, the next, and the spare: a new buffer per block was what kept V8's
    // collector running full collections during a download.
    assert.ok(distinct <= 3, `${distinct} buffers for ${targets.length} block reads`);
    await c.end();
  });

  it('does not reuse a block while a reply in it waits in the channel', async () => {
    const targets: Buffer[] = [];
    const channel = new QueueingChannel();
    const c = await start({ store: watchReads(files, targets), channel });
    // Replies smaller than the channel's high-water mark: write() says go on while they wait.
    const content = randomBytes(2 * 1024 * 1024 + 99);
    assert.ok((await roundTrip(c, '/queued.bin', content, 4000, 100)).equals(content), 'the download returns the file');
    assert.ok(targets.length >= 8, `${targets.length} block reads`);
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
