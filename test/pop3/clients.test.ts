/**
 * Real POP3 clients nobody here wrote against the server: Python's poplib (USER/PASS, STLS,
 * POP3_SSL) and curl (SASL PLAIN, STLS with --ssl-reqd, pop3s://).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { messageOfSize, runCurl, runPython, startPop3Harness, type Pop3Harness } from './harness.js';

const POPLIB_SESSION = `
import json, poplib, ssl, sys
host, port, mode, user, password, delete = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] == 'yes'
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
if mode == 'pop3s':
    p = poplib.POP3_SSL(host, port, context=context, timeout=10)
else:
    p = poplib.POP3(host, port, timeout=10)
    if mode == 'stls':
        p.stls(context=context)
out = {'welcome': p.getwelcome().decode(), 'capa': sorted(p.capa().keys())}
out['user'] = p.user(user).decode()
out['pass'] = p.pass_(password).decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.list()
out['list'] = [l.decode() for l in lines]
resp, lines, octets = p.uidl()
out['uidl'] = [l.decode() for l in lines]
out['uidl1'] = p.uidl(1).decode()
messages = []
for n in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(n)
    messages.append(b'\\r\\n'.join(lines).decode('latin1') + '\\r\\n')
out['messages'] = messages
resp, lines, octets = p.top(1, 1)
out['top'] = [l.decode('latin1') for l in lines]
out['noop'] = p.noop().decode()
if delete:
    out['dele'] = [p.dele(n).decode() for n in range(1, out['stat'][0] + 1)]
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

interface PoplibResult {
  welcome: string;
  capa: string[];
  user: string;
  pass: string;
  stat: [number, number];
  list: string[];
  uidl: string[];
  uidl1: string;
  messages: string[];
  top: string[];
  noop: string;
  dele?: string[];
  quit: string;
}

async function poplib(port: number, mode: 'plain' | 'stls' | 'pop3s', user: string, password: string, deleteAll = false): Promise<PoplibResult> {
  const result = await runPython(POPLIB_SESSION, ['127.0.0.1', String(port), mode, user, password, deleteAll ? 'yes' : 'no']);
  assert.equal(result.code, 0, `poplib failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as PoplibResult;
}

describe('POP3 with real clients', () => {
  let h: Pop3Harness;
  const first = Buffer.from('From: alice@example.net\r\nSubject: dots\r\n\r\nhello\r\n.\r\n..two dots\r\n.leading\r\nend\r\n', 'latin1');
  const second = messageOfSize(912, 'second');

  before(async () => {
    h = await startPop3Harness();
  });
  after(() => h.close());

  async function mailbox(local: string): Promise<User> {
    const user = await h.addUser(local, `pw ${local}`);
    await h.deliver(first, [user]);
    await h.deliver(second, [user]);
    return user;
  }

  for (const mode of ['plain', 'stls', 'pop3s'] as const) {
    it(`poplib (${mode}) lists, retrieves, tops and keeps the messages`, async () => {
      const user = await mailbox(`py${mode}`);
      const port = mode === 'pop3s' ? h.secure.port : h.plain.port;
      const r = await poplib(port, mode, `py${mode}`, `pw py${mode}`);
      assert.equal(r.welcome, '+OK Wharf POP3 server ready');
      assert.equal(r.capa.includes('STLS'), mode === 'plain');
      assert.ok(r.capa.includes('UIDL') && r.capa.includes('TOP') && r.capa.includes('USER'));
      assert.equal(r.pass, '+OK Logged in.');
      assert.deepEqual(r.stat, [2, first.length + second.length]);
      assert.deepEqual(r.list, [`1 ${first.length}`, `2 ${second.length}`]);
      const entries = await h.inbox(user);
      const mbox = await h.store.getMailbox(user.id, 'INBOX');
      assert.deepEqual(r.uidl, entries.map((e, i) => `${i + 1} ${mbox!.uidValidity}.${e.uid}`));
      assert.equal(r.uidl1, `+OK ${r.uidl[0]}`);
      assert.deepEqual(r.messages, [first.toString('latin1'), second.toString('latin1')]);
      assert.deepEqual(r.top, ['From: alice@example.net', 'Subject: dots', '', 'hello']);
      assert.equal(r.quit, '+OK Logging out.');
      assert.equal((await h.inbox(user)).length, 2);
    });
  }

  it('poplib download-and-delete empties the maildrop', async () => {
    const user = await mailbox('pydelete');
    const r = await poplib(h.plain.port, 'plain', 'pydelete', 'pw pydelete', true);
    assert.deepEqual(r.dele, ['+OK Marked to be deleted.', '+OK Marked to be deleted.']);
    assert.equal(r.quit, '+OK Logging out, messages deleted.');
    assert.equal((await h.inbox(user)).length, 0);
  });

  it('curl retrieves a message (AUTH PLAIN) and lists the maildrop', async () => {
    await mailbox('curly');
    const url = `pop3://curly:pw%20curly@127.0.0.1:${h.plain.port}`;
    const retr = await runCurl([`${url}/1`]);
    assert.equal(retr.code, 0, retr.stderr);
    assert.equal(retr.stdout, first.toString('latin1'));
    const list = await runCurl([`${url}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, `1 ${first.length}\r\n2 ${second.length}\r\n`);
    const uidl = await runCurl([`${url}/`, '-X', 'UIDL']);
    assert.equal(uidl.code, 0, uidl.stderr);
    assert.match(uidl.stdout, /^1 \d+\.\d+\r\n2 \d+\.\d+\r\n$/);
    const logins = h.logLines.map((l) => JSON.parse(l)).filter((r) => r.event === 'login' && r.user === 'curly@example.org');
    assert.ok(logins.length >= 3 && logins.every((r) => r.method === 'PLAIN'));
  });

  it('curl upgrades with STLS (--ssl-reqd) and uses pop3s://', async () => {
    await mailbox('curltls');
    const tlsStartsBefore = h.logLines.filter((l) => l.includes('"tls started"')).length;
    const stls = await runCurl(['--ssl-reqd', '-k', `pop3://curltls:pw%20curltls@127.0.0.1:${h.plain.port}/2`]);
    assert.equal(stls.code, 0, stls.stderr);
    assert.equal(stls.stdout, second.toString('latin1'));
    assert.equal(h.logLines.filter((l) => l.includes('"tls started"')).length, tlsStartsBefore + 1);
    const implicit = await runCurl(['-k', `pop3s://curltls:pw%20curltls@127.0.0.1:${h.secure.port}/1`]);
    assert.equal(implicit.code, 0, implicit.stderr);
    assert.equal(implicit.stdout, first.toString('latin1'));
  });

  it('curl deletes a message with -X DELE', async () => {
    const user = await mailbox('curldele');
    const dele = await runCurl(['-X', 'DELE', '-I', `pop3://curldele:pw%20curldele@127.0.0.1:${h.plain.port}/1`]);
    assert.equal(dele.code, 0, dele.stderr);
    const left = await h.inbox(user);
    assert.equal(left.length, 1);
    assert.equal(left[0].size, second.length);
  });

  it('curl is refused with a wrong password', async () => {
    await mailbox('curlbad');
    const bad = await runCurl([`pop3://curlbad:wrong@127.0.0.1:${h.plain.port}/1`]);
    assert.notEqual(bad.code, 0);
  });
});
