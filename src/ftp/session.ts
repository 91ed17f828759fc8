import type { TLSSocketOptions } from 'node:tls';
import { LineCommandSession } from '../net/line-command-session.js';
import type { Line } from '../net/line-reader.js';
import { isLoopbackAddress, passwordsAllowed } from '../net/password-policy.js';
import { startTls } from '../net/starttls.js';
import { ConnectionClosedError } from '../net/transport.js';
import type { Connection, ServiceContext } from '../net/types.js';
import type { FileSpace, FileStore } from '../store/file-store.js';
import { normalizeFilePath } from '../store/files/path.js';
import { parseCommandLine } from './command-line.js';
import { commandTable } from './commands/index.js';
import type { DataSetup } from './data-channel.js';
import { ALL_MLST_FACTS, type MlstFact } from './listing.js';

/** What the FTP sessions of one server share besides the ServiceContext. */
export interface FtpServices {
  files: FileStore;
  /** Bytes an upload to `space` may still add (quota left), null for no limit. */
  uploadAllowance(space: FileSpace): Promise<number | null>;
  /**
   * The TLS options for data connections of this control connection: its session's context
   * and session cache, so the client can resume that session (see secureDataConnection).
   */
  dataTlsOptions(conn: Connection): TLSSocketOptions;
}

/** Who is logged in. */
export interface FtpUser {
  /** The account's address; null for anonymous. */
  address: string | null;
  space: FileSpace;
  /** The anonymous area: no command may change anything. */
  readOnly: boolean;
  /** Allowed server-to-server transfers (ftp.fxpUsers). */
  fxp: boolean;
}

/** A command handler: replies itself (and may start a transfer that replies later). */
export type CommandHandler = (session: FtpSession, argument: string) => Promise<void>;

export interface CommandSpec {
  run: CommandHandler;
  /** False for what a client may send before logging in (USER, AUTH, FEAT, ...). */
  needsLogin: boolean;
}

/** A transfer running on the data connection while the control connection keeps reading. */
export class Transfer {
  readonly abortController = new AbortController();
  /** Bytes moved so far (STAT during a transfer reports it). */
  bytes = 0;
  /** Set by ABOR: the transfer replies 426 and ABOR then replies 226. */
  aborted = false;
  done!: Promise<void>;

  constructor(
    readonly command: string,
    readonly path: string,
  ) {}

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  abort(): void {
    this.aborted = true;
    this.abortController.abort();
  }
}

/** Commands answered at once while a transfer runs; every other command waits for its end. */
const DURING_TRANSFER = new Set(['ABOR', 'STAT']);

const SHUTDOWN_REPLY = '421 Server shutting down, closing control connection';
const REPLIES = {
  greeting: '220 Wharf FTP server ready',
  shutdown: SHUTDOWN_REPLY,
  idle: '421 Timeout: idle for too long, closing control connection',
  loginTimeout: '421 Timeout: not logged in in time, closing control connection',
  lineTooLong: '500 Command line too long, closing control connection',
  tooManyErrors: '421 Too many bad commands, closing control connection',
};

/**
 * One FTP control connection: reads a command, runs it, replies, and repeats. Commands live
 * in commands/; a transfer (RETR, STOR, LIST...) runs beside the command loop so that ABOR
 * and STAT are answered while it moves data (RFC 959 section 4.1.3). This class holds the
 * state commands share and owns every way a session ends, so a pending upload is given up
 * and every data socket closed on all of them.
 */
export class FtpSession extends LineCommandSession {
  user: FtpUser | null = null;
  /** Name given by USER, waiting for PASS. */
  pendingUser: string | null = null;
  /** Current folder, a normalized path of the user's space. */
  cwd = '/';
  /** RFC 959 section 3.1.1: ASCII until the client says otherwise. */
  type: 'A' | 'I' = 'A';
  /** REST offset for the next RETR/STOR. */
  restOffset = 0;
  /** RNFR's path, waiting for RNTO (an object, so a repeated RNFR is a new one). */
  renameFrom: { path: string } | null = null;
  /** The passive port or active address for the next transfer. */
  dataSetup: DataSetup | null = null;
  /** EPSV ALL was sent: PORT, EPRT and PASV are refused from now on (RFC 2428 section 4). */
  epsvAll = false;
  /** PBSZ was sent after AUTH TLS (RFC 4217 section 9: PROT needs it). */
  pbszDone = false;
  /** PROT P: data connections are TLS. */
  protectData = false;
  /** The facts MLST and MLSD show (OPTS MLST, RFC 3659 section 7.9). */
  mlstSelection: ReadonlySet<MlstFact> = ALL_MLST_FACTS;
  transfer: Transfer | null = null;

  constructor(
    ctx: ServiceContext,
    readonly services: FtpServices,
    conn: Connection,
  ) {
    super(ctx, conn, {
      protocol: 'ftp',
      maxLineBytes: ctx.config.ftp.maxLineBytes,
      idleTimeoutMs: ctx.config.ftp.idleTimeoutMs,
      maxErrors: ctx.config.ftp.maxErrors,
      replies: REPLIES,
    });
    this.start();
  }

  protected get loggedInUser(): string | null {
    return this.user?.address ?? null;
  }

  get files(): FileStore {
    return this.services.files;
  }

