import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { LimitsConfig } from '../config/types.js';
import { TLS_HANDSHAKE_TIMEOUT_MS } from './transport.js';
import type { Connection, Logger, Session, SessionHandler, TlsMaterial } from './types.js';

export interface ListenOptions {
  /** Service name used in logs, e.g. "smtp", "pop3s". */
  name: string;
  host: string;
  /** 0 picks a free port; `Listener.port` tells which. */
  port: number;
  /** Set for implicit-TLS ports (submissions, pop3s, imaps, ftps). */
  implicitTls?: TlsMaterial;
  limits: LimitsConfig;
  log: Logger;
  /** Time allowed for a TLS handshake on implicit-TLS ports. */
  tlsHandshakeTimeoutMs?: number;
}

export interface Listener {
  readonly name: string;
  readonly port: number;
  /** Number of open sessions. */
  readonly sessionCount: number;
  /** Stops accepting; new connection attempts are refused by the OS. */
  stopAccepting(): Promise<void>;
  /** Asks every open session to finish and close; resolves when all are closed. */
  shutdownSessions(): Promise<void>;
}

/** IPv4-mapped IPv6 ("::ffff:1.2.3.4") is the same client as "1.2.3.4" for limits and logs. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export function newSessionId(): string {
  return randomBytes(6).toString('base64url');
}

/**
 * The one TCP/TLS listener every service uses: it applies the connection limits (total and
 * per client address) before a session exists, gives every connection an id and a logger, and
 * tracks sessions so that shutdown can let each one finish its transaction.
 */
export async function listen(handler: SessionHandler, opts: ListenOptions): Promise<Listener> {
  const sessions = new Map<net.Socket, Session>();
  const perAddress = new Map<string, number>();
  let accepting = true;

  const onSocket = (socket: net.Socket | tls.TLSSocket) => {
    const remoteAddress = normalizeAddress(socket.remoteAddress);
    const refuse = (reason: Parameters<SessionHandler['refuse']>[0]) => {
      opts.log.warn('connection refused', { service: opts.name, client: remoteAddress, reason });
      socket.on('error', () => {});
      socket.end(handler.refuse(reason));
      socket.setTimeout(5000, () => socket.destroy());
    };
    if (!accepting) return refuse('shutting-down');
    if (sessions.size >= opts.limits.maxConnections) return refuse('too-many-connections');
    const fromHere = perAddress.get(remoteAddress) ?? 0;
    if (fromHere >= opts.limits.maxConnectionsPerAddress) return refuse('too-many-from-address');

    perAddress.set(remoteAddress, fromHere + 1);
    const id = newSessionId();
    const conn: Connection = {
      id,
      socket,
      remoteAddress,
      remotePort: socket.remotePort ?? 0,
      localAddress: normalizeAddress(socket.localAddress),
      localPort: socket.localPort ?? 0,
      secure: socket instanceof tls.TLSSocket,
      log: opts.log.child({ service: opts.name, session: id }),
    };
    socket.setNoDelay(true);
    socket.on('error', (err) => conn.log.debug('socket error', { error: err.message }));
    socket.once('close', () => {
      sessions.delete(socket);
      const n = (perAddress.get(remoteAddress) ?? 1) - 1;
      if (n <= 0) perAddress.delete(remoteAddress);
      else perAddress.set(remoteAddress, n);
      conn.log.info('disconnected');
    });
    conn.log.info('connected', { client: remoteAddress, port: conn.remotePort, tls: conn.secure });
    try {
      sessions.set(socket, handler.open(conn));
    } catch (err) {
      conn.log.error('session failed to start', { error: err as Error });
      socket.destroy();
    }
  };

  const server = opts.implicitTls
    ? tls.createServer({
        ...opts.implicitTls.serverOptions,
        handshakeTimeout: opts.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS,
      })
    : net.createServer();
  if (opts.implicitTls) {
    server.on('secureConnection', onSocket);
    server.on('tlsClientError', (err, socket) => {
      opts.log.debug('tls handshake failed', { service: opts.name, error: err.message });
      socket.destroy();
    });
  } else {
    server.on('connection', onSocket);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.log.error('listener error', { service: opts.name, error: err }));
  const port = (server.address() as net.AddressInfo).port;
  opts.log.info('listening', { service: opts.name, host: opts.host, port, tls: Boolean(opts.implicitTls) });

  return {
    name: opts.name,
    port,
    get sessionCount() {
      return sessions.size;
    },
    stopAccepting() {
      accepting = false;
      // close() stops listening at once; its callback would wait for every session to end.
      server.close();
      return Promise.resolve();
    },
    async shutdownSessions() {
      await Promise.all([...sessions.values()].map((s) => s.shutdown().catch(() => {})));
    },
  };
}
