/**
 * The control connection of an FTP client: connecting with a time limit (plain, or implicit
 * TLS as on port 990), writing command lines, reading whole replies with a time limit, and the
 * switch to TLS after AUTH TLS (RFC 4217). It also keeps the TLS session the server hands out,
 * because servers such as vsftpd (require_ssl_reuse) refuse a data connection that does not
 * resume the control connection's session: proof that the data connection comes from the
 * same client.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Trace } from '../../net/client-trace.js';
import { LineReader } from '../../net/line-reader.js';
import { awaitTlsHandshake, ClientSocketError, openClientSocket } from '../../net/client-socket.js';
import { FtpClientError } from './errors.js';
import { FtpReplyParser, MalformedReplyError, type FtpReply } from './reply.js';

/** Longest reply line read; a longer one is a broken or hostile server. */
const MAX_REPLY_LINE_BYTES = 16 * 1024;
/** How long to wait for a TLS 1.3 session ticket before a data connection goes without it. */
const SESSION_TICKET_WAIT_MS = 2000;

export type { Trace, TraceDirection } from '../../net/client-trace.js';

export interface ControlOptions {
  host: string;
  port: number;
  /** Time limit for connecting and for each reply. */
  timeoutMs: number;
  /** TLS from the first byte (implicit FTPS), with these options. */
  implicitTls?: tls.ConnectionOptions;
  trace?: Trace;
}

export class FtpControl {
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader: LineReader;
  private tlsSession: Buffer | null = null;
  private sessionWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(
    socket: net.Socket | tls.TLSSocket,
    readonly host: string,
    readonly timeoutMs: number,
    private readonly trace: Trace | undefined,
  ) {
    this.socket = socket;
    this.reader = new LineReader(socket, MAX_REPLY_LINE_BYTES);
    // A late error must not crash the process; the reader sees it as the end of the stream.
    socket.on('error', () => {});
    if (socket instanceof tls.TLSSocket) this.watchSessions(socket);
  }

  static async open(opts: ControlOptions): Promise<FtpControl> {
    let socket: net.Socket | tls.TLSSocket;
    try {
      socket = await openClientSocket({
        host: opts.host,
        port: opts.port,
        implicitTls: opts.implicitTls ? tlsTarget(opts.host, opts.implicitTls) : undefined,
        timeoutMs: opts.timeoutMs,
      });
    } catch (err) {
      if (!(err instanceof ClientSocketError)) throw err;
      const where = `${opts.host} port ${opts.port}`;
      if (err.kind === 'timeout') throw new FtpClientError('connect', 'connect', `no connection to ${where} within ${opts.timeoutMs} ms`);
      if (err.kind === 'tls') throw new FtpClientError('tls', 'connect', `TLS handshake failed: ${err.reason}`);
      throw new FtpClientError('connect', 'connect', `cannot connect to ${where}: ${err.reason}`);
    }
    const control = new FtpControl(socket, opts.host, opts.timeoutMs, opts.trace);
    control.note(`connected to ${opts.host} port ${opts.port}${opts.implicitTls ? ` (${describeTls(socket as tls.TLSSocket)})` : ''}`);
    return control;
  }

  /** True once the control connection is TLS (implicit, or after AUTH TLS). */
  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** The server's address as connected: data connections go there, whatever PASV says. */
  get remoteAddress(): string {
    return (this.socket.remoteAddress ?? this.host).replace(/^::ffff:(?=\d+\.)/, '');
  }

  note(text: string): void {
    this.trace?.('*', text);
  }

  /** Sends one command line; `shown` replaces it in the trace (PASS). */
  async send(line: string, shown?: string): Promise<void> {
    if (/[\r\n]/.test(line)) throw new FtpClientError('protocol', line.split(' ')[0], 'a command may not contain a line break');
    if (this.closed || !this.socket.writable) throw new FtpClientError('closed', line.split(' ')[0], 'the server closed the control connection');
    this.trace?.('C', shown ?? line);
    this.socket.write(line + '\r\n', 'utf8');
  }

