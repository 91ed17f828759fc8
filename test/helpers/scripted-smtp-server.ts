/**
 * A small SMTP server for client tests, written on raw sockets: it answers each command as
 * the test's script says (a reply, a dropped connection, or silence), so that the client
 * can be shown every failure a real server can produce. It records what it received: the
 * commands of each session, what was already buffered behind each command (to see
 * PIPELINING), and the messages (dot-unstuffed).
 */
import net from 'node:net';
import tls from 'node:tls';
import { LineReader } from '../../src/net/line-reader.js';
import { DotDecoder } from '../../src/smtp/wire/data-decoder.js';

/** What a script returns for a command: a reply to send, or 'drop' / 'silent'. */
export type ScriptAction = string | 'drop' | 'silent';

export interface SmtpScript {
  /** Greeting (default "220 scripted.test ESMTP"); 'silent' never greets, 'drop' hangs up. */
  greeting?: ScriptAction;
  /** Extension lines of the EHLO reply (default PIPELINING, SIZE 10000000, 8BITMIME, ENHANCEDSTATUSCODES). */
  extensions?: string[];
  /** Answers a command before the defaults do; undefined leaves it to them. */
  onCommand?: (line: string, session: ScriptedSession) => ScriptAction | undefined;
  /** Reply to RCPT TO for an address (default 250). */
  rcpt?: (address: string) => ScriptAction;
  /** Reply after the message (default 250 queued). */
  dataEnd?: (message: Buffer, session: ScriptedSession) => ScriptAction;
  /** Hang up after this many bytes of message data. */
  dropDuringDataAfter?: number;
  /**
   * After this many bytes of message data, reply at once and close our side, then either read
   * and drop the rest or (`stopReading`) read nothing more.
   */
  replyDuringData?: { after: number; reply: string; stopReading?: boolean };
  /** STARTTLS with this certificate; 'broken' says 220 and then sends garbage instead of TLS. */
  starttls?: { key: string; cert: string } | 'broken';
  /** AUTH accepts this login. */
  login?: { username: string; password: string };
  /** Mechanisms offered with `login` (default PLAIN LOGIN). */
  authMechanisms?: string[];
}

export interface ScriptedSession {
  /** Every command line, in order (message data not included). */
  commands: string[];
  /** Bytes already received behind each command when it was read (more than 0: pipelined). */
  pendingAfter: number[];
  messages: Buffer[];
  tls: boolean;
  /** The TLS server name the client asked for. */
  servername: string | null;
  authenticated: string | null;
}

export interface ScriptedSmtpServer {
  port: number;
  sessions: ScriptedSession[];
  /** Sessions connected right now, and the most there were at once. */
  open: number;
  maxOpen: number;
  /** All messages of all sessions. */
  messages(): Buffer[];
  /** Every command of every session, in order. */
  commands(): string[];
  close(): Promise<void>;
}

const DEFAULT_EXTENSIONS = ['PIPELINING', 'SIZE 10000000', '8BITMIME', 'ENHANCEDSTATUSCODES'];

/**
 * Listens on `listen.host` (127.0.0.1; other loopback addresses such as 127.0.0.2 let several
 * servers share one port, as MX hosts do) and `listen.port` (0: any).
 */
export async function startScriptedSmtpServer(
  script: SmtpScript = {},
  listen: { host?: string; port?: number } = {},
): Promise<ScriptedSmtpServer> {
  const sockets = new Set<net.Socket>();
  const state: ScriptedSmtpServer = {
    port: 0,
    sessions: [],
    open: 0,
    maxOpen: 0,
    messages: () => state.sessions.flatMap((s) => s.messages),
    commands: () => state.sessions.flatMap((s) => s.commands),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    socket.on('close', () => {
      sockets.delete(socket);
      state.open--;
    });
    socket.on('error', () => {});
    const session: ScriptedSession = { commands: [], pendingAfter: [], messages: [], tls: false, servername: null, authenticated: null };
    state.sessions.push(session);
    void serve(socket, session, script).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
  });
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

