/**
 * copyStore and the outbound queue (SQLite → SQLite here; the code only uses the Store
 * contract, whose restoreQueued both backends pass in the queue contract suite): waiting
 * messages keep their recipients' states, a body shared with a mailbox entry stays shared,
 * and a second run catches up with what the source sent or retried since.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { copyStore } from '../../src/store/copy.js';
import { verifyCopy } from '../../src/store/copy-verify.js';
import { openStore, type QueuedMessage, type Store } from '../../src/store/index.js';
import { bodyOf, readAll } from './helpers.js';

const tempDirs: string[] = [];
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function freshStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-copy-queue-'));
  tempDirs.push(dir);
  return openStore({ dataDir: dir });
}

/** A queued message without the ids that differ between stores. */
async function view(store: Store, m: QueuedMessage) {
  return {
    mailFrom: m.mailFrom,
    sender: m.senderUserId === null ? null : (await store.getUserById(m.senderUserId))!.address,
    eightBit: m.eightBit,
    smtputf8: m.smtputf8,
    size: m.size,
    createdAt: m.createdAt.getTime(),
    delayNotified: m.delayNotified,
    recipients: m.recipients,
    body: (await readAll(store.readBody(m.messageId))).toString(),
  };
}

async function views(store: Store) {
  return Promise.all((await store.listQueue()).map((m) => view(store, m)));
}

describe('copyStore: the outbound queue', () => {
  let source: Store;
  let target: Store;
  beforeEach(async () => {
    source = await freshStore();
    target = await freshStore();
  });
  afterEach(async () => {
    await source.close();
    await target.close();
  });

  it('copies waiting messages with their states, and catches up on a second run', async () => {
    await source.addDomain('example.com');
    const alice = await source.addUser({ address: 'alice@example.com', passwordHash: '$scrypt$a' });
    // A submitted message: a copy in alice's INBOX sharing the body with the queued one.
    const submitted = await source.deliver({
      body: await bodyOf(source, 'Subject: plans\r\n\r\nsee you\r\n'),
      internalDate: new Date('2024-05-01T08:00:00Z'),
      envelope: { mailFrom: 'alice@example.com', rcptTo: ['x@one.example', 'y@two.example'] },
      userIds: [alice.id],
      outbound: { recipients: ['x@one.example', 'y@two.example'], senderUserId: alice.id, eightBit: false, smtputf8: false },
    });
    await source.claimDue('w', new Date(), 10, 60_000);
    await source.recordAttempts(
      submitted.queueId!,
      'w',
      [
        { address: 'x@one.example', outcome: 'delivered', reply: '250 ok' },
        { address: 'y@two.example', outcome: 'deferred', reply: '451 4.7.1 later', nextAttemptAt: new Date('2030-01-01T00:00:00Z') },
      ],
      { release: true },
    );
    await source.markNotified(submitted.queueId!, { delayNotified: true, dsnFor: ['y@two.example'] });
    const forwarded = await source.deliver({
      body: await bodyOf(source, 'Subject: fwd\r\n\r\nforwarded\r\n'),
      internalDate: new Date(),
      envelope: { mailFrom: '', rcptTo: ['z@three.example'] },
      userIds: [],
      outbound: { recipients: ['z@three.example'], senderUserId: null, eightBit: true, smtputf8: false },
    });
    await source.setHeld(forwarded.queueId!, true);

    const first = await copyStore(source, target);
    assert.deepEqual(first.problems, []);
    assert.ok(first.verification?.ok, JSON.stringify(first.verification?.differences));
    assert.deepEqual([first.counts.queuedCopied, first.counts.queuedUnchanged, first.counts.queuedRemoved], [2, 0, 0]);
    assert.deepEqual(await views(target), await views(source));
    const targetAlice = (await target.getUser('alice@example.com'))!;
    const inbox = (await target.getMailbox(targetAlice.id, 'INBOX'))!;
    const [queuedCopy] = await target.listQueue();
    assert.equal(queuedCopy!.senderUserId, targetAlice.id, "the sender is the target's alice");
    assert.equal(queuedCopy!.messageId, (await target.listEntries(inbox.id))[0]!.messageId, 'the body stays shared');
    assert.equal(queuedCopy!.recipients[1]!.dsnSent, true);

    const again = await copyStore(source, target);
    assert.deepEqual([again.counts.queuedCopied, again.counts.queuedUnchanged, again.counts.queuedRemoved], [0, 2, 0]);

    // The source sends one and retries the other: the target follows, and never sends twice.
    await source.claimDue('w', new Date('2030-01-01T00:00:01Z'), 10, 60_000);
    await source.recordAttempts(submitted.queueId!, 'w', [{ address: 'y@two.example', outcome: 'delivered', reply: '250 ok' }]);
    await source.setHeld(forwarded.queueId!, false);
    const third = await copyStore(source, target);
    assert.deepEqual([third.counts.queuedCopied, third.counts.queuedUnchanged, third.counts.queuedRemoved], [1, 0, 1]);
    assert.deepEqual(await views(target), await views(source));
    assert.equal((await target.listQueue()).length, 1);
    assert.equal((await target.listEntries(inbox.id)).length, 1, "alice's copy stays");
    assert.equal(third.verification?.queuedChecked, 1);
    assert.ok(third.verification?.ok, JSON.stringify(third.verification?.differences));
  });

  it('verification compares the queues: states and presence', async () => {
    await source.addDomain('example.com');
    const alice = await source.addUser({ address: 'alice@example.com', passwordHash: '$scrypt$a' });
    await source.deliver({
      body: await bodyOf(source, 'Subject: out\r\n\r\nbye\r\n'),
      internalDate: new Date('2024-05-01T08:00:00Z'),
      envelope: { mailFrom: 'alice@example.com', rcptTo: ['x@one.example'] },
      userIds: [],
      outbound: { recipients: ['x@one.example'], senderUserId: alice.id, eightBit: false, smtputf8: false },
    });
    const copied = await copyStore(source, target);
    assert.equal(copied.verification?.queuedChecked, 1);
    assert.ok(copied.verification?.ok, JSON.stringify(copied.verification?.differences));

    const [copy] = await target.listQueue();
    await target.setHeld(copy!.id, true);
    let report = await verifyCopy(source, target);
    assert.equal(report.ok, false);
    assert.match(report.differences.join('\n'), /queued message \d+ from <alice@example\.com> to x@one\.example has other recipient states/);

    await target.deleteQueued(copy!.id);
    report = await verifyCopy(source, target);
    assert.equal(report.ok, false);
    assert.match(report.differences.join('\n'), /queued message \d+ from <alice@example\.com> to x@one\.example is missing/);
  });
});
