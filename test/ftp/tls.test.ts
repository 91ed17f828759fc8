/**
 * FTPS policy and the TLS data channel attacks (RFC 4217): with ftp.requireTls 'always' no
 * password and no file crosses the wire in the clear, and a data connection that does not
 * resume the control connection's TLS session gets nothing, even from the client's address.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runProgram } from '../helpers/process.js';
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
