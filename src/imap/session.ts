/**
 * One IMAP connection: the state machine of RFC 9051 section 3 (not authenticated →
 * authenticated → selected → logout). It reads whole commands from the command reader, runs
 * them one at a time through the command table (commands/), and owns every way a session
 * ends. Updates from other sessions are announced at the points the RFC allows: before a
 * command's tagged reply, and at once while IDLE.
 */
import { destroyAfterGrace } from '../net/shutdown-deadline.js';
import { passwordsAllowed } from '../net/password-policy.js';
import { startTls } from '../net/starttls.js';
import { ConnectionClosedError, TIMED_OUT, WireTransport } from '../net/transport.js';
import type { Connection, ServiceContext, Session } from '../net/types.js';
import type { UserAddressCount } from '../net/user-address-count.js';
import { storeFailureKind, type StoreFailureKind } from '../store/failure.js';
import { StoreError } from '../store/types.js';
import { capabilities } from './capabilities.js';
import { COMMANDS, type CommandSpec } from './commands/index.js';
import { ImapBad, ImapNo } from './errors.js';
import type { EntryCache } from './entry-cache.js';
import type { MailboxView } from './mailbox-view.js';
import { ImapCommandReader } from './protocol/command-reader.js';
import { ImapSyntaxError, type ReadResult } from './protocol/types.js';
import { ResponseWriter } from './response-writer.js';

/**
 * The NO for a command the store failed, with its RFC 5530 code: a full disk is OVERQUOTA (as
 * Dovecot answers ENOSPC), a database away is UNAVAILABLE, anything else a SERVERBUG.
 */
const STORE_FAILURE_NO: Record<StoreFailureKind, [string, string]> = {
  'no-space': ['Not enough disk space, try again later', 'OVERQUOTA'],
  io: ['Internal server error, try again later', 'SERVERBUG'],
  unavailable: ['Storage temporarily unavailable, try again later', 'UNAVAILABLE'],
};

export type ImapState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** Extensions a client can ENABLE (RFC 5161). */
export type Enableable = 'IMAP4REV2' | 'CONDSTORE' | 'QRESYNC' | 'UTF8=ACCEPT';

/**
 * The autologout timer ran out while waiting for the client (RFC 9051 5.4), or a deadline
 * did: the login's (limits.loginTimeoutMs) or a command's (limits.commandTimeoutMs).
 */
class AutologoutError extends Error {}

const LINE_TOO_LONG_BYE = '* BYE Line too long';

export class ImapSession implements Session {
  state: ImapState = 'not-authenticated';
  user: { id: number; address: string } | null = null;
  view: MailboxView | null = null;
  readonly enabled = new Set<Enableable>();
  /** CONDSTORE is active once enabled or once a command used it (RFC 7162 3.1). */
  condstoreActive = false;
  /** Result of the last SEARCH RETURN (SAVE), as UIDs (RFC 5182). */
  savedSearch: number[] = [];
  /** Set by LOGOUT: the session closes right after the tagged OK. */
  logoutAfterReply = false;
  readonly out: ResponseWriter;
  readonly reader: ImapCommandReader;

  private readonly transport: WireTransport;
  private closing = false;
  private busy = false;
  private shuttingDown = false;
  private idling: (() => void) | null = null;
  private errors = 0;
  private commandWindowStart = 0;
  private commandsInWindow = 0;
  /** Uncounts this session from the user's sessions from this address (after login). */
  private releaseUserSession: (() => void) | null = null;

