/**
 * SFTP through clients nobody here wrote: OpenSSH's sftp (batch mode, password through
 * sshpass, and a key registered with `wharf user key add`) and curl's sftp:// (libssh2).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { runProgram } from '../helpers/process.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { addUser, PASSWORD, scp, sftpBatch, USER } from './sftp-harness.js';

describe('SFTP with OpenSSH sftp and curl', () => {
  let wharf: WharfProcess;
  let dir: string;
  let port: number;
  const password = { password: PASSWORD };

  before(async () => {
    dir = await makeTempDir('wharf-sftp-openssh-');
    wharf = await startWharf();
    port = wharf.ports.sftp;
    await addUser(wharf);
  });
  after(async () => {
    await wharf?.stop();
    await wharf?.removeData();
    await removeDir(dir);
  });

  it('puts, lists, gets, renames, chmods, removes and reports df with a password login', async () => {
    const local = path.join(dir, 'report.bin');
    const content = randomBytes(300_000);
    await writeFile(local, content);
    const tool = path.join(dir, 'tool.sh');
    await writeFile(tool, '#!/bin/sh\n');
    await chmod(tool, 0o777);
    const back = path.join(dir, 'report-back.bin');
    const r = await sftpBatch(
      port,
      dir,
      [
        'pwd',
        'mkdir docs',
        `put ${tool} docs/tool.sh`,
        `put -p ${tool} docs/tool-p.sh`,
        'ls -l',
        `put ${local} docs/report.bin`,
        'ls -l docs',
        `get docs/report.bin ${back}`,
        'rename docs/report.bin docs/final.bin',
        'chmod 640 docs/final.bin',
        'ls -l docs',
        'df',
        'cd ..',
        'pwd',
      ],
      password,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Remote working directory: \/\n/);
    assert.match(r.stdout, /-rw-r--r-- .* 300000 .* report\.bin/);
    // Modes given at creation lose group and other write, as under sshd's umask (mkdir asks
    // for 0777, put for the local file's 0777); put -p sets the mode itself afterwards.
    assert.match(r.stdout, /\ndrwxr-xr-x .* docs\n/);
    assert.match(r.stdout, /\n-rwxr-xr-x .* tool\.sh\n/);
    assert.match(r.stdout, /\n-rwxrwxrwx .* tool-p\.sh\n/);
    assert.match(r.stdout, /-rw-r----- .* 300000 .* final\.bin/);
    // df: a header line and one line of numbers (statvfs@openssh.com answered).
    assert.match(r.stdout, /Size\s+Used\s+Avail\s+\(root\)\s+%Capacity\n\s*\d+\s+\d+\s+\d+\s+\d+\s+\d+%/);
    // ".." at the root stays at the root.
    assert.match(r.stdout, /cd \.\.\nsftp> pwd\nRemote working directory: \/\n/);
    assert.ok((await readFile(back)).equals(content), 'the file came back unchanged');

    const cleanup = await sftpBatch(port, dir, ['rm docs/final.bin', 'rm docs/tool.sh', 'rm docs/tool-p.sh', 'rmdir docs', 'ls -a'], password);
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assert.match(cleanup.stdout, /sftp> ls -a\n\.\s+\.\.\s*\n$/, 'only . and .. are left');
  });

  it('refuses symbolic links and folder removal errors with messages sftp shows', async () => {
    const r = await sftpBatch(port, dir, ['mkdir keep', 'put /etc/hostname keep/h', '-ln -s keep/h link', '-rmdir keep', '-rm nothing-here', 'ls'], password);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /remote symlink .*: Operation unsupported/);
    assert.match(r.stderr, /remote rmdir "\/keep": Failure/);
    assert.match(r.stderr, /No such file or directory/);
    assert.match(r.stdout, /sftp> ls\nkeep\s*\n$/, 'no link was made');
  });

  it('resumes an upload with reput and a download with reget', async () => {
    const full = randomBytes(1_000_000);
    const local = path.join(dir, 'big.bin');
    await writeFile(local, full.subarray(0, 400_000));
    const first = await sftpBatch(port, dir, [`put ${local} big.bin`], password);
    assert.equal(first.code, 0, first.stderr);
    // The rest of the file arrives: reput sends only what the server lacks.
    await writeFile(local, full);
    const resumed = await sftpBatch(port, dir, [`reput ${local} big.bin`, 'ls -l big.bin'], password);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, / 1000000 .* big\.bin/);

    const partial = path.join(dir, 'big-back.bin');
    await writeFile(partial, full.subarray(0, 123_456));
    const reget = await sftpBatch(port, dir, [`reget big.bin ${partial}`], password);
    assert.equal(reget.code, 0, reget.stderr);
    assert.ok((await readFile(partial)).equals(full), 'reput then reget give the original bytes');
  });

  it('copies a file on the server with cp (copy-data), and says why a copy fails', async () => {
    const content = randomBytes(700_000);
    const local = path.join(dir, 'original.bin');
    await writeFile(local, content);
    const back = path.join(dir, 'copy-back.bin');
    const r = await sftpBatch(
      port,
      dir,
      [`put ${local} original.bin`, 'cp original.bin copy.bin', 'ls -l copy.bin', `get copy.bin ${back}`, '-cp missing.bin x.bin', '-cp original.bin no-folder/x.bin'],
      password,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /does not support/);
    assert.match(r.stdout, / 700000 .* copy\.bin/);
    assert.match(r.stderr, /No such file or directory/);
    assert.ok((await readFile(back)).equals(content), 'the copy has the original bytes');
    const cleanup = await sftpBatch(port, dir, ['rm original.bin', 'rm copy.bin'], password);
    assert.equal(cleanup.code, 0, cleanup.stderr);
  });

  it('copies files and a folder tree with scp, which exits 0 only when the copy worked', async () => {
    // scp (SFTP since OpenSSH 9.0) takes a channel closed without an exit status for a failure,
    // however well the transfer went: the server sends one, as sshd does.
    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'inner'), { recursive: true });
    const content = randomBytes(400_000);
    await writeFile(path.join(tree, 'inner', 'data.bin'), content);
    await writeFile(path.join(tree, 'note.txt'), 'ketchup\n');
    const up = await scp(port, [path.join(tree, 'note.txt'), 'REMOTE:note.txt']);
    assert.equal(up.code, 0, up.stderr);
    const down = await scp(port, ['REMOTE:~/note.txt', path.join(dir, 'note-back.txt')]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await readFile(path.join(dir, 'note-back.txt'), 'utf8'), 'ketchup\n');
    const treeUp = await scp(port, ['-r', tree, 'REMOTE:']);
    assert.equal(treeUp.code, 0, treeUp.stderr);
    const treeDown = await scp(port, ['-r', 'REMOTE:tree', path.join(dir, 'tree-back')]);
    assert.equal(treeDown.code, 0, treeDown.stderr);
    assert.ok((await readFile(path.join(dir, 'tree-back', 'inner', 'data.bin'))).equals(content), 'the tree came back unchanged');
    const missing = await scp(port, ['REMOTE:no-such-file.bin', path.join(dir, 'nothing.bin')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such file or directory/);
    const cleanup = await sftpBatch(port, dir, ['rm note.txt', 'rm tree/inner/data.bin', 'rmdir tree/inner', 'rm tree/note.txt', 'rmdir tree'], password);
    assert.equal(cleanup.code, 0, cleanup.stderr);
  });

  it('refuses a wrong password', async () => {
    const r = await sftpBatch(port, dir, ['ls'], { password: 'not-the-password' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
  });

  it('logs in with a key added by `wharf user key add`, and not with another key', async () => {
    const key = path.join(dir, 'id_ed25519');
    const gen = await runProgram('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bob laptop', '-f', key]);
    assert.equal(gen.code, 0, gen.stderr);
    const other = path.join(dir, 'id_other');
    assert.equal((await runProgram('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other])).code, 0);

    const added = await wharf.cli(['user', 'key', 'add', USER], await readFile(key + '.pub', 'utf8'));
    assert.equal(added.code, 0, added.stderr);
    const fingerprint = (await runProgram('ssh-keygen', ['-lf', key + '.pub'])).stdout.split(' ')[1];
    assert.match(added.stdout, new RegExp(`added key ${fingerprint.replace(/[+/]/g, '\\$&')} \\(ssh-ed25519 bob laptop\\)`));
    const listed = await wharf.cli(['user', 'key', 'list', USER]);
    assert.match(listed.stdout, new RegExp(`^${fingerprint.replace(/[+/]/g, '\\$&')} ssh-ed25519 bob laptop `));

    const r = await sftpBatch(port, dir, ['put /etc/hostname by-key.txt', 'ls'], { keyFile: key });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /by-key\.txt/);

    const refused = await sftpBatch(port, dir, ['ls'], { keyFile: other });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Permission denied/);

    const removed = await wharf.cli(['user', 'key', 'remove', USER, fingerprint]);
    assert.equal(removed.code, 0, removed.stderr);
    const afterRemoval = await sftpBatch(port, dir, ['ls'], { keyFile: key });
    assert.notEqual(afterRemoval.code, 0);
    // An unregistered key is no failed login: the password still works at once.
    const stillFine = await sftpBatch(port, dir, ['ls'], password);
    assert.equal(stillFine.code, 0, stillFine.stderr);
  });

  it('serves curl sftp:// uploads, downloads and listings', async () => {
    const content = randomBytes(200_000);
    const local = path.join(dir, 'curl-up.bin');
    await writeFile(local, content);
    const base = `sftp://127.0.0.1:${port}`;
    const auth = ['-sS', '-k', '-u', `${USER}:${PASSWORD}`];
    const up = await runProgram('curl', [...auth, '--ftp-create-dirs', '-T', local, `${base}/curl/up.bin`], { timeoutMs: 120_000 });
    assert.equal(up.code, 0, up.stderr);
    const out = path.join(dir, 'curl-down.bin');
    const down = await runProgram('curl', [...auth, '-o', out, `${base}/curl/up.bin`], { timeoutMs: 120_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.ok((await readFile(out)).equals(content));
    const list = await runProgram('curl', [...auth, `${base}/curl/`], { timeoutMs: 120_000 });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /-rw-r--r-- .* 200000 .* up\.bin/);
    const missing = await runProgram('curl', [...auth, '-o', out, `${base}/curl/missing.bin`], { timeoutMs: 120_000 });
    // 78: CURLE_REMOTE_FILE_NOT_FOUND, from SSH_FX_NO_SUCH_FILE.
    assert.equal(missing.code, 78, missing.stderr);
  });
});
