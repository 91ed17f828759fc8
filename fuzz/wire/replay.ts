/**
 * Plays one (mutated) session against the server, step by step, as a client would: write the
 * step, look at what comes back, react only where the session's course depends on it (go into
 * TLS after a positive STARTTLS answer, wait for a literal's "+", open the FTP data connection
 * a PASV/EPSV answer names). Every session ends with the connection closed by this side.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { WireConnection } from './connection.js';
import { IMPLICIT_TLS, type Service, type WireSession, type WireStep } from './session.js';

export interface ReplayTarget {
  host: string;
  ports: Partial<Record<Service, number>>;
  /** Source address of the connection (spreads the fuzzer over per-address limits). */
  localAddress?: string;
}

export interface ReplayResult {
  bytesSent: number;
  bytesReceived: number;
  /** The server's first bytes, for a report. */
  greeting: string;
  tlsUpgrades: number;
  dataConnections: number;
}

/** How long to wait for a reply to a step before going on regardless. */
const REPLY_MS = 600;
const SLOW_REPLY_MS = 3_000;
/** A session never takes longer than this (then it is cut off; the server must cope). */
const SESSION_MS = 20_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const POSITIVE_TLS = /^(?:220|234|\+OK|\S+ OK)\b/m;

async function send(conn: WireConnection, bytes: Buffer, step: WireStep): Promise<void> {
  const d = step.delivery;
  if (d.kind === 'whole') {
    conn.write(bytes);
  } else if (d.kind === 'split') {
    let from = 0;
    for (const at of [...d.at, bytes.length]) {
      if (at <= from) continue;
      conn.write(bytes.subarray(from, Math.min(at, bytes.length)));
      from = at;
      await sleep(2);
    }
  } else {
    for (let i = 0; i < bytes.length && !conn.closed; i++) {
      conn.write(bytes.subarray(i, i + 1));
      await sleep(d.gapMs);
    }
  }
  // A server that stopped reading (a full buffer): do not pile more on, and do not wait forever.
  const until = Date.now() + 2_000;
  while (conn.backlog > 0 && !conn.closed && Date.now() < until) await sleep(10);
}

/** The data port an FTP 227 or 229 reply names, if it names one. */
export function dataPort(reply: string): number | null {
  const epsv = /229[^(]*\(\|\|\|(\d+)\|\)/.exec(reply);
  if (epsv) return Number(epsv[1]);
  const pasv = /227[^(]*\(?\s*\d+,\d+,\d+,\d+,(\d+),(\d+)/.exec(reply);
  if (pasv) return Number(pasv[1]) * 256 + Number(pasv[2]);
  return null;
}

async function ftpTransfer(conn: WireConnection, step: WireStep, target: ReplayTarget, protP: boolean, result: ReplayResult): Promise<void> {
  await send(conn, Buffer.concat([step.text, step.eol]), step);
  const port = dataPort(await conn.waitReply(REPLY_MS));
  if (port === null || port <= 0 || port > 65535) return;
  // Loopback only, whatever address the reply names.
  const raw: Socket = netConnect({ host: target.host, port, localAddress: target.localAddress });
  raw.on('error', () => {});
  let data: Socket | TLSSocket = raw;
  if (protP) {
    const session = 'getSession' in conn.socket ? (conn.socket as TLSSocket).getSession() : undefined;
    data = tlsConnect({ socket: raw, rejectUnauthorized: false, session });
    data.on('error', () => {});
  }
  result.dataConnections++;
  const closed = new Promise<void>((r) => data.once('close', () => r()));
  data.on('data', (chunk: Buffer) => (result.bytesReceived += chunk.length));
  await send(conn, Buffer.concat([step.command ?? Buffer.alloc(0), step.eol]), step);
  if (step.data) {
    data.end(step.data);
    result.bytesSent += step.data.length;
  }
  await Promise.race([closed, sleep(SLOW_REPLY_MS)]);
  data.destroy();
  raw.destroy();
  await conn.waitReply(REPLY_MS);
}

export async function replay(session: WireSession, target: ReplayTarget): Promise<ReplayResult> {
  const port = target.ports[session.service];
  if (!port) throw new Error(`no port for ${session.service}`);
  const conn = await WireConnection.open({ host: target.host, port, localAddress: target.localAddress, tls: IMPLICIT_TLS.has(session.service), timeoutMs: 10_000 });
  const result: ReplayResult = { bytesSent: 0, bytesReceived: 0, greeting: '', tlsUpgrades: 0, dataConnections: 0 };
  const deadline = Date.now() + SESSION_MS;
  let protP = false;
  try {
    result.greeting = (await conn.waitReply(SLOW_REPLY_MS)).slice(0, 200);
    for (const step of session.steps) {
      if (conn.closed || Date.now() > deadline) break;
      switch (step.kind) {
        case 'line':
        case 'raw': {
          const bytes = Buffer.concat([step.text, step.eol]);
          await send(conn, bytes, step);
          result.bytesSent += bytes.length;
          const reply = await conn.waitReply(/\b(?:PASS|LOGIN|AUTH|AUTHENTICATE)\b/i.test(step.text.toString('latin1')) ? SLOW_REPLY_MS : REPLY_MS);
          if (/^PROT P\b/i.test(step.text.toString('latin1')) && /^200/m.test(reply)) protP = true;
          break;
        }
        case 'starttls': {
          await send(conn, Buffer.concat([step.text, step.eol]), step);
          const reply = await conn.waitReply(SLOW_REPLY_MS);
          if (POSITIVE_TLS.test(reply) && !('encrypted' in conn.socket)) {
            if (await conn.upgrade(5_000)) result.tlsUpgrades++;
          }
          break;
        }
        case 'sized': {
          const size = step.announced ?? String(step.data!.length);
          const line = Buffer.from(step.text.toString('latin1').replace('{n}', size), 'latin1');
          await send(conn, Buffer.concat([line, step.eol]), step);
          if (step.continuation) await conn.waitReply(REPLY_MS);
          conn.write(step.data!);
          if (step.then) conn.write(step.then);
          result.bytesSent += line.length + step.data!.length;
          await conn.waitReply(REPLY_MS);
          break;
        }
        case 'idle': {
          await send(conn, Buffer.concat([step.text, step.eol]), step);
          await conn.waitReply(REPLY_MS);
          await sleep(50);
          conn.write(Buffer.from('DONE\r\n'));
          await conn.waitReply(REPLY_MS);
          break;
        }
        case 'ftpData':
          await ftpTransfer(conn, step, target, protP, result);
          break;
      }
    }
  } finally {
    result.bytesReceived += conn.receivedBytes;
    conn.destroy();
  }
  return result;
}
