/**
 * The byte side of one SMTP client connection: connecting with a time limit (plain or
 * implicit TLS), writing command lines (a batch of pipelined ones leaves in one segment) and
 * message bytes with back-pressure, reading whole replies with the command timeout, and the
 * switch to TLS after STARTTLS. It knows nothing about the order of commands: the dialogue
 * (session.ts, transaction.ts) drives it.
 */
import net from 'node:net';
import tls from 'node:tls';
import { awaitTlsHandshake, ClientSocketError, openClientSocket } from '../../net/client-socket.js';
import type { Trace } from '../../net/client-trace.js';
import { LineReader } from '../../net/line-reader.js';
import { SmtpClientError } from './errors.js';
import { MalformedReplyError, ReplyParser, type SmtpReply } from './reply.js';

/** Longest reply line read (RFC 5321 4.5.3.1.5 says 512; servers send longer ones). */
const MAX_REPLY_LINE_BYTES = 8192;

export type { Trace, TraceDirection } from '../../net/client-trace.js';

export interface ConnectOptions {
  /** Address (or name) to connect to. */
  host: string;
  port: number;
  /** The name the server is known by: TLS server name and certificate check, messages. Default: host. */
  serverName?: string;
  connectTimeoutMs: number;
  /** Longest wait for each reply, and for the server to take written bytes. */
  commandTimeoutMs: number;
  /** TLS from the first byte (port 465 style), with these options. */
  implicitTls?: tls.ConnectionOptions;
  /** Sees the dialogue (`wharf send --verbose`); secrets arrive masked. */
  trace?: Trace;
  /** Our address to connect from (the address we serve on, so SPF and reverse DNS match it); plain TCP only. */
  localAddress?: string;
}

export interface TlsState {
  protocol: string | null;
  cipher: string | null;
  /** The certificate verified (only asked for when the policy requires it). */
  authorized: boolean;
  authorizationError: string | null;
}

export class SmtpConnection {
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader: LineReader;
  private tls: TlsState | null = null;
  private closed = false;
  /** The server closed its side: whatever it sent can still be read, nothing more will come. */
  private peerEnded = false;
  /** Set when the connection was ended on purpose (abort), so reads report why. */
  private abortReason: string | null = null;
  private readonly closeListeners = new Set<() => void>();

  private constructor(
    socket: net.Socket | tls.TLSSocket,
    readonly host: string,
    readonly port: number,
    readonly serverName: string,
    private readonly commandTimeoutMs: number,
    private readonly trace: Trace | undefined,
  ) {
    this.socket = socket;
    this.reader = new LineReader(socket, MAX_REPLY_LINE_BYTES);
    this.watchClose(socket);
  }

  /** Connects; resolves once the TCP (and, for implicit TLS, the TLS) connection is up. */
  static async open(opts: ConnectOptions): Promise<SmtpConnection> {
    const serverName = opts.serverName ?? opts.host;
    let socket: net.Socket | tls.TLSSocket;
    try {
      socket = await openClientSocket({
        host: opts.host,
        port: opts.port,
        localAddress: opts.localAddress,
        implicitTls: opts.implicitTls ? tlsTarget(serverName, opts.implicitTls) : undefined,
        timeoutMs: opts.connectTimeoutMs,
      });
    } catch (err) {
      if (!(err instanceof ClientSocketError)) throw err;
      if (err.kind === 'timeout') throw new SmtpClientError('connect', 'connect', `no connection within ${opts.connectTimeoutMs} ms`);
      if (err.kind === 'tls') throw new SmtpClientError('tls', 'connect', `TLS handshake failed: ${err.reason}`);
      throw new SmtpClientError('connect', 'connect', `cannot connect: ${err.reason}`);
    }
    const conn = new SmtpConnection(socket, opts.host, opts.port, serverName, opts.commandTimeoutMs, opts.trace);
    if (opts.implicitTls) conn.tls = tlsStateOf(socket as tls.TLSSocket);
    conn.note(`connected to ${opts.host} port ${opts.port}${conn.tls ? ` (${describeTls(conn.tls)})` : ''}`);
    return conn;
  }

  /** TLS details once TLS is on (implicit, or after `startTls`); null in the clear. */
  get tlsState(): TlsState | null {
    return this.tls;
  }

  /** Our end of the connection as an SMTP address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
  get addressLiteral(): string {
    const local = (this.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:(?=\d+\.)/, '');
    return net.isIPv6(local) ? `[IPv6:${local}]` : `[${local}]`;
  }

  /** True until the connection closed or was closed, or the server ended its side. */
  get alive(): boolean {
    return !this.closed && !this.peerEnded && !this.socket.destroyed;
  }

