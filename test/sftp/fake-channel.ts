/** An in-process SSH channel for driving the SFTP engine with hand-made packets. */
import { Duplex } from 'node:stream';
import { PacketType } from '../../src/sftp/protocol.js';

/** The client's end of a channel: sends packets, and resolves each reply by request id. */
export class FakeChannel extends Duplex {
  private readonly waiting = new Map<number, (reply: Buffer) => void>();

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    // The engine writes one whole packet per write.
    const type = chunk[4];
    const id = type === PacketType.VERSION ? 0 : chunk.readUInt32BE(5);
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.(chunk);
    done();
  }

  request(id: number, packet: Buffer): Promise<Buffer> {
    const reply = new Promise<Buffer>((resolve) => this.waiting.set(id, resolve));
    this.push(packet);
    return reply;
  }
}

/** The status code and message of a STATUS reply. */
export function parseStatus(reply: Buffer): { code: number; message: string } {
  if (reply[4] !== PacketType.STATUS) throw new Error(`expected STATUS, got packet type ${reply[4]}`);
  const code = reply.readUInt32BE(9);
  const length = reply.readUInt32BE(13);
  return { code, message: reply.subarray(17, 17 + length).toString('utf8') };
}
