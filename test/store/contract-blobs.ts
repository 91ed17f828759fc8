/** Store contract, BlobStore: bodies streamed in and out, delivery, structure, closing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMessageAnalyzer } from '../../src/mime/analyzer.js';
import { contractSuite, type OpenStore } from './contract.js';
import { runPrependContract } from './contract-prepend.js';
import {
  bodyOf,
  deliverBody,
  deliverText,
  pseudoRandomBytes,
  readAll,
  rejectsWith,
  setupUsers,
  uidsOf,
} from './helpers.js';

export function runBlobContract(backend: string, open: OpenStore): void {
  contractSuite(`BlobStore contract: ${backend}`, open, (ctx) => {
    describe('delivery and bodies', () => {
      it('stores a body once and gives each user one INBOX entry', async () => {
        const { store } = ctx;
        const { alice, bob, carol } = await setupUsers(store);
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
        const { alice, inbox } = await setupUsers(store);
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
        const { alice, inbox } = await setupUsers(store);
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
        const { alice, inbox } = await setupUsers(store);
        const body = await bodyOf(store, pseudoRandomBytes(700 * 1024));
        assert.equal(body.size, 700 * 1024);
        await body.abort();
        await body.abort();
        await rejectsWith(body.write(Buffer.from('more')), 'invalid');
        await rejectsWith(
          deliverBody(store, body, [alice.id]),
          'invalid',
        );
        assert.deepEqual(await store.listEntries(inbox.id), []);
        assert.equal((await store.getUserById(alice.id))!.usedBytes, 0);
        // A body that was never written at all can be aborted too.
        await store.createBody().abort();
      });

      it('refuses to deliver the same body twice', async () => {
        const { store } = ctx;
        const { alice, bob } = await setupUsers(store);
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
        const { alice, inbox } = await setupUsers(store);
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
        const { alice } = await setupUsers(store);
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
        const { alice, bob, inbox } = await setupUsers(store);
        const bodies = await Promise.all(Array.from({ length: 50 }, (_, i) => bodyOf(store, `message ${i}`)));
        const results = await Promise.all(
          bodies.map((body) =>
            deliverBody(store, body, [alice.id, bob.id]),
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

    describe('structure', () => {
      it('keeps the structure and header fields worked out while the body streamed in', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const raw = Buffer.from(
          'From: Ann <ann@remote.test>\r\nTo: alice@example.com\r\nSubject: Structure\r\n' +
            'Message-ID: <s1@remote.test>\r\nDate: Mon, 6 May 2024 07:08:09 +0000\r\n\r\n' +
            'line one\r\nline two\r\n',
        );
        // Written in small pieces, so the header block arrives split across chunks.
        const body = await bodyOf(store, raw, 7);
        const { messageId } = await store.deliver({
          body,
          internalDate: new Date(),
          envelope: { mailFrom: 'ann@remote.test', rcptTo: ['alice@example.com'] },
          userIds: [alice.id],
        });
        const analyzer = createMessageAnalyzer();
        analyzer.write(raw);
        const expected = analyzer.end();
        const structure = await store.getStructure(messageId);
        assert.deepEqual(structure, { root: expected.root, envelope: expected.envelope });
        assert.equal(structure!.root.bodyEnd, raw.length);
        assert.equal(raw.subarray(structure!.root.bodyStart).toString(), 'line one\r\nline two\r\n');
        assert.equal(structure!.envelope.subject, 'Structure');
        assert.equal(structure!.envelope.messageId, '<s1@remote.test>');
        assert.deepEqual((await store.getMessage(messageId))!.headers, {
          from: 'Ann <ann@remote.test>',
          to: 'alice@example.com',
          subject: 'Structure',
          messageId: '<s1@remote.test>',
          date: 'Mon, 6 May 2024 07:08:09 +0000',
        });
        assert.equal(await store.getStructure(messageId + 1000), null);
      });

      it('keeps the structure of an appended message; given header fields win over parsed ones', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const drafts = (await store.getMailbox(alice.id, 'Drafts'))!;
        const raw = 'Subject: parsed\r\n\r\nhello';
        const entry = await store.append(drafts.id, {
          body: await bodyOf(store, raw),
          internalDate: new Date(),
          headers: { subject: 'given' },
          flags: ['\\Draft'],
        });
        assert.deepEqual((await store.getMessage(entry.messageId))!.headers, { subject: 'given' });
        const structure = (await store.getStructure(entry.messageId))!;
        assert.equal(structure.root.bodyStart, raw.indexOf('hello'));
        assert.equal(structure.root.bodyEnd, raw.length);
      });

      it('refuses more bytes once a body was handed to a delivery that failed', async () => {
        const { store } = ctx;
        await setupUsers(store);
        const body = await bodyOf(store, 'Subject: x\r\n\r\nbody');
        await rejectsWith(
          store.deliver({ body, internalDate: new Date(), envelope: { mailFrom: '', rcptTo: [] }, userIds: [424_242] }),
          'not-found',
        );
        await rejectsWith(body.write(Buffer.from('more')), 'invalid');
        await body.abort();
      });
    });

    runPrependContract(ctx);

    describe('close', () => {
      it('flushes queued writes before closing', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const body = await bodyOf(store, 'last words');
        const pending = deliverBody(store, body, [alice.id]);
        const lease = store.acquireLease('x', 'me', 1000);
        await store.close();
        const result = await pending;
        assert.equal(result.entries.length, 1);
        assert.equal(await lease, true);
      });

      it('waits for a delivery whose body is still being written', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        const data = pseudoRandomBytes(600 * 1024, 9);
        const body = store.createBody();
        const written = body.write(data); // not awaited: chunks are still being stored
        const pending = deliverBody(store, body, [alice.id]);
        await store.close();
        await written;
        const result = await pending;
        assert.equal(result.entries.length, 1);
      });
    });
  });
}
