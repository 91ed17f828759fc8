/**
 * What an IMAP client (imapflow) caches of bob's mailboxes, for the `wharf store copy` tests:
 * mail put in over IMAP, the view compared between the original server and one serving the
 * copy, and the checks that the client's cache stays valid on the copy.
 */
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { BOB_PASSWORD } from './setup.js';

export function client(port: number): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: { user: 'bob@hamburger.edu', pass: BOB_PASSWORD },
    logger: false,
  });
}

export function message(subject: string, body: string): string {
  return `From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@crepes.fr>\r\n\r\n${body}`;
}

/**
 * Bob's mail as a client makes it: four messages (one seen), a nested mailbox with a keyword,
 * subscriptions changed, flags set and UID 1 expunged.
 */
export async function seedOverImap(port: number): Promise<void> {
  const imap = client(port);
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
}

export type ClientView = Awaited<ReturnType<typeof clientView>>;

/** What a caching IMAP client keeps of every mailbox: identity, counters, and each message. */
export async function clientView(port: number) {
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

/**
 * On the server at `port` (serving the copy), a CONDSTORE client resynchronising INBOX from the
 * HIGHESTMODSEQ it learnt on the original finds nothing new, and new mail continues the
 * numbering above every UID it knows, under the same UIDVALIDITY.
 */
export async function assertCacheStillValid(port: number, original: ClientView): Promise<void> {
  const inbox = original.find((m) => m.path === 'INBOX')!;
  const imap = client(port);
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    const changed = [];
    for await (const m of imap.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: BigInt(inbox.highestModseq!) })) {
      changed.push(m.uid);
    }
    assert.deepEqual(changed, []);
    const appended = await imap.append('INBOX', message('after the move', 'Hello from the new home.\r\n'));
    assert.equal(appended && typeof appended === 'object' ? appended.uid : undefined, inbox.uidNext);
    assert.equal(appended && typeof appended === 'object' ? appended.uidValidity : undefined, inbox.uidValidity);
  } finally {
    await imap.logout();
  }
}
