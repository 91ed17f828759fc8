/**
 * Store contract, BodyWriter.prepend: header fields put in front of a body once it went by
 * (Authentication-Results, DKIM-Signature). The stored bytes, sizes, quota, MIME offsets and
 * range reads must all be those of the whole message, head included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MimePart } from '../../src/mime/analysis.js';
import { createMessageAnalyzer } from '../../src/mime/analyzer.js';
import type { Store } from '../../src/store/types.js';
import type { ContractContext } from './contract.js';
import { bodyOf, deliverBody, pseudoRandomBytes, readAll, rejectsWith, setupUsers } from './helpers.js';

const CHUNK = 256 * 1024;

/** A multipart message whose attachment spans several chunks. */
function bigMultipart(): Buffer {
  const attachment = pseudoRandomBytes(450 * 1024, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    'From: Ann <ann@remote.test>\r\nTo: alice@example.com\r\nSubject: Big one\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n' +
      'preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello there.\r\n' +
      '--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      `${attachment}\r\n--b1--\r\n`,
  );
}

/** What the analyzer makes of the whole message, as getStructure gives it. */
function structureOf(raw: Buffer) {
  const analyzer = createMessageAnalyzer();
  analyzer.write(raw);
  const { root, envelope } = analyzer.end();
  return { root, envelope };
}

function* partsOf(part: MimePart): Generator<MimePart> {
  yield part;
  for (const child of part.children ?? []) yield* partsOf(child);
  if (part.message) yield* partsOf(part.message.root);
}

async function assertReads(store: Store, messageId: number, raw: Buffer, ranges: Array<[number, number?]>) {
  for (const [start, end] of ranges) {
    const got = await readAll(store.readBody(messageId, { start, end }));
    assert.ok(got.equals(raw.subarray(start, end)), `bytes [${start}, ${end ?? ''})`);
  }
}

