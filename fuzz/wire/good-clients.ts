/**
 * The well-behaved client: after every fuzz round, one ordinary session per service, as a mail
 * program or an FTP/SFTP client would hold it (submission over STARTTLS, IMAP over implicit TLS
 * too). Each must be served correctly and in time; its duration is the "slowest well-behaved
 * reply" figure.
 */
import { Client as SshClient } from 'ssh2';
import { connect as netConnect } from 'node:net';
import { WireConnection } from './connection.js';
import { dataPort } from './replay.js';
import { IMPLICIT_TLS, type Account, type Service } from './session.js';

export type GoodService = Service | 'sftp';

export interface GoodResult {
  service: GoodService;
  ok: boolean;
  ms: number;
  error?: string;
}

const STEP_MS = 15_000;

class Dialogue {
  constructor(readonly conn: WireConnection) {}

  /** Sends `line` (unless null) and waits for text matching `want`; throws with what came instead. */
  async step(line: string | null, want: RegExp, what: string): Promise<string> {
    if (line !== null) this.conn.write(Buffer.from(line + '\r\n'));
    const reply = await this.conn.waitReply(STEP_MS, (t) => want.test(t));
    if (!want.test(reply)) throw new Error(`${what}: ${JSON.stringify(reply.slice(0, 120)) || 'no reply'}`);
    return reply;
  }
}

async function open(service: Service, ports: Partial<Record<string, number>>, localAddress: string): Promise<Dialogue> {
  const port = ports[service];
  if (!port) throw new Error(`no port for ${service}`);
  return new Dialogue(await WireConnection.open({ host: '127.0.0.1', port, localAddress, tls: IMPLICIT_TLS.has(service), timeoutMs: STEP_MS }));
}

const dialogues: Record<GoodService, (d: Dialogue, a: Account, localAddress: string) => Promise<void>> = {
  async smtp(d, a) {
    await d.step(null, /^220 /m, 'greeting');
    await d.step('EHLO checker.example', /^250 /m, 'EHLO');
    await d.step('MAIL FROM:<checker@checker.example>', /^250 /m, 'MAIL');
    await d.step(`RCPT TO:<${a.user}>`, /^250 /m, 'RCPT');
    await d.step('DATA', /^354 /m, 'DATA');
    await d.step('From: <checker@checker.example>\r\nSubject: still there?\r\n\r\nyes\r\n.', /^250 /m, 'end of DATA');
    await d.step('QUIT', /^221 /m, 'QUIT');
  },
  async submission(d, a) {
    await d.step(null, /^220 /m, 'greeting');
    await d.step('EHLO checker.example', /^250 /m, 'EHLO');
    await d.step('STARTTLS', /^220 /m, 'STARTTLS');
    if (!(await d.conn.upgrade(STEP_MS))) throw new Error('TLS handshake after STARTTLS failed');
    await d.step('EHLO checker.example', /^250 /m, 'EHLO in TLS');
    await d.step(`AUTH PLAIN ${Buffer.from(`\0${a.user}\0${a.pass}`).toString('base64')}`, /^235 /m, 'AUTH');
    await d.step('QUIT', /^221 /m, 'QUIT');
  },
  async submissions(d, a) {
    await d.step(null, /^220 /m, 'greeting');
    await d.step('EHLO checker.example', /^250 /m, 'EHLO');
    await d.step(`AUTH PLAIN ${Buffer.from(`\0${a.user}\0${a.pass}`).toString('base64')}`, /^235 /m, 'AUTH');
    await d.step('QUIT', /^221 /m, 'QUIT');
  },
  async pop3(d, a) {
    await d.step(null, /^\+OK/m, 'greeting');
    await d.step(`USER ${a.user}`, /^\+OK/m, 'USER');
    await d.step(`PASS ${a.pass}`, /^\+OK/m, 'PASS');
    await d.step('STAT', /^\+OK \d+ \d+/m, 'STAT');
    await d.step('QUIT', /^\+OK/m, 'QUIT');
  },
  async pop3s(d, a) {
    await dialogues.pop3(d, a, '');
  },
  async imap(d, a) {
    await d.step(null, /^\* OK/m, 'greeting');
    await d.step(`a LOGIN "${a.user}" "${a.pass}"`, /^a OK/m, 'LOGIN');
    await d.step('b SELECT INBOX', /^b OK/m, 'SELECT');
    // UID FETCH: valid on an empty mailbox too (a sequence set is not).
    await d.step('c UID FETCH 1:* (FLAGS)', /^c OK/m, 'UID FETCH');
    await d.step('d LOGOUT', /^d OK/m, 'LOGOUT');
  },
  async imaps(d, a) {
    await dialogues.imap(d, a, '');
  },
  async ftp(d, a, localAddress) {
    await d.step(null, /^220 /m, 'greeting');
    await d.step(`USER ${a.user}`, /^331 /m, 'USER');
    await d.step(`PASS ${a.pass}`, /^230 /m, 'PASS');
    const port = dataPort(await d.step('EPSV', /^229 /m, 'EPSV'));
    if (!port) throw new Error('EPSV named no port');
    // From the control connection's address: a server hands a passive port to that client only.
    const data = netConnect({ host: '127.0.0.1', port, localAddress });
    const received = new Promise<void>((resolve, reject) => {
      data.on('data', () => {});
      data.once('close', () => resolve());
      data.once('error', reject);
    });
    const started = await d.step('LIST', /^1\d\d /m, 'LIST');
    await received;
    // A short listing may be done, and its 226 sent, before the 150 was read.
    if (!/^226 /m.test(started)) await d.step(null, /^226 /m, 'end of LIST');
    await d.step('QUIT', /^221 /m, 'QUIT');
  },
  async ftps(d, a) {
    await d.step(null, /^220 /m, 'greeting');
    await d.step(`USER ${a.user}`, /^331 /m, 'USER');
    await d.step(`PASS ${a.pass}`, /^230 /m, 'PASS');
    await d.step('PWD', /^257 /m, 'PWD');
    await d.step('QUIT', /^221 /m, 'QUIT');
  },
  sftp: async () => {
    throw new Error('not a line protocol');
  },
};

function sftpSession(port: number, localAddress: string, a: Account): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    const timer = setTimeout(() => {
      client.end();
      reject(new Error('SFTP timed out'));
    }, 3 * STEP_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      client.end();
      reject(err);
    };
    client.on('error', fail);
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return fail(err);
        sftp.readdir('/', (err2) => {
          if (err2) return fail(err2);
          clearTimeout(timer);
          client.end();
          resolve();
        });
      });
    });
    client.connect({ host: '127.0.0.1', port, localAddress, username: a.user, password: a.pass, readyTimeout: 3 * STEP_MS, hostVerifier: () => true });
  });
}

export async function goodSession(service: GoodService, ports: Partial<Record<string, number>>, account: Account, localAddress: string): Promise<GoodResult> {
  const t0 = performance.now();
  let d: Dialogue | null = null;
  try {
    if (service === 'sftp') {
      if (!ports.sftp) throw new Error('no port for sftp');
      await sftpSession(ports.sftp, localAddress, account);
    } else {
      d = await open(service, ports, localAddress);
      await dialogues[service](d, account, localAddress);
    }
    return { service, ok: true, ms: performance.now() - t0 };
  } catch (err) {
    return { service, ok: false, ms: performance.now() - t0, error: err instanceof Error ? err.message : String(err) };
  } finally {
    d?.conn.destroy();
  }
}
