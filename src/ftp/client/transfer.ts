/**
 * Transfers over a passive data connection: EPSV first (it works over IPv6 and through NAT),
 * PASV when the server does not know EPSV; the transfer command; its 1xx reply; the bytes; and
 * the final reply, which for an upload is only the server's word once it has the whole file
 * (Wharf sends 226 after fsync). A failure on the data connection is reported with the
 * server's own reply when it sent one (426, 451, 552...).
 */
import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openDataConnection, type DataConnection } from './data.js';
import { FtpClientError } from './errors.js';
import { parseMlsdLine, type ListEntry } from './listing.js';
import { parseEpsvReply, parsePasvReply } from './passive.js';
import { isCompletion, isPreliminary, type FtpReply } from './reply.js';
import type { FtpSession } from './session.js';

/** Largest listing held in memory (a listing is names, not file contents). */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

/** Asks where to connect: EPSV, or PASV if EPSV is refused (remembered for the session). */
async function passiveTarget(session: FtpSession): Promise<number> {
  const control = session.control;
  if (!session.epsvRefused) {
    const reply = await control.command('EPSV');
    if (reply.code === 229) return parseEpsvReply(reply);
    if (reply.code < 500) throw FtpClientError.refused('EPSV', reply);
    session.epsvRefused = true;
  }
  const reply = await control.command('PASV');
  if (reply.code !== 227) throw FtpClientError.refused('PASV', reply);
  return parsePasvReply(reply).port;
}

/**
 * Runs one transfer command: opens the data connection, sends `command`, and once the server
 * has said 1xx, hands the data socket to `move`; then reads the final reply.
 */
export async function runTransfer(
  session: FtpSession,
  command: string,
  move: (socket: net.Socket) => Promise<void>,
): Promise<FtpReply> {
  const control = session.control;
  const stage = command.split(' ')[0].toUpperCase();
  const port = await passiveTarget(session);
  const secure = session.secureData;
  const data: DataConnection = await openDataConnection({
    address: control.remoteAddress,
    port,
    host: session.options.host,
    timeoutMs: session.options.timeoutMs,
    tls: secure ? (session.options.tlsOptions ?? {}) : undefined,
    session: secure ? await control.session() : undefined,
  });
  const socket = data.socket;
  try {
    const first = await control.readReplyAfter(command, stage);
    if (!isPreliminary(first)) {
      // Refused (550 no such file, 553 name not allowed, 425 no data connection...).
      throw FtpClientError.refused(stage, first);
    }
    await data.ready;
    if (secure) control.note(`data connection: TLS${data.reused() ? ', session reused' : ', new session'}`);
    // A stalled transfer is dropped rather than waited for forever.
    socket.setTimeout(session.options.timeoutMs, () => socket.destroy(new FtpClientError('timeout', stage, `no data moved for ${Math.round(session.options.timeoutMs / 1000)} s`)));
    let moveError: unknown = null;
    try {
      await move(socket as net.Socket);
    } catch (err) {
      moveError = err;
      socket.destroy();
    }
    let final: FtpReply;
    try {
      final = await control.readReply(stage);
    } catch (err) {
      throw moveError ?? err;
    }
    // The server's refusal says more than the broken pipe it caused.
    if (!isCompletion(final)) throw FtpClientError.refused(stage, final);
    if (moveError) throw moveError;
    return final;
  } finally {
    socket.destroy();
  }
}

/**
 * RETR `path` (from `offset` with REST); `consume` gets the data stream (or give a Writable to
 * pipe it into); resolves with the final reply.
 */
export async function retrieve(session: FtpSession, path: string, consume: Writable | ((data: Readable) => Promise<void>), opts: { offset?: number } = {}): Promise<FtpReply> {
  if (opts.offset) await session.restart(opts.offset);
  return runTransfer(session, `RETR ${path}`, (socket) => (typeof consume === 'function' ? consume(socket) : pipeline(socket, consume)));
}

/**
 * Uploads to `path` (a Readable, or a function that writes the data stream and ends it): STOR
 * from the start, STOR after REST `offset` (overwrite from there), or APPE (append to what the
 * server has).
 */
export async function store(
  session: FtpSession,
  path: string,
  produce: Readable | ((data: Writable) => Promise<void>),
  opts: { mode?: 'STOR' | 'APPE'; offset?: number } = {},
): Promise<FtpReply> {
  const mode = opts.mode ?? 'STOR';
  if (mode === 'STOR' && opts.offset) await session.restart(opts.offset);
  return runTransfer(session, `${mode} ${path}`, async (socket) => {
    // pipeline ends the socket when the source ends: with TLS that sends close_notify, which
    // tells the server the upload is complete rather than cut off.
    if (typeof produce === 'function') await produce(socket);
    else await pipeline(produce, socket);
  });
}

/** The bytes of a listing (LIST or MLSD), as text. */
async function readListing(session: FtpSession, command: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  await runTransfer(session, command, async (socket) => {
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_LISTING_BYTES) throw new FtpClientError('protocol', command, `listing larger than ${MAX_LISTING_BYTES} bytes`);
      chunks.push(chunk);
    }
  });
  return Buffer.concat(chunks).toString('utf8');
}

/** MLSD `path` (RFC 3659): machine-readable entries, without "." and "..". */
export async function listEntries(session: FtpSession, path: string): Promise<ListEntry[]> {
  const text = await readListing(session, path ? `MLSD ${path}` : 'MLSD');
  const entries: ListEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const entry = line ? parseMlsdLine(line) : null;
    if (entry && entry.type !== 'cdir' && entry.type !== 'pdir') entries.push(entry);
  }
  return entries;
}

/** LIST `path`: the server's human-readable lines, as they came. */
export async function listLines(session: FtpSession, path: string): Promise<string[]> {
  const text = await readListing(session, path ? `LIST ${path}` : 'LIST');
  return text.split(/\r?\n/).filter((l) => l.length > 0);
}
