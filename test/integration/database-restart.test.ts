/**
 * PostgreSQL restarted under load (pg_ctlcluster restart) with two nodes delivering: both
 * nodes survive, reconnect on their own, lose no acknowledged message, and change
 * notification works again afterwards (a delivery on A wakes IDLE on B). And the database
 * taken away mid-operation (its connections cut, new ones refused): SMTP DATA, IMAP APPEND
 * and FTP STOR (on the database file store) get temporary failures, leave nothing behind,
 * and work again by themselves once it is back.
 *
 * This restarts the machine's PostgreSQL server, so the test runner runs this file alone,
 * after every other suite.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { LineClient } from '../helpers/line-client.js';
import { FtpTestClient, writeAndEnd } from '../ftp/ftp-client.js';
import { TEST_DATABASE_URL, createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/postgres.js';
import { runProgram } from '../helpers/process.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { ImapClient } from '../imap/harness.js';
import { BOB_PASSWORD, sendMessage } from './setup.js';

const BOB = 'bob@hamburger.edu';

async function restartPostgres(): Promise<void> {
  const versions = await readdir('/etc/postgresql');
  assert.ok(versions.length > 0, 'no PostgreSQL cluster under /etc/postgresql');
  const r = await runProgram('pg_ctlcluster', ['--skip-systemctl-redirect', versions.sort().pop()!, 'main', 'restart'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `pg_ctlcluster restart failed: ${r.stderr}`);
}

/** Cuts every connection to the database and refuses new ones (allow=false), or lets them in again. */
async function allowConnections(name: string, allow: boolean): Promise<void> {
  await queryDatabase(TEST_DATABASE_URL, `ALTER DATABASE ${name} ALLOW_CONNECTIONS ${allow}`);
  if (!allow) await queryDatabase(TEST_DATABASE_URL, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
}

/** Retries `attempt` until it resolves (the nodes reconnect on their own), for up to 30 s. */
async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function smtpSession(port: number): Promise<LineClient> {
  const smtp = await LineClient.connect(port);
  await smtp.line();
  assert.equal((await smtp.smtp('HELO crepes.fr')).code, 250);
  return smtp;
}

describe('PostgreSQL restarted under load', () => {
  let db: TestDatabase;
  let a: WharfProcess;
  let b: WharfProcess;

  before(async () => {
    db = await createTestDatabase();
    const env = { WHARF_DATABASE_URL: db.url };
    [a, b] = await Promise.all([startWharf({ env: { ...env, WHARF_NODE_ID: 'node-a' } }), startWharf({ env: { ...env, WHARF_NODE_ID: 'node-b' } })]);
    assert.equal((await a.cli(['domain', 'add', 'hamburger.edu'])).code, 0);
    assert.equal((await a.cli(['user', 'add', BOB, '--password-stdin'], `${BOB_PASSWORD}\n`)).code, 0);
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await Promise.allSettled([a?.removeData(), b?.removeData()]);
    await db?.drop();
  });

  it('loses no acknowledged message, and both nodes reconnect and notify again', async () => {
    const acked: string[] = [];
    let refused = 0;
    const permanent: string[] = [];
    let stop = false;
    const sender = async (id: number) => {
      const port = (id % 2 === 0 ? a : b).ports.smtp!;
      let smtp: LineClient | null = null;
      for (let n = 0; !stop; n++) {
        const subject = `restart ${id}-${n}`;
        try {
          smtp ??= await smtpSession(port);
          await sendMessage(smtp, [`Subject: ${subject}`, '', 'x'.repeat(1000)]);
          acked.push(subject);
        } catch (err) {
          // Refused (4xx while the database is away) or cut off: not acknowledged, so the
          // client keeps it and tries again on a new connection, as a real MTA would. A 5xx
          // would make a real MTA bounce the message: the outage must never cause one.
          if (err instanceof assert.AssertionError && typeof err.actual === 'number' && err.actual >= 500) permanent.push(err.message);
          refused++;
          smtp?.close();
          smtp = null;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await smtp?.smtp('QUIT').catch(() => undefined);
    };
    const senders = [0, 1, 2, 3].map(sender);
    while (acked.length < 20) await new Promise((r) => setTimeout(r, 20));
    await restartPostgres();
    const afterRestart = acked.length;
    // Deliveries resume once the nodes have reconnected.
    const deadline = Date.now() + 30_000;
    while (acked.length < afterRestart + 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(senders);
    assert.ok(acked.length >= afterRestart + 20, `deliveries did not resume after the restart (${acked.length - afterRestart} since)`);
    assert.ok(a.alive(), `node A is still running; its stderr: ${a.stderr()}`);
    assert.ok(b.alive(), `node B is still running; its stderr: ${b.stderr()}`);
    assert.deepEqual(permanent, [], 'permanent (5xx) refusals during the restart');

    const imap = await ImapClient.connect(b.ports.imap!);
    await imap.login(BOB, BOB_PASSWORD);
    const selected = await imap.command('SELECT INBOX');
    const r = await imap.command('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    const stored = new Set(r.untagged.flatMap((l) => [...l.matchAll(/Subject: ([^\r\n]+)/g)].map((m) => m[1]!)));
    const missing = acked.filter((s) => !stored.has(s));
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages lost (${refused} refused during the restart)`);

    // Change notification across nodes works again: a delivery on A wakes IDLE on B.
    const exists = Number(/^\* (\d+) EXISTS$/m.exec(selected.untagged.join('\n'))![1]);
    imap.send('i1 IDLE\r\n');
    assert.match(await imap.readResponse(), /^\+ /);
    const smtp = await smtpSession(a.ports.smtp!);
    await sendMessage(smtp, ['Subject: after the restart', '', 'hello again']);
    const line = await imap.readResponse(3000);
    assert.match(line, /^\* \d+ EXISTS$/);
    assert.ok(Number(line.split(' ')[1]) > exists);
    imap.send('DONE\r\n');
    await imap.complete('i1');
    await smtp.smtp('QUIT');
    imap.close();
  });

  it('answers 4xx and NO while the database is away, keeps nothing of it, and serves again once it is back', async () => {
    const id = `outage-${Date.now().toString(36)}`;
    const seen: string[] = [];
    // Each operation is brought up to its storing step while the database is there.
    const smtp = await smtpSession(a.ports.smtp!);
    assert.equal((await smtp.smtp('MAIL FROM:<alice@crepes.fr>')).code, 250);
    assert.equal((await smtp.smtp(`RCPT TO:<${BOB}>`)).code, 250);
    assert.equal((await smtp.smtp('DATA')).code, 354);
    const imap = await ImapClient.connect(a.ports.imap!);
    await imap.login(BOB, BOB_PASSWORD);
    const count = async (client: ImapClient) =>
      Number(/MESSAGES (\d+)/.exec((await client.command('STATUS INBOX (MESSAGES)')).untagged.join(' '))![1]);
    const before = await count(imap);
    const ftp = await FtpTestClient.connect(a.ports.ftp!);
    await ftp.login(BOB, BOB_PASSWORD);
    const data = await ftp.openPassive();
    assert.equal((await ftp.cmd(`STOR ${id}.txt`)).code, 150);

    await allowConnections(db.name, false);
    try {
      for (const line of [`Subject: ${id}`, '', 'x'.repeat(2000)]) smtp.send(line);
      const smtpReply = await smtp.smtp('.');
      assert.match(smtpReply.lines.join(' '), /^4\d\d 4\.\d\.\d /, 'SMTP DATA while the database is away');
      seen.push(`SMTP DATA -> ${smtpReply.lines.join(' ')}`);
      const message = `Subject: ${id}\r\n\r\nhello\r\n`;
      imap.send(`a1 APPEND INBOX {${message.length}+}\r\n${message}\r\n`);
      const appended = (await imap.complete('a1', 30_000)).tagged;
      assert.match(appended, /^a1 NO \[UNAVAILABLE\] /, 'IMAP APPEND while the database is away');
      seen.push(`IMAP APPEND -> ${appended}`);
      await writeAndEnd(data, `${id}\n${'z'.repeat(100_000)}\n`);
      const stored = (await ftp.reply(30_000)).lines.join(' ');
      assert.match(stored, /^45\d /, 'FTP STOR while the database is away');
      seen.push(`FTP STOR -> ${stored}`);
    } finally {
      await allowConnections(db.name, true);
    }
    smtp.close();
    imap.close();
    ftp.close();
    assert.ok(a.alive(), `node A is still running; its stderr: ${a.stderr()}`);

    // Back: nothing of the refused operations is there, and the same operations succeed.
    const look = await eventually(async () => {
      const client = await ImapClient.connect(a.ports.imap!);
      await client.login(BOB, BOB_PASSWORD);
      return client;
    });
    assert.equal(await count(look), before, 'a refused message is in the mailbox');
    const ftpAfter = await eventually(async () => {
      const client = await FtpTestClient.connect(a.ports.ftp!);
      await client.login(BOB, BOB_PASSWORD);
      // SIZE answers in binary mode only.
      await client.expect('TYPE I', 200);
      return client;
    });
    assert.equal((await ftpAfter.cmd(`SIZE ${id}.txt`)).code, 550, 'a refused upload is there');
    await eventually(async () => {
      const again = await smtpSession(a.ports.smtp!);
      await sendMessage(again, [`Subject: ${id} again`, '', 'hello']);
      await again.smtp('QUIT');
      again.close();
    });
    const message = `Subject: ${id} again\r\n\r\nhello\r\n`;
    look.send(`a2 APPEND INBOX {${message.length}+}\r\n${message}\r\n`);
    assert.match((await look.complete('a2')).tagged, /^a2 OK /);
    assert.equal(await count(look), before + 2);
    const data2 = await ftpAfter.openPassive();
    assert.equal((await ftpAfter.cmd(`STOR ${id}.txt`)).code, 150);
    await writeAndEnd(data2, 'back again\n');
    assert.equal((await ftpAfter.reply()).code, 226);
    assert.equal((await ftpAfter.cmd(`SIZE ${id}.txt`)).code, 213);
    look.close();
    ftpAfter.close();
    process.stdout.write(`# while the database was away:\n${seen.map((l) => `#   ${l}\n`).join('')}`);
  });
});
