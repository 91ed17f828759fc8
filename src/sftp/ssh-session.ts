/**
 * One SSH connection of the SFTP service. ssh2 does the transport (key exchange, ciphers,
 * channels); this class decides what the connection may do: log in within the login time,
 * open session channels whose only use is the "sftp" subsystem (shell, exec and port
 * forwarding are refused with a message), and stay open while it is used. It is the Session
 * the shared listener tracks, so connection limits, logs and graceful shutdown apply as for
 * every other protocol.
 */
import ssh2 from 'ssh2';
import type { Connection as SshClient, ServerChannel, Session as SshChannelSession } from 'ssh2';
import { destroyAfterGrace } from '../net/shutdown-deadline.js';
import type { Connection, ServiceContext, Session } from '../net/types.js';
import type { FileStore } from '../store/file-store.js';
import { SftpSession } from './engine.js';
import type { HostKey } from './host-keys.js';
import { LoginGate, type LoggedInUser, type SshKeyLookup } from './login.js';

/** What every SSH connection of the service shares. */
export interface SshServiceDeps {
  ctx: ServiceContext;
  files: FileStore;
  hostKeys: HostKey[];
  sshKeys: SshKeyLookup;
  uploadAllowance: (space: { kind: 'user'; userId: number; address: string }) => Promise<number | null>;
}

/** Written to the client's stderr when it asks for a shell or a command. */
export const ONLY_SFTP_MESSAGE = 'This server offers only SFTP: shell, command execution and port forwarding are not available.\r\n';
/** Software version sent in the SSH identification string (RFC 4253 4.2). */
const IDENT = 'Wharf';
/** Time a closing connection gets to say goodbye before its socket is destroyed. */
const CLOSE_GRACE_MS = 5_000;

export class SshSession implements Session {
  private client: SshClient | null = null;
  private user: LoggedInUser | null = null;
  private readonly sftpSessions = new Set<SftpSession>();
  private loginTimer: NodeJS.Timeout | null;
  private idleTimer: NodeJS.Timeout | null = null;
  private ending = false;
  private readonly closed: Promise<void>;

  constructor(
    private readonly deps: SshServiceDeps,
    private readonly conn: Connection,
  ) {
    const { config } = deps.ctx;
    this.closed = new Promise((resolve) => conn.socket.once('close', () => resolve()));
    void this.closed.then(() => this.onClosed());
    // The login deadline of every service (limits.loginTimeoutMs) holds here too; the older
    // sftp.loginTimeoutMs can only shorten it.
    this.loginTimer = setTimeout(
      () => {
        this.log.info('login timeout');
        this.end();
      },
      Math.min(config.sftp.loginTimeoutMs, config.limits.loginTimeoutMs),
    );
    // One ssh2 Server per connection, never listening: it runs the SSH protocol on the socket
    // the shared listener accepted, and its callback closes over this connection.
    const server = new ssh2.Server({ hostKeys: deps.hostKeys.map((k) => k.privateKey), ident: IDENT }, (client) => this.onClient(client));
    server.on('error', (err: Error) => this.log.debug('ssh server error', { error: err.message }));
    server.injectSocket(conn.socket);
  }

  private get log() {
    return this.conn.log;
  }

  private onClient(client: SshClient): void {
    this.client = client;
    client.on('error', (err: Error) => this.log.debug('ssh error', { error: err.message }));
    const gate = new LoginGate(
      this.deps.ctx,
      this.conn,
      this.deps.sshKeys,
      (user) => (this.user = user),
      (reason) => {
        this.log.warn('ssh login abandoned', { reason });
        this.end();
      },
    );
    client.on('authentication', (auth) => gate.handle(auth));
    client.on('ready', () => this.onReady(client));
    // Port forwarding, both ways, and Unix socket forwarding.
    client.on('tcpip', (_accept, reject, info) => {
      this.log.info('port forwarding refused', { to: `${info.destIP}:${info.destPort}` });
      reject();
    });
    client.on('request', (_accept, reject, name) => {
      this.log.info('global request refused', { request: name });
      reject?.();
    });
    client.on('openssh.streamlocal', (_accept, reject) => reject());
  }

