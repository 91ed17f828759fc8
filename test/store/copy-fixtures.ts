/** What the copyStore suites copy and compare: a source seeded like a real one, and a dump of everything a client can see. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Store } from '../../src/store/index.js';
import { bodyOf, deliverText, pseudoRandomBytes, readAll } from './helpers.js';

export function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\n\r\n${body}`;
}

/**
 * A source with what a real one has: two domains, users with hashes and quotas, aliases with a
 * catch-all, an expunged UID, flags and keywords, a message shared by two users, a copied
 * one, a large one with prepended header fields, a nested unsubscribed mailbox, a deleted and
 * a renamed default mailbox, a subscription without a mailbox, and a domain's DKIM key.
 */
export async function seed(store: Store) {
  await store.addDomain('example.com');
  await store.addDomain('other.org');
  await store.setDkimKey('example.com', {
    selector: 'wharf2026',
    algorithm: 'ed25519-sha256',
    privateKeyPem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  const alice = await store.addUser({ address: 'alice@example.com', passwordHash: '$scrypt$alice', quotaBytes: 5_000_000 });
  const bob = await store.addUser({ address: 'bob@example.com', passwordHash: '$scrypt$bob' });
  await store.addAlias('info@example.com', ['alice@example.com', 'bob@example.com']);
  await store.addAlias('@other.org', ['bob@example.com']);
  const date = new Date('2024-03-01T10:00:00Z');
  for (const subject of ['one', 'two', 'three', 'four']) await deliverText(store, [alice.id], message(subject), undefined, date);
  await deliverText(store, [alice.id, bob.id], message('for both'), undefined, date);
  const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), pseudoRandomBytes(600 * 1024, 3)]);
  const bigBody = await bodyOf(store, big);
  bigBody.prepend(Buffer.from('Authentication-Results: mx.example.com; dkim=none\r\n'));
  await store.deliver({ body: bigBody, internalDate: date, envelope: { mailFrom: '', rcptTo: [] }, userIds: [alice.id] });
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
  await store.expunge(inbox.id, [2]);
  await store.setFlags(inbox.id, [1, 3], 'add', ['\\Seen']);
  await store.setFlags(inbox.id, [3], 'add', ['\\Flagged', 'project-x']);
  const projects = await store.createMailbox(alice.id, 'Projects/2024');
  await store.copyEntries(inbox.id, [3, 5], projects.id);
  await store.append(projects.id, {
    body: await bodyOf(store, message('draft', 'Appended.\r\n')),
    internalDate: new Date('2023-12-24T18:00:00Z'),
    flags: ['\\Draft', 'later'],
  });
  await store.deleteMailbox((await store.getMailbox(alice.id, 'Junk'))!.id);
  await store.renameMailbox(alice.id, 'Archive', 'Old');
  await store.setSubscribed(alice.id, 'Ghost', true);
  return { alice, bob, inbox, projects };
}

/** Everything a client can see of a store, without database ids; bodies as SHA-256. */
export async function dump(store: Store, opts: { modseqs?: boolean } = {}) {
  const modseqs = opts.modseqs ?? true;
  const users = [];
  for (const user of await store.listUsers()) {
    const mailboxes = [];
    for (const m of await store.listMailboxes(user.id)) {
      const entries = [];
      for (const e of await store.listEntries(m.id)) {
        const body = await readAll(store.readBody(e.messageId));
        entries.push({
          uid: e.uid,
          flags: [...e.flags].sort(),
          ...(modseqs ? { modseq: e.modseq } : {}),
          size: e.size,
          internalDate: e.internalDate.toISOString(),
          sha256: createHash('sha256').update(body).digest('hex'),
          subject: (await store.getMessage(e.messageId))!.headers.subject,
        });
      }
      mailboxes.push({
        name: m.name,
        role: m.role,
        uidValidity: m.uidValidity,
        uidNext: m.uidNext,
        ...(modseqs ? { highestModseq: m.highestModseq } : {}),
        subscribed: m.subscribed,
        messageCount: m.messageCount,
        totalBytes: m.totalBytes,
        entries,
      });
    }
    mailboxes.sort((a, b) => (a.name < b.name ? -1 : 1));
    users.push({
      address: user.address,
      quotaBytes: user.quotaBytes,
      usedBytes: user.usedBytes,
      passwordHash: await store.getPasswordHash(user.address),
      subscriptions: await store.listSubscriptions(user.id),
      mailboxes,
    });
  }
  return {
    domains: (await store.listDomains()).map((d) => d.name),
    dkimKeys: await Promise.all((await store.listDomains()).map((d) => store.getDkimKey(d.name))),
    aliases: await store.listAliases(),
    users,
  };
}
