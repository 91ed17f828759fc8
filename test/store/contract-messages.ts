/** Store contract, part 2: mailboxes, bodies, delivery, flags, expunge, changes, watchers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MailboxEntry, Store } from '../../src/store/types.js';
import type { ContractContext } from './contract.js';
import { bodyOf, deliverText, pseudoRandomBytes, readAll, rejectsWith, sleep, waitFor } from './helpers.js';

async function setup(store: Store) {
  await store.addDomain('example.com');
  const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
  const bob = await store.addUser({ address: 'bob@example.com', passwordHash: 'h' });
  const carol = await store.addUser({ address: 'carol@example.com', passwordHash: 'h' });
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
  return { alice, bob, carol, inbox };
}

const uidsOf = (entries: MailboxEntry[]) => entries.map((e) => e.uid);

export function runMessageContract(ctx: ContractContext): void {
  describe('mailboxes', () => {
    it('creates, finds and lists mailboxes; INBOX is case-insensitive', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      assert.equal(inbox.name, 'INBOX');
      assert.equal(inbox.role, 'inbox');
      assert.deepEqual(await store.getMailbox(alice.id, 'inbox'), inbox);
      assert.deepEqual(await store.getMailboxById(inbox.id), inbox);

      const work = await store.createMailbox(alice.id, 'Work/Projects');
      assert.equal(work.name, 'Work/Projects');
      assert.equal(work.role, null);
      assert.equal(work.uidNext, 1);
      const spam = await store.createMailbox(alice.id, 'Spam2', 'junk');
      assert.equal(spam.role, 'junk');
      assert.deepEqual(await store.getMailbox(alice.id, 'Work/Projects'), work);
      assert.equal(await store.getMailbox(alice.id, 'work/projects'), null, 'other names are case-sensitive');
      assert.equal(await store.getMailbox(alice.id, 'Nope'), null);
      assert.equal(await store.getMailboxById(999_999), null);
      const names = (await store.listMailboxes(alice.id)).map((m) => m.name);
      assert.ok(names.includes('Work/Projects') && names.includes('Spam2') && names.includes('INBOX'));
      const validities = (await store.listMailboxes(alice.id)).map((m) => m.uidValidity);
      assert.equal(new Set(validities).size, validities.length, 'UIDVALIDITY values are distinct');
    });

    it('rejects duplicates, invalid names and unknown users', async () => {
      const { store } = ctx;
      const { alice } = await setup(store);
      await rejectsWith(store.createMailbox(alice.id, 'Sent'), 'conflict');
      await rejectsWith(store.createMailbox(alice.id, 'inbox'), 'conflict');
      await rejectsWith(store.createMailbox(alice.id, ''), 'invalid');
      await rejectsWith(store.createMailbox(alice.id, 'a//b'), 'invalid');
      await rejectsWith(store.createMailbox(999_999, 'X'), 'not-found');
    });
  });

  describe('delivery and bodies', () => {
    it('stores a body once and gives each user one INBOX entry', async () => {
      const { store } = ctx;
      const { alice, bob, carol } = await setup(store);
      const text = 'From: a@remote.test\r\nSubject: hi\r\n\r\nHello!\r\n';
      const date = new Date('2024-05-06T07:08:09.000Z');
      const headers = { from: 'a@remote.test', subject: 'hi', messageId: '<1@remote.test>' };
      const body = await bodyOf(store, text);
      assert.equal(body.size, Buffer.byteLength(text));
      const result = await store.deliver({
        body,
        internalDate: date,
        headers,
        envelope: { mailFrom: 'a@remote.test', rcptTo: ['alice@example.com', 'bob@example.com'] },
        userIds: [alice.id, bob.id, carol.id, bob.id],
      });
      assert.deepEqual(result.entries.map((e) => e.userId).sort(), [alice.id, bob.id, carol.id].sort());

      for (const user of [alice, bob, carol]) {
        const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
        const entry = result.entries.find((e) => e.userId === user.id)!;
        assert.equal(entry.mailboxId, inbox.id);
        assert.equal(entry.uid, 1);
        const entries = await store.listEntries(inbox.id);
        assert.equal(entries.length, 1, 'one entry even when listed twice');
        assert.equal(entries[0]!.messageId, result.messageId, 'all entries share one stored message');
        assert.equal(entries[0]!.size, Buffer.byteLength(text));
        assert.deepEqual(entries[0]!.flags, []);
        assert.equal(entries[0]!.internalDate.getTime(), date.getTime());
        assert.equal(inbox.messageCount, 1);
        assert.equal(inbox.totalBytes, Buffer.byteLength(text));
        assert.equal(inbox.uidNext, 2);
        assert.equal((await store.getUserById(user.id))!.usedBytes, Buffer.byteLength(text));
      }
      const message = await store.getMessage(result.messageId);
      assert.deepEqual(message, { id: result.messageId, size: Buffer.byteLength(text), internalDate: date, headers });
      assert.equal((await readAll(store.readBody(result.messageId))).toString(), text);
      assert.equal(await store.getMessage(result.messageId + 1000), null);
    });

    it('is atomic: a delivery with an unknown user stores nothing', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      const body = await bodyOf(store, pseudoRandomBytes(300 * 1024));
      await rejectsWith(
        store.deliver({
          body,
          internalDate: new Date(),
          headers: {},
          envelope: { mailFrom: '', rcptTo: ['x@example.com'] },
          userIds: [alice.id, 987_654],
        }),
        'not-found',
      );
      assert.deepEqual(await store.listEntries(inbox.id), []);
      const after = (await store.getMailbox(alice.id, 'INBOX'))!;
      assert.equal(after.uidNext, 1);
      assert.equal(after.messageCount, 0);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);
      await body.abort(); // allowed after a failed deliver
      await body.abort(); // and more than once
      await rejectsWith(deliverText(store, [], 'no recipients'), 'invalid');
    });

    it('keeps the other operations of a batch when one fails', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      const results = await Promise.allSettled([
        deliverText(store, [alice.id], 'one'),
        deliverText(store, [123_456], 'bad'),
        deliverText(store, [alice.id], 'two'),
        store.setFlags(inbox.id, [1], 'add', ['\\Seen']),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      );
      assert.equal((await store.listEntries(inbox.id)).length, 2);
    });

    it('leaves nothing behind for an aborted body', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      const body = await bodyOf(store, pseudoRandomBytes(700 * 1024));
      assert.equal(body.size, 700 * 1024);
      await body.abort();
      await body.abort();
      await rejectsWith(body.write(Buffer.from('more')), 'invalid');
      await rejectsWith(
        store.deliver({
          body,
          internalDate: new Date(),
          headers: {},
          envelope: { mailFrom: '', rcptTo: [] },
          userIds: [alice.id],
        }),
        'invalid',
      );
      assert.deepEqual(await store.listEntries(inbox.id), []);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);
      // A body that was never written at all can be aborted too.
      await store.createBody().abort();
    });

    it('refuses to deliver the same body twice', async () => {
      const { store } = ctx;
      const { alice, bob } = await setup(store);
      const body = await bodyOf(store, 'once');
      const request = { body, internalDate: new Date(), headers: {}, envelope: { mailFrom: '', rcptTo: [] } };
      await store.deliver({ ...request, userIds: [alice.id] });
      await rejectsWith(store.deliver({ ...request, userIds: [bob.id] }), 'invalid');
      await body.abort(); // no effect on the delivered message
      const [entry] = await store.listEntries((await store.getMailbox(alice.id, 'INBOX'))!.id);
      assert.equal((await readAll(store.readBody(entry!.messageId))).toString(), 'once');
    });

    it('round-trips a 5 MB body byte-exact, streamed, with ranges', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      const data = pseudoRandomBytes(5 * 1024 * 1024 + 123, 42);
      const body = await bodyOf(store, data, 64 * 1024);
      assert.equal(body.size, data.length);
      const { messageId } = await store.deliver({
        body,
        internalDate: new Date(),
        headers: { subject: 'big' },
        envelope: { mailFrom: '', rcptTo: [] },
        userIds: [alice.id],
      });
      const pieces: Buffer[] = [];
      for await (const piece of store.readBody(messageId)) pieces.push(piece);
      assert.ok(pieces.length > 1, 'the body is streamed in several pieces');
      assert.ok(pieces.every((p) => p.length < data.length));
      assert.ok(Buffer.concat(pieces).equals(data), 'byte-exact');

      const K = 256 * 1024;
      const ranges: Array<{ start: number; end?: number }> = [
        { start: 0, end: 1 },
        { start: K - 10, end: K + 10 },
        { start: 3 * K, end: 3 * K },
        { start: 123_457, end: 4_000_001 },
        { start: data.length - 5 },
        { start: 1_000_000 },
        { start: data.length },
        { start: data.length - 3, end: data.length + 100 },
      ];
      for (const range of ranges) {
        const got = await readAll(store.readBody(messageId, range));
        const want = data.subarray(range.start, range.end === undefined ? undefined : Math.min(range.end, data.length));
        assert.ok(got.equals(want), `range ${JSON.stringify(range)}`);
      }
      assert.equal((await store.listEntries(inbox.id))[0]!.size, data.length);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, data.length);
    });

    it('stores an empty body', async () => {
      const { store } = ctx;
      const { alice } = await setup(store);
      const { messageId } = await deliverText(store, [alice.id], '');
      assert.equal((await store.getMessage(messageId))!.size, 0);
      assert.equal((await readAll(store.readBody(messageId))).length, 0);
    });

    it('fails to read an unknown message', async () => {
      const { store } = ctx;
      await rejectsWith(readAll(store.readBody(424_242)), 'not-found');
    });

    it('gives 50 concurrent deliveries distinct ascending UIDs', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setup(store);
      const bodies = await Promise.all(Array.from({ length: 50 }, (_, i) => bodyOf(store, `message ${i}`)));
      const results = await Promise.all(
        bodies.map((body) =>
          store.deliver({
            body,
            internalDate: new Date(),
            headers: {},
            envelope: { mailFrom: '', rcptTo: [] },
            userIds: [alice.id, bob.id],
          }),
        ),
      );
      const uids = results.map((r) => r.entries.find((e) => e.userId === alice.id)!.uid);
      assert.deepEqual([...uids].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
      const entries = await store.listEntries(inbox.id);
      assert.deepEqual(uidsOf(entries), Array.from({ length: 50 }, (_, i) => i + 1));
      // Every entry points at its own body.
      for (const [i, result] of results.entries()) {
        assert.equal((await readAll(store.readBody(result.messageId))).toString(), `message ${i}`);
      }
      assert.equal((await store.getMailboxById(inbox.id))!.uidNext, 51);
    });
  });

  describe('append, flags, expunge, changes', () => {
    it('appends with flags and internal date; durable entries are listed', async () => {
      const { store } = ctx;
      const { alice } = await setup(store);
      const sent = (await store.getMailbox(alice.id, 'Sent'))!;
      const date = new Date('2023-01-02T03:04:05.000Z');
      const entry = await store.append(sent.id, {
        body: await bodyOf(store, 'Subject: draft\r\n\r\nbody'),
        internalDate: date,
        headers: { subject: 'draft' },
        flags: ['\\seen', 'Work', '\\Seen', '$Label1'],
      });
      assert.equal(entry.mailboxId, sent.id);
      assert.equal(entry.uid, 1);
      assert.deepEqual([...entry.flags].sort(), ['$Label1', 'Work', '\\Seen'].sort());
      assert.equal(entry.internalDate.getTime(), date.getTime());
      assert.deepEqual(await store.listEntries(sent.id), [entry]);
      assert.deepEqual((await store.getMessage(entry.messageId))!.headers, { subject: 'draft' });
      await rejectsWith(
        store.append(999_999, { body: await bodyOf(store, 'x'), internalDate: new Date(), headers: {}, flags: [] }),
        'not-found',
      );
      await rejectsWith(
        store.append(sent.id, { body: await bodyOf(store, 'x'), internalDate: new Date(), headers: {}, flags: ['bad flag'] }),
        'invalid',
      );
    });

    it('tracks usedBytes and enforces the quota on append', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      await deliverText(store, [alice.id], 'x'.repeat(100));
      await store.append(inbox.id, { body: await bodyOf(store, 'y'.repeat(50)), internalDate: new Date(), headers: {}, flags: [] });
      assert.equal((await store.getUser('alice@example.com'))!.usedBytes, 150);
      await store.setQuota('alice@example.com', 200);
      await rejectsWith(
        store.append(inbox.id, { body: await bodyOf(store, 'z'.repeat(51)), internalDate: new Date(), headers: {}, flags: [] }),
        'quota',
      );
      await store.append(inbox.id, { body: await bodyOf(store, 'z'.repeat(50)), internalDate: new Date(), headers: {}, flags: [] });
      const user = (await store.getUser('alice@example.com'))!;
      assert.equal(user.usedBytes, 200);
      assert.equal(user.quotaBytes, 200);
      assert.equal((await store.listEntries(inbox.id)).length, 3);
    });

    it('adds, removes and replaces flags, bumping modseqs', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      for (let i = 0; i < 3; i++) await deliverText(store, [alice.id], `m${i}`);
      const before = (await store.getMailboxById(inbox.id))!;

      const added = (await store.setFlags(inbox.id, [1, 3, 99], 'add', ['\\Seen', 'todo'])).updated;
      assert.deepEqual(uidsOf(added), [1, 3], 'unknown UIDs are ignored');
      for (const e of added) {
        assert.deepEqual([...e.flags].sort(), ['\\Seen', 'todo']);
        assert.ok(e.modseq > before.highestModseq);
      }
      const afterAdd = (await store.getMailboxById(inbox.id))!;
      assert.ok(afterAdd.highestModseq > before.highestModseq);

      const removed = (await store.setFlags(inbox.id, [1], 'remove', ['TODO'])).updated;
      assert.deepEqual(removed[0]!.flags, ['\\Seen'], 'keywords compare case-insensitively');
      assert.ok(removed[0]!.modseq > added[0]!.modseq);

      const replaced = (await store.setFlags(inbox.id, [2, 3], 'replace', ['\\Flagged'])).updated;
      assert.deepEqual(replaced.map((e) => e.flags), [['\\Flagged'], ['\\Flagged']]);
      const listed = await store.listEntries(inbox.id);
      assert.deepEqual(listed.map((e) => e.flags), [['\\Seen'], ['\\Flagged'], ['\\Flagged']]);
      assert.equal((await store.getMailboxById(inbox.id))!.highestModseq, Math.max(...listed.map((e) => e.modseq)));

      await rejectsWith(store.setFlags(inbox.id, [1], 'add', ['\\Bogus']), 'invalid');
      await rejectsWith(store.setFlags(999_999, [1], 'add', ['\\Seen']), 'not-found');
    });

    it('expunges: counters shrink, UIDs are never reused, last reference deletes the message', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setup(store);
      const r1 = await deliverText(store, [alice.id, bob.id], 'aaaa');
      await deliverText(store, [alice.id], 'bb');
      await deliverText(store, [alice.id], 'c');

      assert.deepEqual(await store.expunge(inbox.id, [3, 1, 77]), [1, 3]);
      const mailbox = (await store.getMailboxById(inbox.id))!;
      assert.equal(mailbox.messageCount, 1);
      assert.equal(mailbox.totalBytes, 2);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, 2);
      assert.deepEqual(uidsOf(await store.listEntries(inbox.id)), [2]);
      assert.deepEqual(await store.expunge(inbox.id, [1]), [], 'already gone');

      // The first message is still bob's.
      assert.equal((await readAll(store.readBody(r1.messageId))).toString(), 'aaaa');
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      await store.expunge(bobInbox.id, [1]);
      assert.equal(await store.getMessage(r1.messageId), null, 'deleted with its last entry');
      await rejectsWith(readAll(store.readBody(r1.messageId)), 'not-found');

      const next = await deliverText(store, [alice.id], 'd');
      assert.equal(next.entries[0]!.uid, 4, 'the expunged highest UID is not reused');
      await store.expunge(inbox.id, [2, 4]);
      const last = await deliverText(store, [alice.id], 'e');
      assert.equal(last.entries[0]!.uid, 5);
      await rejectsWith(store.expunge(999_999, [1]), 'not-found');
    });

    it('assigns increasing modseqs and reports changes since a modseq', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setup(store);
      const start = (await store.getMailboxById(inbox.id))!.highestModseq;
      let previous = start;
      for (let i = 0; i < 4; i++) {
        await deliverText(store, [alice.id], `m${i}`);
        const [entry] = (await store.listEntries(inbox.id)).slice(-1);
        assert.ok(entry!.modseq > previous, 'each new entry gets a higher modseq');
        previous = entry!.modseq;
      }
      const afterDeliveries = (await store.getMailboxById(inbox.id))!.highestModseq;
      assert.equal(afterDeliveries, previous);

      await store.setFlags(inbox.id, [1], 'add', ['\\Seen']);
      await store.expunge(inbox.id, [2]);
      const changes = await store.changesSince(inbox.id, afterDeliveries);
      const now = (await store.getMailboxById(inbox.id))!.highestModseq;
      assert.ok(now > afterDeliveries);
      assert.equal(changes.highestModseq, now);
      assert.deepEqual(uidsOf(changes.changed), [1]);
      assert.deepEqual(changes.changed[0]!.flags, ['\\Seen']);
      assert.deepEqual(changes.expunged, [2]);

      const all = await store.changesSince(inbox.id, start);
      assert.deepEqual(uidsOf(all.changed), [1, 3, 4]);
      assert.deepEqual(all.expunged, [2]);

      const none = await store.changesSince(inbox.id, now);
      assert.deepEqual(none, { highestModseq: now, changed: [], expunged: [], complete: true });
      await rejectsWith(store.changesSince(999_999, 0), 'not-found');
    });
  });

  describe('watchMailbox', () => {
    it('fires after deliver, setFlags and expunge, and stops when closed', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setup(store);
      let calls = 0;
      const watch = store.watchMailbox(inbox.id, () => calls++);
      let otherCalls = 0;
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      const otherWatch = store.watchMailbox(bobInbox.id, () => otherCalls++);

      await deliverText(store, [alice.id], 'hello');
      await waitFor(() => calls >= 1, 'a call after deliver');
      let seen = calls;
      await store.setFlags(inbox.id, [1], 'add', ['\\Seen']);
      await waitFor(() => calls > seen, 'a call after setFlags');
      seen = calls;
      await store.expunge(inbox.id, [1]);
      await waitFor(() => calls > seen, 'a call after expunge');

      watch.close();
      watch.close();
      seen = calls;
      await deliverText(store, [alice.id], 'after close');
      await sleep(400);
      assert.equal(calls, seen, 'no calls after close');
      // The other watch is independent and still works.
      const otherSeen = otherCalls;
      await deliverText(store, [bob.id], 'for bob');
      await waitFor(() => otherCalls > otherSeen, 'the other watcher');
      otherWatch.close();
    });
  });

  describe('close', () => {
    it('flushes queued writes before closing', async () => {
      const { store } = ctx;
      const { alice } = await setup(store);
      const body = await bodyOf(store, 'last words');
      const pending = store.deliver({
        body,
        internalDate: new Date(),
        headers: {},
        envelope: { mailFrom: '', rcptTo: [] },
        userIds: [alice.id],
      });
      const lease = store.acquireLease('x', 'me', 1000);
      await store.close();
      const result = await pending;
      assert.equal(result.entries.length, 1);
      assert.equal(await lease, true);
    });

    it('waits for a delivery whose body is still being written', async () => {
      const { store } = ctx;
      const { alice } = await setup(store);
      const data = pseudoRandomBytes(600 * 1024, 9);
      const body = store.createBody();
      const written = body.write(data); // not awaited: chunks are still being stored
      const pending = store.deliver({
        body,
        internalDate: new Date(),
        headers: {},
        envelope: { mailFrom: '', rcptTo: [] },
        userIds: [alice.id],
      });
      await store.close();
      await written;
      const result = await pending;
      assert.equal(result.entries.length, 1);
    });
  });
}
