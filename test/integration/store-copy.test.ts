/**
 * `wharf store copy` end to end: mail put in over IMAP on a running server, the store copied
 * while that server runs, a second server started on the copy, and an IMAP client (imapflow)
 * seeing the same UIDVALIDITY, UIDs, flags, dates, bodies and subscriptions on both, with
 * nothing changed since the HIGHESTMODSEQ it learnt from the original.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { addBob, BOB_PASSWORD } from './setup.js';

function client(port: number): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: { user: 'bob@hamburger.edu', pass: BOB_PASSWORD },
    logger: false,
  });
}

function message(subject: string, body: string): string {
  return `From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@crepes.fr>\r\n\r\n${body}`;
}

/** What a caching IMAP client keeps of every mailbox: identity, counters, and each message. */
async function clientView(port: number) {
  const imap = client(port);
  await imap.connect();
  try {
    const mailboxes = [];
    for (const box of (await imap.list()).sort((a, b) => (a.path < b.path ? -1 : 1))) {
      const opened = await imap.mailboxOpen(box.path, { readOnly: true });
      const messages = [];
      if (opened.exists > 0) {
        for await (const m of imap.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
          messages.push({
            uid: m.uid,
            flags: [...(m.flags ?? [])].sort(),
            internalDate: new Date(m.internalDate!).toISOString(),
            source: m.source!.toString('latin1'),
          });
        }
      }
      mailboxes.push({
        path: box.path,
        specialUse: box.specialUse ?? null,
        subscribed: box.subscribed,
        uidValidity: opened.uidValidity,
        uidNext: opened.uidNext,
        highestModseq: opened.highestModseq,
        exists: opened.exists,
        messages,
      });
    }
    return mailboxes;
  } finally {
    await imap.logout();
  }
}

describe('wharf store copy, seen through IMAP', () => {
  let source: WharfProcess;
  let target: WharfProcess | null = null;
  let targetDir: string;

  before(async () => {
    source = await startWharf();
    await addBob(source);
    targetDir = path.join(await makeTempDir('wharf-copy-target-'), 'data');
    const imap = client(source.ports.imap!);
    await imap.connect();
    try {
      const date = new Date('2024-03-01T10:00:00Z');
      for (const n of [1, 2, 3, 4]) {
        await imap.append('INBOX', message(`ketchup ${n}`, `Do you like ketchup? (${n})\r\n`), n === 3 ? ['\\Seen'] : [], date);
      }
      await imap.mailboxCreate('Receipts/2024');
      await imap.append('Receipts/2024', message('receipt', 'Pickles: 2\r\n'), ['\\Seen', 'paid'], new Date('2023-12-24T18:00:00Z'));
      await imap.mailboxSubscribe('Receipts/2024');
      await imap.mailboxUnsubscribe('Junk');
      await imap.mailboxOpen('INBOX');
      await imap.messageFlagsAdd('2', ['\\Flagged', 'urgent'], { uid: true });
      await imap.messageDelete('1', { uid: true });
    } finally {
      await imap.logout();
    }
  });
  after(async () => {
    await source.stop();
    await source.removeData();
    if (target) await target.stop();
    await removeDir(path.dirname(targetDir));
  });

  it('an IMAP client finds on the copy exactly what it cached from the original', async () => {
    const original = await clientView(source.ports.imap!);
    const inbox = original.find((m) => m.path === 'INBOX')!;
    assert.deepEqual(inbox.messages.map((m) => m.uid), [2, 3, 4], 'the expunged UID 1 leaves a gap');

    // Copied while the source server runs.
    const copied = await source.cli(['store', 'copy', '--to', targetDir]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stdout, /: identical$/m);

    target = await startWharf({ dataDir: targetDir });
    assert.deepEqual(await clientView(target.ports.imap!), original);

    // A CONDSTORE client resynchronising from the HIGHESTMODSEQ it knows finds nothing new.
    const imap = client(target.ports.imap!);
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const changed = [];
      for await (const m of imap.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: BigInt(inbox.highestModseq!) })) {
        changed.push(m.uid);
      }
      assert.deepEqual(changed, []);
      // New mail on the copy continues the numbering, above everything the client knows.
      const appended = await imap.append('INBOX', message('after the move', 'Hello from the new home.\r\n'));
      assert.equal(appended && typeof appended === 'object' ? appended.uid : undefined, inbox.uidNext);
      assert.equal(appended && typeof appended === 'object' ? appended.uidValidity : undefined, inbox.uidValidity);
    } finally {
      await imap.logout();
    }
  });
});
