/**
 * The SFTP packet layer: splitting the channel's byte stream into packets, reading the fields
 * of a request, and building replies. Packets are `uint32 length, byte type, payload`; every
 * request after INIT starts with a uint32 request id that the reply repeats.
 */
import { AttrFlag, EXTENSIONS, MAX_PACKET_BYTES, PacketType, SFTP_VERSION, type Status } from './protocol.js';

/** A request's fields ran out, or a length was impossible: answered with SSH_FX_BAD_MESSAGE. */
export class BadMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadMessageError';
  }
}

/** The packet stream broke a rule that leaves no way to answer (a length over the limit). */
export class FatalPacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatalPacketError';
  }
}

/**
 * Turns the channel's chunks into whole packets (type byte first). Holds at most one packet
 * beyond what the chunk being split carries, so a client sending faster than we store gets
 * held back by the channel's window, not buffered here.
 */
export async function* readPackets(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length === 0 || length > MAX_PACKET_BYTES + 1024) {
        throw new FatalPacketError(`packet length ${length} is outside 1..${MAX_PACKET_BYTES + 1024}`);
      }
      if (pending.length < 4 + length) break;
      // A packet that is the rest of its chunk is used as it is; one sharing its chunk with
      // others is copied, so it does not keep the whole chunk alive.
      const packet = pending.length === 4 + length ? pending.subarray(4) : Buffer.from(pending.subarray(4, 4 + length));
      pending = pending.subarray(4 + length);
      yield packet;
    }
  }
}

/** Attributes as a request carries them; absent fields are undefined. */
export interface RequestAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  permissions?: number;
  atime?: number;
  mtime?: number;
}

/** Reads the fields of one packet in order. */
export class FieldReader {
  private offset = 0;

  constructor(private readonly packet: Buffer) {}

  get remaining(): number {
    return this.packet.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.packet.length) throw new BadMessageError('the request ends early');
  }

  byte(): number {
    this.need(1);
    return this.packet[this.offset++];
  }

  uint32(): number {
    this.need(4);
    const value = this.packet.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A uint64 as a number; over 2^53 cannot be an offset or size we handle. */
  uint64(): number {
    this.need(8);
    const value = this.packet.readBigUInt64BE(this.offset);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadMessageError('a 64-bit number is too large');
    return Number(value);
  }

  bytes(): Buffer {
    const length = this.uint32();
    this.need(length);
    const value = this.packet.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** A string as UTF-8 text; bad bytes become U+FFFD, which the path resolver then refuses. */
  text(): string {
    return this.bytes().toString('utf8');
  }

  attrs(): RequestAttrs {
    const flags = this.uint32();
    const attrs: RequestAttrs = {};
    if (flags & AttrFlag.SIZE) attrs.size = this.uint64();
    if (flags & AttrFlag.UIDGID) {
      attrs.uid = this.uint32();
      attrs.gid = this.uint32();
    }
    if (flags & AttrFlag.PERMISSIONS) attrs.permissions = this.uint32();
    if (flags & AttrFlag.ACMODTIME) {
      attrs.atime = this.uint32();
      attrs.mtime = this.uint32();
    }
    if (flags & AttrFlag.EXTENDED) {
      // Named extended attributes: read past them, none is kept.
      const count = this.uint32();
      for (let i = 0; i < count; i++) {
        this.bytes();
        this.bytes();
      }
    }
    return attrs;
  }
}

/** Attributes for a reply. */
export interface ReplyAttrs {
  size?: number;
  permissions?: number;
  atime?: number;
  mtime?: number;
}

/** Builds one packet: fields appended in order, the length prefix filled in at the end. */
export class PacketWriter {
  private readonly parts: Buffer[] = [];
  private length = 0;

  constructor(type: PacketType) {
    this.byte(type);
  }

  private push(part: Buffer): this {
    this.parts.push(part);
    this.length += part.length;
    return this;
  }

  byte(value: number): this {
    return this.push(Buffer.from([value]));
  }

  uint32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(value >>> 0);
    return this.push(b);
  }

  uint64(value: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(value))));
    return this.push(b);
  }

  bytes(value: Buffer): this {
    this.uint32(value.length);
    return this.push(value);
  }

  text(value: string): this {
    return this.bytes(Buffer.from(value, 'utf8'));
  }

  attrs(attrs: ReplyAttrs): this {
    let flags = 0;
    if (attrs.size !== undefined) flags |= AttrFlag.SIZE;
    if (attrs.permissions !== undefined) flags |= AttrFlag.PERMISSIONS;
    if (attrs.mtime !== undefined) flags |= AttrFlag.ACMODTIME;
    this.uint32(flags);
    if (attrs.size !== undefined) this.uint64(attrs.size);
    if (attrs.permissions !== undefined) this.uint32(attrs.permissions);
    if (attrs.mtime !== undefined) {
      this.uint32(attrs.atime ?? attrs.mtime);
      this.uint32(attrs.mtime);
    }
    return this;
  }

  finish(): Buffer {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(this.length);
    return Buffer.concat([head, ...this.parts], 4 + this.length);
  }
}