  private onReady(client: SshClient): void {
    if (this.loginTimer) clearTimeout(this.loginTimer);
    this.loginTimer = null;
    this.log.info('logged in', { user: this.user?.address, method: this.user?.method });
    this.touch();
    client.on('session', (accept) => this.onSessionChannel(accept()));
  }

  private onSessionChannel(channel: SshChannelSession): void {
    channel.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp' || !this.user) {
        this.log.info('subsystem refused', { subsystem: info.name });
        reject();
        return;
      }
      this.startSftp(accept());
    });
    channel.on('exec', (accept, _reject, info) => {
      this.log.info('exec refused', { command: info.command.slice(0, 100) });
      refuseCommand(accept());
    });
    // Accepted so that the shell request after it gets to say why it is refused (a client
    // such as ssh2's gives up at a refused pty); no terminal is ever attached to anything.
    channel.on('pty', (accept) => accept?.());
    channel.on('shell', (accept) => {
      this.log.info('shell refused');
      refuseCommand(accept());
    });
  }

  private startSftp(channel: ServerChannel): void {
    const user = this.user!;
    const space = { kind: 'user' as const, userId: user.userId, address: user.address };
    const { ctx, files } = this.deps;
    const session = new SftpSession(
      {
        files,
        space,
        owner: user.address.split('@')[0].slice(0, 8) || 'user',
        uploadAllowance: () => this.deps.uploadAllowance(space),
        keepPartial: ctx.config.files.keepPartial,
        log: this.log.child({ user: user.address }),
      },
      channel,
      {
        onActivity: () => this.touch(),
        channelCopiesWrites: true,
        // An exit status, as OpenSSH's sshd sends when its sftp-server exits: scp (which speaks
        // SFTP since OpenSSH 9.0) reports a transfer failed when the channel closes without one.
        onEnd: (clientEnded) => channel.exit(clientEnded ? 0 : 1),
      },
    );
    this.sftpSessions.add(session);
    this.log.info('sftp started');
    void session.finished.then(() => {
      this.sftpSessions.delete(session);
      this.touch();
    });
  }

  /** Restarts the idle timer: the connection is closed after idleTimeoutMs with no request. */
  private touch(): void {
    if (this.ending) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if ([...this.sftpSessions].some((s) => s.inRequest)) return this.touch();
      this.log.info('idle timeout', { user: this.user?.address });
      void this.endAfterSftp();
    }, this.deps.ctx.config.sftp.idleTimeoutMs);
  }

  /** Lets the SFTP requests in flight finish (a CLOSE committing an upload), then disconnects. */
  private async endAfterSftp(): Promise<void> {
    await Promise.all([...this.sftpSessions].map((s) => s.stop()));
    this.end();
  }

  /** Sends SSH_MSG_DISCONNECT and closes; destroys the socket if the client does not go. */
  private end(): void {
    if (this.ending) return;
    this.ending = true;
    this.clearTimers();
    if (this.client) this.client.end();
    else this.conn.socket.end();
    setTimeout(() => this.conn.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private clearTimers(): void {
    if (this.loginTimer) clearTimeout(this.loginTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.loginTimer = this.idleTimer = null;
  }

  private onClosed(): void {
    this.clearTimers();
    this.ending = true;
    // Uploads not closed by the client are given up (or kept, with files.keepPartial).
    for (const s of this.sftpSessions) void s.stop();
  }

  shutdown(): Promise<void> {
    void this.endAfterSftp();
    destroyAfterGrace(this.closed, this.deps.ctx.config.shutdownGraceMs, () => this.conn.socket.destroy());
    return this.closed.then(() => Promise.all([...this.sftpSessions].map((s) => s.finished))).then(() => {});
  }
}

/** A shell or exec channel: the reason on stderr, exit status 1, close. */
function refuseCommand(channel: ServerChannel): void {
  channel.stderr.write(ONLY_SFTP_MESSAGE);
  channel.exit(1);
  channel.end();
}

