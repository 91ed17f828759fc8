/**
 * SFTP at the wire: an SSH password login with the ssh2 client (the transport is ssh2's to get
 * right), then the recorded SFTP packets, mutated, written raw on the "sftp" subsystem channel:
 * lengths that lie, unknown types, strings longer than their packet, handles that were never
 * given, packets cut, repeated, swapped or split.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as SshClient, type ClientChannel } from 'ssh2';
import type { Rng } from '../engine/rng.js';
import type { Account } from './session.js';

type Field = ['byte', number] | ['u32', number] | ['u64', number] | ['string', string] | ['handle'] | ['bytes', string];

export interface SftpSession {
  name: string;
  packets: Field[][];
  /** Byte-level changes applied after encoding (index of packet → replacement bytes). */
  raw: Map<number, Buffer>;
  /** Writes of a packet in pieces. */
  split: Set<number>;
  mutations: string[];
}

export function loadSftpSessions(dir: string): SftpSession[] {
  const parsed = JSON.parse(readFileSync(join(dir, 'sftp.json'), 'utf8')) as { sessions: { name: string; packets: Field[][] }[] };
  return parsed.sessions.map((s) => ({ name: s.name, packets: s.packets, raw: new Map(), split: new Set(), mutations: [] }));
}

function encode(fields: Field[], handle: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    switch (f[0]) {
      case 'byte':
        parts.push(Buffer.from([f[1] & 0xff]));
        break;
      case 'u32': {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(f[1] >>> 0);
        parts.push(b);
        break;
      }
      case 'u64': {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(Math.trunc(f[1]))));
        parts.push(b);
        break;
      }
      case 'string':
      case 'handle':
      case 'bytes': {
        const body = f[0] === 'handle' ? handle : f[0] === 'bytes' ? Buffer.from(f[1], 'base64') : Buffer.from(f[1], 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32BE(body.length);
        parts.push(len, body);
        break;
      }
    }
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export function mutateSftp(recorded: SftpSession, rng: Rng): SftpSession {
  const s: SftpSession = { ...recorded, packets: recorded.packets.map((p) => p.map((f) => [...f] as Field)), raw: new Map(), split: new Set(), mutations: [] };
  const n = 1 + rng.int(3);
  for (let k = 0; k < n && s.packets.length > 0; k++) {
    const i = rng.int(s.packets.length);
    const p = s.packets[i]!;
    switch (rng.int(9)) {
      case 0:
        s.packets.splice(i, 1);
        s.mutations.push(`drop packet ${i}`);
        break;
      case 1:
        s.packets.splice(i, 0, p.map((f) => [...f] as Field));
        s.mutations.push(`repeat packet ${i}`);
        break;
      case 2: {
        const j = rng.int(s.packets.length);
        [s.packets[i], s.packets[j]] = [s.packets[j]!, p];
        s.mutations.push(`swap packets ${i} ${j}`);
        break;
      }
      case 3: {
        // A field replaced: huge or odd numbers, long or binary strings, a forged handle.
        const fi = rng.int(p.length);
        const f = p[fi]!;
        if (f[0] === 'u32' || f[0] === 'u64' || f[0] === 'byte') f[1] = rng.pick([0, 1, 0xffffffff, 0x7fffffff, 2 ** 53, 255, 199, 21, 4096 * 1024]);
        else p[fi] = rng.pick<Field>([['string', '../'.repeat(1 + rng.int(40)) + 'etc/passwd'], ['string', ''], ['string', 'x'.repeat(70_000)], ['bytes', rng.bytes(1 + rng.int(64)).toString('base64')], ['string', '/\u0000/a'], ['string', '//..//..//']]);
        s.mutations.push(`packet ${i} field ${fi} → ${JSON.stringify(p[fi]).slice(0, 60)}`);
        break;
      }
      case 4: {
        // The length prefix lies.
        const bytes = encode(p, Buffer.from('h'));
        const lie = rng.pick([0, 1, bytes.length - 5, bytes.length + 10, 0xffffffff, 256 * 1024 + 1, 34000]);
        bytes.writeUInt32BE(lie >>> 0, 0);
        s.raw.set(i, bytes);
        s.mutations.push(`packet ${i} claims ${lie} bytes`);
        break;
      }
      case 5: {
        const bytes = encode(p, Buffer.from('h'));
        const at = rng.int(bytes.length);
        s.raw.set(i, bytes.subarray(0, at));
        s.mutations.push(`packet ${i} cut at ${at}`);
        break;
      }
      case 6: {
        const bytes = Buffer.from(encode(p, Buffer.from('h')));
        for (let b = 0; b < 1 + rng.int(3); b++) bytes[4 + rng.int(Math.max(1, bytes.length - 4))] ^= 1 << rng.int(8);
        s.raw.set(i, bytes);
        s.mutations.push(`packet ${i} bits flipped`);
        break;
      }
      case 7:
        s.split.add(i);
        s.mutations.push(`packet ${i} written in pieces`);
        break;
      default:
        s.packets.splice(i, 0, [['byte', rng.int(256)], ['u32', rng.int(1000)], ['bytes', rng.bytes(rng.int(40)).toString('base64')]]);
        s.mutations.push(`random packet at ${i}`);
    }
  }
  return s;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The last handle in what the server sent (SSH_FXP_HANDLE), if any. */
function lastHandle(received: Buffer): Buffer | null {
  let handle: Buffer | null = null;
  let at = 0;
  while (at + 9 <= received.length) {
    const len = received.readUInt32BE(at);
    if (at + 4 + len > received.length) break;
    if (received[at + 4] === 102 && len >= 9) {
      const hlen = received.readUInt32BE(at + 9);
      if (at + 13 + hlen <= received.length) handle = received.subarray(at + 13, at + 13 + hlen);
    }
    at += 4 + len;
  }
  return handle;
}

export function replaySftp(session: SftpSession, port: number, localAddress: string, account: Account): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    let sent = 0;
    const overall = setTimeout(() => {
      client.end();
      resolve(sent);
    }, 20_000);
    const finish = (err?: Error) => {
      clearTimeout(overall);
      client.end();
      if (err) reject(err);
      else resolve(sent);
    };
    client.on('error', (err) => finish(err));
    client.on('ready', () => {
      client.subsys('sftp', async (err: Error | undefined, channel: ClientChannel) => {
        if (err) return finish(err);
        let received = Buffer.alloc(0);
        let closed = false;
        channel.on('data', (chunk: Buffer) => {
          if (received.length < 1_000_000) received = Buffer.concat([received, chunk]);
        });
        channel.on('close', () => (closed = true));
        channel.stderr.on('data', () => {});
        try {
          for (let i = 0; i < session.packets.length && !closed; i++) {
            const bytes = session.raw.get(i) ?? encode(session.packets[i]!, lastHandle(received) ?? Buffer.from('no-such-handle'));
            if (session.split.has(i) && bytes.length > 2) {
              const cut = 1 + Math.floor(bytes.length / 2);
              channel.write(bytes.subarray(0, cut));
              await sleep(5);
              channel.write(bytes.subarray(cut));
            } else {
              channel.write(bytes);
            }
            sent++;
            await sleep(20);
          }
          await sleep(100);
          finish();
        } catch (e) {
          finish(e as Error);
        }
      });
    });
    client.connect({ host: '127.0.0.1', port, localAddress, username: account.user, password: account.pass, readyTimeout: 15_000, hostVerifier: () => true });
  });
}