  /** Runs `listener` once when the connection closes (the server hung up while idle, ...). */
  onClose(listener: () => void): () => void {
    if (!this.alive) {
      listener();
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Writes a note into the trace (connection events, not protocol lines). */
  note(text: string): void {
    this.trace?.('*', text);
  }

  // ---- writing -----------------------------------------------------------------------------

  /**
   * Sends command lines. Several lines (a PIPELINING batch) leave together in one write.
   * `shown` replaces a line in the trace: AUTH lines carry credentials.
   */
  async sendLines(lines: string[], shown?: string[]): Promise<void> {
    this.assertOpen('write');
    lines.forEach((line, i) => this.trace?.('C', shown?.[i] ?? line));
    await this.write(Buffer.from(lines.map((l) => l + '\r\n').join(''), 'utf8'), lines[0]?.split(' ')[0] ?? 'command');
  }

  /**
   * Writes raw bytes (the message during DATA). Resolves at once while the socket takes them;
   * when its buffer is full it waits for 'drain', so a slow server slows the reading of the
   * body rather than filling memory. A server that takes nothing for the command timeout is
   * dropped.
   */
  write(data: Buffer, stage = 'DATA'): Promise<void> {
    this.assertOpen(stage);
    if (this.socket.write(data)) return Promise.resolve();
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      const done = (err: SmtpClientError | null) => {
        clearTimeout(timer);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        socket.off('end', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done(null);
      // A server that stops reading and closes its side (after an early reply) will never drain.
      const onClose = () => done(this.closedError(stage));
      const timer = setTimeout(() => {
        socket.destroy();
        done(new SmtpClientError('timeout', stage, `server took no data for ${this.commandTimeoutMs} ms during ${stage}`));
      }, this.commandTimeoutMs);
      socket.on('drain', onDrain);
      socket.on('close', onClose);
      socket.on('end', onClose);
      if (this.peerEnded) onClose();
    });
  }

  // ---- reading -----------------------------------------------------------------------------

  /** The next whole reply; throws SmtpClientError on timeout, a closed connection or garbage. */
  async readReply(stage: string): Promise<SmtpReply> {
    const parser = new ReplyParser();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.reader.interrupt();
    }, this.commandTimeoutMs);
    try {
      for (;;) {
        const line = await this.reader.nextLine();
        if (timedOut) {
          throw new SmtpClientError('timeout', stage, `no reply to ${stage} within ${this.commandTimeoutMs} ms`);
        }
        if (line === null) throw this.closedError(stage);
        if (line.tooLong) throw new SmtpClientError('protocol', stage, `reply line to ${stage} longer than ${MAX_REPLY_LINE_BYTES} bytes`);
        let reply: SmtpReply | null;
        try {
          reply = parser.push(line.bytes.toString('utf8'));
        } catch (err) {
          if (err instanceof MalformedReplyError) throw new SmtpClientError('protocol', stage, `${err.message} in reply to ${stage}`);
          throw err;
        }
        if (reply) {
          for (let i = 0; i < reply.lines.length; i++) {
            this.trace?.('S', `${reply.code}${i < reply.lines.length - 1 ? '-' : ' '}${reply.lines[i]}`);
          }
          return reply;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one command and reads its reply. */
  async command(line: string, stage: string, shown?: string): Promise<SmtpReply> {
    await this.sendLines([line], shown === undefined ? undefined : [shown]);
    return this.readReply(stage);
  }

  // ---- TLS and closing ---------------------------------------------------------------------

  /**
   * Starts TLS after the server's 220 to STARTTLS. Anything the server sent after that 220
   * is dropped unread: it came in the clear and could be an attacker's (RFC 3207 6). Throws
   * SmtpClientError('tls') when the handshake fails (the connection is then closed).
   */
  async startTls(options: tls.ConnectionOptions): Promise<void> {
    this.assertOpen('STARTTLS');
    const plain = this.socket as net.Socket;
    const secured = tls.connect({ ...tlsTarget(this.serverName, options), socket: plain });
    this.reader.switchTo(secured);
    this.socket = secured;
    this.watchClose(secured);
    await awaitTlsHandshake(secured, this.commandTimeoutMs).catch((err: Error) => {
      plain.destroy();
      throw new SmtpClientError('tls', 'STARTTLS', err.message);
    });
    this.tls = tlsStateOf(secured);
    this.note(`TLS started: ${describeTls(this.tls)}`);
  }

  /** Ends the connection at once; reads in progress fail with 'aborted' and `reason`. */
  abort(reason: string): void {
    this.abortReason ??= reason;
    this.destroy();
  }

  /** Half-closes after QUIT's reply (or without one) and drops the socket shortly after. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.detach();
    const socket = this.socket;
    socket.on('error', () => {});
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private assertOpen(stage: string): void {
    if (!this.alive || !this.socket.writable) throw this.closedError(stage);
  }

  private closedError(stage: string): SmtpClientError {
    if (this.abortReason) return new SmtpClientError('aborted', stage, this.abortReason);
    return new SmtpClientError('closed', stage, `connection closed by the server during ${stage}`);
  }

  private watchClose(socket: net.Socket | tls.TLSSocket): void {
    // A late error must not crash the process; the reader sees it as the end of the stream.
    socket.on('error', () => {});
    socket.once('end', () => {
      if (socket === this.socket) this.peerEnded = true;
    });
    socket.once('close', () => {
      if (socket !== this.socket) return;
      this.closed = true;
      for (const listener of [...this.closeListeners]) listener();
      this.closeListeners.clear();
    });
  }
}

/** Server name (SNI, never an IP address) and the name the certificate is checked against. */
function tlsTarget(serverName: string, options: tls.ConnectionOptions): tls.ConnectionOptions {
  const name = serverName.replace(/\.$/, '');
  return {
    minVersion: 'TLSv1.2',
    ...options,
    ...(net.isIP(name) ? {} : { servername: name }),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
  };
}

function tlsStateOf(socket: tls.TLSSocket): TlsState {
  const authorizationError = socket.authorizationError;
  return {
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    authorized: socket.authorized,
    authorizationError: authorizationError ? String(authorizationError) : null,
  };
}

export function describeTls(state: TlsState): string {
  const parts = [state.protocol ?? 'TLS', state.cipher ?? ''];
  parts.push(state.authorized ? 'certificate verified' : 'certificate not verified');
  return parts.filter(Boolean).join(' ');
}