export function runPrependContract(ctx: ContractContext): void {
  describe('prepended header fields', () => {
    it('stores a small body with its head: bytes, sizes, structure, header summary', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      const original = Buffer.from('From: a@remote.test\r\nSubject: hi\r\n\r\nHello!\r\n');
      const first = Buffer.from('Authentication-Results: mx.example.com; spf=pass\r\n');
      const second = Buffer.from('DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=sel; b=abc\r\n');
      const body = await bodyOf(store, original);
      body.prepend(first);
      body.prepend(second);
      body.prepend(Buffer.alloc(0));
      const whole = Buffer.concat([second, first, original]);
      assert.equal(body.size, whole.length);
      const { messageId } = await store.deliver({
        body,
        internalDate: new Date(),
        envelope: { mailFrom: 'a@remote.test', rcptTo: ['alice@example.com'] },
        userIds: [alice.id],
      });
      assert.ok((await readAll(store.readBody(messageId))).equals(whole), 'a later prepend goes in front');
      const message = (await store.getMessage(messageId))!;
      assert.equal(message.size, whole.length);
      assert.deepEqual(message.headers, { from: 'a@remote.test', subject: 'hi' }, 'the header summary does not change');
      const structure = (await store.getStructure(messageId))!;
      assert.deepEqual(structure, structureOf(whole));
      assert.equal(structure.root.headerStart, 0);
      assert.equal(whole.subarray(structure.root.bodyStart, structure.root.bodyEnd).toString(), 'Hello!\r\n');
      assert.equal((await store.listEntries(inbox.id))[0]!.size, whole.length);
      assert.equal((await store.getMailboxById(inbox.id))!.totalBytes, whole.length);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, whole.length);
      await assertReads(store, messageId, whole, [
        [0, 5],
        [second.length - 2, second.length + 2],
        [second.length + first.length - 1, second.length + first.length + 1],
        [second.length + first.length],
        [structure.root.bodyStart],
        [whole.length - 1],
      ]);
      // The prepended fields are searchable like the message's own.
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'spf=pass'), [1]);
    });

    it('shifts every offset of a multi-chunk body and reads ranges across the head and chunk edges', async () => {
      const { store } = ctx;
      const { alice } = await setupUsers(store);
      const original = bigMultipart();
      assert.ok(original.length > 2 * CHUNK);
      const head = Buffer.from('Authentication-Results: mx.example.com;\r\n\tdkim=pass header.d=remote.test\r\n');
      const body = await bodyOf(store, original, 50_000);
      body.prepend(head);
      const whole = Buffer.concat([head, original]);
      const { messageId } = await deliverBody(store, body, [alice.id]);
      assert.equal((await store.getMessage(messageId))!.size, whole.length);
      assert.ok((await readAll(store.readBody(messageId))).equals(whole));
      const structure = (await store.getStructure(messageId))!;
      assert.deepEqual(structure, structureOf(whole));
      const h = head.length;
      await assertReads(store, messageId, whole, [
        [0, h],
        [h - 1, h + 1],
        [h, h + CHUNK],
        [h + CHUNK - 3, h + CHUNK + 3],
        [10, h + 2 * CHUNK + 5],
        [h + 2 * CHUNK - 1],
        [whole.length - 2, whole.length + 50],
      ]);
      const parts = [...partsOf(structure.root)];
      assert.equal(parts.length, 3);
      for (const part of parts) {
        const bytes = await readAll(store.readBody(messageId, { start: part.bodyStart, end: part.bodyEnd }));
        assert.ok(bytes.equals(whole.subarray(part.bodyStart, part.bodyEnd)));
      }
      const header = await readAll(store.readBody(messageId, { start: 0, end: structure.root.bodyStart }));
      assert.match(header.toString(), /^Authentication-Results: mx\.example\.com;\r\n\tdkim=pass[^]*Subject: Big one\r\n/);
      assert.ok(header.toString().endsWith('boundary="b1"\r\n\r\n'));
    });

    it('counts the head in append, quota and restore', async () => {
      const { store } = ctx;
      const { alice } = await setupUsers(store);
      const drafts = (await store.getMailbox(alice.id, 'Drafts'))!;
      const original = 'Subject: draft\r\n\r\nbody';
      const head = Buffer.from('X-Added: yes\r\n');
      await store.setQuota(alice.address, original.length + head.length - 1);
      const tooBig = await bodyOf(store, original);
      tooBig.prepend(head);
      await rejectsWith(store.append(drafts.id, { body: tooBig, internalDate: new Date(), flags: [] }), 'quota');
      await tooBig.abort();
      await store.setQuota(alice.address, original.length + head.length);
      const fits = await bodyOf(store, original);
      fits.prepend(head);
      const entry = await store.append(drafts.id, { body: fits, internalDate: new Date(), flags: ['\\Draft'] });
      assert.equal(entry.size, original.length + head.length);
      assert.equal((await readAll(store.readBody(entry.messageId))).toString(), `X-Added: yes\r\n${original}`);
      assert.equal((await store.getUserById(alice.id))!.usedBytes, original.length + head.length);

      const archive = (await store.getMailbox(alice.id, 'Archive'))!;
      const restoredBody = await bodyOf(store, pseudoRandomBytes(CHUNK + 10, 3));
      restoredBody.prepend(head);
      const [restored] = await store.restoreEntries(archive.id, [
        { uid: 7, flags: [], modseq: 3, internalDate: new Date(), body: restoredBody },
      ]);
      assert.equal(restored!.size, CHUNK + 10 + head.length);
      const bytes = await readAll(store.readBody(restored!.messageId));
      assert.ok(bytes.equals(Buffer.concat([head, pseudoRandomBytes(CHUNK + 10, 3)])));
    });

    it('stores a body that is nothing but its head', async () => {
      const { store } = ctx;
      const { alice } = await setupUsers(store);
      const body = store.createBody();
      body.prepend(Buffer.from('X-Only: head\r\n'));
      const { messageId } = await deliverBody(store, body, [alice.id]);
      assert.equal((await readAll(store.readBody(messageId))).toString(), 'X-Only: head\r\n');
      assert.equal((await readAll(store.readBody(messageId, { start: 3, end: 6 }))).toString(), 'nly');
    });

    it('refuses prepend after delivery, past 64 KiB, and leaves nothing for an aborted body', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setupUsers(store);
      const delivered = await bodyOf(store, 'Subject: x\r\n\r\nbody');
      delivered.prepend(Buffer.from('X-A: 1\r\n'));
      const { messageId } = await deliverBody(store, delivered, [alice.id]);
      assert.throws(() => delivered.prepend(Buffer.from('X-B: 2\r\n')), { name: 'StoreError', code: 'invalid' });
      assert.equal((await readAll(store.readBody(messageId))).toString(), 'X-A: 1\r\nSubject: x\r\n\r\nbody');

      const failed = await bodyOf(store, 'Subject: y\r\n\r\nbody');
      await rejectsWith(deliverBody(store, failed, [424_242]), 'not-found');
      assert.throws(() => failed.prepend(Buffer.from('X-B: 2\r\n')), { name: 'StoreError', code: 'invalid' });
      await failed.abort();

      const limited = await bodyOf(store, 'Subject: z\r\n\r\nbody');
      limited.prepend(Buffer.alloc(64 * 1024 - 10, 0x61));
      assert.throws(() => limited.prepend(Buffer.alloc(11, 0x62)), { name: 'StoreError', code: 'invalid' });
      limited.prepend(Buffer.alloc(10, 0x63)); // exactly 64 KiB in all
      assert.equal(limited.size, 64 * 1024 + 'Subject: z\r\n\r\nbody'.length);
      await limited.abort();
      assert.throws(() => limited.prepend(Buffer.from('X: 1\r\n')), { name: 'StoreError', code: 'invalid' });

      const aborted = await bodyOf(store, pseudoRandomBytes(CHUNK + 1));
      aborted.prepend(Buffer.from('X-C: 3\r\n'));
      await aborted.abort();
      await rejectsWith(deliverBody(store, aborted, [bob.id]), 'invalid');
      assert.equal((await store.listEntries(inbox.id)).length, 1);
      assert.equal((await store.getUserById(bob.id))!.usedBytes, 0);
    });
  });
}