  constructor(
    readonly ctx: ServiceContext,
    readonly conn: Connection,
    /** Entries of recently used mailboxes, shared by the sessions of this process. */
    readonly entries: EntryCache,
    /** Logged-in sessions per user and client address, shared by the sessions of this process. */
    private readonly userSessions: UserAddressCount,
  ) {
    const config = ctx.config.imap;
    this.transport = new WireTransport(conn.socket, {
      maxLineBytes: config.maxLineBytes,
      secure: conn.secure,
      stallTimeoutMs: config.idleTimeoutMs,
    });
    this.out = new ResponseWriter(this.transport);
    // Every wait for the client runs the autologout timer; IDLE's wait for DONE re-arms it.
    const timed = <T>(value: T | typeof TIMED_OUT): T => {
      if (value === TIMED_OUT) throw new AutologoutError('autologout');
      return value;
    };
    const commandTimeoutMs = ctx.config.limits.commandTimeoutMs;
    const source = {
      nextLine: async () => {
        const line = timed(await this.transport.readLine(config.idleTimeoutMs));
        // From a command's first line on, the rest of it (literals, APPEND's message) must
        // arrive within the command deadline, however slowly it trickles; see run().
        if (line && !this.transport.deadlines.has('command')) this.transport.deadlines.set('command', commandTimeoutMs);
        return line;
      },
      nextBytes: async (max: number) => timed(await this.transport.readBytes(max, config.idleTimeoutMs)),
    };
    this.reader = new ImapCommandReader(source, {
      sendContinuation: () => {
        this.out.continuation('Ready for literal data');
        this.transport.flush();
      },
      limits: { maxCommandBytes: config.maxLineBytes, maxLiteralBytes: config.maxLineBytes },
    });
    // Not authenticated: shorter than the autologout, and not restarted by each command.
    this.transport.deadlines.set('login', ctx.config.limits.loginTimeoutMs);
    void this.run();
  }

  /** TLS from the first byte, or after STARTTLS. */
  get secure(): boolean {
    return this.transport.secure;
  }

  get log() {
    return this.conn.log;
  }

  get config() {
    return this.ctx.config.imap;
  }

  get store() {
    return this.ctx.store;
  }

  /** IMAP4rev2 enabled: rev2 response rules (no RECENT, ESEARCH for SEARCH, ...). */
  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  /** A password may be sent here: TLS, loopback, or the operator allowed it (RFC 8314). */
  get passwordAllowed(): boolean {
    return passwordsAllowed({ secure: this.secure, remoteAddress: this.conn.remoteAddress }, this.ctx.config.auth);
  }

  capabilityList(): string[] {
    return capabilities({
      authenticated: this.state !== 'not-authenticated',
      tls: this.secure,
      canStartTls: !this.conn.secure,
      passwordAllowed: this.passwordAllowed,
      appendLimit: this.config.maxAppendBytes,
    });
  }

  /**
   * Logged in: enters the authenticated state, unless the user already has
   * `imap.maxConnectionsPerUserAddress` sessions from this address (NO [LIMIT], RFC 5530).
   */
  login(user: { userId: number; address: string }): void {
    const release = this.userSessions.acquire(user.userId, this.conn.remoteAddress);
    if (!release) {
      this.log.info('too many sessions for this user from this address', { user: user.address });
      throw new ImapNo('Too many connections for this user from this address', 'LIMIT');
    }
    this.releaseUserSession = release;
    this.transport.deadlines.clear('login');
    this.user = { id: user.userId, address: user.address };
    this.state = 'authenticated';
    this.log.info('login', { user: user.address });
  }

