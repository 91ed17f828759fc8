/**
 * PostgresStore: deliveries made at the same time share a transaction (group commit). Each
 * must come out exactly as if it had been made alone: its own UIDs and modseq per mailbox,
 * the counters and quota moved by it, its own error when it cannot be made.
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/store.js';
import type { DeliveryResult } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { bodyOf, pseudoRandomBytes, readAll } from './helpers.js';

const opened: PostgresStore[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((s) => s.close()));
  await Promise.all(databases.splice(0).map((d) => d.drop()));
});

async function nodes(count: number): Promise<PostgresStore[]> {
  const db = await createTestDatabase();
  databases.push(db);
  const stores: PostgresStore[] = [];
  for (let i = 0; i < count; i++) stores.push(await PostgresStore.open(db.url, { poolSize: 4 }));
  opened.push(...stores);
  return stores;
}

function message(i: number, extra = ''): string {
  return `Subject: batch ${i}\r\nFrom: sender@remote.test\r\n\r\nbody of message number ${i} zq${i}zq\r\n${extra}`;
}

describe('PostgresStore: deliveries made together', () => {
  for (const withFailures of [false, true]) {
  it(`give every delivery its own UIDs, modseq, counters${withFailures ? ' and errors' : ''}, as alone`, async () => {
    const [store] = await nodes(1);
    await store!.addDomain('example.com');
    const users = [];
    for (const name of ['a', 'b', 'c']) users.push(await store!.addUser({ address: `${name}@example.com`, passwordHash: 'h' }));
    const inbox = await Promise.all(users.map(async (u) => (await store!.getMailbox(u.id, 'INBOX'))!));
    const sent = (await store!.getMailbox(users[0]!.id, 'Sent'))!;
    const junk = (await store!.getMailbox(users[1]!.id, 'Junk'))!;
    const big = pseudoRandomBytes(600 * 1024).toString('base64'); // its full chunks go before the delivery

    type Outcome = { ok: true; result: DeliveryResult; size: number } | { ok: false; code: string };
    const deliveries: Array<Promise<Outcome>> = [];
    for (let i = 0; i < 40; i++) {
      deliveries.push(
        (async (): Promise<Outcome> => {
          const data = message(i, i === 7 ? big : '');
          const body = await bodyOf(store!, data);
          const envelope = { mailFrom: 'sender@remote.test', rcptTo: ['x@example.com'] };
          let request;
          if (i === 11 && withFailures) request = { userIds: [users[0]!.id, 999_999] }; // no such user
          else if (i === 12 && withFailures) request = { userIds: [users[1]!.id], copies: [{ mailboxId: 999_999, flags: [] }] };
          else if (i % 5 === 0) request = { userIds: [users[1]!.id], folder: 'junk' as const };
          else if (i % 3 === 0) request = { userIds: [users[0]!.id, users[2]!.id, users[0]!.id], copies: [{ mailboxId: sent.id, flags: ['\\Seen'] }, { mailboxId: inbox[0]!.id, flags: [] }] };
          else request = { userIds: [users[i % 3]!.id] };
          try {
            const result = await store!.deliver({ body, internalDate: new Date(), envelope, ...request });
            return { ok: true, result, size: Buffer.byteLength(data) };
          } catch (err) {
            await body.abort();
            return { ok: false, code: (err as { code?: string }).code ?? String(err) };
          }
        })(),
      );
    }
    const outcomes = await Promise.all(deliveries);
    if (withFailures) {
      // A batch holding a delivery that cannot be made: that one fails alone, the others are made.
      assert.deepEqual(outcomes[11], { ok: false, code: 'not-found' });
      assert.deepEqual(outcomes[12], { ok: false, code: 'not-found' });
    }
    for (const [i, o] of outcomes.entries()) if (!withFailures || (i !== 11 && i !== 12)) assert.equal(o.ok, true, `delivery ${i}`);

    const made = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
    // Each mailbox's entries are exactly the ones the deliveries reported, UIDs 1..n without gaps.
    const mailboxes = [...inbox, sent, junk];
    const expectedBytes = new Map<number, number>();
    for (const mailbox of mailboxes) {
      const reported = made.flatMap((o) => o.result.entries.filter((e) => e.mailboxId === mailbox.id).map((e) => ({ uid: e.uid, messageId: o.result.messageId, size: o.size })));
      const entries = await store!.listEntries(mailbox.id);
      assert.deepEqual(
        entries.map((e) => ({ uid: e.uid, messageId: e.messageId, size: e.size })),
        reported.sort((x, y) => x.uid - y.uid),
        `entries of mailbox ${mailbox.name}`,
      );
      assert.deepEqual(entries.map((e) => e.uid), entries.map((_, k) => k + 1));
      // One modseq per delivery in each mailbox (a delivery naming a mailbox twice: one modseq).
      const byMessage = new Map<number, Set<number>>();
      for (const e of entries) byMessage.set(e.messageId, (byMessage.get(e.messageId) ?? new Set()).add(e.modseq));
      for (const modseqs of byMessage.values()) assert.equal(modseqs.size, 1);
      const modseqs = [...byMessage.values()].map((s) => [...s][0]!);
      assert.equal(new Set(modseqs).size, modseqs.length, `distinct modseqs in ${mailbox.name}`);
      const now = (await store!.getMailboxById(mailbox.id))!;
      assert.equal(now.messageCount, entries.length);
      assert.equal(now.totalBytes, entries.reduce((s, e) => s + e.size, 0));
      assert.equal(now.highestModseq, Math.max(1, ...modseqs));
      assert.equal(now.uidNext, entries.length + 1);
      expectedBytes.set(now.userId, (expectedBytes.get(now.userId) ?? 0) + now.totalBytes);
      // Found by search as soon as delivered; the large body reads back whole.
      for (const o of made) {
        const entry = o.result.entries.find((e) => e.mailboxId === mailbox.id);
        if (!entry) continue;
        const i = Number(/batch (\d+)/.exec((await store!.getMessage(o.result.messageId))!.headers.subject!)![1]);
        assert.ok((await store!.searchText(mailbox.id, 'body', `zq${i}zq`)).includes(entry.uid));
      }
    }
    for (const user of users) assert.equal((await store!.getUserById(user.id))!.usedBytes, expectedBytes.get(user.id) ?? 0);
    const bigOne = outcomes[7] as Extract<Outcome, { ok: true }>;
    assert.equal((await readAll(store!.readBody(bigOne.result.messageId))).toString(), message(7, big));
    const sentEntries = await store!.listEntries(sent.id);
    assert.ok(sentEntries.length > 0 && sentEntries.every((e) => e.flags.includes('\\Seen')));
  });
  }

  it('keeps UIDs unique and gapless when two nodes deliver to the same mailbox at once', async () => {
    const [one, two] = await nodes(2);
    await one!.addDomain('example.com');
    const user = await one!.addUser({ address: 'a@example.com', passwordHash: 'h' });
    const inbox = (await one!.getMailbox(user.id, 'INBOX'))!;
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const store = i % 2 === 0 ? one! : two!;
        const body = await bodyOf(store, message(i));
        return store.deliver({ body, internalDate: new Date(), envelope: { mailFrom: '', rcptTo: [] }, userIds: [user.id] });
      }),
    );
    const uids = results.map((r) => r.entries[0]!.uid).sort((a, b) => a - b);
    assert.deepEqual(uids, uids.map((_, k) => k + 1));
    const entries = await two!.listEntries(inbox.id);
    assert.equal(entries.length, 60);
    assert.equal(new Set(entries.map((e) => e.modseq)).size, 60);
    assert.equal((await one!.getUserById(user.id))!.usedBytes, entries.reduce((s, e) => s + e.size, 0));
  });
});
