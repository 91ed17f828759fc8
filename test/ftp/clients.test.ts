/**
 * FTP and FTPS with clients nobody on this project wrote, against a real `wharf serve`:
 * curl, Python's ftplib, lftp and basic-ftp. Each checks the bytes it stored by reading them
 * back, so a client that silently misread a reply fails here.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client } from 'basic-ftp';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { runProgram } from '../helpers/process.js';
import { PY_FTPLIB_PRELUDE } from './python-ftplib.js';
import { FTP_PASSWORD, FTP_USER, startFtpWharf, type FtpWharf } from './wharf-ftp.js';

let server: FtpWharf;
let work: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function curl(args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await runProgram('curl', ['-sS', '--user', `${FTP_USER}:${FTP_PASSWORD}`, ...args], { timeoutMs });
  assert.equal(r.code, 0, `curl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('FTP with real clients', () => {
  before(async () => {
    server = await startFtpWharf();
    work = await makeTempDir('wharf-ftp-clients-');
  });
  after(async () => {
    await server.close();
    await removeDir(work);
  });

  it('curl: upload, list, download in passive (EPSV and PASV) and active mode, with every --ftp-method', async () => {
    const base = `ftp://127.0.0.1:${server.ftp}`;
    const local = path.join(work, 'curl-upload.bin');
    const content = randomBytes(300_000);
    await writeFile(local, content);
    const methods = ['multicwd', 'singlecwd', 'nocwd'];
    // --ftp-create-dirs makes one folder per MKD only with multicwd (curl sends the whole path
    // to one MKD otherwise, which no server creates with its parents), so folders come first.
    for (const method of methods) await curl(['--ftp-create-dirs', '-T', local, `${base}/curl/${method}/deep/first.bin`]);
    for (const method of methods) {
      await curl(['--ftp-method', method, '-T', local, `${base}/curl/${method}/deep/file.bin`]);
    }
    for (const method of methods) {
      const out = path.join(work, `curl-${method}.bin`);
      await curl(['--ftp-method', method, '-o', out, `${base}/curl/${method}/deep/file.bin`]);
      assert.equal(sha(await readFile(out)), sha(content), method);
    }
    // PASV instead of EPSV, and active mode (the server connects back to curl).
    const viaPasv = path.join(work, 'curl-pasv.bin');
    await curl(['--disable-epsv', '--ftp-pasv', '-o', viaPasv, `${base}/curl/nocwd/deep/file.bin`]);
    assert.equal(sha(await readFile(viaPasv)), sha(content));
    const viaActive = path.join(work, 'curl-active.bin');
    await curl(['-P', '127.0.0.1', '-o', viaActive, `${base}/curl/nocwd/deep/file.bin`]);
    assert.equal(sha(await readFile(viaActive)), sha(content));
    await curl(['-P', '127.0.0.1', '--disable-eprt', '-T', local, `${base}/curl/active.bin`]);
    const listing = await curl([`${base}/curl/`]);
    assert.match(listing, /^-rw-r--r-- +1 ftp +ftp +300000 \w{3} \d\d +[\d:]+ active\.bin$/m);
    assert.match(listing, /^drwxr-xr-x .* multicwd$/m);
    // NLST; curl reads it in TYPE A and turns the CR LF line ends into LF.
    assert.equal(await curl(['--list-only', `${base}/curl/`]), 'active.bin\nmulticwd\nnocwd\nsinglecwd\n');
  });

  it('curl: resumes an upload and a download with -C -', async () => {
    const base = `ftp://127.0.0.1:${server.ftp}`;
    const content = randomBytes(200_000);
    const part = path.join(work, 'part.bin');
    const full = path.join(work, 'full.bin');
    await writeFile(part, content.subarray(0, 70_000));
    await writeFile(full, content);
    await curl(['-T', part, `${base}/resume.bin`]);
    await curl(['-C', '-', '-T', full, `${base}/resume.bin`]);
    const back = path.join(work, 'resume-back.bin');
    await writeFile(back, content.subarray(0, 123_456));
    await curl(['-C', '-', '-o', back, `${base}/resume.bin`]);
    assert.equal(sha(await readFile(back)), sha(content));
  });

  it('curl: explicit FTPS (AUTH TLS, PROT P) and implicit FTPS', async () => {
    const content = randomBytes(100_000);
    const local = path.join(work, 'tls.bin');
    await writeFile(local, content);
    await curl(['--ssl-reqd', '-k', '-T', local, `ftp://127.0.0.1:${server.ftp}/tls.bin`]);
    const explicit = path.join(work, 'tls-explicit.bin');
    await curl(['--ssl-reqd', '-k', '-o', explicit, `ftp://127.0.0.1:${server.ftp}/tls.bin`]);
    assert.equal(sha(await readFile(explicit)), sha(content));
    const implicit = path.join(work, 'tls-implicit.bin');
    await curl(['-k', '-o', implicit, `ftps://127.0.0.1:${server.ftps}/tls.bin`]);
    assert.equal(sha(await readFile(implicit)), sha(content));
    await curl(['-k', '-T', local, `ftps://127.0.0.1:${server.ftps}/tls-implicit.bin`]);
    const listing = await curl(['-k', `ftps://127.0.0.1:${server.ftps}/`]);
    assert.match(listing, / tls-implicit\.bin$/m);
    // Active mode over TLS is tested with ftplib below: curl 7.88 accepts the server's data
    // connection in active FTPS but never starts TLS on it (a client bug, fixed in later curl).
  });

  it("Python ftplib: FTP and FTP_TLS (with session reuse), MLSD, REST, rename, delete; FTP_TLS without reuse is refused", async () => {
    const script = `${PY_FTPLIB_PRELUDE}${String.raw`
out = {}
f = ftplib.FTP()
f.connect('127.0.0.1', port)
f.login(user, password)
f.mkd('py')
f.cwd('py')
data = bytes(range(256)) * 400
f.storbinary('STOR data.bin', io.BytesIO(data))
f.storlines('STOR text.txt', io.BytesIO(b'line one\nline two\n'))
got = io.BytesIO(); f.retrbinary('RETR data.bin', got.write)
out['binary_ok'] = got.getvalue() == data
tail = io.BytesIO(); f.retrbinary('RETR data.bin', tail.write, rest=1000)
out['rest_ok'] = tail.getvalue() == data[1000:]
lines = []; f.retrlines('RETR text.txt', lines.append)
out['lines'] = lines
f.voidcmd('TYPE I')
out['size'] = f.size('data.bin')
out['mlsd'] = sorted([(name, facts['type'], facts.get('size')) for name, facts in f.mlsd()])
out['nlst'] = f.nlst()
f.rename('data.bin', 'renamed.bin')
f.delete('text.txt')
out['after'] = f.nlst()
out['mdtm'] = f.voidcmd('MDTM renamed.bin')[:3]
# A "multiple get" from the folder above, as RFC 959 gives NLST for: the names NLST returns
# are paths RETR takes as they are.
f.cwd('/')
out['nlst_folder'] = f.nlst('py')
out['mget'] = {}
for name in f.nlst('py/*.bin'):
    got = io.BytesIO(); f.retrbinary('RETR ' + name, got.write); out['mget'][name] = len(got.getvalue())
out['no_match'] = f.nlst('py/*.txt')
f.quit()

t = ReusingFTP_TLS(context=ctx)
t.connect('127.0.0.1', port)
t.auth()
t.login(user, password)
t.prot_p()
t.storbinary('STOR py/tls.bin', io.BytesIO(data))
got = io.BytesIO(); t.retrbinary('RETR py/tls.bin', got.write)
out['tls_ok'] = got.getvalue() == data
out['tls_mlsd'] = [name for name, facts in t.mlsd('py')]
t.set_pasv(False)
t.storbinary('STOR py/tls-active.bin', io.BytesIO(data[:5000]))
got = io.BytesIO(); t.retrbinary('RETR py/tls-active.bin', got.write)
out['tls_active_ok'] = got.getvalue() == data[:5000]
t.quit()

plain_tls = ftplib.FTP_TLS(context=ctx)
plain_tls.connect('127.0.0.1', port)
plain_tls.auth()
plain_tls.login(user, password)
plain_tls.prot_p()
received = []
try:
    plain_tls.retrbinary('RETR py/tls.bin', received.append)
    out['no_reuse'] = 'accepted'
except (ftplib.error_perm, ftplib.error_temp) as e:
    out['no_reuse'] = str(e)[:3]
except (ssl.SSLError, OSError):
    # The server closed the data connection right after the handshake; its reason follows
    # on the control connection.
    try:
        plain_tls.getresp()
        out['no_reuse'] = 'no error reply'
    except (ftplib.error_perm, ftplib.error_temp) as e:
        out['no_reuse'] = str(e)[:3]
out['stolen_bytes'] = sum(len(b) for b in received)
try:
    plain_tls.voidcmd('NOOP')
    out['still_usable'] = True
except Exception:
    out['still_usable'] = False
plain_tls.close()
print(json.dumps(out))
`}`;
    const r = await runProgram('python3', ['-c', script, String(server.ftp), FTP_USER], { stdin: `${FTP_PASSWORD}\n`, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.binary_ok, true);
    assert.equal(out.rest_ok, true);
    assert.deepEqual(out.lines, ['line one', 'line two']);
    assert.equal(out.size, 102_400);
    assert.deepEqual(out.mlsd, [
      ['.', 'cdir', null],
      ['data.bin', 'file', '102400'],
      ['text.txt', 'file', '18'],
    ]);
    assert.deepEqual(out.nlst, ['data.bin', 'text.txt']);
    assert.deepEqual(out.after, ['renamed.bin']);
    assert.equal(out.mdtm, '213');
    assert.deepEqual(out.nlst_folder, ['py/renamed.bin']);
    assert.deepEqual(out.mget, { 'py/renamed.bin': 102_400 });
    assert.deepEqual(out.no_match, []);
    assert.equal(out.tls_ok, true);
    assert.equal(out.tls_active_ok, true);
    assert.deepEqual(out.tls_mlsd, ['.', 'renamed.bin', 'tls.bin']);
    assert.equal(out.no_reuse, '522', 'a TLS data connection without session reuse is refused');
    assert.equal(out.stolen_bytes, 0);
    assert.equal(out.still_usable, true);
  });

  it('lftp: mirrors a folder tree up and back down, in the clear and over TLS', async () => {
    const tree = path.join(work, 'tree');
    await mkdir(path.join(tree, 'a', 'b'), { recursive: true });
    await mkdir(path.join(tree, 'empty'), { recursive: true });
    const files: Record<string, Buffer> = {
      'top.txt': Buffer.from('top\n'),
      'a/one.bin': randomBytes(50_000),
      'a/b/two.bin': randomBytes(1),
      'a/b/name with spaces.txt': Buffer.from('spaces'),
      'a/b/ünïcödé.txt': Buffer.from('utf8'),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(tree, name), data);
    for (const mode of ['plain', 'tls'] as const) {
      const settings =
        mode === 'plain'
          ? 'set ftp:ssl-allow no;'
          : 'set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:verify-certificate no;';
      const back = path.join(work, `tree-back-${mode}`);
      const commands = `${settings} set net:max-retries 1; set net:timeout 20; mirror -R ${tree} /mirror-${mode}; mirror /mirror-${mode} ${back}; quit`;
      const r = await runProgram('lftp', ['-u', `${FTP_USER},${FTP_PASSWORD}`, '-e', commands, `ftp://127.0.0.1:${server.ftp}`], {
        timeoutMs: 90_000,
      });
      assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
      for (const [name, data] of Object.entries(files)) {
        assert.equal(sha(await readFile(path.join(back, name))), sha(data), `${mode}: ${name}`);
      }
      assert.ok((await stat(path.join(back, 'empty'))).isDirectory(), `${mode}: empty folder`);
      assert.deepEqual((await readdir(path.join(back, 'a'))).sort(), ['b', 'one.bin']);
    }
  });

  it('basic-ftp: plain, explicit FTPS and implicit FTPS', async () => {
    const content = randomBytes(150_000);
    for (const mode of ['plain', 'explicit', 'implicit'] as const) {
      const client = new Client(30_000);
      try {
        await client.access({
          host: '127.0.0.1',
          port: mode === 'implicit' ? server.ftps : server.ftp,
          user: FTP_USER,
          password: FTP_PASSWORD,
          secure: mode === 'plain' ? false : mode === 'implicit' ? 'implicit' : true,
          secureOptions: { rejectUnauthorized: false },
        });
        await client.ensureDir(`/basic/${mode}`);
        await client.uploadFrom(Readable.from([content]), 'file.bin');
        const chunks: Buffer[] = [];
        await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }), 'file.bin');
        assert.equal(sha(Buffer.concat(chunks)), sha(content), mode);
        const list = await client.list();
        assert.deepEqual(
          list.map((f) => [f.name, f.size, f.isFile]),
          [['file.bin', 150_000, true]],
          mode,
        );
        assert.equal(await client.size('file.bin'), 150_000);
        await client.rename('file.bin', 'moved.bin');
        await client.remove('moved.bin');
        assert.deepEqual(await client.list(), []);
      } finally {
        client.close();
      }
    }
  });
});
