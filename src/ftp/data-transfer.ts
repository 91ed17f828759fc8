/**
 * Moving bytes over a data connection for one transfer: opening it (the 150 reply comes once
 * it is there, TLS follows for PROT P), sending with back-pressure, closing it so the client
 * saw every byte before the 226, and telling what went wrong in RFC 959's words.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DataConnectionError, PassiveEndpoint, secureDataConnection, type DataSetup } from './data-channel.js';
import type { FtpSession, Transfer } from './session.js';

export type DataSocket = Socket | TLSSocket;

/** The data connection failed under a transfer; `reply` says how (426 on the wire). */
export class DataInterruptedError extends Error {
  constructor(readonly reply: string) {
    super(reply);
    this.name = 'DataInterruptedError';
  }
}

const ABORTED = '426 Connection closed; transfer aborted';
const IDLE = '426 Data connection idle too long; transfer aborted';

/**
 * Opens the data connection for `transfer` from `setup`, sends `preliminary` (150) and puts
 * TLS on it when the client asked for PROT P. Replies the error and returns null when it
 * cannot (425 no connection, 426 aborted, 522 TLS session not resumed). `setup` is closed
 * on every path.
 */
export async function openDataConnection(session: FtpSession, transfer: Transfer, setup: DataSetup, preliminary: string): Promise<DataSocket | null> {
  const { ftp } = session.ctx.config;
  let socket: DataSocket | null = null;
  try {
    socket =
      setup instanceof PassiveEndpoint
        ? await setup.accept(ftp.dataConnectTimeoutMs, transfer.signal)
        : await setup.connect(session.conn.localAddress, ftp.dataConnectTimeoutMs, transfer.signal);
    await session.reply(preliminary);
    if (session.protectData) {
      socket = await secureDataConnection(socket, session.services.dataSecureContext(session.conn), ftp.dataConnectTimeoutMs, transfer.signal);
    }
    if (transfer.aborted) throw new DataConnectionError(ABORTED);
    const open = socket;
    open.setTimeout(ftp.dataIdleTimeoutMs, () => open.destroy(new DataInterruptedError(IDLE)));
    return open;
  } catch (err) {
    socket?.destroy();
    if (!(err instanceof DataConnectionError)) throw err;
    await session.reply(err.reply);
    return null;
  } finally {
    setup.close();
  }
}

/** The reply for a failed data connection: its own reason, or 426. */
export function interruptionReply(err: unknown, transfer: Transfer): string | null {
  if (transfer.aborted) return ABORTED;
  if (err instanceof DataInterruptedError) return err.reply;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof DataInterruptedError) return cause.reply;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('ERR_STREAM') || code.startsWith('EC') || code === 'EPIPE' || code.startsWith('ERR_SSL'))) return ABORTED;
  return null;
}

/** Writes a chunk, waiting while the client is slower than the file (back-pressure). */
export async function writeData(socket: DataSocket, chunk: Buffer, transfer: Transfer): Promise<void> {
  if (transfer.aborted) throw new DataInterruptedError(ABORTED);
  if (socket.destroyed) throw new DataInterruptedError(ABORTED);
  if (socket.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      transfer.signal.removeEventListener('abort', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(socket.errored ?? new DataInterruptedError(ABORTED));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    transfer.signal.addEventListener('abort', onClose, { once: true });
  });
}

/**
 * Ends the data connection after the last byte (the end of file in stream mode) and waits
 * until the client closed its side too: then it has read everything, and 226 is true.
 */
export async function finishSending(socket: DataSocket, transfer: Transfer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onClose = () => {
      transfer.signal.removeEventListener('abort', onAbort);
      if (transfer.aborted) reject(new DataInterruptedError(ABORTED));
      else if (socket.errored && !socket.writableFinished) reject(socket.errored);
      else resolve();
    };
    const onAbort = () => socket.destroy();
    socket.once('close', onClose);
    transfer.signal.addEventListener('abort', onAbort, { once: true });
    // Read and drop what the client might send, so its close is seen.
    socket.on('data', () => {});
    socket.end();
  });
}

/** Closes a data connection at once (errors, aborts). */
export function dropData(socket: DataSocket | null): void {
  socket?.destroy();
}

/**
 * How long an upload whose data connection ended waits to see whether the control connection
 * ends too. A client killed in the middle of an upload closes the data connection as if the
 * file were complete (stream mode has no other end marker), and its control connection in the
 * same instant; but the two FINs are not always seen in that order, and on a loaded machine
 * several milliseconds apart. A client that finished normally keeps its control connection
 * open for the 226, so this costs it this much latency per upload, and nothing else.
 */
export const CONTROL_GRACE_MS = 100;

/**
 * Waits up to CONTROL_GRACE_MS for the control connection to end (the session then aborts
 * `transfer`), so a dead client's upload is given up instead of committed.
 */
export async function letControlCatchUp(transfer: Transfer): Promise<void> {
  if (transfer.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      transfer.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, CONTROL_GRACE_MS);
    transfer.signal.addEventListener('abort', done, { once: true });
  });
}