export function versionPacket(): Buffer {
  const w = new PacketWriter(PacketType.VERSION).uint32(SFTP_VERSION);
  for (const [name, data] of EXTENSIONS) w.text(name).text(data);
  return w.finish();
}

export function statusPacket(id: number, status: Status, message: string): Buffer {
  // An empty language tag: the messages are English, as OpenSSH's.
  return new PacketWriter(PacketType.STATUS).uint32(id).uint32(status).text(message).text('').finish();
}

export function handlePacket(id: number, handle: Buffer): Buffer {
  return new PacketWriter(PacketType.HANDLE).uint32(id).bytes(handle).finish();
}

/** A DATA reply; bytes given in pieces are copied into it once, together. */
export function dataPacket(id: number, data: Buffer | Buffer[]): Buffer {
  const pieces = Array.isArray(data) ? data : [data];
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const header = Buffer.allocUnsafe(DATA_HEADER_BYTES);
  writeDataHeader(header, id, length);
  return Buffer.concat([header, ...pieces], DATA_HEADER_BYTES + length);
}

function writeDataHeader(target: Buffer, id: number, length: number): void {
  target.writeUInt32BE(DATA_HEADER_BYTES - 4 + length, 0);
  target[4] = PacketType.DATA;
  target.writeUInt32BE(id >>> 0, 5);
  target.writeUInt32BE(length, 9);
}

/** Length, type, request id and data length: what comes in front of a DATA reply's bytes. */
export const DATA_HEADER_BYTES = 13;

/**
 * A DATA reply built around `data` without copying it: the header is written into the
 * DATA_HEADER_BYTES in memory just in front of `data`, which the caller must own (see
 * read-ahead.ts, room in front).
 */
export function dataPacketInPlace(id: number, data: Buffer): Buffer {
  const packet = Buffer.from(data.buffer, data.byteOffset - DATA_HEADER_BYTES, DATA_HEADER_BYTES + data.length);
  writeDataHeader(packet, id, data.length);
  return packet;
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: ReplyAttrs;
}

export function namePacket(id: number, entries: NameEntry[]): Buffer {
  const w = new PacketWriter(PacketType.NAME).uint32(id).uint32(entries.length);
  for (const e of entries) w.text(e.filename).text(e.longname).attrs(e.attrs);
  return w.finish();
}

export function attrsPacket(id: number, attrs: ReplyAttrs): Buffer {
  return new PacketWriter(PacketType.ATTRS).uint32(id).attrs(attrs).finish();
}

/** SSH_FXP_EXTENDED_REPLY: the request id, then the extension's own fields as uint64s. */
export function extendedReplyPacket(id: number, values: number[]): Buffer {
  const w = new PacketWriter(PacketType.EXTENDED_REPLY).uint32(id);
  for (const v of values) w.uint64(v);
  return w.finish();
}
