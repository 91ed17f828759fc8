/**
 * PostgreSQL restarted under load (pg_ctlcluster restart) with two nodes delivering: both
 * nodes survive, reconnect on their own, lose no acknowledged message, and change
 * notification works again afterwards (a delivery on A wakes IDLE on B).
 *
 * This restarts the machine's PostgreSQL server, so the test runner runs this file alone,
 * after every other suite.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { LineClient } from '../helpers/line-client.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
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
        } catch {
          // Refused (4xx while the database is away) or cut off: not acknowledged, so the
          // client keeps it and tries again on a new connection, as a real MTA would.
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
});
