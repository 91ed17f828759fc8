/**
 * An FTP client session, from the greeting to QUIT: TLS (implicit, or AUTH TLS when asked or
 * offered), login, PBSZ 0 + PROT P so data connections are encrypted too, FEAT, binary mode.
 * The transfers themselves (passive data connections, RETR/STOR/APPE/LIST/MLSD) are in
 * transfer.ts; this file is the login state machine and the one-line commands.
 */
import type tls from 'node:tls';
import { FtpControl, type Trace } from './control.js';
import { FtpClientError } from './errors.js';
import { isCompletion, isIntermediate, replyText, type FtpReply } from './reply.js';

/**
 * - 'implicit': TLS from the first byte (ftps://, port 990).
 * - 'required': AUTH TLS, and fail if the server refuses it.
 * - 'if-offered': AUTH TLS when the server accepts it, else carry on in the clear.
 * - 'off': never TLS.
 */
export type FtpTlsMode = 'implicit' | 'required' | 'if-offered' | 'off';

export interface FtpConnectOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  tls: FtpTlsMode;
  /** Options for every TLS handshake (control and data): certificate check, extra CAs. */
  tlsOptions?: tls.ConnectionOptions;
  /** Time limit for connecting, for each reply and for a stalled data connection. */
  timeoutMs: number;
  trace?: Trace;
  /** Told when 'if-offered' ends up in the clear, so the caller can warn. */
  onPlaintext?: (reason: string) => void;
}

export class FtpSession {
  /** FEAT lines, upper-cased keywords mapped to their parameters ("MLST" → "size*;modify*;"). */
  readonly features = new Map<string, string>();
  /** EPSV failed once: later transfers go straight to PASV. */
  epsvRefused = false;

  private constructor(
    readonly control: FtpControl,
    readonly options: FtpConnectOptions,
  ) {}

  /** Connects, secures and logs in. Throws FtpClientError (kind 'reply' with the server's words on refusal). */
  static async connect(options: FtpConnectOptions): Promise<FtpSession> {
    const control = await FtpControl.open({
      host: options.host,
      port: options.port,
      timeoutMs: options.timeoutMs,
      implicitTls: options.tls === 'implicit' ? (options.tlsOptions ?? {}) : undefined,
      trace: options.trace,
    });
    const session = new FtpSession(control, options);
    try {
      await session.greet();
      await session.secure();
      await session.login();
      await session.afterLogin();
      return session;
    } catch (err) {
      control.destroy();
      throw err;
    }
  }

  get secureData(): boolean {
    return this.control.secure;
  }

  private async greet(): Promise<void> {
    let reply = await this.control.readReply('greeting');
    // 120: "service ready in nnn minutes"; the real greeting follows.
    if (reply.code === 120) reply = await this.control.readReply('greeting');
    if (reply.code !== 220) throw FtpClientError.refused('greeting', reply);
  }

  private async secure(): Promise<void> {
    const mode = this.options.tls;
    if (mode === 'implicit' || mode === 'off') return;
    const reply = await this.control.command('AUTH TLS');
    if (reply.code === 234) {
      await this.control.startTls(this.options.tlsOptions ?? {});
      return;
    }
    if (mode === 'required') throw new FtpClientError('reply', 'AUTH TLS', `the server refused TLS: ${replyText(reply)}`, reply);
    // A server without TLS says 500/502/504 (unknown or unimplemented) or 534 (policy).
    this.options.onPlaintext?.(`the server does not offer TLS (${replyText(reply)})`);
  }

  private async login(): Promise<void> {
    const { user, password } = this.options;
    let reply = await this.control.command(`USER ${user}`);
    if (reply.code === 331 || reply.code === 332) {
      reply = await this.control.command(`PASS ${password}`, 'PASS ****');
    }
    if (reply.code !== 230 && reply.code !== 202) throw new FtpClientError('reply', 'login', `login refused: ${replyText(reply)}`, reply);
  }

  private async afterLogin(): Promise<void> {
    if (this.control.secure) {
      // RFC 4217 9: PBSZ 0 must come before PROT; PROT P encrypts every data connection.
      await this.expect('PBSZ 0');
      await this.expect('PROT P');
    }
    const feat = await this.control.command('FEAT');
    if (feat.code === 211) {
      for (const line of feat.lines.slice(1, -1)) {
        const text = line.trim();
        if (!text) continue;
        const space = text.indexOf(' ');
        this.features.set((space < 0 ? text : text.slice(0, space)).toUpperCase(), space < 0 ? '' : text.slice(space + 1));
      }
    }
    // Names are UTF-8 (RFC 2640); servers that predate it may want to be told.
    if (this.features.has('UTF8')) await this.control.command('OPTS UTF8 ON');
    await this.expect('TYPE I');
  }

  /** Sends a command that must succeed (2xx); throws with the server's reply otherwise. */
  async expect(line: string): Promise<FtpReply> {
    const reply = await this.control.command(line);
    if (!isCompletion(reply)) throw FtpClientError.refused(line.split(' ')[0], reply);
    return reply;
  }

  /** The size of a file (SIZE, RFC 3659), or null when the server says there is none (550). */
  async size(path: string): Promise<number | null> {
    const reply = await this.control.command(`SIZE ${path}`);
    if (reply.code === 213) {
      const text = reply.lines[0].trim();
      if (!/^\d+$/.test(text)) throw new FtpClientError('protocol', 'SIZE', `not a size: ${text.slice(0, 40)}`);
      return Number(text);
    }
    if (reply.code === 550) return null;
    throw FtpClientError.refused('SIZE', reply);
  }

  /** Sends REST offset; the next RETR or STOR starts there (RFC 3659 5). */
  async restart(offset: number): Promise<void> {
    const reply = await this.control.command(`REST ${offset}`);
    if (!isIntermediate(reply)) throw FtpClientError.refused('REST', reply);
  }

  /** Whether the server advertised a feature in FEAT ("MLST", "SIZE", "REST", "EPSV"). */
  has(feature: string): boolean {
    return this.features.has(feature.toUpperCase());
  }

  async quit(): Promise<void> {
    await this.control.quit();
  }

  destroy(): void {
    this.control.destroy();
  }
}
