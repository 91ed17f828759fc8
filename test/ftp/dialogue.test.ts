/**
 * FTP dialogues over raw sockets against the in-process server: every command, every reply
 * code of the error paths, and path escapes. Data connections are made by hand.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FtpTestClient, readAll, writeAndEnd } from './ftp-client.js';
import { PASSWORD, startFtpHarness, type FtpHarness } from './harness.js';

let h: FtpHarness;

async function loggedIn(): Promise<FtpTestClient> {
  const c = await FtpTestClient.connect(h.ftpPort);
  await c.login('bob', PASSWORD);
  await c.expect('TYPE I', 200);
  return c;
}

export async function upload(c: FtpTestClient, command: string, data: Buffer | string): Promise<void> {
  const socket = await c.openPassive();
  const preliminary = await c.cmd(command);
  assert.equal(preliminary.code, 150, preliminary.lines.join('\n'));
  await writeAndEnd(socket, data);
  const done = await c.reply();
  assert.equal(done.code, 226, done.lines.join('\n'));
}

export async function download(c: FtpTestClient, command: string): Promise<Buffer> {
  const socket = await c.openPassive();
  const received = readAll(socket);
  const preliminary = await c.cmd(command);
  assert.equal(preliminary.code, 150, preliminary.lines.join('\n'));
  const data = await received;
  const done = await c.reply();
  assert.equal(done.code, 226, done.lines.join('\n'));
  return data;
}

describe('FTP dialogue', () => {
  before(async () => {
    h = await startFtpHarness();
  });
  after(async () => {
    await h.close();
  });

  it('logs in with USER/PASS and refuses what comes before or goes wrong', async () => {
    const c = await FtpTestClient.connect(h.ftpPort);
    assert.equal((await c.cmd('PWD')).code, 530);
    assert.equal((await c.cmd('LIST')).code, 530);
    assert.equal((await c.cmd('PASS x')).code, 503);
    assert.equal((await c.cmd('USER bob')).code, 331);
    assert.equal((await c.cmd('PASS wrong')).code, 530);
    assert.equal((await c.cmd('PWD')).code, 530);
    assert.equal((await c.cmd('USER anonymous')).code, 530, 'anonymous is off by default');
    assert.equal((await c.cmd('XYZZY')).code, 500);
    assert.equal((await c.cmd('REIN')).code, 502);
    assert.equal((await c.cmd('ACCT x')).code, 503);
    await c.login('bob', PASSWORD);
    assert.equal((await c.cmd('ACCT x')).code, 202);
    assert.equal((await c.cmd('USER bob')).code, 503);
    assert.equal((await c.cmd('PWD')).text, '"/" is the current directory');
    assert.equal((await c.cmd('QUIT')).code, 221);
    await c.waitClosed();
  });

  it('answers SYST, FEAT, OPTS, HELP, NOOP, STAT, TYPE, MODE, STRU, ALLO', async () => {
    const c = await loggedIn();
    assert.equal((await c.cmd('SYST')).text, 'UNIX Type: L8');
    const feat = await c.cmd('FEAT');
    assert.equal(feat.code, 211);
    for (const f of ['AUTH TLS', 'PBSZ', 'PROT', 'EPRT', 'EPSV', 'MDTM', 'REST STREAM', 'SIZE', 'UTF8']) {
      assert.ok(feat.lines.includes(` ${f}`), f);
    }
    assert.ok(feat.lines.some((l) => l.startsWith(' MLST type*;size*;modify*;')));
    assert.equal((await c.cmd('OPTS UTF8 ON')).code, 200);
    assert.equal((await c.cmd('OPTS MLST type;size;')).code, 200);
    assert.equal((await c.cmd('OPTS NOPE')).code, 501);
    const help = await c.cmd('HELP');
    assert.equal(help.code, 214);
    assert.ok(help.lines.some((l) => /\bRETR\b/.test(l)), help.lines.join('|'));
    assert.equal((await c.cmd('HELP retr')).text, 'Syntax: RETR <sp> pathname');
    assert.equal((await c.cmd('HELP XYZZY')).code, 502);
    assert.equal((await c.cmd('NOOP')).code, 200);
    assert.equal((await c.cmd('STAT')).code, 211);
    assert.equal((await c.cmd('TYPE A')).code, 200);
    assert.equal((await c.cmd('TYPE A N')).code, 200);
    assert.equal((await c.cmd('TYPE I')).code, 200);
    assert.equal((await c.cmd('TYPE L 8')).code, 200);
    assert.equal((await c.cmd('TYPE E')).code, 504);
    assert.equal((await c.cmd('TYPE A T')).code, 504);
    assert.equal((await c.cmd('TYPE Q')).code, 501);
    assert.equal((await c.cmd('MODE S')).code, 200);
    assert.equal((await c.cmd('MODE B')).code, 504);
    assert.equal((await c.cmd('STRU F')).code, 200);
    assert.equal((await c.cmd('STRU R')).code, 504);
    assert.equal((await c.cmd('STRU P')).code, 504);
    assert.equal((await c.cmd('ALLO 1000')).code, 202);
    assert.equal((await c.cmd('CCC')).code, 534);
    assert.equal((await c.cmd('PBSZ 0')).code, 503, 'PBSZ needs TLS');
    assert.equal((await c.cmd('AUTH KERBEROS')).code, 504);
    c.close();
  });

  it('manages folders and names: MKD, CWD, CDUP, PWD, RMD, DELE, RNFR/RNTO, SIZE, MDTM, MFMT, SITE CHMOD', async () => {
    const c = await loggedIn();
    assert.equal((await c.cmd('MKD docs')).text, '"/docs" created');
    assert.equal((await c.cmd('MKD docs')).code, 550);
    assert.equal((await c.cmd('MKD missing/child')).code, 550);
    assert.equal((await c.cmd('CWD docs')).code, 250);
    assert.equal((await c.cmd('XPWD')).text, '"/docs" is the current directory');
    await upload(c, 'STOR a "quoted" name.txt', 'hello');
    assert.equal((await c.cmd('SIZE a "quoted" name.txt')).text, '5');
    assert.match((await c.cmd('MDTM /docs/a "quoted" name.txt')).text, /^\d{14}$/);
    assert.equal((await c.cmd('MFMT 20200102030405 a "quoted" name.txt')).code, 213);
    assert.equal((await c.cmd('MDTM a "quoted" name.txt')).text, '20200102030405');
    assert.equal((await c.cmd('MFMT 2020 x')).code, 501);
    assert.equal((await c.cmd('SITE CHMOD 600 a "quoted" name.txt')).code, 200);
    const mlst = await c.cmd('MLST a "quoted" name.txt');
    assert.equal(mlst.code, 250);
    assert.equal(mlst.lines[1], ' type=file;size=5;modify=20200102030405;perm=adfrw;unix.mode=0600; /docs/a "quoted" name.txt');
    assert.equal((await c.cmd('SITE CHMOD 99 x')).code, 501);
    assert.equal((await c.cmd('SITE EXEC ls')).code, 500);
    assert.equal((await c.cmd('SIZE nothing')).code, 550);
    assert.equal((await c.cmd('SIZE /docs')).code, 550);
    assert.equal((await c.cmd('RNTO b')).code, 503, 'RNTO without RNFR');
    assert.equal((await c.cmd('RNFR nothing')).code, 550);
    assert.equal((await c.cmd('RNFR a "quoted" name.txt')).code, 350);
    assert.equal((await c.cmd('NOOP')).code, 200);
    assert.equal((await c.cmd('RNTO b.txt')).code, 503, 'RNTO must follow RNFR at once');
    assert.equal((await c.cmd('RNFR a "quoted" name.txt')).code, 350);
    assert.equal((await c.cmd('RNTO b.txt')).code, 250);
    assert.equal((await c.cmd('CWD b.txt')).text, 'Failed to change directory: not a folder');
    assert.equal((await c.cmd('CWD nothing')).text, 'Failed to change directory: no such folder');
    assert.equal((await c.cmd('CDUP')).code, 250);
    assert.equal((await c.cmd('PWD')).text, '"/" is the current directory');
    assert.equal((await c.cmd('RMD docs')).code, 550, 'not empty');
    assert.equal((await c.cmd('DELE docs')).code, 550, 'a folder');
    assert.equal((await c.cmd('DELE docs/b.txt')).code, 250);
    assert.equal((await c.cmd('DELE docs/b.txt')).code, 550);
    assert.equal((await c.cmd('RMD docs')).code, 250);
    assert.equal((await c.cmd('CWD docs')).code, 550);
    assert.equal((await c.cmd('CWD')).code, 501);
    c.close();
  });

  it('keeps every path inside the space: .., absolute paths, backslashes, NUL bytes', async () => {
    const c = await loggedIn();
    assert.equal((await c.cmd('CWD ../../..')).code, 250);
    assert.equal((await c.cmd('PWD')).text, '"/" is the current directory');
    assert.equal((await c.cmd('CWD /../../etc')).code, 550);
    assert.equal((await c.cmd('MKD ../../escape')).text, '"/escape" created');
    assert.equal((await c.cmd('CWD ..\\..\\escape')).code, 250);
    assert.equal((await c.cmd('PWD')).text, '"/escape" is the current directory');
    assert.equal((await c.cmd('SIZE /etc/passwd')).code, 550);
    const nul = await c.cmd(Buffer.from('MKD bad\u0000name\r\n'));
    assert.ok(nul.code === 550 || nul.code === 553, nul.lines.join());
    const ctl = await c.cmd(Buffer.from('MKD bad\u0007name\r\n'));
    assert.equal(ctl.code, 553);
    const badUtf8 = await c.cmd(Buffer.concat([Buffer.from('MKD bad'), Buffer.from([0xc3, 0x28]), Buffer.from('\r\n')]));
    assert.equal(badUtf8.code, 553);
    assert.deepEqual((await h.files.list(h.space, '/escape')).map((f) => f.name), []);
    assert.deepEqual((await h.files.list(h.space, '/')).map((f) => f.name), ['escape']);
    assert.equal((await c.cmd('RMD /escape')).code, 250);
    c.close();
  });

  it('stores and retrieves files in TYPE I and TYPE A, with REST, APPE and STOU', async () => {
    const c = await loggedIn();
    const binary = Buffer.from([0, 1, 2, 13, 10, 255, 10, 13]);
    await upload(c, 'STOR bin.dat', binary);
    assert.deepEqual(h.files.get(h.space, '/bin.dat'), binary);
    assert.deepEqual(await download(c, 'RETR bin.dat'), binary);
    assert.equal((await c.cmd('REST 3')).code, 350);
    assert.deepEqual(await download(c, 'RETR bin.dat'), binary.subarray(3));
    assert.equal((await c.cmd('REST 100')).code, 350);
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('RETR bin.dat')).code, 554);

    assert.equal((await c.cmd('TYPE A')).code, 200);
    await upload(c, 'STOR text.txt', 'one\r\ntwo\r\nbare\rcr\r\n');
    assert.equal(h.files.get(h.space, '/text.txt')?.toString(), 'one\ntwo\nbare\rcr\n');
    assert.equal((await download(c, 'RETR text.txt')).toString(), 'one\r\ntwo\r\nbare\rcr\r\n');
    assert.equal((await c.cmd('SIZE text.txt')).code, 550, 'SIZE is refused in TYPE A');
    assert.equal((await c.cmd('TYPE I')).code, 200);
    assert.equal((await c.cmd('SIZE text.txt')).text, '16');

    await upload(c, 'APPE text.txt', 'three\n');
    assert.equal(h.files.get(h.space, '/text.txt')?.toString(), 'one\ntwo\nbare\rcr\nthree\n');
    await upload(c, 'APPE new.txt', 'fresh');
    assert.equal(h.files.get(h.space, '/new.txt')?.toString(), 'fresh');
    assert.equal((await c.cmd('REST 2')).code, 350);
    await upload(c, 'STOR new.txt', 'ESH!');
    assert.equal(h.files.get(h.space, '/new.txt')?.toString(), 'frESH!');

    const socket = await c.openPassive();
    const stou = await c.cmd('STOU new.txt');
    assert.equal(stou.code, 150);
    assert.equal(stou.text, 'FILE: new.txt.1');
    await writeAndEnd(socket, 'unique');
    assert.equal((await c.reply()).code, 226);
    assert.equal(h.files.get(h.space, '/new.txt.1')?.toString(), 'unique');

    assert.equal((await c.cmd('RETR nothing')).code, 425, 'no PASV/PORT yet');
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('RETR nothing')).code, 550);
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('STOR missing/x')).code, 550);
    assert.equal((await c.cmd('STOR')).code, 501);
    c.close();
  });

  it('lists with LIST, NLST, MLSD, MLST and STAT <path>', async () => {
    const c = await loggedIn();
    assert.equal((await c.cmd('MKD list')).code, 257);
    assert.equal((await c.cmd('CWD list')).code, 250);
    await upload(c, 'STOR b.txt', '12345');
    assert.equal((await c.cmd('MKD a-folder')).code, 257);
    const list = (await download(c, 'LIST -la')).toString();
    const lines = list.split('\r\n').filter(Boolean);
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^drwxr-xr-x +2 ftp +ftp +4096 \w{3} \d\d +[\d:]+ a-folder$/);
    assert.match(lines[1], /^-rw-r--r-- +1 ftp +ftp +5 \w{3} \d\d +[\d:]+ b\.txt$/);
    assert.equal((await download(c, 'NLST')).toString(), 'a-folder\r\nb.txt\r\n');
    assert.match((await download(c, 'LIST b.txt')).toString(), / b\.txt\r\n$/);
    const mlsd = (await download(c, 'MLSD /list')).toString().split('\r\n').filter(Boolean);
    assert.equal(mlsd.length, 3);
    assert.match(mlsd[0], /^type=cdir;modify=\d{14};perm=flcdmpe;unix\.mode=0755; \.$/);
    assert.match(mlsd[1], /^type=dir;.* a-folder$/);
    assert.match(mlsd[2], /^type=file;size=5;.* b\.txt$/);
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('MLSD b.txt')).code, 550, 'MLSD needs a folder');
    const stat = await c.cmd('STAT /list');
    assert.equal(stat.code, 213);
    assert.equal(stat.lines.length, 4);
    assert.equal((await c.cmd('STAT /nothing')).code, 550);
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('LIST /nothing')).code, 550);
    c.close();
  });

  it('lists what "*" and "?" match with LIST, NLST and STAT, and names NLST entries by the path asked for', async () => {
    const c = await loggedIn();
    assert.equal((await c.cmd('MKD glob')).code, 257);
    await upload(c, 'STOR glob/a.txt', 'a');
    await upload(c, 'STOR glob/b.txt', 'bb');
    await upload(c, 'STOR glob/c.log', 'ccc');
    assert.equal((await download(c, 'NLST glob')).toString(), 'glob/a.txt\r\nglob/b.txt\r\nglob/c.log\r\n');
    assert.equal((await download(c, 'NLST glob/')).toString(), 'glob/a.txt\r\nglob/b.txt\r\nglob/c.log\r\n');
    assert.equal((await download(c, 'NLST glob/*.txt')).toString(), 'glob/a.txt\r\nglob/b.txt\r\n');
    assert.equal((await download(c, 'NLST glob/c.log')).toString(), 'glob/c.log\r\n');
    assert.equal((await download(c, 'NLST glob/nothing*')).toString(), '', 'no match is an empty listing');
    const list = (await download(c, 'LIST glob/?.log')).toString();
    assert.match(list, /^-rw-r--r-- .* 3 .* c\.log\r\n$/);
    assert.equal((await c.cmd('CWD glob')).code, 250);
    assert.equal((await download(c, 'NLST')).toString(), 'a.txt\r\nb.txt\r\nc.log\r\n');
    assert.equal((await download(c, 'NLST .')).toString(), 'a.txt\r\nb.txt\r\nc.log\r\n');
    assert.equal((await download(c, 'NLST *.log')).toString(), 'c.log\r\n');
    const stat = await c.cmd('STAT *.txt');
    assert.equal(stat.code, 213);
    assert.equal(stat.lines.length, 4);
    // MLSD never globs (RFC 3659 section 2.2.2); nor does anything in a folder that is not there.
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('MLSD *')).code, 550);
    assert.equal((await c.cmd('PASV')).code, 227);
    assert.equal((await c.cmd('NLST nothing/*.txt')).code, 550);
    c.close();
  });

  it('shows only the MLSx facts OPTS MLST selected (RFC 3659 section 7.9), and says which in FEAT', async () => {
    const c = await loggedIn();
    assert.equal((await c.cmd('MKD facts')).code, 257);
    await upload(c, 'STOR facts/f.txt', 'abc');
    // Any case; unknown names ignored; the reply lists what is selected now.
    assert.equal((await c.cmd('OPTS MLST SIZE;frogs;Type;')).text, 'MLST OPTS type;size;');
    const one = await c.cmd('MLST facts/f.txt');
    assert.equal(one.code, 250);
    assert.equal(one.lines[1], ' type=file;size=3; /facts/f.txt');
    const mlsd = (await download(c, 'MLSD facts')).toString();
    assert.equal(mlsd, 'type=cdir; .\r\ntype=file;size=3; f.txt\r\n');
    const feat = (await c.cmd('FEAT')).lines.find((l) => l.startsWith(' MLST '));
    assert.equal(feat, ' MLST type*;size*;modify;perm;unix.mode;');
    // Bad syntax is 501 and changes nothing.
    assert.equal((await c.cmd('OPTS MLST size; type;')).code, 501);
    assert.equal((await c.cmd('OPTS MLST size')).code, 501);
    assert.equal((await c.cmd('MLST facts/f.txt')).lines[1], ' type=file;size=3; /facts/f.txt');
    // No list selects no facts: the line starts with two spaces, then the name.
    assert.equal((await c.cmd('OPTS MLST')).text, 'MLST OPTS');
    assert.equal((await c.cmd('MLST facts/f.txt')).lines[1], '  /facts/f.txt');
    assert.equal((await download(c, 'MLSD facts')).toString(), ' .\r\n f.txt\r\n');
    assert.equal((await c.cmd('OPTS MLST type;size;modify;perm;unix.mode;')).text, 'MLST OPTS type;size;modify;perm;unix.mode;');
    assert.match((await c.cmd('MLST facts/f.txt')).lines[1], /^ type=file;size=3;modify=\d{14};perm=adfrw;unix\.mode=0644; \/facts\/f\.txt$/);
    c.close();
  });

  it('answers an over-long line with 500 and closes the connection', async () => {
    const c = await FtpTestClient.connect(h.ftpPort);
    const r = await c.cmd('USER ' + 'x'.repeat(10_000));
    assert.equal(r.code, 500);
    await c.waitClosed();
  });

  it('survives a thousand lines of garbage, then closes with 421', async () => {
    const c = await FtpTestClient.connect(h.ftpPort);
    const garbage: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const junk = Buffer.alloc(1 + (i % 200));
      for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 17) % 256 === 10 ? 32 : (i * 31 + j * 17) % 256;
      garbage.push(junk, Buffer.from('\r\n'));
    }
    c.send(Buffer.concat(garbage));
    let last;
    for (;;) {
      last = await c.reply().catch(() => null);
      if (!last || last.code === 421) break;
      assert.ok(last.code === 500 || last.code === 530 || last.code === 501 || last.code === 503, last.lines.join());
    }
    await c.waitClosed();
    const again = await FtpTestClient.connect(h.ftpPort);
    assert.equal((await again.cmd('NOOP')).code, 200);
    again.close();
  });
});
