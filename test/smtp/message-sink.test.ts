import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { classifyStart, MessageSink } from '../../src/smtp/message-sink.js';
import { openTestStore } from '../helpers/test-store.js';
import type { Store } from '../../src/store/types.js';

describe('classifyStart', () => {
  it('recognises a header field, also with white space before the colon (obs-syntax)', () => {
    assert.equal(classifyStart(Buffer.from('Subject: hi\r\n')), 'header');
    assert.equal(classifyStart(Buffer.from('X-Odd_Name.1 :v')), 'header');
    assert.equal(classifyStart(Buffer.from('Subject\t:')), 'header');
  });

  it('sees an empty first line as the start of the body', () => {
    assert.equal(classifyStart(Buffer.from('\r\nbody')), 'empty-line');
    assert.equal(classifyStart(Buffer.from('\nbody')), 'empty-line');
  });

  it('calls anything else text: words with spaces, a colon first, folding white space, 8-bit', () => {
    assert.equal(classifyStart(Buffer.from('Do you like ketchup?\r\n')), 'text');
    assert.equal(classifyStart(Buffer.from('Dear Bob: hello')), 'text');
    assert.equal(classifyStart(Buffer.from(':colon first')), 'text');
    assert.equal(classifyStart(Buffer.from(' continued: x')), 'text');
    assert.equal(classifyStart(Buffer.from('Gr\xfc\xdfe: x', 'latin1')), 'text');
    assert.equal(classifyStart(Buffer.from('From alice@crepes.fr Mon Nov 23')), 'text');
  });

  it('waits for more bytes while a field name is still possible, but not forever', () => {
    assert.equal(classifyStart(Buffer.alloc(0)), 'undecided');
    assert.equal(classifyStart(Buffer.from('Subj')), 'undecided');
    assert.equal(classifyStart(Buffer.from('Subject  ')), 'undecided');
    assert.equal(classifyStart(Buffer.alloc(999, 'a')), 'text');
  });
});

describe('MessageSink', () => {
  let dir: string;
  let store: Store;
  const trace = Buffer.from('Return-Path: <a@b.example>\r\n');
  let users = 0;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-sink-'));
    store = await openTestStore(dir);
    await store.addDomain('sink.example');
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Feeds the chunks, finishes, and returns the stored bytes and the header summary. */
  async function sink(chunks: string[]): Promise<{ bytes: string; subject?: string }> {
    const s = new MessageSink(store, trace, 1 << 20);
    for (const c of chunks) await s.write([Buffer.from(c, 'latin1')]);
    const { body, headers } = await s.finish();
    const user = await store.addUser({ address: `u${++users}@sink.example`, passwordHash: 'x' });
    const { messageId } = await store.deliver({
      body,
      headers,
      internalDate: new Date(),
      envelope: { mailFrom: 'a@b.example', rcptTo: [user.address] },
      userIds: [user.id],
    });
    const parts: Buffer[] = [];
    for await (const p of store.readBody(messageId)) parts.push(p);
    return { bytes: Buffer.concat(parts).toString('latin1'), subject: headers.subject };
  }

  it('writes a message with header fields behind the trace as it came, one byte at a time too', async () => {
    const msg = 'Subject: hi\r\n\r\nbody\r\n';
    assert.deepEqual(await sink([msg]), { bytes: trace + msg, subject: 'hi' });
    assert.deepEqual(await sink([...msg]), { bytes: trace + msg, subject: 'hi' });
  });

  it('puts an empty line between the trace and a message that starts with text', async () => {
    const msg = 'Do you like ketchup?\r\nSubject: not a header\r\n';
    assert.deepEqual(await sink([msg]), { bytes: `${trace}\r\n${msg}`, subject: undefined });
    assert.deepEqual(await sink([...msg]), { bytes: `${trace}\r\n${msg}`, subject: undefined });
  });

  it('stores an empty message as the trace alone, and an undecided end as text', async () => {
    assert.deepEqual(await sink([]), { bytes: trace.toString(), subject: undefined });
    assert.deepEqual(await sink(['Subj', 'ect']), { bytes: `${trace}\r\nSubject`, subject: undefined });
  });
});
