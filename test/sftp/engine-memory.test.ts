/**
 * The SFTP engine on an in-process channel, with our own packets: 64 MB written and read back
 * through the local file store while the live memory of the process stays a small fraction of
 * the file (writes are gathered in blocks of at most 1 MiB before they go to the store, reads
 * fetch at most a block ahead of what the READs asked for).
 *
 * The file is large next to those blocks on purpose: the samples count the buffers of the
 * last few milliseconds that the collector has not freed yet, which an engine answering from
 * memory produces quickly; holding the file would still be several times the bound.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { SftpSession } from '../../src/sftp/engine.js';
import { OpenFlag, PacketType, Status } from '../../src/sftp/protocol.js';
import { PacketWriter } from '../../src/sftp/wire.js';
import { LocalFileStore } from '../../src/store/files/local.js';
import type { FileSpace } from '../../src/store/file-store.js';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { peakMemoryGrowth } from '../helpers/memory.js';
import { FakeChannel } from './fake-channel.js';

const CHUNK = 32 * 1024;
const TOTAL = 64 * 1024 * 1024;
/** Requests in flight at once, as OpenSSH's sftp pipelines them. */
const IN_FLIGHT = 16;

function statusOf(reply: Buffer): number {
  assert.equal(reply[4], PacketType.STATUS, `expected STATUS, got packet type ${reply[4]}`);
  return reply.readUInt32BE(9);
}

function handleOf(reply: Buffer): Buffer {
  assert.equal(reply[4], PacketType.HANDLE);
  const length = reply.readUInt32BE(9);
  return Buffer.from(reply.subarray(13, 13 + length));
}

describe('SFTP engine memory', () => {
  let dataDir: string;
  let files: LocalFileStore;
  const space: FileSpace = { kind: 'user', userId: 1, address: 'bob@hamburger.edu' };

  before(async () => {
    dataDir = await makeTempDir('wharf-sftp-engine-');
    files = await LocalFileStore.open(dataDir);
  });
  after(async () => {
    await files.close();
    await removeDir(dataDir);
  });

  it(`writes and reads ${TOTAL / 1048576} MB with live memory far below the file size`, async () => {
    const channel = new FakeChannel();
    const session = new SftpSession(
      { files, space, owner: 'bob', uploadAllowance: async () => null, keepPartial: false, log: createLogger({ level: 'error' }) },
      channel,
    );
    let nextId = 1;
    const block = Buffer.alloc(CHUNK);
    const blockFor = (n: number) => {
      // Different bytes in every block, without keeping the file anywhere.
      block.fill(n % 251);
      block.writeUInt32BE(n, 0);
      return block;
    };

    const { result, peak } = await peakMemoryGrowth(async () => {
      await channel.request(0, new PacketWriter(PacketType.INIT).uint32(3).finish());
      const open = (flags: number) =>
        channel.request(nextId, new PacketWriter(PacketType.OPEN).uint32(nextId++).text('/big.bin').uint32(flags).uint32(0).finish());

      const sent = createHash('sha256');
      const wh = handleOf(await open(OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC));
      const pending: Array<Promise<Buffer>> = [];
      for (let n = 0; n * CHUNK < TOTAL; n++) {
        const data = blockFor(n);
        sent.update(data);
        const id = nextId++;
        pending.push(channel.request(id, new PacketWriter(PacketType.WRITE).uint32(id).bytes(wh).uint64(n * CHUNK).bytes(data).finish()));
        if (pending.length >= IN_FLIGHT) assert.equal(statusOf(await pending.shift()!), Status.OK);
      }
      for (const p of pending) assert.equal(statusOf(await p), Status.OK);
      const closeId = nextId++;
      assert.equal(statusOf(await channel.request(closeId, new PacketWriter(PacketType.CLOSE).uint32(closeId).bytes(wh).finish())), Status.OK);

      const received = createHash('sha256');
      const rh = handleOf(await open(OpenFlag.READ));
      let bytes = 0;
      for (let offset = 0; ; offset += CHUNK) {
        const id = nextId++;
        const reply = await channel.request(id, new PacketWriter(PacketType.READ).uint32(id).bytes(rh).uint64(offset).uint32(CHUNK).finish());
        if (reply[4] === PacketType.STATUS) {
          assert.equal(statusOf(reply), Status.EOF);
          break;
        }
        const data = reply.subarray(13, 13 + reply.readUInt32BE(9));
        received.update(data);
        bytes += data.length;
      }
      return { sent: sent.digest('hex'), received: received.digest('hex'), bytes };
    });
    channel.push(null);
    await session.finished;

    assert.equal(result.bytes, TOTAL);
    assert.equal(result.received, result.sent);
    // Holding the file (or every packet) would be at least TOTAL; a fixed few MB are buffers in flight.
    assert.ok(peak < TOTAL / 2, `live memory grew by ${(peak / 1048576).toFixed(1)} MB for a ${TOTAL / 1048576} MB file`);
  });
});
