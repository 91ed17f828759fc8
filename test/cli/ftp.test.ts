/**
 * `wharf ftp` over FTP and FTPS against a real Wharf: ftp:// with AUTH TLS (offered by Wharf,
 * so taken), ftp:// with --no-tls (plain FTP is allowed from loopback), ftps:// with implicit
 * TLS. Files go up and come back byte for byte (SHA-256); a file our client uploaded is read
 * back with curl, a client no one here wrote. An interrupted download and upload are resumed
 * (REST + RETR, APPE). A wrong password ends with exit 1 and the server's own 530 reply, and
 * the password never appears in any output, --verbose included.
 */
import assert from 'node:assert/strict';
import { stat, truncate, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WHARF_MAIN } from '../helpers/cli.js';
import { runProgram } from '../helpers/process.js';
import { assertNoPassword, PASSWORD, sha256, startFtpTestServer, USER, type FtpTestServer } from './ftp-harness.js';

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('wharf ftp over FTP and FTPS', () => {
  let server: FtpTestServer;
  let big: string;

  before(async () => {
    server = await startFtpTestServer(['ftp', 'ftps']);
    // Several data-connection buffers' worth, and not a multiple of any of them.
    big = await server.makeFile('big.bin', 3 * 1024 * 1024 + 12345);
  });
  after(async () => {
    await server?.close();
  });

  for (const { name, scheme, args } of [
    { name: 'ftp:// with AUTH TLS', scheme: 'ftp' as const, args: ['-k'] },
    { name: 'ftp:// in the clear (--no-tls)', scheme: 'ftp' as const, args: ['--no-tls'] },
    { name: 'ftps:// (implicit TLS)', scheme: 'ftps' as const, args: ['-k'] },
  ]) {
    it(`${name}: put, ls and get move the file unchanged`, async () => {
      const remote = `${scheme}-${args.join('')}.bin`;
      const put = await server.ftp(['put', big, server.url(scheme, remote), '--password-stdin', ...args]);
      assert.equal(put.code, 0, put.stderr);
      assert.equal(put.stdout, '');

      const ls = await server.ftp(['ls', server.url(scheme), '--password-stdin', ...args]);
      assert.equal(ls.code, 0, ls.stderr);
      const size = (await stat(big)).size;
      const line = ls.stdout.split('\n').find((l) => l.endsWith(` ${remote}`));
      assert.ok(line, `${remote} in the listing:\n${ls.stdout}`);
      assert.match(line, new RegExp(`^- +${size} `), 'a file with its size');

      const local = path.join(server.dir, `back-${remote}`);
      const get = await server.ftp(['get', server.url(scheme, remote), local, '--password-stdin', ...args]);
      assert.equal(get.code, 0, get.stderr);
      assert.equal(await sha256(local), await sha256(big));
      for (const r of [put, ls, get]) assertNoPassword(r);
      // Standard error is a pipe here, not a terminal: no progress bar.
      assert.equal(put.stderr + get.stderr, '');
    });
  }

  it('draws a progress bar on standard error when it is a terminal', async () => {
    const put = await server.ftp(['put', big, server.url('ftp', 'bar.bin'), '--password-stdin', '-k']);
    assert.equal(put.code, 0, put.stderr);
    const passwordFile = path.join(server.dir, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const local = path.join(server.dir, 'bar-back.bin');
    // script(1) runs the command on a pseudo-terminal and copies what it printed.
    const command = [process.execPath, WHARF_MAIN, 'ftp', 'get', server.url('ftp', 'bar.bin'), local, '--password-stdin', '-k'].map(shellQuote).join(' ');
    const r = await runProgram('script', ['-qec', `${command} < ${shellQuote(passwordFile)}`, '/dev/null'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /\rbar\.bin \[#+\] 100% 3\.0 MiB\/3\.0 MiB /, JSON.stringify(r.stdout.slice(-300)));
    assert.equal(await sha256(local), await sha256(big));
  });

  it('--verbose shows the dialogue: AUTH TLS, PASS masked, PBSZ/PROT P, EPSV, data TLS resuming the session', async () => {
    const r = await server.ftp(['put', big, server.url('ftp', 'verbose.bin'), '--password-stdin', '-k', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n');
    for (const expected of [/^S: 220/, /^C: AUTH TLS$/, /^S: 234/, /^\*: TLS started: TLSv1\.[23] /, /^C: USER carla@hamburger\.edu$/, /^C: PASS \*\*\*\*$/, /^S: 230/, /^C: PBSZ 0$/, /^C: PROT P$/, /^C: TYPE I$/, /^C: EPSV$/, /^S: 229 /, /^C: STOR verbose\.bin$/, /^S: 150/, /^\*: data connection: TLS, session reused$/, /^S: 226/]) {
      assert.ok(lines.some((l) => expected.test(l)), `${expected} in:\n${r.stderr}`);
    }
    assertNoPassword(r);
  });

  it('a file put with wharf ftp reads back the same with curl', async () => {
    const put = await server.ftp(['put', big, server.url('ftp', 'for-curl.bin'), '--password-stdin', '-k']);
    assert.equal(put.code, 0, put.stderr);
    const out = path.join(server.dir, 'from-curl.bin');
    const netrc = path.join(server.dir, 'netrc');
    await writeFile(netrc, `machine 127.0.0.1 login ${USER} password ${PASSWORD}\n`, { mode: 0o600 });
    const curl = await runProgram('curl', ['-sS', '--netrc-file', netrc, '--ssl-reqd', '-k', '-o', out, `ftp://127.0.0.1:${server.wharf.ports.ftp}/for-curl.bin`], { timeoutMs: 120_000 });
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(await sha256(out), await sha256(big));
  });

  it('--resume continues an interrupted download with REST', async () => {
    const put = await server.ftp(['put', big, server.url('ftp', 'resume-down.bin'), '--password-stdin', '-k']);
    assert.equal(put.code, 0, put.stderr);
    const local = path.join(server.dir, 'resume-down.bin');
    const first = await server.ftp(['get', server.url('ftp', 'resume-down.bin'), local, '--password-stdin', '-k']);
    assert.equal(first.code, 0, first.stderr);
    // What a transfer cut off after 1,000,001 bytes leaves behind.
    await truncate(local, 1_000_001);
    const resumed = await server.ftp(['get', server.url('ftp', 'resume-down.bin'), local, '--password-stdin', '-k', '--resume', '--verbose']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /^C: REST 1000001$/m);
    assert.match(resumed.stderr, /^S: 350/m);
    assert.equal(await sha256(local), await sha256(big));

    const again = await server.ftp(['get', server.url('ftp', 'resume-down.bin'), local, '--password-stdin', '-k', '-C']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already complete/);
  });

  it('--resume continues an interrupted upload with APPE', async () => {
    const whole = await readFile(big);
    const part = path.join(server.dir, 'part.bin');
    await writeFile(part, whole.subarray(0, 1_234_567));
    // The first attempt got 1,234,567 bytes onto the server.
    const first = await server.ftp(['put', part, server.url('ftps', 'resume-up.bin'), '--password-stdin', '-k']);
    assert.equal(first.code, 0, first.stderr);
    const resumed = await server.ftp(['put', big, server.url('ftps', 'resume-up.bin'), '--password-stdin', '-k', '--resume', '--verbose']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /^S: 213 1234567$/m, 'SIZE told where to go on');
    assert.match(resumed.stderr, /^C: APPE resume-up\.bin$/m);
    assert.match(resumed.stderr, new RegExp(`^S: 213 ${whole.length}$`, 'm'), 'the server has the whole file');

    const back = path.join(server.dir, 'resume-up-back.bin');
    const get = await server.ftp(['get', server.url('ftps', 'resume-up.bin'), back, '--password-stdin', '-k']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await sha256(back), await sha256(big));
  });

  it('a wrong password: exit 1 with the server\'s 530, and the password is never printed', async () => {
    const wrong = 'not-the-password-77';
    const r = await server.ftp(['ls', server.url('ftp'), '--password-stdin', '-k', '--verbose'], `${wrong}\n`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^wharf: login refused: 530 /m);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), 'the password was printed');
    assert.match(r.stderr, /^C: PASS \*\*\*\*$/m);
  });

  it('a missing file: exit 1 with the server\'s 550, and no local file is made', async () => {
    const local = path.join(server.dir, 'never.bin');
    const r = await server.ftp(['get', server.url('ftp', 'no-such-file.bin'), local, '--password-stdin', '-k']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^wharf: RETR failed: 550 /m);
    await assert.rejects(stat(local), { code: 'ENOENT' });
  });

  it('checks the certificate unless -k: Wharf\'s self-signed one is refused', async () => {
    const r = await server.ftp(['ls', server.url('ftps'), '--password-stdin']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TLS handshake failed: .*(self[- ]signed|certificate)/i);
  });

  it('usage errors exit 2: a password in the URL, an unknown scheme, no password source', async () => {
    const inUrl = await server.ftp(['ls', `ftp://carla:secret@127.0.0.1:${server.wharf.ports.ftp}/`, '--password-stdin']);
    assert.equal(inUrl.code, 2);
    assert.match(inUrl.stderr, /password in the URL/);
    assert.ok(!inUrl.stderr.includes('secret'));
    const scheme = await server.ftp(['ls', 'http://127.0.0.1/', '--password-stdin']);
    assert.equal(scheme.code, 2);
    const noTty = await server.ftp(['ls', server.url('ftp')], '');
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /--password-stdin/);
  });
});
