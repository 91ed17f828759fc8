import type { DnsResolver } from './dns.js';
import type { Socket } from 'node:net';
import type { SecureContext, SecureContextOptions, Server as TlsServer, TLSSocket, TLSSocketOptions } from 'node:tls';
import type { WharfConfig } from '../config/types.js';
import type { Store, User } from '../store/types.js';

/**
 * Structured logger: one JSON line per event. Fields must never contain a password, an AUTH
 * payload or message content; `Logger.child` adds fields (service, session id) to every line.
 */
export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/**
 * Certificate material shared by every TLS listener and every STARTTLS/STLS/AUTH TLS upgrade.
 * The certificates can be replaced while the server runs (SIGHUP): the getters always give the
 * current ones, so read them at each handshake rather than keeping them.
 */
export interface TlsMaterial {
  /** The default certificate's context (a client that sends no SNI name gets this one). */
  readonly secureContext: SecureContext;
  /** The default certificate with the server TLS policy, e.g. for a context of one's own. */
  readonly serverOptions: SecureContextOptions;
  readonly certPem: string;
  readonly keyPem: string;
  /** The context for a client's SNI name (the default when none matches). */
  contextFor(servername: string | undefined): SecureContext;
  /** For `new tls.TLSSocket(socket, upgradeOptions())`: STARTTLS, STLS, AUTH TLS. */
  upgradeOptions(): TLSSocketOptions;
  /** A TLS server for an implicit-TLS port that follows certificate replacements. */
  createServer(options: { handshakeTimeout: number }): TlsServer;
}

/**
 * Throttles password guessing per client address and per account: after `freeFailures` failed
 * logins every further failure makes the next reply wait longer (doubling, capped). Kept in the
 * store, so every node sees the same counts.
 */
export interface AuthThrottle {
  /** Counts a failed attempt; resolves with the delay to apply before answering it. */
  recordFailure(client: string, account?: string | null): Promise<number>;
  /** A successful login: the client's and the account's failures are forgotten. */
  recordSuccess(client: string, account?: string | null): Promise<void>;
  /** Delay owed before the next attempt from this client (for this account) may be answered. */
  pendingDelay(client: string, account?: string | null): Promise<number>;
}

/** Checks a login against the user database (memory-hard hash) with throttling applied. */
export interface Authenticator {
  /**
   * Resolves to the user's address on success, null on failure. Applies the throttle delay
   * itself, so the caller just awaits and replies. `clientGone` (the connection's `closed`)
   * drops a check still waiting for its turn: null, and no failure counted.
   */
  verify(username: string, password: string, clientAddress: string, clientGone?: AbortSignal): Promise<{ userId: number; address: string } | null>;
}

/** Everything a protocol service needs, handed to it by `wharf serve`. */
export interface ServiceContext {
  config: WharfConfig;
  store: Store;
  log: Logger;
  tls: TlsMaterial;
  auth: Authenticator;
  /** The configured DNS resolver (MX lookups, SPF/DKIM/DMARC, blocklists). */
  dns: DnsResolver;
  /**
   * Bytes of a user's quota taken by something other than mail: their files when
   * `files.quota` is 'shared'. Mail checks its quota against usedBytes plus this. Absent: 0.
   */
  otherUsage?: (user: User) => Promise<number>;
}

/** One accepted client connection, as the listener hands it to a service. */
export interface Connection {
  /** Short unique id, used in every log line of the session. */
  id: string;
  socket: Socket | TLSSocket;
  /** Client IP (IPv4-mapped IPv6 addresses unwrapped) and port. */
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** True when the connection is TLS from the first byte (implicit TLS ports). */
  secure: boolean;
  /**
   * Aborted when the connection closes. Work done for the client that is still waiting its
   * turn (a password check queued behind others) is dropped with it instead of running for
   * nobody: after 40 clients had sent an FTP password and hung up, the next real login took
   * 10.3 to 10.8 s while their hashes all still ran, and about 1 s with them dropped (on a
   * busy two-core machine).
   */
  closed: AbortSignal;
  log: Logger;
}

/**
 * What a protocol service gives the shared listener. The listener enforces connection limits
 * (answering with `refuse`), tracks sessions and, on shutdown, calls `shutdown` on each.
 */
export interface SessionHandler {
  /** Called for each accepted connection; returns the session so the listener can stop it. */
  open(conn: Connection): Session;
  /** Bytes written to a connection refused for limits before closing it, e.g. "421 ...\r\n". */
  refuse(reason: 'too-many-connections' | 'too-many-from-address' | 'shutting-down'): string;
}

export interface Session {
  /**
   * Asks the session to end: finish the transaction in flight (if any) within the grace
   * period, then send the protocol's goodbye (SMTP 421, POP3 -ERR) and close.
   * Resolves once the socket is closed.
   */
  shutdown(): Promise<void>;
}
