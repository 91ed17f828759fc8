/**
 * A 40 MB attachment: stored by streaming, fetched by section without the server holding it
 * (the heap and array buffers of this process, server included, grow far less than that).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/index.js';
import type { User } from '../../src/store/types.js';
import { peakMemoryGrowth } from '../helpers/memory.js';
import { ImapClient, startImapHarness, type ImapHarness } from './harness.js';

/**
 * Larger than the 20 MB so that holding the section whole (40 MB decoded, 54 MB as
 * base64) stands far above what streaming keeps live at a sampled moment (under 1 MB: a stored
 * chunk, its decoded bytes and what waits in the socket).
 */
const ATTACHMENT_BYTES = 40 * 1024 * 1024;

/** Streams a multipart message with a base64 attachment of `size` decoded bytes. */
async function deliverLarge(h: ImapHarness, user: User, size: number): Promise<void> {
  const writer = h.store.createBody();
  await writer.write(
    Buffer.from(
      'From: alice@example.net\r\nTo: big@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n' +
        '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    ),
  );
  const line = Buffer.from(`${Buffer.alloc(57, 0xab).toString('base64')}\r\n`);
  const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
  for (let done = 0; done < size; done += 57 * 1024) await writer.write(block);
  await writer.write(Buffer.from('--b--\r\n'));
  await h.store.deliver({
    body: writer,
    internalDate: new Date(),
    envelope: { mailFrom: 'alice@example.net', rcptTo: [user.address] },
    userIds: [user.id],
  });
}

/** Sends one command and counts the response bytes without keeping them. */
function drain(port: number, commands: string[], finalTag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(commands.join('')));
    let total = 0;
    let tail = '';
    socket.on('data', (d: Buffer) => {
      total += d.length;
      tail = (tail + d.subarray(Math.max(0, d.length - 200)).toString('latin1')).slice(-400);
      const m = new RegExp(`\\r\\n${finalTag} (OK|NO|BAD)[^\\r]*\\r\\n$`).exec(tail);
      if (m) {
        socket.destroy();
        if (m[1] !== 'OK') reject(new Error(tail));
        else resolve(total);
      }
    });
    socket.on('error', reject);
  });
}

describe('a 40 MB attachment', () => {
  let h: ImapHarness;
  let user: User;

  before(async () => {
    h = await startImapHarness();
    user = await h.addUser('big', 'pw');
    await deliverLarge(h, user, ATTACHMENT_BYTES);
    // SQLite's search indexer reads the new message in a worker thread; let it finish first
    // so only the FETCH is measured. (PostgreSQL indexes inside the delivery transaction.)
    if (h.store instanceof SqliteStore) await h.store.searchIndexIdle();
  });
  after(() => h.close());

  it('reports its decoded size and streams BODY[2] and BINARY[2] without holding them', async () => {
    const c = await ImapClient.connect(h.plain.port);
    await c.login('big', 'pw');
    await c.command('EXAMINE INBOX');
    const size = await c.command('FETCH 1 (BINARY.SIZE[2] BODY.PEEK[1])');
    const decoded = Number(/BINARY\.SIZE\[2\] (\d+)/.exec(size.untagged[0]!)?.[1]);
    assert.ok(decoded >= ATTACHMENT_BYTES, `decoded size ${decoded}`);
    c.close();

    // One unmeasured pass first, so one-off allocations (caches, the indexer's leftovers) are
    // not counted as the cost of streaming.
    const login = 'a LOGIN big pw\r\nb EXAMINE INBOX\r\n';
    await drain(h.plain.port, [login, 'c FETCH 1 (BODY.PEEK[2] BINARY.PEEK[2])\r\n'], 'c');
    const { result: [bodyBytes, binaryBytes], peak } = await peakMemoryGrowth(async () => [
      await drain(h.plain.port, [login, 'c FETCH 1 (BODY.PEEK[2])\r\n'], 'c'),
      await drain(h.plain.port, [login, 'c FETCH 1 (BINARY.PEEK[2])\r\n'], 'c'),
    ]);
    assert.ok(bodyBytes > ATTACHMENT_BYTES * 1.3, `BODY[2] is the base64 text (${bodyBytes} bytes)`);
    assert.ok(binaryBytes > ATTACHMENT_BYTES && binaryBytes < ATTACHMENT_BYTES * 1.1, `BINARY[2] is decoded (${binaryBytes})`);
    assert.ok(peak < 16 * 1024 * 1024, `memory grew by ${Math.round(peak / 1048576)} MB while streaming`);
  });
});
