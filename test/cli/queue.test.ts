/**
 * `wharf queue ...` run as a child process, the way an administrator would, against a store
 * this test fills (SQLite in the data folder, or PostgreSQL with WHARF_TEST_STORE=postgres).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { cleanEnv, makeTempDir, removeDir, runWharf, type CliResult } from '../helpers/cli.js';
import { dropProcessStore, processStoreEnv } from '../helpers/test-store.js';
import { bodyOf, waitFor } from '../store/helpers.js';

const NEXT_TRY = new Date('2030-01-02T03:04:05.678Z');

describe('wharf queue', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let store: Store;
  const wharf = (args: string[]) => runWharf([...args, '--data', dataDir], { env: cleanEnv(env) });

  function ok(result: CliResult, stdout?: string | RegExp): void {
    assert.equal(result.code, 0, `exit ${result.code}, stderr: ${result.stderr}`);
    assert.equal(result.stderr, '');
    if (typeof stdout === 'string') assert.equal(result.stdout, stdout);
    else if (stdout) assert.match(result.stdout, stdout);
  }

  function fails(result: CliResult, code: number, message: RegExp): void {
    assert.equal(result.code, code, `stdout: ${result.stdout} stderr: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '');
  }

  async function enqueue(mailFrom: string, recipients: string[], senderUserId: number | null, text: string) {
    const result = await store.deliver({
      body: await bodyOf(store, text),
      internalDate: new Date(),
      envelope: { mailFrom, rcptTo: recipients },
      userIds: [],
      outbound: { recipients, senderUserId, eightBit: false, smtputf8: false },
    });
    return result.queueId!;
  }

  before(async () => {
    dataDir = await makeTempDir('wharf-cli-queue-');
    env = await processStoreEnv(dataDir);
    store = await openStore({ dataDir, databaseUrl: env.WHARF_DATABASE_URL });
    await store.addDomain('example.org');
    const alice = await store.addUser({ address: 'alice@example.org', passwordHash: 'x' });
    const first = await enqueue('alice@example.org', ['bob@remote.example', 'carol@other.example'], alice.id, 'Subject: Lunch\r\n\r\nhi\r\n');
    await store.claimDue('test-worker', new Date(), 10, 60_000);
    await store.recordAttempts(
      first,
      'test-worker',
      [
        { address: 'bob@remote.example', outcome: 'deferred', reply: '451 4.7.1 greylisted,\r\n451 4.7.1 "come back later"', nextAttemptAt: NEXT_TRY },
        { address: 'carol@other.example', outcome: 'delivered', reply: '250 2.0.0 Ok' },
      ],
      { release: true },
    );
    await enqueue('', ['x@remote.example'], null, 'Subject: bounce\r\n\r\nx\r\n');
  });

  after(async () => {
    await store.close();
    await dropProcessStore(dataDir);
    await removeDir(dataDir);
  });

  it('list shows each message with each recipient\'s state, attempts, last reply and next try', async () => {
    const result = await wharf(['queue', 'list']);
    ok(result);
    const lines = result.stdout.split('\n');
    assert.equal(lines.length, 6, result.stdout);
    assert.match(lines[0]!, /^1 from=<alice@example\.org> size=22 queued=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(
      lines[1],
      '  bob@remote.example pending attempts=1 next=2030-01-02T03:04:05Z last="451 4.7.1 greylisted, 451 4.7.1 \\"come back later\\""',
    );
    assert.equal(lines[2], '  carol@other.example delivered attempts=1 last="250 2.0.0 Ok"');
    assert.match(lines[3]!, /^2 from=<> size=22 queued=\S+Z$/);
    assert.match(lines[4]!, /^ {2}x@remote\.example pending attempts=0 next=\S+Z last=-$/);
    assert.equal(lines[5], '');
  });

  it('show gives one message in detail; an unknown or malformed id is refused', async () => {
    const result = await wharf(['queue', 'show', '1']);
    ok(result);
    for (const line of [
      'queue id: 1',
      'from: <alice@example.org>',
      'submitted by: alice@example.org',
      'subject: "Lunch"',
      'size: 22',
      'recipient: bob@remote.example',
      '  next attempt: 2030-01-02T03:04:05Z',
      'recipient: carol@other.example',
      '  status: delivered',
      '  last reply: "250 2.0.0 Ok"',
    ]) {
      assert.ok(result.stdout.split('\n').includes(line), `missing ${JSON.stringify(line)} in:\n${result.stdout}`);
    }
    fails(await wharf(['queue', 'show', '99']), 1, /^wharf: no queued message 99\n$/);
    fails(await wharf(['queue', 'show', 'abc']), 2, /invalid queue id "abc"/);
  });

  it('hold and release one message; retry one or all, waking a worker in another process', async () => {
    let wakes = 0;
    const watch = store.watchQueue(() => wakes++);
    try {
      ok(await wharf(['queue', 'hold', '1']), 'held 1 recipient of queued message 1\n');
      ok(await wharf(['queue', 'list']), /^ {2}bob@remote\.example held attempts=1 last=/m);
      ok(await wharf(['queue', 'retry', '1']), '0 recipients of queued message 1 due now\n');
      const seen = wakes;
      ok(await wharf(['queue', 'release', '1']), 'released 1 recipient of queued message 1\n');
      await waitFor(() => wakes > seen, 'the release to wake a queue watcher in this process');
      const bob = (await store.getQueued(1))!.recipients[0]!;
      assert.equal(bob.status, 'pending');
      assert.ok(bob.nextAttemptAt.getTime() <= Date.now() + 5000, 'due now after release');

      ok(await wharf(['queue', 'retry', '2']), '1 recipient of queued message 2 due now\n');
      ok(await wharf(['queue', 'retry']), '2 recipients in the queue due now\n');
      fails(await wharf(['queue', 'hold', '99']), 1, /no queued message 99/);
      fails(await wharf(['queue', 'retry', '99']), 1, /no queued message 99/);
    } finally {
      watch.close();
    }
  });

  it('delete removes a message without a report', async () => {
    ok(await wharf(['queue', 'delete', '2']), 'deleted queued message 2\n');
    fails(await wharf(['queue', 'delete', '2']), 1, /^wharf: no queued message 2\n$/);
    ok(await wharf(['queue', 'delete', '1']), 'deleted queued message 1\n');
    ok(await wharf(['queue', 'list']), '');
    const inbox = (await store.getMailbox((await store.getUser('alice@example.org'))!.id, 'INBOX'))!;
    assert.deepEqual(await store.listEntries(inbox.id), [], 'nobody was told');
  });
});
