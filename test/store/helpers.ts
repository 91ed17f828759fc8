/** Small helpers shared by the store test suites (backend-agnostic). */
import assert from 'node:assert/strict';
import type { BodyWriter, HeaderSummary, MailboxEntry, Store, StoreErrorCode } from '../../src/store/types.js';

/** A writer holding `data`, written in pieces of `pieceSize` bytes. */
export async function bodyOf(store: Store, data: Buffer | string, pieceSize = 64 * 1024): Promise<BodyWriter> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const writer = store.createBody();
  for (let off = 0; off < buf.length; off += pieceSize) await writer.write(buf.subarray(off, off + pieceSize));
  return writer;
}

/** Delivers a body already written to the INBOX of `userIds`, with an empty envelope. */
export function deliverBody(store: Store, body: BodyWriter, userIds: number[]) {
  const envelope = { mailFrom: '', rcptTo: [] };
  return store.deliver({ body, internalDate: new Date(), headers: {}, envelope, userIds });
}

/** Delivers `data` to the INBOX of `userIds`. */
export async function deliverText(
  store: Store,
  userIds: number[],
  data: Buffer | string,
  headers: HeaderSummary = {},
  internalDate = new Date(),
) {
  const body = await bodyOf(store, data);
  return store.deliver({
    body,
    internalDate,
    headers,
    envelope: { mailFrom: 'sender@remote.test', rcptTo: ['rcpt@example.com'] },
    userIds,
  });
}

export async function readAll(iterable: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of iterable) parts.push(part);
  return Buffer.concat(parts);
}

/** Asserts that `promise` rejects with a StoreError of the given code. */
export async function rejectsWith(promise: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as Error).name, 'StoreError', `expected a StoreError, got ${String(err)}`);
    assert.equal((err as { code?: string }).code, code, `expected code ${code}: ${(err as Error).message}`);
    return true;
  });
}

/** Deterministic pseudo-random bytes (so failures are reproducible). */
export function pseudoRandomBytes(length: number, seed = 1): Buffer {
  const buf = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `predicate()` is true; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A domain with three users; `inbox` is alice's INBOX. */
export async function setupUsers(store: Store) {
  await store.addDomain('example.com');
  const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
  const bob = await store.addUser({ address: 'bob@example.com', passwordHash: 'h' });
  const carol = await store.addUser({ address: 'carol@example.com', passwordHash: 'h' });
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
  return { alice, bob, carol, inbox };
}

export const uidsOf = (entries: MailboxEntry[]) => entries.map((e) => e.uid);
