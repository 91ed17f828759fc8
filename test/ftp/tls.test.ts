/**
 * FTPS policy and the TLS data channel attacks (RFC 4217): with ftp.requireTls 'always' no
 * password and no file crosses the wire in the clear, and a data connection that does not
 * resume the control connection's TLS session gets nothing, even from the client's address.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { runProgram } from '../helpers/process.js';
import { PY_FTPLIB_PRELUDE } from './python-ftplib.js';
import { FtpTestClient, connectData, readAll, secureData } from './ftp-client.js';
import { FTP_PASSWORD, FTP_USER, startFtpWharf, type FtpWharf } from './wharf-ftp.js';

describe('FTPS with requireTls "always"', () => {
  let server: FtpWharf;
  const content = randomBytes(70_000);

  before(async () => {
    server = await startFtpWharf({ settings: { ftp: { requireTls: 'always' } } });
    // Put a file there over implicit FTPS.
    const c = await FtpTestClient.connect(server.ftps, { tls: true });
    await c.login(FTP_USER, FTP_PASSWORD);
    await c.expect('TYPE I', 200);
    await c.expect('PBSZ 0', 200);
    await c.expect('PROT P', 200);
    const { host, port } = await c.pasv();
    const plain = await connectData(host, port);
    await c.expect('STOR secret.bin', 150);
    const secured = await secureData(plain, c.tlsSession);
    await new Promise<void>((resolve) => secured.end(content, () => resolve()));
    assert.equal((await c.reply()).code, 226);
    c.close();
  });
  after(async () => {
    await server.close();
  });

  it('refuses USER before AUTH TLS with 530, even from loopback', async () => {
    const c = await FtpTestClient.connect(server.ftp);
    assert.equal((await c.cmd(`USER ${FTP_USER}`)).code, 530);
    assert.equal((await c.cmd(`PASS ${FTP_PASSWORD}`)).code, 503);
    assert.equal((await c.cmd('PROT P')).code, 503, 'PROT needs TLS');
    c.close();
    const r = await runProgram('curl', ['-sS', '--user', `${FTP_USER}:${FTP_PASSWORD}`, `ftp://127.0.0.1:${server.ftp}/`]);
    assert.notEqual(r.code, 0, 'curl without TLS is refused');
  });

  it('after AUTH TLS: PBSZ before PROT, PROT C refused, PROT P required for transfers, CCC refused', async () => {
    const c = await FtpTestClient.connect(server.ftp);
    await c.startTls();
    await c.login(FTP_USER, FTP_PASSWORD);
    assert.equal((await c.cmd('AUTH TLS')).code, 503);
    assert.equal((await c.cmd('PROT P')).code, 503, 'PBSZ first');
    assert.equal((await c.cmd('PBSZ 0')).text, 'PBSZ=0');
    assert.equal((await c.cmd('PROT C')).code, 534);
    assert.equal((await c.cmd('PROT S')).code, 536);
    assert.equal((await c.cmd('CCC')).code, 534);
    await c.pasv();
    assert.equal((await c.cmd('RETR secret.bin')).code, 521, 'clear data refused');
    await c.expect('PROT P', 200);
    await c.expect('TYPE I', 200);
    const { host, port } = await c.pasv();
    const plain = await connectData(host, port);
    await c.expect('RETR secret.bin', 150);
    const secured = await secureData(plain, c.tlsSession);
    assert.equal(secured.isSessionReused(), true);
    assert.ok((await readAll(secured)).equals(content));
    assert.equal((await c.reply()).code, 226);
    c.close();
    const r = await runProgram(
      'curl',
      ['-sS', '-k', '--ssl-reqd', '-o', '/dev/null', '-w', '%{size_download}', '--user', `${FTP_USER}:${FTP_PASSWORD}`, `ftp://127.0.0.1:${server.ftp}/secret.bin`],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, String(content.length));
  });

  for (const port of ['explicit', 'implicit'] as const) {
    it(`gives nothing to a TLS data connection that does not resume the session (${port})`, async () => {
      const c =
        port === 'explicit' ? await FtpTestClient.connect(server.ftp) : await FtpTestClient.connect(server.ftps, { tls: true });
      if (port === 'explicit') await c.startTls();
      await c.login(FTP_USER, FTP_PASSWORD);
      await c.expect('PBSZ 0', 200);
      await c.expect('PROT P', 200);
      await c.expect('TYPE I', 200);
      // The attacker takes the data port first, with a TLS session of its own.
      const { host, port: dataPort } = await c.pasv();
      const thief = await connectData(host, dataPort);
      await c.expect('RETR secret.bin', 150);
      const stolen = await secureData(thief, null)
        .then((s) => readAll(s))
        .catch(() => Buffer.alloc(0));
      assert.equal(stolen.length, 0);
      const refused = await c.reply();
      assert.equal(refused.code, 522, refused.lines.join());
      // The session goes on; the real client resumes the session and gets the file.
      const again = await c.pasv();
      const own = await connectData(again.host, again.port);
      await c.expect('RETR secret.bin', 150);
      const secured = await secureData(own, c.tlsSession);
      assert.ok((await readAll(secured)).equals(content));
      assert.equal((await c.reply()).code, 226);
      c.close();
    });
  }
});

describe('FTPS uploads: how the data ends, and TLS 1.2 sessions resumed by id', () => {
  // Long enough that an upload that waited for it cannot be mistaken for one that did not.
  const GRACE_MS = 3000;
  let server: FtpWharf;
  let work: string;

  before(async () => {
    server = await startFtpWharf({ settings: { ftp: { uploadCloseGraceMs: GRACE_MS } } });
    work = await makeTempDir('wharf-ftps-ends-');
  });
  after(async () => {
    await server.close();
    await removeDir(work);
  });

  it('curl over TLS 1.2 (session ids, no tickets) uploads, lists and downloads in one run', async () => {
    const a = randomBytes(50_000);
    const b = randomBytes(3_000);
    await writeFile(path.join(work, 'a.bin'), a);
    await writeFile(path.join(work, 'b.bin'), b);
    const base = `ftp://127.0.0.1:${server.ftp}/tls12/`;
    const common = ['-sS', '-k', '--ssl-reqd', '--tls-max', '1.2', '--user', `${FTP_USER}:${FTP_PASSWORD}`];
    // Every data connection of the run must resume the control connection's session: curl
    // resumes TLS 1.2 sessions by id only, so without the server's session cache all are 522.
    const started = Date.now();
    const up = await runProgram(
      'curl',
      [...common, '--ftp-create-dirs', '-T', path.join(work, 'a.bin'), `${base}a.bin`, '-T', path.join(work, 'b.bin'), `${base}b.bin`],
      { timeoutMs: 30_000 },
    );
    assert.equal(up.code, 0, up.stderr);
    // curl ends each upload's TLS with close_notify (and its FIN): neither waits for the grace.
    const upMs = Date.now() - started;
    assert.ok(upMs < GRACE_MS, `curl's uploads were not committed at once: ${upMs} ms`);
    const down = await runProgram(
      'curl',
      [...common, base, '-o', path.join(work, 'list.txt'), `${base}a.bin`, '-o', path.join(work, 'a.out'), `${base}b.bin`, '-o', path.join(work, 'b.out')],
      { timeoutMs: 30_000 },
    );
    assert.equal(down.code, 0, down.stderr);
    const names = (await readFile(path.join(work, 'list.txt'), 'utf8')).split(/\r?\n/).filter(Boolean).map((line) => line.split(' ').pop());
    assert.deepEqual(names.sort(), ['a.bin', 'b.bin']);
    assert.ok((await readFile(path.join(work, 'a.out'))).equals(a));
    assert.ok((await readFile(path.join(work, 'b.out'))).equals(b));
  });

  it('commits at once an upload ended by close_notify, and after the wait one ended by a bare TCP close', async () => {
    const script = `${PY_FTPLIB_PRELUDE}${String.raw`
out = {}
data = b'y' * 100000
t = ReusingFTP_TLS(context=ctx)
t.connect('127.0.0.1', port)
t.auth()
t.login(user, password)
t.prot_p()
# storbinary ends the data with close_notify (unwrap) before it reads the 226.
start = time.monotonic()
t.storbinary('STOR notify.bin', io.BytesIO(data))
out['close_notify_ms'] = (time.monotonic() - start) * 1000
# A client whose TLS data ends with its TCP FIN alone, as a killed one's does.
conn = t.transfercmd('STOR bare.bin')
conn.sendall(data)
start = time.monotonic()
socket.socket.shutdown(conn, socket.SHUT_WR)
out['bare_reply'] = t.voidresp()[:3]
out['bare_ms'] = (time.monotonic() - start) * 1000
conn.close()
t.voidcmd('TYPE I')
out['sizes'] = [t.size('notify.bin'), t.size('bare.bin')]
t.quit()
print(json.dumps(out))
`}`;
    const r = await runProgram('python3', ['-c', script, String(server.ftp), FTP_USER], { stdin: `${FTP_PASSWORD}\n`, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { close_notify_ms: number; bare_reply: string; bare_ms: number; sizes: number[] };
    assert.deepEqual(out.sizes, [100_000, 100_000]);
    assert.equal(out.bare_reply, '226');
    assert.ok(out.bare_ms >= GRACE_MS - 50, `a bare TCP close is given the wait: ${out.bare_ms} ms`);
    assert.ok(out.close_notify_ms < GRACE_MS - 1000, `close_notify needs no wait: ${out.close_notify_ms} ms`);
  });

  it('leaves no file when a TLS client is killed in the middle of STOR', async () => {
    const script = `${PY_FTPLIB_PRELUDE}${String.raw`
t = ReusingFTP_TLS(context=ctx)
t.connect('127.0.0.1', port)
t.auth()
t.login(user, password)
t.prot_p()
t.storbinary('STOR killed-tls.bin', Dying(), blocksize=8192)
`}`;
    const r = await runProgram('python3', ['-c', script, String(server.ftp), FTP_USER], { stdin: `${FTP_PASSWORD}\n`, timeoutMs: 30_000 });
    assert.equal(r.code, 128, `python should have been killed: ${r.stderr}`);
    const c = await FtpTestClient.connect(server.ftp);
    await c.login(FTP_USER, FTP_PASSWORD);
    // Past the wait: an upload taken for whole would be committed by then.
    const until = Date.now() + GRACE_MS + 1000;
    while (Date.now() < until) {
      const size = await c.cmd('SIZE killed-tls.bin');
      assert.equal(size.code, 550, `the upload was committed: ${size.text}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    c.close();
  });
});

describe('FTPS with tls.renewTickets: a new ticket on each resumed data connection', () => {
  let server: FtpWharf;
  let work: string;

  before(async () => {
    server = await startFtpWharf({ settings: { tls: { renewTickets: true } } });
    work = await makeTempDir('wharf-ftps-tickets-');
  });
  after(async () => {
    await server.close();
    await removeDir(work);
  });

  it('curl over TLS 1.3 lists and downloads several files in one run (a new ticket on each data connection)', async () => {
    const files = [randomBytes(20_000), randomBytes(1_000), randomBytes(70_000)];
    const base = `ftp://127.0.0.1:${server.ftp}/`;
    const common = ['-sS', '-k', '--ssl-reqd', '--tlsv1.3', '--user', `${FTP_USER}:${FTP_PASSWORD}`];
    for (const [i, content] of files.entries()) {
      await writeFile(path.join(work, `t${i}.bin`), content);
      const up = await runProgram('curl', [...common, '--ftp-create-dirs', '-T', path.join(work, `t${i}.bin`), `${base}t${i}.bin`], { timeoutMs: 30_000 });
      assert.equal(up.code, 0, up.stderr);
    }
    // Each data connection resumes with the newest ticket curl holds, which came on the data
    // connection before: without renewal the second transfer got a full handshake and 522.
    const args = [...common, base, '-o', path.join(work, 'list13.txt')];
    for (const i of files.keys()) args.push(`${base}t${i}.bin`, '-o', path.join(work, `t${i}.out`));
    const down = await runProgram('curl', args, { timeoutMs: 30_000 });
    assert.equal(down.code, 0, down.stderr);
    const names = (await readFile(path.join(work, 'list13.txt'), 'utf8')).split(/\r?\n/).filter(Boolean).map((line) => line.split(' ').pop());
    assert.deepEqual(names.sort(), ['t0.bin', 't1.bin', 't2.bin']);
    for (const [i, content] of files.entries()) assert.ok((await readFile(path.join(work, `t${i}.out`))).equals(content), `t${i}.bin`);
  });
});
