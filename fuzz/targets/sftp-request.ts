/**
 * SFTP request mapping (sftp/engine.ts and the request handlers): the channel's byte stream
 * split into packets, each request's fields read and mapped onto the file store. The store is
 * the in-memory one of the FTP tests, behind a guard that checks every path handed to it.
 * Invariants: after INIT, every request with an id gets exactly one reply carrying that id, in
 * order, until the stream breaks; every reply is a well-formed packet of a reply type with a
 * known status code; every path reaching the store is normalized (inside the user's space) and
 * so is every REALPATH answer; no request ends in an unexpected error; the session ends, with
 * every handle released, when the channel does.
 */
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import type { Logger } from '../../src/net/types.js';
import { SftpSession } from '../../src/sftp/engine.js';
import { MAX_PACKET_BYTES, PacketType } from '../../src/sftp/protocol.js';
import { PacketWriter } from '../../src/sftp/wire.js';
import type { FileSpace, FileStore } from '../../src/store/file-store.js';
import { isNormalizedFilePath } from '../../src/store/files/path.js';
import { MemoryFileStore } from '../../test/ftp/memory-file-store.js';
import { check, InvariantError, type FuzzTarget } from '../engine/types.js';
import { seedOf } from '../engine/rng.js';
import { piecesOf } from './fake-socket.js';

class Channel extends Duplex {
  readonly replies: Buffer[] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.replies.push(Buffer.from(chunk));
    done();
  }
}

/** The store, with every path argument checked before the store sees it. */
function guarded(store: FileStore, violations: string[]): FileStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        for (const a of args) {
          if (typeof a === 'string' && !isNormalizedFilePath(a)) violations.push(`${String(prop)} got path ${JSON.stringify(a)}`);
        }
        return value.apply(target, args);
      };
    },
  });
}

const REPLY_TYPES = new Set<number>([PacketType.VERSION, PacketType.STATUS, PacketType.HANDLE, PacketType.DATA, PacketType.NAME, PacketType.ATTRS, PacketType.EXTENDED_REPLY]);

/** The request ids a correct engine answers, in order, from an independent split of the stream. */
function expectedIds(bytes: Buffer): number[] {
  const ids: number[] = [];
  let pos = 0;
  let first = true;
  while (bytes.length - pos >= 4) {
    const length = bytes.readUInt32BE(pos);
    if (length === 0 || length > MAX_PACKET_BYTES + 1024) break;
    if (bytes.length - pos - 4 < length) break;
    const packet = bytes.subarray(pos + 4, pos + 4 + length);
    pos += 4 + length;
    if (first) {
      if (packet[0] !== PacketType.INIT) break;
      ids.push(-1);
      first = false;
      continue;
    }
    if (packet.length < 5) break;
    ids.push(packet.readUInt32BE(1));
  }
  return ids;
}

const paths = fc.oneof(fc.constantFrom('/', '.', '..', '/a', 'a', 'a/b', '../../etc/passwd', '/a/../..', 'dir', 'dir/f', '\\..\\x', 'f\u0000', 'caf\u00e9', 'a'.repeat(300), ''), fc.string({ maxLength: 10 }));
const handle = fc.constantFrom('1', '2', '3', '0', 'x', '');
const attrs = fc.record({ flags: fc.constantFrom(0, 1, 4, 8, 0xd, 0x80000000, 0x8000000f, 0xffffffff), size: fc.nat(), perm: fc.nat({ max: 0o7777 }), time: fc.nat() });
function writeAttrs(w: PacketWriter, a: { flags: number; size: number; perm: number; time: number }): PacketWriter {
  w.uint32(a.flags);
  if (a.flags & 1) w.uint64(a.size);
  if (a.flags & 2) w.uint32(0).uint32(0);
  if (a.flags & 4) w.uint32(a.perm);
  if (a.flags & 8) w.uint32(a.time).uint32(a.time);
  if (a.flags & 0x80000000) w.uint32(1).text('x').text('y');
  return w;
}
const request = fc.tuple(fc.nat({ max: 1000 }), fc.nat({ max: 20 }), paths, paths, handle, attrs, fc.nat({ max: 70000 }), fc.uint8Array({ maxLength: 40 })).map(([id, kind, p1, p2, h, a, n, data]) => {
  switch (kind) {
    case 0:
      return writeAttrs(new PacketWriter(PacketType.OPEN).uint32(id).text(p1).uint32(n & 0x3f), a).finish();
    case 1:
      return new PacketWriter(PacketType.CLOSE).uint32(id).text(h).finish();
    case 2:
      return new PacketWriter(PacketType.READ).uint32(id).text(h).uint64(n).uint32(n).finish();
    case 3:
      return new PacketWriter(PacketType.WRITE).uint32(id).text(h).uint64(n % 64).bytes(Buffer.from(data)).finish();
    case 4:
      return new PacketWriter(PacketType.STAT).uint32(id).text(p1).finish();
    case 5:
      return new PacketWriter(PacketType.LSTAT).uint32(id).text(p1).finish();
    case 6:
      return new PacketWriter(PacketType.FSTAT).uint32(id).text(h).finish();
    case 7:
      return writeAttrs(new PacketWriter(PacketType.SETSTAT).uint32(id).text(p1), a).finish();
    case 8:
      return writeAttrs(new PacketWriter(PacketType.FSETSTAT).uint32(id).text(h), a).finish();
    case 9:
      return new PacketWriter(PacketType.OPENDIR).uint32(id).text(p1).finish();
    case 10:
      return new PacketWriter(PacketType.READDIR).uint32(id).text(h).finish();
    case 11:
      return new PacketWriter(PacketType.REMOVE).uint32(id).text(p1).finish();
    case 12:
      return writeAttrs(new PacketWriter(PacketType.MKDIR).uint32(id).text(p1), a).finish();
    case 13:
      return new PacketWriter(PacketType.RMDIR).uint32(id).text(p1).finish();
    case 14:
      return new PacketWriter(PacketType.REALPATH).uint32(id).text(p1).finish();
    case 15:
      return new PacketWriter(PacketType.RENAME).uint32(id).text(p1).text(p2).finish();
    case 16:
      return new PacketWriter(PacketType.READLINK).uint32(id).text(p1).finish();
    case 17:
      return new PacketWriter(PacketType.SYMLINK).uint32(id).text(p1).text(p2).finish();
    case 18:
      return new PacketWriter(PacketType.EXTENDED).uint32(id).text(n & 1 ? 'posix-rename@openssh.com' : 'statvfs@openssh.com').text(p1).text(p2).finish();
    case 19:
      return new PacketWriter(PacketType.EXTENDED).uint32(id).text(p1).finish();
    default:
      return Buffer.from(data);
  }
});
const stream = fc.array(request, { maxLength: 12 }).map((reqs) => Buffer.concat([new PacketWriter(PacketType.INIT).uint32(3).finish(), ...reqs]));

