/**
 * FTP data connections (RFC 959 section 3.2, RFC 2428, RFC 2577, RFC 4217 section 7): the
 * passive listener a client connects to after PASV/EPSV, the address PORT/EPRT named for an
 * active connection, and the TLS layer PROT P puts on either. Every listener and socket made
 * here is closed on every path (success, timeout, ABOR, session end): a client running a
 * thousand transfers must not leave a thousand descriptors behind.
 */
import net from 'node:net';
import tls, { type TLSSocket, type TLSSocketOptions } from 'node:tls';
import { normalizeAddress } from '../net/listener.js';
import type { Logger } from '../net/types.js';
import { closureWatchedTransport } from './tls-closure.js';
import type { UploadReader } from './upload-reader.js';

/** Why a data connection could not be used; `reply` is what the client is told. */
export class DataConnectionError extends Error {
  constructor(readonly reply: string) {
    super(reply);
    this.name = 'DataConnectionError';
  }
}

/** Passive ports tried before giving up when the configured range is busy. */
const MAX_BIND_ATTEMPTS = 100;

/**
 * A passive data port. It accepts the first connection from the allowed address and closes
 * its listening socket at once; a connection from anywhere else is dropped unseen and the
 * real client can still connect ("port stealing", RFC 2577 section 5).
 */
export class PassiveEndpoint {
  private accepted: net.Socket | null = null;
  private waiter: ((socket: net.Socket | null) => void) | null = null;
  private closed = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly allowedAddress: string | null,
    private readonly log: Logger,
  ) {
    server.on('connection', (socket) => this.onConnection(socket));
    server.on('error', () => {});
  }

  /**
   * Listens on `host` (the control connection's local address) on a port of the range, or
   * one the system picks when the range is 0/0. `allowedAddress` null admits anyone (FXP).
   */
  static async open(opts: { host: string; portMin: number; portMax: number; allowedAddress: string | null; log: Logger }): Promise<PassiveEndpoint> {
    const candidates = passivePortCandidates(opts.portMin, opts.portMax);
    for (const port of candidates) {
      // Paused until the command decides how it is read: an upload reads it through an
      // UploadReader, which must take it over before its first read.
      const server = net.createServer({ pauseOnConnect: true });
      const bound = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen({ port, host: opts.host, backlog: 4, exclusive: true }, () => resolve(true));
      });
      if (bound) {
        server.removeAllListeners('error');
        return new PassiveEndpoint(server, (server.address() as net.AddressInfo).port, opts.allowedAddress, opts.log);
      }
      server.close();
    }
    throw new DataConnectionError('425 No passive port is free, try again later');
  }

  /** The accepted connection: waits up to `timeoutMs`; rejects when aborted or timed out. */
  accept(timeoutMs: number, signal: AbortSignal): Promise<net.Socket> {
    if (this.accepted) {
      const socket = this.accepted;
      this.accepted = null;
      return Promise.resolve(socket);
    }
    if (this.closed) return Promise.reject(new DataConnectionError("425 Can't open data connection"));
    return new Promise((resolve, reject) => {
      const finish = (socket: net.Socket | null, error?: DataConnectionError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiter = null;
        if (socket) resolve(socket);
        else reject(error ?? new DataConnectionError("425 Can't open data connection"));
      };
      const onAbort = () => finish(null, new DataConnectionError('426 Connection closed; transfer aborted'));
      const timer = setTimeout(() => {
        finish(null, new DataConnectionError("425 Can't open data connection: the client did not connect in time"));
        this.close();
      }, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = (socket) => finish(socket);
    });
  }

  /** Stops listening and drops a connection not taken yet. */
  close(): void {
    this.closed = true;
    this.server.close();
    this.accepted?.destroy();
    this.accepted = null;
    this.waiter?.(null);
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => {});
    const from = normalizeAddress(socket.remoteAddress);
    if (this.closed || this.accepted) {
      socket.destroy();
      return;
    }
    if (this.allowedAddress !== null && from !== this.allowedAddress) {
      this.log.warn('passive data connection from another address refused', { from });
      socket.destroy();
      return;
    }
    // One connection per PASV: the port is not left open for a second comer.
    this.closed = true;
    this.server.close();
    if (this.waiter) this.waiter(socket);
    else this.accepted = socket;
  }
}

/** Ports of the range in an order that starts at a random place, so sessions spread out. */
function passivePortCandidates(min: number, max: number): number[] {
  if (min === 0 && max === 0) return [0];
  const count = max - min + 1;
  const first = Math.floor(Math.random() * count);
  const out: number[] = [];
  for (let i = 0; i < Math.min(count, MAX_BIND_ATTEMPTS); i++) out.push(min + ((first + i) % count));
  return out;
}

/** Where PORT/EPRT told the server to connect. */
export class ActiveTarget {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  /**
   * Connects from the control connection's local address (port 20 would need privileges and
   * buys nothing), within `timeoutMs`; an upload's socket reads through `reader`.
   */
  connect(localAddress: string, timeoutMs: number, signal: AbortSignal, reader?: UploadReader): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port, localAddress, ...(reader ? { onread: reader.onread } : {}) });
      reader?.attach(socket);
      const finish = (error?: DataConnectionError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        socket.on('error', () => {});
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve(socket);
      };
      const onConnect = () => finish();
      const onError = () => finish(new DataConnectionError("425 Can't open data connection"));
      const onAbort = () => finish(new DataConnectionError('426 Connection closed; transfer aborted'));
      const timer = setTimeout(() => finish(new DataConnectionError("425 Can't open data connection: timed out")), timeoutMs);
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {}
}

export type DataSetup = PassiveEndpoint | ActiveTarget;

/**
 * Puts TLS on a data connection (PROT P). The server is the TLS server whichever side
 * connected (RFC 4217 section 7). The client must resume the control connection's TLS
 * session: only the client that did AUTH TLS holds it, so a third party that connected to
 * the data port first gets nothing (what vsftpd's require_ssl_reuse enforces).
 * `watchClosure` (uploads) reads the TCP connection so that a close_notify is told from a
 * bare TCP close (tls-closure.ts).
 */
export async function secureDataConnection(
  socket: net.Socket,
  tlsOptions: TLSSocketOptions,
  timeoutMs: number,
  signal: AbortSignal,
  watchClosure = false,
): Promise<TLSSocket> {
  const watched = watchClosure ? closureWatchedTransport(socket) : null;
  const secured = new tls.TLSSocket(watched ? watched.transport : socket, { ...tlsOptions, isServer: true });
  watched?.watch(secured);
  secured.on('error', () => {});
  const ok = await new Promise<boolean>((resolve) => {
    const done = (result: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onFail);
      secured.off('secure', onSecure);
      secured.off('error', onFail);
      secured.off('close', onFail);
      resolve(result);
    };
    const onSecure = () => done(true);
    const onFail = () => done(false);
    const timer = setTimeout(onFail, timeoutMs);
    secured.once('secure', onSecure);
    secured.once('error', onFail);
    secured.once('close', onFail);
    signal.addEventListener('abort', onFail, { once: true });
  });
  if (!ok) {
    secured.destroy();
    socket.destroy();
    throw new DataConnectionError(signal.aborted ? '426 Connection closed; transfer aborted' : '425 TLS handshake on the data connection failed');
  }
  if (!secured.isSessionReused()) {
    secured.destroy();
    socket.destroy();
    throw new DataConnectionError('522 TLS session of the data connection must resume the control connection\'s session');
  }
  return secured;
}
