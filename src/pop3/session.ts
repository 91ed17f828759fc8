import { destroyAfterGrace } from '../net/shutdown-deadline.js';
import type { Line } from '../net/line-reader.js';
import { passwordsAllowed } from '../net/password-policy.js';
import { startTls } from '../net/starttls.js';
import { ConnectionClosedError, TIMED_OUT, WireTransport } from '../net/transport.js';
import type { Connection, ServiceContext, Session } from '../net/types.js';
import { authorizationCommands } from './authorization-commands.js';
import { parseCommandLine } from './command-line.js';
import type { Maildrop } from './maildrop.js';
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

export const GREETING = '+OK Wharf POP3 server ready';
export const SHUTDOWN_REPLY = '-ERR [SYS/TEMP] Server shutting down';
const IDLE_REPLY = '-ERR Autologout; idle for too long';
const LOGIN_TIMEOUT_REPLY = '-ERR Timeout: not logged in in time';
const LINE_TOO_LONG_REPLY = '-ERR Line too long';

/**
 * One POP3 connection: reads a command, runs it, replies, and repeats (pipelined commands
 * queue in the transport and are answered in order, RFC 2449 PIPELINING). Commands live in
 * authorization-commands.ts and transaction-commands.ts; this class holds the state they
 * share and owns every way a session ends, so the maildrop lease is released on all of them.
 */
export class Pop3Session implements Session {
  state: Pop3State = 'authorization';
  /** Reading commands, writing replies (batched, with back-pressure), STLS. */
  readonly transport: WireTransport;
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

  constructor(
    readonly ctx: ServiceContext,
    readonly conn: Connection,
  ) {
    this.transport = new WireTransport(conn.socket, {
      maxLineBytes: MAX_LINE_BYTES,
      secure: conn.secure,
      stallTimeoutMs: ctx.config.pop3.idleTimeoutMs,
    });
    // Until TRANSACTION, every read ends at the login deadline (however slowly it trickles).
    this.transport.deadlines.set('login', ctx.config.limits.loginTimeoutMs);
    void this.run();
  }

  get log() {
    return this.conn.log;
  }

  /** TLS from the first byte, or after STLS. */
  get secure(): boolean {
    return this.transport.secure;
  }

  /**
   * USER/PASS and AUTH PLAIN send the password as it is: only over TLS, from loopback, or
   * when the operator allowed it (RFC 2595 section 2.3, RFC 8314).
   */
  get plaintextAllowed(): boolean {
    return passwordsAllowed({ secure: this.secure, remoteAddress: this.conn.remoteAddress }, this.ctx.config.auth);
  }

  /** Writes one reply line (CRLF added); waits only when the client is not reading. */
  async reply(text: string): Promise<void> {
    await this.transport.write(text + '\r\n');
  }

  /** Replies -ERR to a bad command; too many of them end the session. */
  async rejectCommand(text: string): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= this.ctx.config.pop3.maxErrors) {
      this.log.warn('too many bad commands', { count: this.badCommands });
      this.close('-ERR Too many bad commands, closing connection');
      return;
    }
    await this.reply(text);
  }

  /**
   * The next line from the client, within the idle time limit (also used for the AUTH
   * continuation). Null when the client is gone, the session is closing or it idled too long.
   */
  async nextLine(): Promise<Line | null> {
    const wasBusy = this.busy;
    this.busy = false;
    try {
      const line = await this.transport.readLine(this.ctx.config.pop3.idleTimeoutMs);
      if (line === TIMED_OUT) {
        if (this.transport.expiredDeadline() === 'login') {
          this.log.info('login timeout');
          this.close(LOGIN_TIMEOUT_REPLY);
        } else {
          this.log.info('idle timeout', { user: this.userAddress });
          this.close(IDLE_REPLY);
        }
        return null;
      }
      return this.closing ? null : line;
    } finally {
      this.busy = wasBusy;
    }
  }

  /**
   * Sends "+OK" to STLS and starts TLS on this connection (RFC 2595 section 4). Commands the
   * client pipelined after STLS were sent in the clear and are dropped unread. False when
   * the handshake failed (the connection is then closed).
   */
  async startTls(goAhead: string): Promise<boolean> {
    this.transport.send(goAhead + '\r\n');
    if (!(await startTls(this.transport, this.ctx.tls, this.ctx.config.pop3.idleTimeoutMs, this.log, 'STLS'))) return false;
    this.pendingUser = null;
    return true;
  }

  /** Enters TRANSACTION with a locked maildrop. */
  beginTransaction(maildrop: Maildrop, address: string): void {
    this.maildrop = maildrop;
    this.userAddress = address;
    this.pendingUser = null;
    this.state = 'transaction';
    this.transport.deadlines.clear('login');
  }

  /**
   * Ends the session: sends a last reply and closes the socket. Deletes nothing; the lease is
   * released at once so a reconnecting client is not told the maildrop is in use.
   */
  close(lastReply?: string): void {
    if (this.closing) return;
    this.closing = true;
    this.state = 'closed';
    this.transport.close(lastReply === undefined ? undefined : lastReply + '\r\n');
    void this.maildrop?.close();
  }

  /** Listener shutdown: let a command in flight finish, then say goodbye, close and release the lease. */
  shutdown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      if (!this.busy) this.close(SHUTDOWN_REPLY);
      destroyAfterGrace(this.transport.closed, this.ctx.config.shutdownGraceMs, () => this.transport.destroy());
    }
    // Done once the lease is released too, so a process that exits after shutdown leaves no
    // maildrop locked behind it (close() releases it without waiting).
    return this.transport.closed.then(() => this.maildrop?.close());
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
        // An over-long line (a command, or an AUTH response read by one) ends the session.
        if (this.transport.overlongLines > 0) this.close(LINE_TOO_LONG_REPLY);
        else if (this.shuttingDown) this.close(SHUTDOWN_REPLY);
        // Nothing more pipelined: send the reply now rather than at the end of the turn.
        else if (this.transport.pendingInput === 0) this.transport.flush();
      }
    } catch (err) {
      if (!(err instanceof ConnectionClosedError)) {
        this.log.error('pop3 session failed', { error: err as Error });
      }
      // A goodbye line already queued by close() must not be cut off.
      if (!this.closing) this.transport.destroy();
    } finally {
      await this.finish();
    }
  }

  private async execute(line: Line): Promise<void> {
    if (line.tooLong) {
      // Answered as soon as the limit is passed, not when (if ever) the line ends; then closed.
      this.log.warn('command line too long');
      return this.close(LINE_TOO_LONG_REPLY);
    }
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
      if (err instanceof ConnectionClosedError || this.transport.isClosing) throw err;
      this.log.error('command failed', { command: keyword, error: err as Error });
      await this.reply('-ERR [SYS/TEMP] Internal server error, try again later');
    }
  }

  /** Every way out of `run` comes here: the lease is released and the connection closed. */
  private async finish(): Promise<void> {
    if (this.maildrop && !this.loggedOut) {
      // RFC 1939 section 6: without QUIT there is no UPDATE state, so nothing is deleted.
      this.log.info('session ended without QUIT; no messages deleted', { user: this.userAddress });
    }
    this.closing = true;
    this.state = 'closed';
    await this.maildrop?.close();
    this.transport.close();
  }
}
