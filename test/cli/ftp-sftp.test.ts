/**
 * `wharf ftp` over SFTP against a real Wharf: the host key is refused unless it matches
 * --host-key (checked against OpenSSH's own ssh-keyscan and ssh-keygen) or -k is given; files
 * go up and come back byte for byte; interrupted transfers resume at their offset; a wrong
 * password ends with exit 1 and is never printed.
 */
import assert from 'node:assert/strict';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProgram } from '../helpers/process.js';
import { assertNoPassword, sha256, startFtpTestServer, type FtpTestServer } from './ftp-harness.js';

describe('wharf ftp over SFTP', () => {
  let server: FtpTestServer;
  let big: string;

  before(async () => {
    server = await startFtpTestServer(['sftp']);
    big = await server.makeFile('big.bin', 3 * 1024 * 1024 + 777);
  });
  after(async () => {
    await server?.close();
  });

  it('refuses an unknown host key and prints its fingerprint; --host-key with that fingerprint (as OpenSSH computes it) is accepted', async () => {
    const refused = await server.ftp(['ls', server.url('sftp')]);
    assert.equal(refused.code, 1, refused.stderr);
    const m = /host key of 127\.0\.0\.1 is (SHA256:[A-Za-z0-9+/]{43})/.exec(refused.stderr);
    assert.ok(m, refused.stderr);
    const fingerprint = m[1];

    const scan = await runProgram('ssh-keyscan', ['-p', String(server.wharf.ports.sftp), '127.0.0.1'], { timeoutMs: 60_000 });
    const keys = path.join(server.dir, 'keyscan');
    await writeFile(keys, scan.stdout);
    const prints = await runProgram('ssh-keygen', ['-lf', keys]);
    assert.ok(prints.stdout.includes(fingerprint), `${fingerprint} among OpenSSH's fingerprints:\n${prints.stdout}`);

    const accepted = await server.ftp(['ls', server.url('sftp'), '--password-stdin', '--host-key', fingerprint]);
    assert.equal(accepted.code, 0, accepted.stderr);
    const wrongKey = await server.ftp(['ls', server.url('sftp'), '--password-stdin', '--host-key', `SHA256:${'A'.repeat(43)}`]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /not SHA256:A{43}/);
  });

  it('put, ls and get move the file unchanged', async () => {
    const put = await server.ftp(['put', big, server.url('sftp', 'up.bin'), '--password-stdin', '-k']);
    assert.equal(put.code, 0, put.stderr);
    const ls = await server.ftp(['ls', server.url('sftp'), '--password-stdin', '-k']);
    assert.equal(ls.code, 0, ls.stderr);
    const size = (await stat(big)).size;
    assert.match(ls.stdout, new RegExp(`^- +${size} .* up\\.bin$`, 'm'), ls.stdout);
    const local = path.join(server.dir, 'back.bin');
    const get = await server.ftp(['get', server.url('sftp', 'up.bin'), local, '--password-stdin', '-k']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await sha256(local), await sha256(big));
    for (const r of [put, ls, get]) assertNoPassword(r);
  });

  it('--resume continues an interrupted download at its offset', async () => {
    const put = await server.ftp(['put', big, server.url('sftp', 'resume-down.bin'), '--password-stdin', '-k']);
    assert.equal(put.code, 0, put.stderr);
    const local = path.join(server.dir, 'resume-down.bin');
    const first = await server.ftp(['get', server.url('sftp', 'resume-down.bin'), local, '--password-stdin', '-k']);
    assert.equal(first.code, 0, first.stderr);
    await truncate(local, 999_999);
    const resumed = await server.ftp(['get', server.url('sftp', 'resume-down.bin'), local, '--password-stdin', '-k', '-C']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(await sha256(local), await sha256(big));
  });

  it('--resume continues an interrupted upload at its offset', async () => {
    const whole = await readFile(big);
    const part = path.join(server.dir, 'part.bin');
    await writeFile(part, whole.subarray(0, 2_000_003));
    const first = await server.ftp(['put', part, server.url('sftp', 'resume-up.bin'), '--password-stdin', '-k']);
    assert.equal(first.code, 0, first.stderr);
    const resumed = await server.ftp(['put', big, server.url('sftp', 'resume-up.bin'), '--password-stdin', '-k', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const back = path.join(server.dir, 'resume-up-back.bin');
    const get = await server.ftp(['get', server.url('sftp', 'resume-up.bin'), back, '--password-stdin', '-k']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await sha256(back), await sha256(big));
  });

  it('a wrong password: exit 1, and the password is never printed', async () => {
    const wrong = 'not-the-password-78';
    const r = await server.ftp(['ls', server.url('sftp'), '--password-stdin', '-k', '--verbose'], `${wrong}\n`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^wharf: login refused/m);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), 'the password was printed');
  });

  it('a missing file: exit 1 with the server\'s message', async () => {
    const r = await server.ftp(['get', server.url('sftp', 'no-such-file.bin'), path.join(server.dir, 'x.bin'), '--password-stdin', '-k']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^wharf: open no-such-file\.bin failed: /m);
  });
});