  /** The next whole reply; throws FtpClientError on timeout, a closed connection or garbage. */
  async readReply(stage: string, timeoutMs = this.timeoutMs): Promise<FtpReply> {
    const parser = new FtpReplyParser();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.reader.interrupt();
    }, timeoutMs);
    try {
      for (;;) {
        const line = await this.reader.nextLine();
        if (timedOut) throw new FtpClientError('timeout', stage, `no reply to ${stage} within ${Math.round(timeoutMs / 1000)} s`);
        if (line === null) throw new FtpClientError('closed', stage, `the server closed the connection during ${stage}`);
        if (line.tooLong) throw new FtpClientError('protocol', stage, `reply line longer than ${MAX_REPLY_LINE_BYTES} bytes`);
        const text = line.bytes.toString('utf8');
        let reply: FtpReply | null;
        try {
          reply = parser.push(text);
        } catch (err) {
          if (err instanceof MalformedReplyError) throw new FtpClientError('protocol', stage, `${err.message} in reply to ${stage}`);
          throw err;
        }
        this.trace?.('S', text);
        if (reply) return reply;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a command and reads its reply, naming `stage` in errors. */
  async readReplyAfter(line: string, stage: string): Promise<FtpReply> {
    await this.send(line);
    return this.readReply(stage);
  }

  /** Sends a command and reads its reply. */
  async command(line: string, shown?: string): Promise<FtpReply> {
    const stage = line.split(' ')[0].toUpperCase();
    await this.send(line, shown);
    return this.readReply(stage);
  }

  /**
   * Starts TLS after the server's 234 to AUTH TLS. Anything received in the clear after that
   * reply is dropped unread (it could be an attacker's, injected before the handshake).
   */
  async startTls(options: tls.ConnectionOptions): Promise<void> {
    const plain = this.socket as net.Socket;
    const secured = tls.connect({ ...tlsTarget(this.host, options), socket: plain });
    this.watchSessions(secured);
    secured.on('error', () => {});
    this.reader.switchTo(secured);
    this.socket = secured;
    await awaitTlsHandshake(secured, this.timeoutMs).catch((err: Error) => {
      throw new FtpClientError('tls', 'AUTH TLS', err.message);
    });
    this.note(`TLS started: ${describeTls(secured)}`);
  }

  /**
   * The TLS session to resume on a data connection. With TLS 1.3 the server sends its
   * session ticket after the handshake, so it may still be on its way: wait a little for it.
   */
  async session(): Promise<Buffer | undefined> {
    if (!(this.socket instanceof tls.TLSSocket)) return undefined;
    if (!this.tlsSession && this.socket.getProtocol() === 'TLSv1.3') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SESSION_TICKET_WAIT_MS);
        this.sessionWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.tlsSession ?? this.socket.getSession() ?? undefined;
  }

  /** Sends QUIT (when still connected) and closes; never throws. */
  async quit(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.socket.writable) {
        await this.send('QUIT');
        await this.readReply('QUIT', Math.min(this.timeoutMs, 5000));
      }
    } catch {
      // closing anyway
    }
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.detach();
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private watchSessions(socket: tls.TLSSocket): void {
    socket.on('session', (session: Buffer) => {
      this.tlsSession = session;
      for (const w of this.sessionWaiters.splice(0)) w();
    });
  }
}

/** TLS options with the server name set for SNI and the certificate check (not for IP literals). */
export function tlsTarget(host: string, options: tls.ConnectionOptions): tls.ConnectionOptions {
  return { ...options, servername: net.isIP(host) ? undefined : host, host };
}

export function describeTls(socket: tls.TLSSocket): string {
  const verified = socket.authorized ? 'certificate verified' : `certificate not verified${socket.authorizationError ? ` (${socket.authorizationError})` : ''}`;
  return `${socket.getProtocol() ?? 'TLS'} ${socket.getCipher()?.name ?? ''}, ${verified}${socket.isSessionReused() ? ', session reused' : ''}`;
}
