import tls, { type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { LineReader, type Line } from '../net/line-reader.js';
import type { Connection, ServiceContext, Session } from '../net/types.js';
import { authorizationCommands } from './authorization-commands.js';
import { parseCommandLine } from './command-line.js';
import type { Maildrop } from './maildrop.js';
import { ConnectionClosedError, ReplyWriter } from './reply-writer.js';
import { transactionCommands } from './transaction-commands.js';

/**
 * The POP3 session states of RFC 1939 section 3. UPDATE is entered by QUIT in TRANSACTION
 * and lasts while the marked messages are removed; 'closed' means the session is ending.
 */
export type Pop3State = 'authorization' | 'transaction' | 'update' | 'closed';

/** A command handler: may reply, change state or close the session. */
export type CommandHandler = (session: Pop3Session, args: string[], rest: string) => Promise<void>;

/**
 * Longest line read. RFC 2449 section 4 limits commands to 255 octets, but AUTH responses
 * (RFC 5034 section 4) can be longer, and lenient parsing costs nothing here.
 */
export const MAX_LINE_BYTES = 1024;
/** Unknown or malformed commands tolerated before the client is disconnected. */
export const MAX_BAD_COMMANDS = 10;

export const GREETING = '+OK Wharf POP3 server ready';
export const SHUTDOWN_REPLY = '-ERR [SYS/TEMP] Server shutting down';
const IDLE_REPLY = '-ERR Autologout; idle for too long';

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/**
 * One POP3 connection: reads a command, runs it, replies, and repeats (pipelined commands
 * queue in the LineReader and are answered in order, RFC 2449 PIPELINING). Commands live in
 * authorization-commands.ts and transaction-commands.ts; this class holds the state they
 * share and owns every way a session ends, so the maildrop lease is released on all of them.
 */
export class Pop3Session implements Session {
  state: Pop3State = 'authorization';
  /** The socket replies go to: the TLSSocket after STLS. */
  socket: Socket | TLSSocket;
  writer: ReplyWriter;
  readonly reader: LineReader;
  /** TLS from the first byte, or after STLS. */
  secure: boolean;
  /** Name given by USER, waiting for PASS. */
  pendingUser: string | null = null;
  /** The locked maildrop, from login on. */
  maildrop: Maildrop | null = null;
  /** The logged-in user's address, for logs. */
  userAddress: string | null = null;
  retrievedCount = 0;
  /** Set by QUIT: the session ended the way RFC 1939 intends (and deleted what was marked). */
  loggedOut = false;

  private badCommands = 0;
  /** True while a command runs (shutdown lets it finish, e.g. a RETR in flight). */
  private busy = false;
  private shuttingDown = false;
  private closing = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleArmed = false;
  private readonly closed: Promise<void>;

  constructor(
    readonly ctx: ServiceContext,
    readonly conn: Connection,
  ) {
    this.socket = conn.socket;
    this.secure = conn.secure;
    this.writer = new ReplyWriter(conn.socket, ctx.config.pop3.idleTimeoutMs);
    this.reader = new LineReader(conn.socket, MAX_LINE_BYTES);
    this.closed = new Promise<void>((resolve) => conn.socket.once('close', () => resolve()));
    void this.run();
  }

  get log() {
    return this.conn.log;
  }

  /**
   * USER/PASS and AUTH PLAIN send the password as it is: only over TLS, from loopback, or
   * when the operator allowed it (RFC 2595 section 2.3, RFC 8314).
   */
  get plaintextAllowed(): boolean {
    return this.secure || isLoopback(this.conn.remoteAddress) || this.ctx.config.auth.allowInsecure;
  }

  reply(text: string): Promise<void> {
    return this.writer.line(text);
  }

  /** Replies -ERR to a bad command; too many of them end the session. */
  async rejectCommand(text: string): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= MAX_BAD_COMMANDS) {
      this.log.warn('too many bad commands', { count: this.badCommands });
      this.close('-ERR Too many bad commands, closing connection');
      return;
    }
    await this.reply(text);
  }

  /**
   * The next line from the client, with the idle timer running while it is awaited (also used
   * for the AUTH continuation). Null when the client is gone.
   */
  async nextLine(): Promise<Line | null> {
    const wasBusy = this.busy;
    this.busy = false;
    this.armIdleTimer();
    try {
      const line = await this.reader.nextLine();
      return this.closing ? null : line;
    } finally {
      this.disarmIdleTimer();
      this.busy = wasBusy;
    }
  }

  /** Starts TLS on this connection after "+OK" to STLS has been sent (RFC 2595 section 4). */
  startTls(): void {
    const tlsSocket = new tls.TLSSocket(this.socket as Socket, {
      isServer: true,
      secureContext: this.ctx.tls.secureContext,
    });
    tlsSocket.on('error', (err) => this.log.debug('tls error', { error: err.message }));
    // Commands the client pipelined after STLS were sent in the clear: drop them unread.
    const dropped = this.reader.switchTo(tlsSocket);
    this.socket = tlsSocket;
    this.writer = new ReplyWriter(tlsSocket, this.ctx.config.pop3.idleTimeoutMs);
    this.secure = true;
    this.pendingUser = null;
    this.log.info('tls started', { droppedBytes: dropped });
  }

  /** Enters TRANSACTION with a locked maildrop. */
  beginTransaction(maildrop: Maildrop, address: string): void {
    this.maildrop = maildrop;
    this.userAddress = address;
    this.pendingUser = null;
    this.state = 'transaction';
  }

  /**
   * Ends the session: sends a last reply and closes the socket. Deletes nothing; the lease is
   * released at once so a reconnecting client is not told the maildrop is in use.
   */
  close(lastReply?: string): void {
    if (this.closing) return;
    this.closing = true;
    this.state = 'closed';
    this.clearIdleTimer();
    this.writer.end(lastReply);
    void this.maildrop?.close();
  }

  /** Listener shutdown: let a command in flight finish, then say goodbye and close. */
  shutdown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      if (!this.busy) this.close(SHUTDOWN_REPLY);
      const force = setTimeout(() => this.socket.destroy(), this.ctx.config.shutdownGraceMs);
      force.unref();
      void this.closed.then(() => clearTimeout(force));
    }
    return this.closed;
  }

  private async run(): Promise<void> {
    try {
      await this.reply(GREETING);
      while (!this.closing) {
        const line = await this.nextLine();
        if (!line) break;
        this.busy = true;
        try {
          await this.execute(line);
        } finally {
          this.busy = false;
        }
        if (this.shuttingDown) this.close(SHUTDOWN_REPLY);
        // Nothing more pipelined: send the reply now rather than at the end of the turn.
        else if (this.reader.pending === 0) this.writer.flush();
      }
    } catch (err) {
      if (!(err instanceof ConnectionClosedError)) {
        this.log.error('pop3 session failed', { error: err as Error });
      }
      // A goodbye line already queued by close() must not be cut off.
      if (!this.closing) this.socket.destroy();
    } finally {
      await this.finish();
    }
  }

  private async execute(line: Line): Promise<void> {
    if (line.tooLong) return this.rejectCommand('-ERR Line too long');
    const parsed = parseCommandLine(line.bytes);
    if (!parsed.ok) {
      return this.rejectCommand(parsed.reason === 'invalid-bytes' ? '-ERR Invalid characters in command' : '-ERR Unknown command');
    }
    const { keyword, args, rest } = parsed.command;
    const table = this.state === 'authorization' ? authorizationCommands : transactionCommands;
    const handler = table.get(keyword);
    if (!handler) {
      if (this.state === 'authorization' && transactionCommands.has(keyword)) {
        return this.rejectCommand('-ERR Not logged in');
      }
      if (this.state === 'transaction' && authorizationCommands.has(keyword)) {
        return this.rejectCommand('-ERR Already logged in');
      }
      return this.rejectCommand('-ERR Unknown command');
    }
    try {
      await handler(this, args, rest);
    } catch (err) {
      // Handlers reply to their own expected failures; what reaches here is the store or the
      // socket failing. A multi-line reply cut short cannot be repaired, so handlers that
      // stream close the connection themselves and throw ConnectionClosedError.
      if (err instanceof ConnectionClosedError || this.writer.closed) throw err;
      this.log.error('command failed', { command: keyword, error: err as Error });
      await this.reply('-ERR [SYS/TEMP] Internal server error, try again later');
    }
  }

  /** Every way out of `run` comes here: timers stop and the lease is released. */
  private async finish(): Promise<void> {
    if (this.maildrop && !this.loggedOut) {
      // RFC 1939 section 6: without QUIT there is no UPDATE state, so nothing is deleted.
      this.log.info('session ended without QUIT; no messages deleted', { user: this.userAddress });
    }
    this.closing = true;
    this.state = 'closed';
    this.clearIdleTimer();
    this.reader.detach();
    await this.maildrop?.close();
    if (!this.socket.destroyed) this.writer.end();
  }

  /**
   * One timer per session, re-armed with refresh() (cheaper than a new timer per command);
   * it only acts while the session is waiting for the client.
   */
  private armIdleTimer(): void {
    if (this.closing) return;
    this.idleArmed = true;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      if (!this.idleArmed) return;
      this.log.info('idle timeout', { user: this.userAddress });
      this.close(IDLE_REPLY);
    }, this.ctx.config.pop3.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private disarmIdleTimer(): void {
    this.idleArmed = false;
  }

  private clearIdleTimer(): void {
    this.idleArmed = false;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
