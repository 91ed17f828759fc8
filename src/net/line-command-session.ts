/**
 * What a connection of an untagged line protocol (POP3, FTP's control connection) does apart
 * from its commands: greet, read a line, run it, reply, repeat; and every way such a session
 * ends: the client leaves or idles, does not log in in time, sends a line past the limit or
 * too many bad commands, or the listener shuts down. Each protocol subclasses it with its
 * commands and with what ending costs it (POP3's maildrop lease, FTP's transfer in flight),
 * so the rules of the loop are written once and cannot drift apart between protocols.
 */
import { destroyAfterGrace } from './shutdown-deadline.js';
import type { Line } from './line-reader.js';
import { ConnectionClosedError, TIMED_OUT, WireTransport } from './transport.js';
import type { Connection, ServiceContext, Session } from './types.js';

/** The replies a session ends with, each one line without CRLF. */
export interface LineSessionReplies {
  greeting: string;
  shutdown: string;
  idle: string;
  loginTimeout: string;
  lineTooLong: string;
  tooManyErrors: string;
}

export interface LineSessionSettings {
  /** The protocol's name in logs ("pop3 session failed"). */
  protocol: string;
  maxLineBytes: number;
  idleTimeoutMs: number;
  /** Bad commands after which the session ends (pop3.maxErrors, ftp.maxErrors). */
  maxErrors: number;
  replies: LineSessionReplies;
}

export abstract class LineCommandSession implements Session {
  /** Reading commands, writing replies (batched, with back-pressure), the TLS upgrade. */
  readonly transport: WireTransport;
  /** Set once the session is ending: no further command runs. */
  protected closing = false;
  /** True while a command runs (shutdown lets it finish, e.g. a download in flight). */
  protected busy = false;
  protected shuttingDown = false;
  private badCommands = 0;

  constructor(
    readonly ctx: ServiceContext,
    readonly conn: Connection,
    private readonly settings: LineSessionSettings,
  ) {
    this.transport = new WireTransport(conn.socket, {
      maxLineBytes: settings.maxLineBytes,
      secure: conn.secure,
      stallTimeoutMs: settings.idleTimeoutMs,
    });
    // Until login, every read ends at the login deadline (however slowly it trickles).
    this.transport.deadlines.set('login', ctx.config.limits.loginTimeoutMs);
  }

  /** Runs the command on `line` (never over-long: the loop has ended the session for those). */
  protected abstract execute(line: Line): Promise<void>;

  /**
   * Called once when the session ends whatever the way, after no command runs any more and
   * before the socket closes: what the session holds is let go of here.
   */
  protected abstract release(): Promise<void>;

  /** Who is logged in, for the idle timeout's log line. */
  protected abstract get loggedInUser(): string | null;

  get log() {
    return this.conn.log;
  }

  /** TLS from the first byte, or after the protocol's upgrade command. */
  get secure(): boolean {
    return this.transport.secure;
  }

  get isClosing(): boolean {
    return this.closing || this.transport.isClosing;
  }

  /** Login happened: the login deadline no longer applies. */
  protected loggedIn(): void {
    this.transport.deadlines.clear('login');
  }

  /** Writes one reply line (CRLF added); waits only when the client is not reading. */
  async reply(text: string): Promise<void> {
    await this.transport.write(text + '\r\n');
  }

  /** Replies to a bad command; too many of them end the session. */
  async rejectCommand(text: string): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= this.settings.maxErrors) {
      this.log.warn('too many bad commands', { count: this.badCommands });
      this.close(this.settings.replies.tooManyErrors);
      return;
    }
    await this.reply(text);
  }

  /**
   * The next line from the client, within the idle time limit (a command may read more lines,
   * as POP3's AUTH does). Null when the client is gone, the session is closing or it idled too
   * long. While it waits the session counts as idle, so a shutdown does not wait for the client.
   */
  async nextLine(): Promise<Line | null> {
    const wasBusy = this.busy;
    this.busy = false;
    try {
      for (;;) {
        const line = await this.transport.readLine(this.settings.idleTimeoutMs);
        if (line !== TIMED_OUT) return this.closing ? null : line;
        if (this.transport.expiredDeadline() === 'login') {
          this.log.info('login timeout');
          this.close(this.settings.replies.loginTimeout);
          return null;
        }
        if (this.keepsWaitingWhenIdle()) continue;
        this.log.info('idle timeout', { user: this.loggedInUser });
        this.close(this.settings.replies.idle);
        return null;
      }
    } finally {
      this.busy = wasBusy;
    }
  }

  /** Whether silence on the connection is not idleness (FTP: a transfer is running). */
  protected keepsWaitingWhenIdle(): boolean {
    return false;
  }

  /** Ends the session: a last reply, then the socket closes. */
  close(lastReply?: string): void {
    if (this.closing) return;
    this.closing = true;
    this.onClose();
    this.transport.close(lastReply === undefined ? undefined : lastReply + '\r\n');
  }

  /** Called by close() before the last reply is sent: what must stop at once (a transfer). */
  protected onClose(): void {}

  /** Listener shutdown: let a command in flight finish, then say goodbye. */
  shutdown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      if (!this.busy) this.closeForShutdown();
      destroyAfterGrace(this.transport.closed, this.ctx.config.shutdownGraceMs, () => {
        this.onForcedClose();
        this.transport.destroy();
      });
    }
    return this.closedAndReleased();
  }

  /** Shutdown once no command runs: says goodbye (FTP waits for the transfer in flight first). */
  protected closeForShutdown(): void {
    this.close(this.settings.replies.shutdown);
  }

  /** Called when the grace period ended with the session still open, before it is destroyed. */
  protected onForcedClose(): void {}

  /** What shutdown() resolves on: the socket closed (POP3: and the lease released too). */
  protected closedAndReleased(): Promise<void> {
    return this.transport.closed;
  }

  /** Starts the loop; called by the subclass's constructor once its own fields are set. */
  protected start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      await this.reply(this.settings.replies.greeting);
      while (!this.closing) {
        const line = await this.nextLine();
        if (!line) break;
        if (line.tooLong) {
          // Answered as soon as the limit is passed, not when (if ever) the line ends; an
          // attack or a broken client, so the session ends.
          this.log.warn('command line too long');
          this.close(this.settings.replies.lineTooLong);
          break;
        }
        this.busy = true;
        try {
          await this.execute(line);
        } finally {
          this.busy = false;
        }
        // An over-long line read by a command (an AUTH response) ends the session too.
        if (this.transport.overlongLines > 0) this.close(this.settings.replies.lineTooLong);
        else if (this.shuttingDown) this.closeForShutdown();
        // Nothing more pipelined: send the reply now rather than at the end of the turn.
        else if (this.transport.pendingInput === 0) this.transport.flush();
      }
    } catch (err) {
      if (!(err instanceof ConnectionClosedError)) {
        this.log.error(`${this.settings.protocol} session failed`, { error: err as Error });
      }
      // A goodbye line already queued by close() must not be cut off.
      if (!this.closing) this.transport.destroy();
    } finally {
      this.closing = true;
      await this.release();
      this.transport.close();
    }
  }
}
