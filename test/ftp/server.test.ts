/**
 * A real `wharf serve` under stress and attack over FTP: a thousand transfers leave no
 * descriptor behind, 226 means the file is there, a client killed mid-upload leaves nothing,
 * quota, login floods throttled together with the mail protocols, and the anonymous area.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LineClient } from '../helpers/line-client.js';
import { runProgram } from '../helpers/process.js';
import { PY_FTPLIB_PRELUDE } from './python-ftplib.js';
import { FtpTestClient, connectData, readAll, writeAndEnd } from './ftp-client.js';
import { FTP_PASSWORD, FTP_USER, startFtpWharf, type FtpWharf } from './wharf-ftp.js';

let server: FtpWharf;

async function loggedIn(): Promise<FtpTestClient> {
  const c = await FtpTestClient.connect(server.ftp);
  await c.login(FTP_USER, FTP_PASSWORD);
  await c.expect('TYPE I', 200);
  return c;
}

async function store(c: FtpTestClient, name: string, data: Buffer): Promise<void> {
  const socket = await c.openPassive();
  await c.expect(`STOR ${name}`, 150);
  await writeAndEnd(socket, data);
  const r = await c.reply();
  assert.equal(r.code, 226, r.lines.join());
}

async function retrieve(c: FtpTestClient, name: string): Promise<Buffer> {
  const socket = await c.openPassive();
  const data = readAll(socket);
  await c.expect(`RETR ${name}`, 150);
  const bytes = await data;
  assert.equal((await c.reply()).code, 226);
  return bytes;
}

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

describe('FTP server under load and attack', () => {
  before(async () => {
    server = await startFtpWharf({
      settings: {
        authThrottle: { freeFailures: 2, baseDelayMs: 10, maxDelayMs: 80 },
        ftp: { dataConnectTimeoutMs: 2_000 },
      },
    });
  });
  after(async () => {
    await server.close();
  });

  it('makes a thousand transfers of every kind without leaking a descriptor', async () => {
    const c = await loggedIn();
    await store(c, 'small.txt', Buffer.from('small'));
    const run = async (i: number) => {
      switch (i % 6) {
        case 0:
          assert.equal((await retrieve(c, 'small.txt')).toString(), 'small');
          break;
        case 1:
          await store(c, `n${i % 12}.txt`, Buffer.from(String(i)));
          break;
        case 2: {
          const port = await c.epsv();
          const socket = await connectData('127.0.0.1', port);
          const listing = readAll(socket);
          await c.expect('NLST', 150);
          assert.match((await listing).toString(), /small\.txt/);
          assert.equal((await c.reply()).code, 226);
          break;
        }
        case 3: {
          // Active mode: the server connects to us.
          const received = new Promise<Buffer>((resolve) => {
            const srv = net.createServer((s) => {
              srv.close();
              void readAll(s).then(resolve);
            });
            srv.listen(0, '127.0.0.1', () => {
              const p = (srv.address() as net.AddressInfo).port;
              void c.expect(`EPRT |1|127.0.0.1|${p}|`, 200).then(() => c.send('RETR small.txt'));
            });
          });
          assert.equal((await received).toString(), 'small');
          assert.equal((await c.reply()).code, 150);
          assert.equal((await c.reply()).code, 226);
          break;
        }
        case 4:
          // A passive port never used, replaced by the next PASV, which is aborted unused.
          await c.pasv();
          await c.pasv();
          c.send('LIST');
          assert.equal((await c.cmd('ABOR')).code, 426);
          assert.equal((await c.reply()).code, 226);
          break;
        case 5: {
          // A data connection the client drops in the middle.
          const socket = await c.openPassive();
          socket.destroy();
          const r = await c.cmd('RETR small.txt');
          if (r.code === 150) assert.ok([226, 426].includes((await c.reply()).code));
          else assert.equal(r.code, 425);
          break;
        }
      }
    };
    for (let i = 0; i < 60; i++) await run(i);
    const before = await openDescriptors(server.wharf.pid);
    for (let i = 0; i < 1000; i++) await run(i);
    await c.expect('NOOP', 200);
    // Closed sockets may linger a moment in the kernel's hands but not in the process.
    let now = await openDescriptors(server.wharf.pid);
    for (let tries = 0; now > before + 3 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = await openDescriptors(server.wharf.pid);
    }
    assert.ok(now <= before + 3, `descriptors before ${before}, after ${now}`);
    c.close();
  });

  it('has the whole file under its name as soon as 226 arrives', async () => {
    const writer = await loggedIn();
    const reader = await loggedIn();
    for (let i = 0; i < 30; i++) {
      const data = randomBytes(1 + ((i * 7919) % 200_000));
      await store(writer, 'durable.bin', data);
      // A second connection, at once: the file is complete, not being written.
      assert.equal((await reader.cmd('SIZE durable.bin')).text, String(data.length));
      if (i % 5 === 0) assert.ok((await retrieve(reader, 'durable.bin')).equals(data));
    }
    writer.close();
    reader.close();
  });

  it('leaves no file when the client is killed in the middle of STOR', async () => {
    const script = `${PY_FTPLIB_PRELUDE}${String.raw`
f = ftplib.FTP()
f.connect('127.0.0.1', port)
f.login(user, password)
f.storbinary('STOR killed.bin', Dying(), blocksize=8192)
`}`;
    const r = await runProgram('python3', ['-c', script, String(server.ftp), FTP_USER], { stdin: `${FTP_PASSWORD}\n`, timeoutMs: 30_000 });
    assert.equal(r.code, 128, `python should have been killed: ${r.stderr}`);
    const c = await loggedIn();
    for (let i = 0; i < 20; i++) {
      // The server notices the dead client at once; give its abort a moment to finish.
      const size = await c.cmd('SIZE killed.bin');
      assert.equal(size.code, 550, `the upload was committed: ${size.text}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const names = (await retrieveList(c)).split('\r\n');
    assert.ok(!names.some((n) => n.includes('killed')), names.join(','));
    c.close();
  });

  it('leaves no file when the data connection ends just before the control connection dies', async () => {
    // The harder order for a killed client: its data FIN is read first, as if the file were
    // complete, and its control connection goes away right after (here in the same instant).
    for (let round = 0; round < 5; round++) {
      const c = await loggedIn();
      const socket = await c.openPassive();
      await c.expect(`STOR cut-${round}.bin`, 150);
      await new Promise<void>((resolve) => socket.write(randomBytes(64 * 1024), () => resolve()));
      socket.end();
      c.close();
    }
    // A finished upload keeps its control connection: it gets 226, so the test can tell.
    const ok = await loggedIn();
    await store(ok, 'whole.bin', randomBytes(64 * 1024));
    for (let round = 0; round < 5; round++) {
      const size = await ok.cmd(`SIZE cut-${round}.bin`);
      assert.equal(size.code, 550, `upload ${round} was committed: ${size.text}`);
    }
    assert.equal((await ok.cmd('SIZE whole.bin')).code, 213);
    ok.close();
  });

  it('throttles a login flood, together with the mail protocols', async () => {
    const throttledBefore = countThrottled();
    for (let i = 0; i < 6; i++) {
      const c = await FtpTestClient.connect(server.ftp);
      await c.expect(`USER ${FTP_USER}`, 331);
      assert.equal((await c.cmd('PASS wrong-guess')).code, 530);
      c.close();
    }
    assert.ok(countThrottled() >= throttledBefore + 3, 'FTP failures past the free ones are throttled');
    // The same client guessing over POP3 now is throttled at once: the count is shared.
    const afterFtp = countThrottled();
    const pop = await LineClient.connect(server.wharf.ports.pop3);
    await pop.line();
    await pop.pop3(`USER ${FTP_USER}`);
    assert.match(await pop.pop3('PASS wrong-again'), /^-ERR/);
    pop.close();
    assert.ok(countThrottled() > afterFtp, 'POP3 sees the FTP failures');
    // The right password still works (after the delay).
    const ok = await loggedIn();
    ok.close();
  });
});

async function retrieveList(c: FtpTestClient): Promise<string> {
  const socket = await c.openPassive();
  const data = readAll(socket);
  await c.expect('NLST', 150);
  const text = (await data).toString();
  assert.equal((await c.reply()).code, 226);
  return text;
}

function countThrottled(): number {
  return server.wharf.logs().filter((l) => l.includes('"login throttled"')).length;
}

describe('FTP quota', () => {
  let quota: FtpWharf;
  before(async () => {
    quota = await startFtpWharf({ quota: '100K' });
  });
  after(async () => {
    await quota.close();
  });

  it('refuses an upload past the quota with 552 and keeps nothing of it', async () => {
    const c = await FtpTestClient.connect(quota.ftp);
    await c.login(FTP_USER, FTP_PASSWORD);
    await c.expect('TYPE I', 200);
    const socket = await c.openPassive();
    socket.on('error', () => {});
    await c.expect('STOR big.bin', 150);
    socket.write(randomBytes(1024 * 1024));
    const r = await c.reply();
    assert.equal(r.code, 552, r.lines.join());
    socket.destroy();
    assert.equal((await c.cmd('SIZE big.bin')).code, 550);
    // Within the quota, an upload still works.
    const small = await c.openPassive();
    await c.expect('STOR small.bin', 150);
    await writeAndEnd(small, randomBytes(10_000));
    assert.equal((await c.reply()).code, 226);
    assert.equal((await c.cmd('SIZE small.bin')).text, '10000');
    c.close();
  });
});

describe('one quota for mail and files (files.quota "shared", the default)', () => {
  let shared: FtpWharf;
  before(async () => {
    shared = await startFtpWharf({ quota: '100K' });
  });
  after(async () => {
    await shared.close();
  });

  /** An IMAP command's lines up to its tagged reply. */
  async function imap(c: LineClient, tag: string, command: string): Promise<string[]> {
    c.send(`${tag} ${command}`);
    const lines: string[] = [];
    for (;;) {
      const line = await c.line();
      lines.push(line);
      if (line.startsWith(`${tag} `)) return lines;
    }
  }

  it('counts the files against mail: SMTP refuses, IMAP reports them and refuses APPEND', async () => {
    const c = await FtpTestClient.connect(shared.ftp);
    await c.login(FTP_USER, FTP_PASSWORD);
    await c.expect('TYPE I', 200);
    await store(c, 'files.bin', randomBytes(90_000));
    c.close();

    // 90,000 bytes of files plus 20,000 of mail pass 100 KiB (102,400 bytes).
    const smtp = await LineClient.connect(shared.wharf.ports.smtp);
    assert.equal((await smtp.smtpReply()).code, 220);
    assert.equal((await smtp.smtp('EHLO client.example')).code, 250);
    assert.equal((await smtp.smtp('MAIL FROM:<alice@example.com> SIZE=20000')).code, 250);
    const declared = await smtp.smtp(`RCPT TO:<${FTP_USER}>`);
    assert.equal(declared.code, 452, declared.lines.join());
    // Without SIZE the message is refused at the end of DATA, and nothing is delivered.
    assert.equal((await smtp.smtp('RSET')).code, 250);
    assert.equal((await smtp.smtp('MAIL FROM:<alice@example.com>')).code, 250);
    assert.equal((await smtp.smtp(`RCPT TO:<${FTP_USER}>`)).code, 250);
    assert.equal((await smtp.smtp('DATA')).code, 354);
    const body = 'x'.repeat(76) + '\r\n';
    const refused = await smtp.smtp(`Subject: too much\r\n\r\n${body.repeat(260)}.`);
    assert.equal(refused.code, 452, refused.lines.join());
    assert.match(refused.lines.join(), /4\.2\.2/);
    // A small one still fits.
    assert.equal((await smtp.smtp('MAIL FROM:<alice@example.com>')).code, 250);
    assert.equal((await smtp.smtp(`RCPT TO:<${FTP_USER}>`)).code, 250);
    assert.equal((await smtp.smtp('DATA')).code, 354);
    assert.equal((await smtp.smtp('Subject: small\r\n\r\nfits\r\n.')).code, 250);
    smtp.close();

    const i = await LineClient.connect(shared.wharf.ports.imap);
    await i.line();
    assert.match((await imap(i, 'a', `LOGIN "${FTP_USER}" "${FTP_PASSWORD}"`)).at(-1)!, /^a OK/);
    const quota = await imap(i, 'b', 'GETQUOTAROOT INBOX');
    // The files' 90,000 bytes and the small message, in KiB, of 100.
    assert.ok(quota.some((l) => /^\* QUOTA "" \(STORAGE 8[89] 100\)$/.test(l)), quota.join('\n'));
    i.send('c APPEND INBOX {20000}');
    assert.match(await i.line(), /^c NO \[OVERQUOTA\]/);
    i.close();
  });
});

