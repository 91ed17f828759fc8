/**
 * No password and no SASL payload ever reaches a log line. A `wharf serve` logging at debug
 * level sees logins on every protocol and in every form a client sends a password in (SMTP
 * AUTH PLAIN and LOGIN, POP3 USER/PASS and AUTH PLAIN, IMAP LOGIN as quoted string and as a
 * literal, AUTHENTICATE PLAIN with and without SASL-IR, FTP USER/PASS, SSH password and
 * keyboard-interactive), successful and failed, each with a password of its own; then every
 * line it wrote (standard output and standard error) is searched for each password, its
 * base64 form and the base64 of the SASL PLAIN message that carried it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const DOMAIN = 'secrets.test';
const USER = `carol@${DOMAIN}`;
const UNKNOWN = `nobody@${DOMAIN}`;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** A line dialogue over a plain loopback connection. */
class Dialogue {
  private text = '';
  private waiter: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.text += d;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Dialogue> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(new Dialogue(socket)));
      socket.once('error', reject);
    });
  }

  /** Reads lines until one matches `pattern`; returns that line. */
  async until(pattern: RegExp): Promise<string> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      let i: number;
      while ((i = this.text.indexOf('\n')) >= 0) {
        const line = this.text.slice(0, i).replace(/\r$/, '');
        this.text = this.text.slice(i + 1);
        if (pattern.test(line)) return line;
      }
      if (this.closed) throw new Error(`closed before ${pattern}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${pattern} within 20 s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
  }

  /** Sends a line and returns the first reply line matching `pattern`. */
  async say(line: string, pattern: RegExp): Promise<string> {
    this.socket.write(line + '\r\n');
    return this.until(pattern);
  }

  end(): void {
    this.socket.destroy();
  }
}

describe('secrets never reach the log', () => {
  let wharf: WharfProcess;
  let dir: string;
  const password = `Pw-${randomBytes(9).toString('hex')}`;
  /** Every password sent (the right one and each wrong one) and the SASL PLAIN messages carrying them. */
  const secrets = new Set<string>();
  /** A fresh wrong password, remembered for the search. */
  const wrong = () => {
    const p = `Pw-${randomBytes(9).toString('hex')}`;
    secrets.add(p);
    return p;
  };
  const plain = (user: string, pass: string) => {
    for (const authzid of ['', user]) secrets.add(b64(`${authzid}\0${user}\0${pass}`));
    return b64(`\0${user}\0${pass}`);
  };
  const logins: Record<string, { ok: number; failed: number }> = {};
  const count = (what: string, ok: boolean) => {
    logins[what] ??= { ok: 0, failed: 0 };
    logins[what][ok ? 'ok' : 'failed']++;
  };

  before(async () => {
    secrets.add(password);
    dir = await makeTempDir('wharf-secrets-');
    // The login throttle would make the failed attempts below wait seconds each; it plays no
    // part in what is logged, so it starts later here.
    await writeFile(path.join(dir, 'wharf.json'), JSON.stringify({ authThrottle: { freeFailures: 1000 } }));
    wharf = await startWharf({ env: { WHARF_CONFIG: path.join(dir, 'wharf.json'), WHARF_LOG_LEVEL: 'debug' } });
    assert.equal((await wharf.cli(['domain', 'add', DOMAIN])).code, 0);
    const added = await wharf.cli(['user', 'add', USER, '--password-stdin'], `${password}\n`);
    assert.equal(added.code, 0, added.stderr);
  });

  after(async () => {
    await wharf?.stop();
    await wharf?.removeData();
    if (dir) await removeDir(dir);
  });

  it('SMTP submission: AUTH PLAIN (with and without initial response) and AUTH LOGIN', async () => {
    for (const [user, pass, ok] of [
      [USER, password, true],
      [USER, wrong(), false],
      [UNKNOWN, wrong(), false],
    ] as const) {
      const attempts: Array<(d: Dialogue) => Promise<string>> = [
        (d) => d.say(`AUTH PLAIN ${plain(user, pass)}`, /^\d{3} /),
        async (d) => {
          await d.say('AUTH PLAIN', /^334/);
          return d.say(plain(user, pass), /^\d{3} /);
        },
        async (d) => {
          await d.say('AUTH LOGIN', /^334/);
          await d.say(b64(user), /^334/);
          secrets.add(b64(pass));
          return d.say(b64(pass), /^\d{3} /);
        },
        async (d) => {
          secrets.add(b64(user));
          await d.say(`AUTH LOGIN ${b64(user)}`, /^334/);
          return d.say(b64(pass), /^\d{3} /);
        },
      ];
      for (const attempt of attempts) {
        const d = await Dialogue.open(wharf.ports.submission);
        await d.until(/^220 /);
        await d.say('EHLO client.test', /^250 /);
        assert.match(await attempt(d), ok ? /^235 / : /^535 /);
        count('smtp', ok);
        await d.say('QUIT', /^221 /);
        d.end();
      }
    }
  });

  it('POP3: USER/PASS and AUTH PLAIN (with and without initial response)', async () => {
    for (const [user, pass, ok] of [
      [USER, password, true],
      [USER, wrong(), false],
      [UNKNOWN, wrong(), false],
    ] as const) {
      const attempts: Array<(d: Dialogue) => Promise<string>> = [
        async (d) => {
          await d.say(`USER ${user}`, /^\+OK/);
          return d.say(`PASS ${pass}`, /^[+-]/);
        },
        (d) => d.say(`AUTH PLAIN ${plain(user, pass)}`, /^[+-](OK|ERR)/),
        async (d) => {
          await d.say('AUTH PLAIN', /^\+ ?$/);
          return d.say(plain(user, pass), /^[+-](OK|ERR)/);
        },
      ];
      for (const attempt of attempts) {
        const d = await Dialogue.open(wharf.ports.pop3);
        await d.until(/^\+OK/);
        assert.match(await attempt(d), ok ? /^\+OK/ : /^-ERR/);
        count('pop3', ok);
        await d.say('QUIT', /^\+OK/);
        d.end();
      }
    }
  });

  it('IMAP: LOGIN (quoted and literal) and AUTHENTICATE PLAIN (with and without SASL-IR)', async () => {
    for (const [user, pass, ok] of [
      [USER, password, true],
      [USER, wrong(), false],
      [UNKNOWN, wrong(), false],
    ] as const) {
      const attempts: Array<(d: Dialogue) => Promise<string>> = [
        (d) => d.say(`a LOGIN "${user}" "${pass}"`, /^a /),
        async (d) => {
          await d.say(`a LOGIN ${user} {${Buffer.byteLength(pass)}}`, /^\+/);
          return d.say(pass, /^a /);
        },
        (d) => d.say(`a LOGIN ${user} {${Buffer.byteLength(pass)}+}\r\n${pass}`, /^a /),
        (d) => d.say(`a AUTHENTICATE PLAIN ${plain(user, pass)}`, /^a /),
        async (d) => {
          await d.say('a AUTHENTICATE PLAIN', /^\+/);
          return d.say(plain(user, pass), /^a /);
        },
      ];
      for (const attempt of attempts) {
        const d = await Dialogue.open(wharf.ports.imap);
        await d.until(/^\* OK/);
        assert.match(await attempt(d), ok ? /^a OK/ : /^a NO/);
        count('imap', ok);
        await d.say('z LOGOUT', /^z OK/);
        d.end();
      }
    }
  });

  it('FTP: USER/PASS', async () => {
    for (const [user, pass, ok] of [
      [USER, password, true],
      [USER, wrong(), false],
      [UNKNOWN, wrong(), false],
    ] as const) {
      const d = await Dialogue.open(wharf.ports.ftp);
      await d.until(/^220 /);
      await d.say(`USER ${user}`, /^331 /);
      assert.match(await d.say(`PASS ${pass}`, /^\d{3} /), ok ? /^230 / : /^530 /);
      count('ftp', ok);
      await d.say('QUIT', /^221 /);
      d.end();
    }
  });

  it('SFTP: password and keyboard-interactive', async () => {
    const login = (method: 'password' | 'keyboard-interactive', user: string, pass: string) =>
      new Promise<boolean>((resolve) => {
        const client = new ssh2.Client();
        client.on('ready', () => {
          client.end();
          resolve(true);
        });
        client.on('error', () => resolve(false));
        client.on('keyboard-interactive', (_name, _instructions, _lang, _prompts, finish) => finish([pass]));
        client.connect({
          host: '127.0.0.1',
          port: wharf.ports.sftp,
          username: user,
          ...(method === 'password' ? { password: pass } : { tryKeyboard: true }),
          authHandler: [method],
          readyTimeout: 60_000,
        });
      });
    for (const method of ['password', 'keyboard-interactive'] as const) {
      for (const [user, pass, ok] of [
        [USER, password, true],
        [USER, wrong(), false],
        [UNKNOWN, wrong(), false],
      ] as const) {
        assert.equal(await login(method, user, pass), ok, `${method} ${user}`);
        count('sftp', ok);
      }
    }
  });

  it('secrets sent where they do not belong: after a refused AUTH, malformed, or out of order', async () => {
    const smtp = await Dialogue.open(wharf.ports.submission);
    await smtp.until(/^220 /);
    await smtp.say('EHLO client.test', /^250 /);
    // A client that pipelines its AUTH LOGIN exchange after the server refused the mechanism.
    await smtp.say('AUTH NOSUCH', /^5\d\d /);
    const stray = wrong();
    secrets.add(b64(stray));
    await smtp.say(b64(USER), /^5\d\d /);
    await smtp.say(b64(stray), /^5\d\d /);
    await smtp.say(`${b64(stray)} ${stray}`, /^5\d\d /);
    await smtp.say(`AUTH PLAIN ${wrong()}!`, /^5\d\d /);
    await smtp.say(`AUTH PLAIN ${plain(USER, wrong())} extra`, /^5\d\d /);
    await smtp.say('QUIT', /^221 /);
    smtp.end();

    const pop3 = await Dialogue.open(wharf.ports.pop3);
    await pop3.until(/^\+OK/);
    await pop3.say(`PASS ${wrong()}`, /^-ERR/);
    await pop3.say('AUTH NOSUCH', /^-ERR/);
    await pop3.say(plain(USER, wrong()), /^-ERR/);
    await pop3.say(`AUTH PLAIN ${wrong()}!`, /^-ERR/);
    await pop3.say('QUIT', /^\+OK/);
    pop3.end();

    const imap = await Dialogue.open(wharf.ports.imap);
    await imap.until(/^\* OK/);
    await imap.say(`a LOGIN "${USER}" "${wrong()}`, /^a (BAD|NO)/);
    await imap.say(`b LOGIN ${USER} ${wrong()} extra`, /^b (BAD|NO)/);
    await imap.say(`c LOGIN ${wrong()}`, /^c (BAD|NO)/);
    await imap.say('d AUTHENTICATE NOSUCH', /^d (BAD|NO)/);
    const line = plain(USER, wrong());
    await imap.say(line, new RegExp(`^${line.replace(/[+/=]/g, '.')} (BAD|NO)|^\\* BAD`));
    await imap.say(`e AUTHENTICATE PLAIN ${wrong()}!`, /^e (BAD|NO)/);
    await imap.say('f AUTHENTICATE PLAIN', /^\+/);
    await imap.say(`${wrong()}!`, /^f (BAD|NO)/);
    await imap.say('z LOGOUT', /^z OK/);
    imap.end();

    const ftp = await Dialogue.open(wharf.ports.ftp);
    await ftp.until(/^220 /);
    await ftp.say(`PASS ${wrong()}`, /^5\d\d /);
    await ftp.say(wrong(), /^5\d\d /);
    await ftp.say('QUIT', /^221 /);
    ftp.end();
  });

  it('no log line holds a password or a SASL payload', async () => {
    // Everything the sessions above logged has been written by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lines = [...wharf.logs(), ...wharf.stderr().split('\n')];
    // The logs are there and name the logins: the search below looked at the right lines.
    for (const service of ['smtp', 'pop3', 'imap', 'ftp', 'sftp']) {
      assert.ok(logins[service]?.ok && logins[service]?.failed, `${service} logins ran: ${JSON.stringify(logins)}`);
    }
    assert.ok(lines.some((l) => l.includes(USER) && /"level":"info"/.test(l)));
    assert.ok(lines.some((l) => /"level":"debug"/.test(l)), 'debug lines were written');
    assert.ok(secrets.size > 20);
    const leaks: string[] = [];
    for (const secret of secrets) {
      // The random part alone too: an escaped or truncated copy still shows it.
      const needles = [secret, secret.replace(/^Pw-/, '')];
      for (const line of lines) if (needles.some((n) => line.includes(n))) leaks.push(`${secret}: ${line}`);
    }
    assert.deepEqual(leaks, []);
  });
});
