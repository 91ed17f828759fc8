/**
 * One SMTP client session up to the point where mail can be sent: connect, greeting, EHLO
 * (HELO when the server refuses EHLO with 5xx), STARTTLS and AUTH; then RSET between
 * messages and QUIT at the end. The mail transaction itself is transaction.ts.
 */
import type tls from 'node:tls';
import { authenticate, chooseMechanism } from './auth.js';
import { SmtpConnection, type ConnectOptions } from './connection.js';
import { SmtpClientError } from './errors.js';
import { HELO_EXTENSIONS, parseEhloReply, type Extensions } from './extensions.js';
import type { SmtpReply } from './reply.js';

export interface SessionOptions extends ConnectOptions {
  /**
   * The name we introduce ourselves with in EHLO/HELO: our fully qualified host name. Without
   * one, the address literal of our end of the connection (RFC 5321 4.1.3), e.g. "[192.0.2.1]".
   */
  clientName?: string;
}

export class SmtpClientSession {
  private ext: Readonly<Extensions> = HELO_EXTENSIONS;
  /** Messages sent on this connection so far. */
  messages = 0;

  private constructor(
    readonly conn: SmtpConnection,
    private readonly clientName: string,
    /** The server's 220 greeting. */
    readonly greeting: SmtpReply,
  ) {}

  /**
   * Connects, reads the greeting and says EHLO. A greeting other than 220 is an
   * SmtpClientError('reply') (after a polite QUIT, RFC 5321 3.1).
   */
  static async open(opts: SessionOptions): Promise<SmtpClientSession> {
    const conn = await SmtpConnection.open(opts);
    try {
      const greeting = await conn.readReply('greeting');
      if (greeting.code !== 220) {
        await conn.command('QUIT', 'QUIT').catch(() => undefined);
        throw new SmtpClientError('reply', 'greeting', 'server refused the connection', greeting);
      }
      const session = new SmtpClientSession(conn, opts.clientName ?? conn.addressLiteral, greeting);
      await session.hello();
      return session;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  get extensions(): Readonly<Extensions> {
    return this.ext;
  }

  /** The name of the server as we know it (MX host name, smarthost name). */
  get serverName(): string {
    return this.conn.serverName;
  }

  get secure(): boolean {
    return this.conn.tlsState !== null;
  }

  get alive(): boolean {
    return this.conn.alive;
  }

  /**
   * EHLO, or HELO when the server does not know EHLO (a 5xx to it; RFC 5321 4.1.1.1 and
   * 3.2). A 4xx is a temporary refusal and ends the session.
   */
  async hello(): Promise<void> {
    const ehlo = await this.conn.command(`EHLO ${this.clientName}`, 'EHLO');
    if (ehlo.code === 250) {
      this.ext = parseEhloReply(ehlo);
      return;
    }
    if (ehlo.code < 500) throw new SmtpClientError('reply', 'EHLO', 'EHLO refused', ehlo);
    const helo = await this.conn.command(`HELO ${this.clientName}`, 'HELO');
    if (helo.code !== 250) throw new SmtpClientError('reply', 'HELO', 'HELO refused', helo);
    this.ext = HELO_EXTENSIONS;
  }

  /**
   * STARTTLS and a new EHLO over TLS (RFC 3207 4.2: what was learnt before is forgotten).
   * Returns the refusal when the server answers STARTTLS with anything but 220 (the session
   * then goes on in the clear, unchanged); throws SmtpClientError('tls') when the handshake
   * fails, which closes the connection.
   */
  async startTls(options: tls.ConnectionOptions): Promise<SmtpReply | null> {
    const reply = await this.conn.command('STARTTLS', 'STARTTLS');
    if (reply.code !== 220) return reply;
    await this.conn.startTls(options);
    this.ext = HELO_EXTENSIONS;
    await this.hello();
    return null;
  }

  /** AUTH with the best mechanism offered; throws when none fits or the login is refused. */
  async login(username: string, password: string): Promise<void> {
    const mechanism = chooseMechanism(this.ext.auth);
    if (!mechanism) {
      const offered = this.ext.auth.length > 0 ? `only ${this.ext.auth.join(' ')}` : 'no AUTH';
      throw new SmtpClientError('protocol', 'AUTH', `server offers ${offered}; PLAIN or LOGIN needed`);
    }
    await authenticate(this.conn, mechanism, username, password);
  }

  /** RSET before the next message on a reused connection; false when the session is unusable. */
  async reset(): Promise<boolean> {
    if (!this.conn.alive) return false;
    try {
      const reply = await this.conn.command('RSET', 'RSET');
      return reply.code === 250;
    } catch {
      return false;
    }
  }

  /** QUIT and close; never throws. */
  async quit(): Promise<void> {
    if (this.conn.alive) await this.conn.command('QUIT', 'QUIT').catch(() => undefined);
    this.conn.end();
  }

  /** Drops the connection without QUIT (it is broken, or we are aborting). */
  destroy(reason?: string): void {
    if (reason) this.conn.abort(reason);
    else this.conn.destroy();
  }
}
