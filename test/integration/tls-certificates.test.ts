/**
 * TLS as clients meet it on a running `wharf serve`: the policy (TLS 1.2 at least, forward
 * secret AEAD ciphers only, no renegotiation) on an implicit-TLS port and after STARTTLS, the certificate
 * chosen by the SNI name the client asks for, and SIGHUP taking renewed certificate files
 * for new handshakes while a session that is already up goes on.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateSelfSigned } from '../../src/net/tls.js';
import { connectData, FtpTestClient, readAll, secureData } from '../ftp/ftp-client.js';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const FTP_USER = 'erin@example.org';
const FTP_PASSWORD = 'files-over-tls';
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** Reads lines from a socket until one matches `done` (throws on close or after 10 s). */
function readUntil(socket: net.Socket, done: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (text.split('\r\n').some((line) => done.test(line))) finish();
    };
    const onClose = () => finish(new Error(`connection closed; got ${JSON.stringify(text)}`));
    const timer = setTimeout(() => finish(new Error(`no ${done} within 10 s; got ${JSON.stringify(text)}`)), 10_000);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

function connectPlain(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

type Handshake = { socket: tls.TLSSocket; fingerprint: string; protocol: string | null; cipher: string };

/** A TLS handshake with the client options given; rejects when the server refuses it. */
function handshake(options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', rejectUnauthorized: false, ...options }, () => {
      const peer = socket.getPeerCertificate();
      resolve({ socket, fingerprint: peer.fingerprint256, protocol: socket.getProtocol(), cipher: socket.getCipher().name });
    });
    socket.once('error', reject);
  });
}

/** SMTP submission: EHLO, STARTTLS, then the handshake on the same connection. */
async function smtpStartTls(port: number, options: tls.ConnectionOptions): Promise<Handshake> {
  const plain = await connectPlain(port);
  try {
    await readUntil(plain, /^220 /);
    plain.write('EHLO client.test\r\n');
    await readUntil(plain, /^250 /);
    plain.write('STARTTLS\r\n');
    await readUntil(plain, /^220 /);
    return await handshake({ socket: plain, ...options });
  } catch (err) {
    plain.destroy();
    throw err;
  }
}

/** POP3 STLS or IMAP STARTTLS, then the handshake on the same connection. */
async function mailboxStartTls(port: number, protocol: 'pop3' | 'imap', options: tls.ConnectionOptions): Promise<Handshake> {
  const plain = await connectPlain(port);
  try {
    if (protocol === 'pop3') {
      await readUntil(plain, /^\+OK/);
      plain.write('STLS\r\n');
      await readUntil(plain, /^\+OK/);
    } else {
      await readUntil(plain, /^\* OK/);
      plain.write('a STARTTLS\r\n');
      await readUntil(plain, /^a OK/);
    }
    return await handshake({ socket: plain, ...options });
  } catch (err) {
    plain.destroy();
    throw err;
  }
}

/** What a client-initiated TLS 1.2 renegotiation ends with: 'renegotiated' or the error. */
function renegotiate(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (err) => resolve(err.message));
    socket.once('close', () => resolve('closed'));
    const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? err.message : 'renegotiated'));
    if (!started) resolve('not started');
  });
}

/** An old or weak client: TLS 1.1 at most (OpenSSL 3 needs security level 0 to even offer it). */
const TLS11_ONLY: tls.ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };
/**
 * TLS 1.2 with one weak suite each: static RSA key exchange (no forward secrecy), and two
 * forward-secret CBC suites our ECDSA certificate could serve, which Node's own default list
 * (its "HIGH") accepts: only the configured list refuses them.
 */