  /** Leaves the selected state (CLOSE, UNSELECT, a new SELECT). */
  deselect(): void {
    this.view?.close();
    this.view = null;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  /** The selected mailbox, or a NO (the command table checks the state already). */
  requireView(): MailboxView {
    if (!this.view) throw new ImapBad('No mailbox selected');
    return this.view;
  }

  /** Sends what is queued now (before a TLS handshake or while waiting for the client). */
  flush(): void {
    this.transport.flush();
  }

  /** Reads one raw line (AUTHENTICATE responses, IDLE's DONE); null when the client is gone. */
  async readRawLine(): Promise<Buffer | null> {
    this.transport.flush();
    return this.reader.readRawLine();
  }

  /**
   * IDLE (RFC 2177): announces changes as they happen until the client sends DONE. The
   * autologout timer keeps running while idling (RFC 9051 asks clients to re-IDLE every 29
   * minutes), but restarts with it.
   */
  async idle(): Promise<'done' | 'bad' | 'closed'> {
    const view = this.view;
    this.out.continuation('idling');
    this.transport.flush();
    const wake = () => {
      void (async () => {
        if (!this.view) return;
        await this.view.refresh();
        this.view.flush(this.out, true);
        this.transport.flush();
      })().catch((err) => this.log.warn('idle update failed', { error: err as Error }));
    };
    this.idling = wake;
    if (view) wake();
    try {
      const line = await this.readRawLine();
      if (line === null) return 'closed';
      return line.toString('latin1').trim().toUpperCase() === 'DONE' ? 'done' : 'bad';
    } finally {
      this.idling = null;
    }
  }

  /** Called by the view when the store reports a change to the selected mailbox. */
  onMailboxChange(): void {
    this.idling?.();
  }

  /**
   * STARTTLS after its tagged OK was queued: whatever the client pipelined in the clear after
   * the command is discarded unread (RFC 9051 11.1). False when the handshake failed.
   */
  async startTls(): Promise<boolean> {
    if (await startTls(this.transport, this.ctx.tls, this.ctx.config.imap.idleTimeoutMs, this.log, 'STARTTLS')) return true;
    this.closing = true;
    return false;
  }

  /** Ends the session with an optional last untagged line (e.g. `BYE ...`). */
  close(lastLine?: string): void {
    if (this.closing && this.transport.isClosing) return;
    this.closing = true;
    this.state = 'logout';
    this.transport.close(lastLine ? `${lastLine}\r\n` : undefined);
  }

  shutdown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      if (!this.busy || this.idling) {
        this.transport.cancelRead();
        this.close('* BYE Server shutting down');
      }
      destroyAfterGrace(this.transport.closed, this.ctx.config.shutdownGraceMs, () => this.transport.destroy());
    }
    return this.transport.closed;
  }

  private async run(): Promise<void> {
    try {
      this.out.status(null, 'OK', 'Wharf IMAP4rev2 server ready', `CAPABILITY ${this.capabilityList().join(' ')}`);
      while (!this.closing) {
        if (this.transport.pendingInput === 0) this.transport.flush();
        this.transport.deadlines.clear('command');
        const command = await this.reader.next();
        if (!command || this.closing) break;
        // Read in full, except APPEND's messages, which arrive while it runs (still under the
        // deadline); waits of a running command for the client (IDLE) are not command time.
        if (command.kind !== 'append') this.transport.deadlines.clear('command');
        this.busy = true;
        try {
          await this.throttle();
          await this.execute(command);
        } finally {
          this.busy = false;
        }
        // An over-long line (answered BAD already, by the reader or the command) ends the session.
        if (this.transport.overlongLines > 0) {
          this.log.warn('line too long');
          this.close(LINE_TOO_LONG_BYE);
        } else if (this.shuttingDown) this.close('* BYE Server shutting down');
      }
    } catch (err) {
      if (err instanceof AutologoutError) {
        const stage = this.transport.expiredDeadline();
        this.log.info(stage === 'login' ? 'login timeout' : stage === 'command' ? 'command timeout' : 'autologout', { user: this.user?.address });
        this.close(
          stage === 'login'
            ? '* BYE Timeout: not logged in in time'
            : stage === 'command'
              ? '* BYE Timeout: command took too long'
              : '* BYE Autologout; idle for too long',
        );
      } else if (!(err instanceof ConnectionClosedError) && !this.transport.isClosing) {
        this.log.error('imap session failed', { error: err as Error });
        this.transport.destroy();
      }
    } finally {
      this.releaseUserSession?.();
      this.releaseUserSession = null;
      this.closing = true;
      this.state = 'logout';
      this.view?.close();
      this.view = null;
      if (!this.transport.isClosing) this.transport.close();
    }
  }

  private async execute(command: ReadResult): Promise<void> {
    if (command.kind === 'bad') {
      return this.bad(command.tag ?? '*', command.message);
    }
    const tag = command.tag;
    const name = command.kind === 'append' ? 'APPEND' : command.name;
    const spec: CommandSpec | undefined = COMMANDS.get(name);
    if (!spec) return this.bad(tag, `Unknown command ${name.slice(0, 40)}`);
    if (!spec.states.includes(this.state)) {
      const why =
        this.state === 'not-authenticated'
          ? 'Log in first'
          : this.state === 'authenticated' && spec.states.includes('selected')
            ? 'No mailbox selected'
            : 'Command not valid in this state';
      return this.bad(tag, why);
    }
    try {
      const done = await spec.run(this, command);
      if (done?.silent) return;
      if (!this.logoutAfterReply) await this.announce(spec.expungeSafe !== false);
      if (this.closing) return;
      this.out.status(tag, 'OK', done?.text ?? `${name} completed`, done?.code);
      if (this.logoutAfterReply) this.close();
    } catch (err) {
      if (this.closing) return;
      if (err instanceof ImapSyntaxError || err instanceof ImapBad) {
        await this.announce(false);
        if (this.closing) return;
        return this.bad(tag, err.message, err instanceof ImapBad ? err.code : undefined);
      }
      if (err instanceof ImapNo) {
        await this.announce(spec.expungeSafe !== false);
        if (this.closing) return;
        this.out.status(tag, 'NO', err.message, err.code);
        return;
      }
      if (await this.closedIfSelectedDeleted(err, name)) return;
      // The client went away (or idled out) mid-command, an APPEND literal say: not our failure.
      if (err instanceof ConnectionClosedError || err instanceof AutologoutError) throw err;
      this.log.error('command failed', { command: name, error: err as Error });
      const [text, code] = STORE_FAILURE_NO[storeFailureKind(err) ?? 'io'];
      this.out.status(tag, 'NO', text, code);
    }
  }

  /**
   * When `err` comes from the selected mailbox having been deleted by another session, ends
   * this session (as Dovecot does) and says true: every later command would fail the same way,
   * so "NO [SERVERBUG] try again later" would be a lie.
   */
  private async closedIfSelectedDeleted(err: unknown, command?: string): Promise<boolean> {
    if (!(err instanceof StoreError) || err.code !== 'not-found' || !this.view) return false;
    try {
      if ((await this.store.getMailboxById(this.view.mailbox.id)) !== null) return false;
    } catch {
      return false;
    }
    this.log.info('selected mailbox deleted by another session', { command });
    this.close('* BYE Selected mailbox was deleted, have to disconnect');
    return true;
  }

  /** Sends pending updates of the selected mailbox (expunges only where allowed). */
  async announce(allowExpunge: boolean): Promise<void> {
    if (!this.view || this.closing) return;
    try {
      await this.view.refresh();
    } catch (err) {
      if (await this.closedIfSelectedDeleted(err)) return;
      if (storeFailureKind(err) === null) throw err;
      // The store failed for now (a full disk, a database restarting): the command's own
      // reply still goes out, and what changed is announced after a later command.
      this.log.warn('mailbox update deferred', { error: err as Error });
    }
    this.view.flush(this.out, allowExpunge);
  }

  private bad(tag: string, message: string, code?: string): void {
    this.errors++;
    this.out.status(tag, 'BAD', message, code);
    if (this.errors >= this.config.maxErrors) {
      this.log.warn('too many bad commands', { count: this.errors });
      this.close('* BYE Too many invalid commands');
    }
  }

  /** A client flooding commands is slowed down, not served at the others' expense. */
  private async throttle(): Promise<void> {
    const now = Date.now();
    if (now - this.commandWindowStart >= 1000) {
      this.commandWindowStart = now;
      this.commandsInWindow = 0;
    }
    this.commandsInWindow++;
    if (this.commandsInWindow > this.config.maxCommandsPerSecond) {
      this.transport.flush();
      await new Promise((r) => setTimeout(r, 1000 - (now - this.commandWindowStart)));
    }
  }
}
