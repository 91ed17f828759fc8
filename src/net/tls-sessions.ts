/**
 * The server's cache of TLS 1.2 sessions by session id, so a client can resume a session on a
 * new connection without a ticket.
 *
 * Why: FTPS data connections must resume their control connection's session (data-channel.ts,
 * RFC 4217 section 10.2 on stolen data ports). Tickets cover the clients that ask for one, but
 * curl turns tickets off for TLS 1.2 and resumes by session id, which needs the server to keep
 * the session: without this cache every TLS 1.2 data connection from curl was refused (522).
 * vsftpd and ProFTPD keep the same kind of cache (OpenSSL's own, which Node leaves off).
 *
 * Node asks for and offers sessions through 'newSession' and 'resumeSession' events on a TLS
 * server, and on the `server` option of a TLS socket made by hand (STARTTLS, AUTH TLS, FTP data
 * connections), so one cache serves both. It lives in this process's memory: a session resumes
 * on the node that made it, which is where an FTP control connection's data connections go.
 */
import { EventEmitter } from 'node:events';
import type { Server as NetServer } from 'node:net';
import type { Server as TlsServer } from 'node:tls';

/** Sessions kept at most; the least recently used go first. A session is a few hundred bytes. */
const MAX_SESSIONS = 4096;
/** How long a session may be resumed: OpenSSL's and Node's default session timeout. */
const SESSION_LIFETIME_MS = 300_000;

export class TlsSessionCache {
  private readonly sessions = new Map<string, { data: Buffer; expires: number }>();
  /** What a TLS socket made by hand takes as its `server` option to use this cache. */
  readonly events = new EventEmitter();

  constructor(
    private readonly maxSessions = MAX_SESSIONS,
    private readonly lifetimeMs = SESSION_LIFETIME_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.attach(this.events);
  }

  /** The `server` option of `new tls.TLSSocket(...)`: Node only listens and emits on it. */
  get socketServer(): NetServer {
    return this.events as unknown as NetServer;
  }

  /** Makes `server` (a TLS listener) store and resume its sessions here. */
  attach(server: TlsServer | EventEmitter): void {
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      this.store(id, data);
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, this.lookup(id));
    });
  }

  get size(): number {
    return this.sessions.size;
  }

  store(id: Buffer, data: Buffer): void {
    const key = id.toString('hex');
    this.sessions.delete(key);
    this.sessions.set(key, { data, expires: this.now() + this.lifetimeMs });
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
  }

  lookup(id: Buffer): Buffer | null {
    const key = id.toString('hex');
    const entry = this.sessions.get(key);
    if (!entry) return null;
    this.sessions.delete(key);
    if (entry.expires <= this.now()) return null;
    // Used again: it moves to the recent end.
    this.sessions.set(key, entry);
    return entry.data;
  }
}