describe('FTP anonymous area', () => {
  let anonymous: FtpWharf;
  before(async () => {
    // The public files are put where an administrator puts them: data/files-anonymous, a
    // folder of the local file store (so this suite uses it on both test backends).
    anonymous = await startFtpWharf({ settings: { files: { anonymous: true, kind: 'local' } } });
  });
  after(async () => {
    await anonymous.close();
  });

  it('serves the anonymous area read-only', async () => {
    const area = path.join(anonymous.wharf.dataDir, 'files-anonymous');
    await mkdir(area, { recursive: true });
    await writeFile(path.join(area, 'welcome.txt'), 'public\n');
    const c = await FtpTestClient.connect(anonymous.ftp);
    await c.expect('USER anonymous', 331);
    await c.expect('PASS guest@example.org', 230);
    await c.expect('TYPE I', 200);
    assert.equal((await retrieve(c, 'welcome.txt')).toString(), 'public\n');
    const mlst = await c.cmd('MLST welcome.txt');
    assert.match(mlst.lines[1], /perm=r;/);
    assert.equal((await c.cmd('MKD new')).code, 550);
    assert.equal((await c.cmd('DELE welcome.txt')).code, 550);
    assert.equal((await c.cmd('RNFR welcome.txt')).code, 550);
    assert.equal((await c.cmd('SITE CHMOD 777 welcome.txt')).code, 550);
    await c.pasv();
    assert.equal((await c.cmd('STOR upload.txt')).code, 550);
    assert.equal((await c.cmd('APPE welcome.txt')).code, 550);
    assert.equal((await c.cmd('CWD /../..')).code, 250);
    assert.equal((await c.cmd('SIZE /welcome.txt')).text, '7');
    c.close();
  });
});
