import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { LimitsConfig } from '../config/types.js';
import { OpenCounts } from './open-counts.js';
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
  /** The connection caps (the timeouts in LimitsConfig are the sessions'). */
  limits: Pick<LimitsConfig, 'maxConnections' | 'maxConnectionsPerAddress' | 'maxConnectionsTotal'>;
  log: Logger;
  /** Time allowed for a TLS handshake on implicit-TLS ports. */
  tlsHandshakeTimeoutMs?: number;
  /**
   * The counts of open connections that every listener of one server shares: in all, for
   * `limits.maxConnectionsTotal`, and per client address, for `limits.maxConnectionsPerAddress`
   * (one count per address over every service, as Postfix's anvil keeps). Without it the
   * listener counts only its own connections.
   */
  allConnections?: ConnectionCount;
  /**
   * Asked for each connection that passed the local limits, before its session starts: false
   * refuses it ('too-many-from-address'). The server checks the connection rate per address
   * here, counted in the store so that every node sees every connection. An error admits.
   */
  admit?: (remoteAddress: string) => Promise<boolean>;
}

/** Open connections across several listeners (see ListenOptions.allConnections). */
export class ConnectionCount {
  /** Keyed by client address (normalized, see `normalizeAddress`). */
  private readonly byAddress = new OpenCounts();

  /** Open connections in all. */
  get open(): number {
    return this.byAddress.total;
  }

  /** Open connections from `address`, over every listener sharing this count. */
  from(address: string): number {
    return this.byAddress.get(address);
  }

  /** Counts one more connection from `address`; returns the function that uncounts it. */
  add(address: string): () => void {
    return this.byAddress.add(address);
  }
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
 * The one TCP/TLS listener every service uses: it applies the connection limits (per service,
 * across all services, per client address across all services, and the caller's `admit`)
 * before a session exists, gives every connection an id and a logger, and
 * tracks sessions so that shutdown can let each one finish its transaction.
 */
export async function listen(handler: SessionHandler, opts: ListenOptions): Promise<Listener> {
  const sessions = new Map<net.Socket, Session>();
  const all = opts.allConnections ?? new ConnectionCount();
  /** Connections counted against the limits: sessions, and those still waiting for `admit`. */
  let open = 0;
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
    if (open >= opts.limits.maxConnections) return refuse('too-many-connections');
    if (all.open >= opts.limits.maxConnectionsTotal) return refuse('too-many-connections');
    if (all.from(remoteAddress) >= opts.limits.maxConnectionsPerAddress) return refuse('too-many-from-address');

    // Counted from now until the socket closes, also while `admit` is being asked.
    open++;
    const uncount = all.add(remoteAddress);
    socket.once('close', () => {
      open--;
      uncount();
    });
    if (!opts.admit) return start(socket, remoteAddress);
    socket.on('error', () => {});
    opts.admit(remoteAddress).then(
      (ok) => {
        if (socket.destroyed) return;
        if (!accepting) return refuse('shutting-down');
        if (!ok) return refuse('too-many-from-address');
        start(socket, remoteAddress);
      },
      (err: unknown) => {
        opts.log.warn('connection admission failed; admitting', { service: opts.name, client: remoteAddress, error: String(err) });
        if (!socket.destroyed) start(socket, remoteAddress);
      },
    );
  };

  const start = (socket: net.Socket | tls.TLSSocket, remoteAddress: string) => {
    const id = newSessionId();
    const closed = new AbortController();
    const conn: Connection = {
      id,
      socket,
      remoteAddress,
      remotePort: socket.remotePort ?? 0,
      localAddress: normalizeAddress(socket.localAddress),
      localPort: socket.localPort ?? 0,
      secure: socket instanceof tls.TLSSocket,
      closed: closed.signal,
      log: opts.log.child({ service: opts.name, session: id }),
    };
    socket.setNoDelay(true);
    socket.on('error', (err) => conn.log.debug('socket error', { error: err.message }));
    socket.once('close', () => {
      sessions.delete(socket);
      closed.abort();
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
    ? opts.implicitTls.createServer({ handshakeTimeout: opts.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS })
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