const WEAK_CIPHERS = ['AES128-SHA', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384'];
const GOOD_TLS12: tls.ConnectionOptions = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' };

describe('TLS policy, SNI certificates and SIGHUP reload on wharf serve', () => {
  let wharf: WharfProcess;
  let dir: string;
  const files = (name: string) => ({ certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) });
  const pems: Record<string, { certPem: string; keyPem: string }> = {};

  async function writePair(name: string, hostname: string): Promise<void> {
    pems[name] = await generateSelfSigned(hostname);
    await writeFile(files(name).certFile, pems[name].certPem);
    await writeFile(files(name).keyFile, pems[name].keyPem, { mode: 0o600 });
  }

  before(async () => {
    dir = await makeTempDir('wharf-tls-');
    await Promise.all([
      writePair('default', 'default.test'),
      writePair('org', 'mail.example.org'),
      writePair('net', '*.example.net'),
      writePair('local', 'localhost'),
    ]);
    const config = {
      tls: {
        ...files('default'),
        certificates: [
          { hostnames: ['mail.example.org'], ...files('org') },
          { hostnames: ['*.example.net', 'example.net'], ...files('net') },
          // The FTP test client asks for "localhost".
          { hostnames: ['localhost'], ...files('local') },
        ],
      },
    };
    await writeFile(path.join(dir, 'wharf.json'), JSON.stringify(config));
    wharf = await startWharf({ env: { WHARF_CONFIG: path.join(dir, 'wharf.json') } });
    assert.equal((await wharf.cli(['domain', 'add', 'example.org'])).code, 0);
    assert.equal((await wharf.cli(['user', 'add', FTP_USER, '--password-stdin'], `${FTP_PASSWORD}\n`)).code, 0);
  });

  /** Uploads over a PROT P data connection, which must resume the control connection's TLS session. */
  async function upload(c: FtpTestClient, name: string): Promise<void> {
    const { host, port } = await c.pasv();
    const plain = await connectData(host, port);
    await c.expect(`STOR ${name}`, 150);
    const secured = await secureData(plain, c.tlsSession);
    await new Promise<void>((resolve) => secured.end(`contents of ${name}`, () => resolve()));
    assert.equal((await c.reply()).code, 226, name);
  }

  async function download(c: FtpTestClient, name: string): Promise<string> {
    const { host, port } = await c.pasv();
    const plain = await connectData(host, port);
    await c.expect(`RETR ${name}`, 150);
    const secured = await secureData(plain, c.tlsSession);
    const data = await readAll(secured);
    assert.equal((await c.reply()).code, 226, name);
    return data.toString();
  }

  async function reloadCertificates(): Promise<void> {
    const before = wharf.logs().filter((l) => l.includes('"tls certificates reloaded"')).length;
    process.kill(wharf.pid, 'SIGHUP');
    await wharf.waitForLog(() => wharf.logs().filter((l) => l.includes('"tls certificates reloaded"')).length > before);
  }

  after(async () => {
    await wharf?.stop();
    await wharf?.removeData();
    if (dir) await removeDir(dir);
  });

  for (const place of ['implicit TLS (imaps)', 'STARTTLS (submission)'] as const) {
    const connect = (options: tls.ConnectionOptions) =>
      place === 'implicit TLS (imaps)' ? handshake({ port: wharf.ports.imaps, ...options }) : smtpStartTls(wharf.ports.submission, options);

    it(`${place}: refuses TLS 1.1 and a non-forward-secret cipher, takes TLS 1.2 ECDHE-ECDSA-AES128-GCM`, async () => {
      await assert.rejects(connect(TLS11_ONLY), /protocol version|unsupported protocol|wrong version/i);
      for (const ciphers of WEAK_CIPHERS) {
        await assert.rejects(connect({ maxVersion: 'TLSv1.2', ciphers }), /handshake failure|no shared cipher|no ciphers/i, ciphers);
      }
      const good = await connect(GOOD_TLS12);
      assert.equal(good.protocol, 'TLSv1.2');
      assert.equal(good.cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
      // Renegotiation is refused (Node's own default allows a few per 10 minutes).
      assert.match(await renegotiate(good.socket), /no renegotiation/i);
      good.socket.destroy();
      const modern = await connect({});
      assert.equal(modern.protocol, 'TLSv1.3');
      modern.socket.destroy();
    });

    it(`${place}: serves the certificate of the name the client asks for`, async () => {
      const cases: Array<[string | undefined, string]> = [
        ['mail.example.org', 'org'],
        ['MAIL.example.org', 'org'],
        ['imap.example.net', 'net'],
        ['example.net', 'net'],
        ['a.b.example.net', 'default'],
        ['other.test', 'default'],
        [undefined, 'default'],
      ];
      for (const [servername, expected] of cases) {
        const got = await connect(servername ? { servername } : {});
        got.socket.destroy();
        assert.equal(got.fingerprint, fingerprint(pems[expected].certPem), `${servername ?? '(no SNI)'} → ${expected}`);
      }
    });
  }

  it('POP3 STLS and IMAP STARTTLS choose by SNI name too, with the same policy', async () => {
    for (const [protocol, port] of [['pop3', wharf.ports.pop3], ['imap', wharf.ports.imap]] as const) {
      for (const [servername, expected] of [['mail.example.org', 'org'], ['x.example.net', 'net'], [undefined, 'default']] as const) {
        const got = await mailboxStartTls(port, protocol, servername ? { servername } : {});
        got.socket.destroy();
        assert.equal(got.fingerprint, fingerprint(pems[expected].certPem), `${protocol} ${servername ?? '(no SNI)'}`);
      }
      await assert.rejects(mailboxStartTls(port, protocol, TLS11_ONLY), /protocol version|unsupported protocol|wrong version/i);
      await assert.rejects(mailboxStartTls(port, protocol, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }), /handshake failure/i);
    }
  });

  it('FTPS data connections resume the session of a control connection served by SNI, also across a reload', async () => {
    const implicit = await FtpTestClient.connect(wharf.ports.ftps, { tls: true });
    assert.equal((implicit.socket as tls.TLSSocket).getPeerCertificate().fingerprint256, fingerprint(pems.local.certPem));
    const explicit = await FtpTestClient.connect(wharf.ports.ftp);
    await explicit.startTls();
    assert.equal((explicit.socket as tls.TLSSocket).getPeerCertificate().fingerprint256, fingerprint(pems.local.certPem));
    for (const c of [implicit, explicit]) {
      await c.login(FTP_USER, FTP_PASSWORD);
      await c.expect('TYPE I', 200);
      await c.expect('PBSZ 0', 200);
      await c.expect('PROT P', 200);
    }
    await upload(implicit, 'one.txt');
    await upload(explicit, 'two.txt');
    await writePair('local', 'localhost');
    await reloadCertificates();
    // Control connections made before the reload: their data connections still resume.
    assert.equal(await download(implicit, 'two.txt'), 'contents of two.txt');
    assert.equal(await download(explicit, 'one.txt'), 'contents of one.txt');
    implicit.close();
    explicit.close();
    // A new one gets the new certificate, and its data connections resume too.
    const fresh = await FtpTestClient.connect(wharf.ports.ftps, { tls: true });
    assert.equal((fresh.socket as tls.TLSSocket).getPeerCertificate().fingerprint256, fingerprint(pems.local.certPem));
    await fresh.login(FTP_USER, FTP_PASSWORD);
    await fresh.expect('PBSZ 0', 200);
    await fresh.expect('PROT P', 200);
    await upload(fresh, 'three.txt');
    fresh.close();
  });

  it('SIGHUP: new handshakes get the renewed certificates, an open session goes on', async () => {
    const oldOrg = fingerprint(pems.org.certPem);
    const oldDefault = fingerprint(pems.default.certPem);
    const session = await handshake({ port: wharf.ports.imaps, servername: 'mail.example.org' });
    assert.equal(session.fingerprint, oldOrg);
    await readUntil(session.socket, /^\* OK/);
    session.socket.write('a1 NOOP\r\n');
    await readUntil(session.socket, /^a1 OK/);

    await Promise.all([writePair('org', 'mail.example.org'), writePair('default', 'default.test')]);
    assert.notEqual(fingerprint(pems.org.certPem), oldOrg);
    await reloadCertificates();
    const reloaded = [...wharf.logs()].reverse().map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.event === 'tls certificates reloaded')!;
    const logged = reloaded.certificates as Array<{ hostnames: unknown; fingerprint: string }>;
    assert.ok(logged.some((c) => c.fingerprint === fingerprint(pems.org.certPem)));
    assert.ok(!JSON.stringify(reloaded).includes('PRIVATE KEY'), 'no key material in the log');

    const fresh = await handshake({ port: wharf.ports.imaps, servername: 'mail.example.org' });
    assert.equal(fresh.fingerprint, fingerprint(pems.org.certPem));
    fresh.socket.destroy();
    const noSni = await handshake({ port: wharf.ports.imaps });
    assert.equal(noSni.fingerprint, fingerprint(pems.default.certPem));
    assert.notEqual(noSni.fingerprint, oldDefault);
    noSni.socket.destroy();
    const upgraded = await smtpStartTls(wharf.ports.submission, { servername: 'mail.example.org' });
    assert.equal(upgraded.fingerprint, fingerprint(pems.org.certPem));
    upgraded.socket.destroy();

    // The session made before the reload still answers, on its old certificate.
    session.socket.write('a2 NOOP\r\n');
    await readUntil(session.socket, /^a2 OK/);
    session.socket.write('a3 LOGOUT\r\n');
    await readUntil(session.socket, /^a3 OK/);
    session.socket.destroy();
    assert.ok(wharf.alive());
  });

  it('SIGHUP with a key that does not match its certificate keeps the current certificates', async () => {
    const current = fingerprint(pems.org.certPem);
    const stray = await generateSelfSigned('mail.example.org');
    await writeFile(files('org').keyFile, stray.keyPem);
    process.kill(wharf.pid, 'SIGHUP');
    await wharf.waitForLog((r) => r.event === 'tls certificates not reloaded; keeping the current ones');
    const got = await handshake({ port: wharf.ports.imaps, servername: 'mail.example.org' });
    got.socket.destroy();
    assert.equal(got.fingerprint, current);
    assert.ok(wharf.alive());
  });
});

describe('SIGHUP with the generated self-signed certificate', () => {
  let wharf: WharfProcess;

  before(async () => {
    wharf = await startWharf();
  });
  after(async () => {
    await wharf?.stop();
    await wharf?.removeData();
  });

  it('re-reads the self-signed pair from the data folder', async () => {
    const certFile = path.join(wharf.dataDir, 'tls', 'self-signed.crt');
    const first = await handshake({ port: wharf.ports.pop3s });
    first.socket.destroy();
    const replacement = await generateSelfSigned('renewed.test');
    await writeFile(certFile, replacement.certPem);
    await writeFile(path.join(wharf.dataDir, 'tls', 'self-signed.key'), replacement.keyPem);
    process.kill(wharf.pid, 'SIGHUP');
    await wharf.waitForLog((r) => r.event === 'tls certificates reloaded');
    const second = await handshake({ port: wharf.ports.pop3s });
    second.socket.destroy();
    assert.notEqual(second.fingerprint, first.fingerprint);
    assert.equal(second.fingerprint, fingerprint(replacement.certPem));
  });
});