const space: FileSpace = { kind: 'user', userId: 1, address: 'bob@example.com' };

const target: FuzzTarget = {
  name: 'sftp-request',
  description: 'SFTP packets and request mapping onto the file store (sftp/engine.ts, sftp/wire.ts)',
  generator: stream.map((bytes) => ({ bytes })),
  dictionary: ['\x00\x00\x00\x05', '\x00\x00\x00\x01', '\xff\xff\xff\xff', '/..', '..', '\x00\x00\x00\x02..'],
  maxInputBytes: 16 * 1024,
  async run(bytes) {
    const violations: string[] = [];
    const unexpected: string[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (event, fields) => void unexpected.push(`${event}: ${String((fields?.error as Error | undefined)?.stack ?? JSON.stringify(fields))}`),
      child: () => log,
    };
    const store = new MemoryFileStore();
    const seed = seedOf(bytes);
    const channel = new Channel();
    const session = new SftpSession(
      { files: guarded(store, violations), space, owner: 'bob', uploadAllowance: async () => (seed & 1 ? 100 : null), keepPartial: (seed & 2) !== 0, log },
      channel,
    );
    for (const piece of piecesOf(bytes)) {
      channel.push(piece);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    channel.push(null);
    await session.finished;
    if (unexpected.length > 0) throw new InvariantError(`unexpected error in the engine: ${unexpected[0]}`);
    check(violations.length === 0, () => `store given an unnormalized path: ${violations[0]}`);
    const ids = expectedIds(bytes);
    check(channel.replies.length === ids.length, () => `${channel.replies.length} replies for ${ids.length} requests`);
    channel.replies.forEach((reply, i) => {
      check(reply.length >= 5 && reply.readUInt32BE(0) === reply.length - 4, 'reply length prefix wrong');
      const type = reply[4];
      check(REPLY_TYPES.has(type), `reply type ${type}`);
      if (ids[i] === -1) return check(type === PacketType.VERSION, 'INIT not answered with VERSION');
      check(reply.readUInt32BE(5) === ids[i] >>> 0, () => `reply ${i} has id ${reply.readUInt32BE(5)}, request had ${ids[i]}`);
      if (type === PacketType.STATUS) check(reply.readUInt32BE(9) <= 8, `status code ${reply.readUInt32BE(9)}`);
    });
    // REALPATH answers are names inside the space.
    const input = bytes;
    let pos = 0;
    let index = 0;
    while (index < ids.length && input.length - pos >= 4) {
      const length = input.readUInt32BE(pos);
      const packet = input.subarray(pos + 4, pos + 4 + length);
      pos += 4 + length;
      const reply = channel.replies[index++];
      if (packet[0] !== PacketType.REALPATH || reply[4] !== PacketType.NAME) continue;
      const nameLength = reply.readUInt32BE(13);
      const name = reply.subarray(17, 17 + nameLength).toString('utf8');
      check(isNormalizedFilePath(name), () => `REALPATH answered ${JSON.stringify(name)}`);
    }
  },
};
export default target;
