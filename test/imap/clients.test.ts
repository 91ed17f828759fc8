/**
 * Real IMAP clients nobody here wrote, against the server: imapflow (npm), Python's imaplib
 * (plain, STARTTLS, IMAP4_SSL) and curl (imap:// with STARTTLS, imaps://, APPEND by upload).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { User } from '../../src/store/types.js';
import { runProgram } from '../helpers/process.js';
import { startImapHarness, textMessage, type ImapHarness } from './harness.js';

const MULTIPART = [
  'From: "Alice Example" <alice@example.net>',
  'To: bob@example.org',
  'Subject: =?UTF-8?Q?Caf=C3=A9?= report',
  'Date: Fri, 1 Mar 2024 10:00:00 +0000',
  'Message-ID: <multi@example.net>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'See the attachment.',
  '--outer',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="data.bin"',
  '',
  Buffer.from('binary \x00 payload').toString('base64'),
  '--outer--',
  '',
].join('\r\n');

const IMAPLIB_SESSION = `
import imaplib, json, ssl, sys
host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == 'ssl':
    m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
else:
    m = imaplib.IMAP4(host, port)
    if mode == 'starttls':
        m.starttls(ssl_context=ctx)
out = {}
out['login'] = m.login(user, password)[0]
out['select'] = [m.select('INBOX')[0], m.select('INBOX')[1][0].decode()]
typ, data = m.fetch('1', '(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
out['fetch'] = [x.decode('latin1') if isinstance(x, bytes) else [y.decode('latin1') for y in x] for x in data]
typ, data = m.uid('SEARCH', None, 'ALL')
out['search'] = data[0].decode()
out['store'] = m.store('1', '+FLAGS', '\\\\Flagged')[0]
msg = b'From: py@example.net\\r\\nSubject: from python\\r\\n\\r\\nhi\\r\\n'
out['append'] = m.append('INBOX', '(\\\\Seen)', imaplib.Time2Internaldate(1700000000), msg)[0]
typ, data = m.list()
out['list'] = [x.decode() for x in data]
out['logout'] = m.logout()[0]
print(json.dumps(out))
`;

describe('IMAP with real clients', () => {
  let h: ImapHarness;
  let bob: User;

  before(async () => {
    h = await startImapHarness();
    bob = await h.addUser('bob', 'hungry');
    await h.deliver(textMessage('plain one'), [bob]);
    await h.deliver(MULTIPART, [bob]);
  });
  after(() => h.close());

  function flow(secure = false): ImapFlow {
    return new ImapFlow({
      host: '127.0.0.1',
      port: secure ? h.secure.port : h.plain.port,
      secure,
      tls: { rejectUnauthorized: false },
      auth: { user: 'bob@example.org', pass: 'hungry' },
      logger: false,
    });
  }

  it('imapflow: lists, fetches structure and a single attachment, searches, flags, appends', async () => {
    const client = flow();
    await client.connect();
    const boxes = await client.list();
    assert.ok(boxes.some((b) => b.path === 'INBOX'));
    assert.equal(boxes.find((b) => b.path === 'Sent')?.specialUse, '\\Sent');
    const lock = await client.getMailboxLock('INBOX');
    try {
      const msg = await client.fetchOne('2', { envelope: true, bodyStructure: true, uid: true, flags: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'Café report');
      assert.equal(msg.envelope?.from?.[0]?.address, 'alice@example.net');
      assert.equal(msg.bodyStructure?.type, 'multipart/mixed');
      assert.equal(msg.bodyStructure?.childNodes?.[1]?.disposition, 'attachment');
      const part = await client.download('2', '2');
      const chunks: Buffer[] = [];
      for await (const c of part.content) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString('latin1'), 'binary \x00 payload');
      assert.deepEqual(await client.search({ subject: 'café' }), [2]);
      assert.ok(await client.messageFlagsAdd('1', ['\\Flagged']));
      assert.deepEqual(await client.search({ flagged: true }), [1]);
      const appended = await client.append('INBOX', textMessage('from imapflow'), ['\\Seen']);
      assert.equal(appended && typeof appended === 'object' ? appended.uid : undefined, 3);
      const moved = await client.messageMove('3', 'Archive', { uid: true });
      assert.ok(moved);
    } finally {
      lock.release();
    }
    await client.logout();
  });

  it('imapflow over implicit TLS sees a delivery while idling', async () => {
    const client = flow(true);
    await client.connect();
    await client.mailboxOpen('INBOX');
    const seen = new Promise<number>((resolve) => client.on('exists', (e: { count: number }) => resolve(e.count)));
    const idling = client.idle();
    await new Promise((r) => setTimeout(r, 100));
    await h.deliver(textMessage('during idle'), [bob]);
    const count = await Promise.race([seen, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no EXISTS within 2 s')), 2000))]);
    assert.ok(count >= 3);
    await client.logout();
    await idling.catch(() => undefined);
  });

  for (const mode of ['plain', 'starttls', 'ssl'] as const) {
    it(`Python imaplib (${mode})`, async () => {
      const port = mode === 'ssl' ? h.secure.port : h.plain.port;
      const r = await runProgram('python3', ['-c', IMAPLIB_SESSION, '127.0.0.1', String(port), mode, 'bob', 'hungry']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.login, 'OK');
      assert.equal(out.select[0], 'OK');
      assert.match(JSON.stringify(out.fetch), /Subject: plain one/);
      assert.match(out.search, /^1 2/);
      assert.equal(out.store, 'OK');
      assert.equal(out.append, 'OK');
      assert.ok(out.list.some((l: string) => l.endsWith('INBOX')));
      assert.equal(out.logout, 'BYE');
    });
  }

  it('curl: imap:// with STARTTLS required, imaps://, a message by UID and APPEND by upload', async () => {
    const base = ['--user', 'bob:hungry', '--insecure'];
    const list = await runProgram('curl', ['-sS', ...base, '--ssl-reqd', `imap://127.0.0.1:${h.plain.port}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /\* LIST \(.*\) "\/" INBOX/);
    const fetched = await runProgram('curl', ['-sS', ...base, `imaps://127.0.0.1:${h.secure.port}/INBOX;UID=1`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /Subject: plain one/);
    // curl APPENDs a file (it must know the size up front).
    const dir = await mkdtemp(path.join(tmpdir(), 'wharf-curl-'));
    const file = path.join(dir, 'message.eml');
    await writeFile(file, textMessage('uploaded by curl'));
    const upload = await runProgram('curl', ['-sS', ...base, '-T', file, `imap://127.0.0.1:${h.plain.port}/Drafts`]);
    await rm(dir, { recursive: true, force: true });
    assert.equal(upload.code, 0, upload.stderr);
    const drafts = await h.store.getMailbox(bob.id, 'Drafts');
    assert.equal(drafts!.messageCount, 1);
    const search = await runProgram('curl', ['-sS', ...base, '-X', 'SEARCH SUBJECT plain', `imap://127.0.0.1:${h.plain.port}/INBOX`]);
    assert.match(search.stdout, /\* SEARCH 1/);
  });
});
