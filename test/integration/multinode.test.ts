/**
 * Two `wharf serve` processes (nodes A and B) sharing one PostgreSQL database: what one node
 * does, the other sees; leases hold across them; a node killed with SIGKILL in the middle of
 * deliveries loses no acknowledged message, and the other node never stops serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LineClient } from '../helpers/line-client.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { ImapClient } from '../imap/harness.js';
import { BOB_PASSWORD, sendMessage } from './setup.js';

const BOB = 'bob@hamburger.edu';

/** Starts a node on the shared database. */
function node(db: TestDatabase, id: string): Promise<WharfProcess> {
  return startWharf({ env: { WHARF_DATABASE_URL: db.url, WHARF_NODE_ID: id } });
}

async function smtpSession(port: number): Promise<LineClient> {
  const smtp = await LineClient.connect(port);
  await smtp.line();
  assert.equal((await smtp.smtp('HELO crepes.fr')).code, 250);
  return smtp;
}

async function pop3Login(port: number): Promise<{ client: LineClient; reply: string }> {
  const client = await LineClient.connect(port);
  await client.line();
  client.send(`USER ${BOB}`);
  await client.line();
  client.send(`PASS ${BOB_PASSWORD}`);
  return { client, reply: await client.line() };
}

/** Subjects of every message in Bob's INBOX, read over IMAP from `port`. */
async function subjects(port: number): Promise<string[]> {
  const imap = await ImapClient.connect(port);
  await imap.login(BOB, BOB_PASSWORD);
  await imap.command('EXAMINE INBOX');
  const r = await imap.command('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  await imap.command('LOGOUT');
  imap.close();
  return r.untagged.flatMap((l) => [...l.matchAll(/Subject: ([^\r\n]+)/g)].map((m) => m[1]!));
}

describe('two nodes on one PostgreSQL database', () => {
  let db: TestDatabase;
  let a: WharfProcess;
  let b: WharfProcess;

  before(async () => {
    db = await createTestDatabase();
    [a, b] = await Promise.all([node(db, 'node-a'), node(db, 'node-b')]);
    // Set up once, through node A's CLI: node B sees the same accounts.
    assert.equal((await a.cli(['domain', 'add', 'hamburger.edu'])).code, 0);
    const added = await a.cli(['user', 'add', BOB, '--password-stdin'], `${BOB_PASSWORD}\n`);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await Promise.allSettled([a?.removeData(), b?.removeData()]);
    await db?.drop();
  });

  it('logs each node under its own id', async () => {
    const ready = await b.waitForLog((r) => r.event === 'ready');
    assert.equal(ready.nodeId, 'node-b');
  });

  it('a message delivered over SMTP on node A wakes an IMAP IDLE on node B within a second', async () => {
    const imap = await ImapClient.connect(b.ports.imap!);
    await imap.login(BOB, BOB_PASSWORD);
    const selected = await imap.command('SELECT INBOX');
    const before = Number(/^\* (\d+) EXISTS$/m.exec(selected.untagged.join('\n'))![1]);
    imap.send('i1 IDLE\r\n');
    assert.match(await imap.readResponse(), /^\+ /);
    const smtp = await smtpSession(a.ports.smtp!);
    const sent = Date.now();
    await sendMessage(smtp, ['Subject: across nodes', '', 'from A to B']);
    assert.equal(await imap.readResponse(3000), `* ${before + 1} EXISTS`);
    const waited = Date.now() - sent;
    assert.ok(waited < 1000, `IDLE on B woke ${waited} ms after A's 250`);
    imap.send('DONE\r\n');
    assert.match((await imap.complete('i1')).tagged, /^i1 OK/);
    await smtp.smtp('QUIT');
    imap.close();
  });

  it("POP3 on node A holds the maildrop: node B answers -ERR [IN-USE] until A's session ends", async () => {
    const first = await pop3Login(a.ports.pop3!);
    assert.match(first.reply, /^\+OK/);
    const second = await pop3Login(b.ports.pop3!);
    assert.match(second.reply, /^-ERR \[IN-USE\]/);
    second.client.close();
    first.client.send('QUIT');
    assert.match(await first.client.line(), /^\+OK/);
    const third = await pop3Login(b.ports.pop3!);
    assert.match(third.reply, /^\+OK/, 'the lease is released with the session');
    third.client.send('QUIT');
    await third.client.line();
  });

  it('a flag stored on node A is announced to a session on node B', async () => {
    const onB = await ImapClient.connect(b.ports.imap!);
    await onB.login(BOB, BOB_PASSWORD);
    await onB.command('SELECT INBOX');
    const onA = await ImapClient.connect(a.ports.imap!);
    await onA.login(BOB, BOB_PASSWORD);
    await onA.command('SELECT INBOX');
    assert.match((await onA.command('STORE 1 +FLAGS (\\Flagged)')).tagged, /OK/);
    let seen = false;
    for (let i = 0; i < 30 && !seen; i++) {
      const noop = await onB.command('NOOP');
      seen = noop.untagged.some((l) => /^\* 1 FETCH \(.*FLAGS \([^)]*\\Flagged/.test(l));
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen, 'node B announced the flag set on node A');
    onA.close();
    onB.close();
  });

  it('\\Recent goes to exactly one session, even when the sessions are on different nodes', async () => {
    const smtp = await smtpSession(b.ports.smtp!);
    await sendMessage(smtp, ['Subject: recent once', '', 'who sees it first?']);
    await smtp.smtp('QUIT');
    const recentOf = async (port: number) => {
      const imap = await ImapClient.connect(port);
      await imap.login(BOB, BOB_PASSWORD);
      const selected = await imap.command('SELECT INBOX');
      imap.close();
      return Number(/^\* (\d+) RECENT$/m.exec(selected.untagged.join('\n'))![1]);
    };
    const onA = await recentOf(a.ports.imap!);
    const onB = await recentOf(b.ports.imap!);
    assert.deepEqual([onA, onB], [1, 0], 'the first SELECT (on A) has it recent, the later one on B does not');
  });

  it('node A killed with SIGKILL mid-delivery: every acknowledged message is there and node B kept serving', async () => {
    const acked: string[] = [];
    let stop = false;
    const sender = async (id: number) => {
      let smtp: LineClient | null = null;
      for (let n = 0; !stop; n++) {
        const subject = `load ${id}-${n}`;
        try {
          smtp ??= await smtpSession(a.ports.smtp!);
          await sendMessage(smtp, [`Subject: ${subject}`, '', 'x'.repeat(2000)]);
          acked.push(subject);
        } catch {
          return; // the node died under us: what was not acknowledged may be lost
        }
      }
      await smtp?.smtp('QUIT').catch(() => undefined);
    };
    const senders = [0, 1, 2, 3].map(sender);
    // B serves throughout: a session opened before the kill answers NOOPs during and after it.
    const watcher = await ImapClient.connect(b.ports.imap!);
    await watcher.login(BOB, BOB_PASSWORD);
    await watcher.command('SELECT INBOX');
    while (acked.length < 20) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await a.stop('SIGKILL'), 128 + 9);
    stop = true;
    await Promise.all(senders);
    assert.match((await watcher.command('NOOP')).tagged, /OK/);
    const stored = new Set(await subjects(b.ports.imap!));
    const missing = acked.filter((s) => !stored.has(s));
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages lost`);
    watcher.close();
    // A restarted node serves the same mail again.
    a = await node(db, 'node-a');
    const again = new Set(await subjects(a.ports.imap!));
    assert.ok(acked.every((s) => again.has(s)));
  });
});