  /**
   * Whether a password may be sent now (ftp.requireTls): 'except-loopback' follows the mail
   * protocols (TLS, loopback, or auth.allowInsecure), 'always' needs TLS, 'never' allows it.
   */
  get passwordsAllowed(): boolean {
    switch (this.ctx.config.ftp.requireTls) {
      case 'never':
        return true;
      case 'always':
        return this.secure;
      default:
        return passwordsAllowed({ secure: this.secure, remoteAddress: this.conn.remoteAddress }, this.ctx.config.auth);
    }
  }

  /**
   * Whether transfers must use PROT P: under requireTls 'always' the files are as private as
   * the password (vsftpd's force_local_data_ssl); the public anonymous area is exempt.
   */
  get dataProtectionRequired(): boolean {
    return this.ctx.config.ftp.requireTls === 'always' && !(this.user?.readOnly ?? false);
  }

  /** True when the client is on this machine (tests, local tools). */
  get fromLoopback(): boolean {
    return isLoopbackAddress(this.conn.remoteAddress);
  }

  /**
   * A multi-line reply (RFC 959 section 4.2): "code-first", the lines, "code last". Lines
   * are indented by a space so none can be mistaken for the end.
   */
  async replyLines(code: number, first: string, lines: string[], last: string): Promise<void> {
    const body = lines.map((l) => ` ${l}\r\n`).join('');
    await this.transport.write(`${code}-${first}\r\n${body}${code} ${last}\r\n`);
  }

  /** `input` resolved against the current folder; throws StoreError('invalid'). */
  resolvePath(input: string): string {
    return normalizeFilePath(this.cwd, input);
  }

  /** Takes the data setup for a transfer (each PASV/PORT serves one transfer). */
  takeDataSetup(): DataSetup | null {
    const setup = this.dataSetup;
    this.dataSetup = null;
    return setup;
  }

  /** Replaces the data setup, closing a passive port not used. */
  setDataSetup(setup: DataSetup | null): void {
    this.dataSetup?.close();
    this.dataSetup = setup;
  }

  /**
   * Runs `work` as the session's transfer, beside the command loop. `work` sends every reply
   * of the transfer (150, then 226 or an error); it must not throw for expected failures.
   */
  startTransfer(command: string, path: string, work: (transfer: Transfer) => Promise<void>): void {
    const transfer = new Transfer(command, path);
    this.transfer = transfer;
    transfer.done = (async () => {
      try {
        await work(transfer);
      } catch (err) {
        if (!(err instanceof ConnectionClosedError) && !this.isClosing) {
          this.log.error('transfer failed', { command, error: err as Error });
          await this.reply('451 Requested action aborted: local error in processing').catch(() => {});
        }
      } finally {
        if (this.transfer === transfer) this.transfer = null;
      }
    })();
  }

  async startTls(goAhead: string): Promise<boolean> {
    this.transport.send(goAhead + '\r\n');
    if (!(await startTls(this.transport, this.ctx.tls, this.ctx.config.ftp.idleTimeoutMs, this.log, 'AUTH TLS'))) return false;
    this.pendingUser = null;
    this.pbszDone = false;
    this.protectData = false;
    return true;
  }

  login(user: FtpUser): void {
    this.loggedIn();
    this.user = user;
    this.pendingUser = null;
    this.cwd = '/';
  }

  /** Closing aborts a transfer in flight and closes the data sockets. */
  protected override onClose(): void {
    this.transfer?.abort();
    this.setDataSetup(null);
  }

  /** A transfer that outlived the shutdown's grace period is aborted (its upload given up). */
  protected override onForcedClose(): void {
    this.transfer?.abort();
  }

  /** Shutdown: says goodbye now, or when the transfer in flight has finished. */
  protected override closeForShutdown(): void {
    const transfer = this.transfer;
    if (transfer) void transfer.done.then(() => this.close(SHUTDOWN_REPLY));
    else this.close(SHUTDOWN_REPLY);
  }

  /** A transfer in flight keeps the control connection from idling out. */
  protected override keepsWaitingWhenIdle(): boolean {
    return this.transfer !== null;
  }

  protected async execute(line: Line): Promise<void> {
    const parsed = parseCommandLine(line.bytes);
    if (!parsed.ok) return this.rejectCommand('500 Syntax error, command unrecognized');
    const { keyword, argument } = parsed.command;
    if (this.transfer && !DURING_TRANSFER.has(keyword)) await this.transfer.done;
    if (this.closing) return;
    const spec = commandTable.get(keyword);
    if (!spec) return this.rejectCommand(`500 Unknown command ${keyword.slice(0, 8)}`);
    if (spec.needsLogin && !this.user) return this.rejectCommand('530 Please login with USER and PASS');
    // RNTO must come right after RNFR (RFC 959 section 4.1.3).
    const renameFrom = this.renameFrom;
    try {
      await spec.run(this, argument);
    } catch (err) {
      if (err instanceof ConnectionClosedError || this.transport.isClosing) throw err;
      this.log.error('command failed', { command: keyword, error: err as Error });
      await this.reply('451 Requested action aborted: local error in processing');
    } finally {
      if (renameFrom !== null && this.renameFrom === renameFrom) this.renameFrom = null;
    }
  }

  /** Every way the session ends comes here: a transfer in flight is aborted, data sockets closed. */
  protected async release(): Promise<void> {
    this.transfer?.abort();
    this.setDataSetup(null);
    await this.transfer?.done.catch(() => {});
  }
}