async function serve(plain: net.Socket, session: ScriptedSession, script: SmtpScript): Promise<void> {
  let socket: net.Socket | tls.TLSSocket = plain;
  const reader = new LineReader(plain, 4096);
  /** Sends a reply or acts on 'drop'/'silent'; false when the session is over. */
  const act = (action: ScriptAction): boolean => {
    if (action === 'drop') {
      socket.destroy();
      return false;
    }
    if (action === 'silent') return true;
    socket.write(action.endsWith('\r\n') ? action : action + '\r\n');
    return true;
  };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  const nextLine = async () => {
    const line = await reader.nextLine();
    return line === null ? null : line.bytes.toString('utf8');
  };

  if (!act(script.greeting ?? '220 scripted.test ESMTP')) return;
  for (;;) {
    const line = await nextLine();
    if (line === null) return;
    session.commands.push(line);
    session.pendingAfter.push(reader.pending);
    const custom = script.onCommand?.(line, session);
    if (custom !== undefined) {
      if (!act(custom)) return;
      continue;
    }
    const verb = line.split(' ')[0].toUpperCase();
    switch (verb) {
      case 'EHLO': {
        const ext = [...(script.extensions ?? DEFAULT_EXTENSIONS)];
        if (script.starttls && !session.tls) ext.push('STARTTLS');
        if (script.login) ext.push(`AUTH ${(script.authMechanisms ?? ['PLAIN', 'LOGIN']).join(' ')}`);
        const lines = ['scripted.test greets you', ...ext];
        act(lines.map((l, i) => `250${i < lines.length - 1 ? '-' : ' '}${l}`).join('\r\n'));
        break;
      }
      case 'HELO':
        act('250 scripted.test');
        break;
      case 'STARTTLS': {
        if (!script.starttls || session.tls) {
          act('502 5.5.1 no STARTTLS');
          break;
        }
        act('220 2.0.0 go ahead');
        if (script.starttls === 'broken') {
          socket.write('this is not TLS\r\n');
          socket.end();
          return;
        }
        const secured = new tls.TLSSocket(plain, {
          isServer: true,
          secureContext: tls.createSecureContext({ key: script.starttls.key, cert: script.starttls.cert }),
        });
        secured.on('error', () => {});
        reader.switchTo(secured);
        socket = secured;
        const ok = await new Promise<boolean>((resolve) => {
          secured.once('secure', () => resolve(true));
          secured.once('close', () => resolve(false));
        });
        if (!ok) return;
        session.tls = true;
        session.servername = (secured as tls.TLSSocket & { servername?: string | false }).servername || null;
        break;
      }
      case 'AUTH': {
        const [, mechanism, initial] = line.split(' ');
        let user = '';
        let pass = '';
        if (mechanism?.toUpperCase() === 'PLAIN') {
          const parts = b64(initial ?? '').split('\0');
          user = parts[1] ?? '';
          pass = parts[2] ?? '';
        } else if (mechanism?.toUpperCase() === 'LOGIN') {
          act('334 VXNlcm5hbWU6');
          user = b64((await nextLine()) ?? '');
          act('334 UGFzc3dvcmQ6');
          pass = b64((await nextLine()) ?? '');
        }
        if (script.login && user === script.login.username && pass === script.login.password) {
          session.authenticated = user;
          act('235 2.7.0 Authentication successful');
        } else {
          act('535 5.7.8 Authentication credentials invalid');
        }
        break;
      }
      case 'MAIL':
        act('250 2.1.0 Ok');
        break;
      case 'RCPT': {
        const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
        if (!act(script.rcpt?.(address) ?? '250 2.1.5 Ok')) return;
        break;
      }
      case 'DATA': {
        act('354 End data with <CR><LF>.<CR><LF>');
        const decoder = new DotDecoder();
        const parts: Buffer[] = [];
        let received = 0;
        while (!decoder.done) {
          const chunk = await reader.nextBytes(65536);
          if (chunk === null) return;
          received += chunk.length;
          if (script.dropDuringDataAfter !== undefined && received >= script.dropDuringDataAfter) {
            socket.destroy();
            return;
          }
          if (script.replyDuringData && received >= script.replyDuringData.after) {
            reader.detach();
            if (script.replyDuringData.stopReading) {
              socket.pause();
            } else {
              socket.on('data', () => {});
              socket.resume();
            }
            socket.end(script.replyDuringData.reply + '\r\n');
            return;
          }
          const result = decoder.push(chunk);
          parts.push(...result.segments);
          if (result.rest) reader.unshift(result.rest);
        }
        const message = Buffer.concat(parts);
        session.messages.push(message);
        if (!act(script.dataEnd?.(message, session) ?? '250 2.0.0 Ok: queued')) return;
        break;
      }
      case 'RSET':
      case 'NOOP':
        act('250 2.0.0 Ok');
        break;
      case 'QUIT':
        act('221 2.0.0 Bye');
        socket.end();
        return;
      default:
        act('500 5.5.2 command not recognized');
    }
  }
}
