/**
 * The SFTP engine given packets no well-behaved client sends: each gets a clear status, or,
 * when the stream itself is broken, the channel is closed; the session never hangs or crashes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { SftpSession, type SftpSessionOptions } from '../../src/sftp/engine.js';
import { PacketType, Status } from '../../src/sftp/protocol.js';
import { PacketWriter } from '../../src/sftp/wire.js';
import type { FileSpace } from '../../src/store/file-store.js';
import { LocalFileStore } from '../../src/store/files/local.js';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { FakeChannel, parseStatus } from './fake-channel.js';

describe('SFTP engine with malformed requests', () => {
  let dataDir: string;
  let files: LocalFileStore;
  const space: FileSpace = { kind: 'user', userId: 1, address: 'bob@hamburger.edu' };

  const start = (options: SftpSessionOptions = {}) => {
    const channel = new FakeChannel();
    const session = new SftpSession(
      { files, space, owner: 'bob', uploadAllowance: async () => null, keepPartial: false, log: createLogger({ level: 'error' }) },
      channel,
      options,
    );
    return { channel, session };
  };
  const init = (channel: FakeChannel) => channel.request(0, new PacketWriter(PacketType.INIT).uint32(3).finish());

  before(async () => {
    dataDir = await makeTempDir('wharf-sftp-errors-');
    files = await LocalFileStore.open(dataDir);
  });
  after(async () => {
    await files.close();
    await removeDir(dataDir);
  });

  it('announces version 3 with the statvfs, posix-rename and copy-data extensions', async () => {
    const { channel, session } = start();
    const version = await init(channel);
    assert.equal(version[4], PacketType.VERSION);
    assert.equal(version.readUInt32BE(5), 3);
    const text = version.subarray(9).toString('latin1');
    assert.match(text, /statvfs@openssh\.com/);
    assert.match(text, /posix-rename@openssh\.com/);
    assert.match(text, /copy-data/);
    channel.push(null);
    await session.finished;
  });

  it('says at its end whether the client ended it (the exit status sent is 0 only then)', async () => {
    const ends: boolean[] = [];
    const onEnd = (clientEnded: boolean) => void ends.push(clientEnded);
    // The client closes its side: a normal end, told once the last reply went out.
    const normal = start({ onEnd });
    await init(normal.channel);
    normal.channel.push(null);
    await normal.session.finished;
    // The server stops the session (shutdown, or the connection went away).
    const stopped = start({ onEnd });
    await init(stopped.channel);
    await stopped.session.stop();
    // A broken packet stream.
    const broken = start({ onEnd });
    await init(broken.channel);
    broken.channel.push(Buffer.from([0x7f, 0xff, 0xff, 0xff, PacketType.OPEN]));
    await broken.session.finished;
    assert.deepEqual(ends, [true, false, false]);
    for (const c of [normal, stopped, broken]) assert.ok(c.channel.writableEnded, 'the session ended the channel');
  });

  it('answers a truncated request with BAD_MESSAGE and goes on serving', async () => {
    const { channel, session } = start();
    await init(channel);
    // OPEN with its path but no flags or attributes.
    const bad = parseStatus(await channel.request(7, new PacketWriter(PacketType.OPEN).uint32(7).text('/x').finish()));
    assert.equal(bad.code, Status.BAD_MESSAGE);
    const unknown = parseStatus(await channel.request(8, new PacketWriter(99 as PacketType).uint32(8).finish()));
    assert.equal(unknown.code, Status.OP_UNSUPPORTED);
    const handle = parseStatus(await channel.request(9, new PacketWriter(PacketType.READ).uint32(9).text('nope').uint64(0).uint32(10).finish()));
    assert.deepEqual(handle, { code: Status.FAILURE, message: 'invalid handle' });
    const ext = parseStatus(await channel.request(10, new PacketWriter(PacketType.EXTENDED).uint32(10).text('hardlink@openssh.com').finish()));
    assert.equal(ext.code, Status.OP_UNSUPPORTED);
    const huge = parseStatus(
      await channel.request(11, new PacketWriter(PacketType.READ).uint32(11).text('1').uint64(Number.MAX_SAFE_INTEGER).uint32(1).finish()),
    );
    assert.equal(huge.code, Status.FAILURE);
    const ctl = parseStatus(await channel.request(12, new PacketWriter(PacketType.STAT).uint32(12).text('/a\u0001b').finish()));
    assert.equal(ctl.code, Status.FAILURE);
    assert.match(ctl.message, /control characters/);
    channel.push(null);
    await session.finished;
  });

  it('closes the channel on a packet before INIT or a length over the limit', async () => {
    for (const packet of [
      new PacketWriter(PacketType.OPEN).uint32(1).text('/x').uint32(1).uint32(0).finish(),
      Buffer.from([0x7f, 0xff, 0xff, 0xff, PacketType.INIT]),
    ]) {
      const { channel, session } = start();
      channel.on('error', () => {});
      channel.push(packet);
      await session.finished;
      // Ended (our side said goodbye) or destroyed (the read side was torn down): either way, closed.
      assert.ok(channel.writableEnded || channel.destroyed);
    }
  });
});
