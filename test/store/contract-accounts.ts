/** Store contract, AccountStore: domains, users, password hashes, aliases. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { DEFAULT_MAILBOXES, type Store } from '../../src/store/types.js';
import { contractSuite, type OpenStore } from './contract.js';
import { deliverText, rejectsWith, setupUsers } from './helpers.js';

/** A fresh PKCS#8 PEM private key. */
function privateKeyPem(type: 'ed25519' | 'rsa'): string {
  const options = type === 'rsa' ? { modulusLength: 2048 } : {};
  return generateKeyPairSync(type as 'ed25519', options).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function runAccountContract(backend: string, open: OpenStore): void {
  contractSuite(`AccountStore contract: ${backend}`, open, (ctx) => {
    describe('domains', () => {
      it('adds domains lower-cased, lists them sorted and answers isLocalDomain case-insensitively', async () => {
        const { store } = ctx;
        const added = await store.addDomain('Example.COM');
        assert.equal(added.name, 'example.com');
        assert.ok(added.createdAt instanceof Date && !Number.isNaN(added.createdAt.getTime()));
        await store.addDomain('alpha.test');
        assert.deepEqual(
          (await store.listDomains()).map((d) => d.name),
          ['alpha.test', 'example.com'],
        );
        assert.equal(await store.isLocalDomain('EXAMPLE.com'), true);
        assert.equal(await store.isLocalDomain('other.test'), false);
      });

      it('rejects duplicate and invalid domains', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        await rejectsWith(store.addDomain('EXAMPLE.com'), 'conflict');
        await rejectsWith(store.addDomain('bad domain'), 'invalid');
        await rejectsWith(store.addDomain(''), 'invalid');
      });

      it('removes a domain only once it has no users or aliases', async () => {
        const { store } = ctx;
        await rejectsWith(store.removeDomain('nowhere.test'), 'not-found');
        await store.addDomain('example.com');
        await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
        await rejectsWith(store.removeDomain('example.com'), 'conflict');
        await store.removeUser('alice@example.com');
        await store.addAlias('postmaster@example.com', ['root@example.com']);
        await rejectsWith(store.removeDomain('example.com'), 'conflict');
        await store.removeAlias('postmaster@example.com');
        await store.removeDomain('Example.com');
        assert.equal(await store.isLocalDomain('example.com'), false);
        assert.deepEqual(await store.listDomains(), []);
      });
    });

    describe('users', () => {
      it('adds a user lower-cased with its default mailboxes', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        const user = await store.addUser({ address: 'Alice@Example.com', passwordHash: 'hash1', quotaBytes: 1000 });
        assert.equal(user.address, 'alice@example.com');
        assert.equal(user.domain, 'example.com');
        assert.equal(user.quotaBytes, 1000);
        assert.equal(user.usedBytes, 0);
        assert.ok(user.createdAt instanceof Date);
        assert.deepEqual(await store.getUser('ALICE@example.COM'), user);
        assert.deepEqual(await store.getUserById(user.id), user);

        const mailboxes = await store.listMailboxes(user.id);
        assert.deepEqual(
          mailboxes.map((m) => ({ name: m.name, role: m.role })),
          DEFAULT_MAILBOXES.map((m) => ({ name: m.name, role: m.role })),
        );
        for (const m of mailboxes) {
          assert.equal(m.userId, user.id);
          assert.equal(m.uidNext, 1);
          assert.equal(m.messageCount, 0);
          assert.equal(m.totalBytes, 0);
          assert.equal(m.subscribed, true);
          assert.ok(Number.isInteger(m.uidValidity) && m.uidValidity > 0 && m.uidValidity < 2 ** 32);
          assert.ok(m.highestModseq >= 1);
        }
      });

      it('rejects unknown domains, duplicates and invalid addresses', async () => {
        const { store } = ctx;
        await rejectsWith(store.addUser({ address: 'a@nowhere.test', passwordHash: 'h' }), 'not-found');
        await store.addDomain('example.com');
        await store.addUser({ address: 'a@example.com', passwordHash: 'h' });
        await rejectsWith(store.addUser({ address: 'A@EXAMPLE.COM', passwordHash: 'h' }), 'conflict');
        for (const bad of ['no-at-sign', '@example.com', 'a b@example.com', 'a@', 'a@bad_domain!']) {
          await rejectsWith(store.addUser({ address: bad, passwordHash: 'h' }), 'invalid');
        }
        await rejectsWith(store.addUser({ address: 'q@example.com', passwordHash: 'h', quotaBytes: -1 }), 'invalid');
        assert.equal((await store.listUsers()).length, 1);
      });

      it('stores and changes password hashes and quotas', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        await store.addUser({ address: 'a@example.com', passwordHash: '$scrypt$one' });
        assert.equal(await store.getPasswordHash('A@example.com'), '$scrypt$one');
        assert.equal(await store.getPasswordHash('nobody@example.com'), null);
        await store.setPasswordHash('a@example.com', '$scrypt$two');
        assert.equal(await store.getPasswordHash('a@example.com'), '$scrypt$two');
        await rejectsWith(store.setPasswordHash('nobody@example.com', 'x'), 'not-found');

        assert.equal((await store.getUser('a@example.com'))?.quotaBytes, null);
        await store.setQuota('a@example.com', 5000);
        assert.equal((await store.getUser('a@example.com'))?.quotaBytes, 5000);
        await store.setQuota('a@example.com', null);
        assert.equal((await store.getUser('a@example.com'))?.quotaBytes, null);
        await rejectsWith(store.setQuota('nobody@example.com', 1), 'not-found');
      });

      it('lists users, optionally by domain, sorted by address; unknown users are null', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        await store.addDomain('other.test');
        await store.addUser({ address: 'zed@example.com', passwordHash: 'h' });
        await store.addUser({ address: 'amy@example.com', passwordHash: 'h' });
        await store.addUser({ address: 'bob@other.test', passwordHash: 'h' });
        assert.deepEqual(
          (await store.listUsers()).map((u) => u.address),
          ['amy@example.com', 'bob@other.test', 'zed@example.com'],
        );
        assert.deepEqual(
          (await store.listUsers('Example.com')).map((u) => u.address),
          ['amy@example.com', 'zed@example.com'],
        );
        assert.equal(await store.getUser('nobody@example.com'), null);
        assert.equal(await store.getUserById(987654), null);
      });

      it('removes a user with its mailboxes and entries, keeping bodies shared with others', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        const alice = await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
        const bob = await store.addUser({ address: 'bob@example.com', passwordHash: 'h' });
        const shared = await deliverText(store, [alice.id, bob.id], 'shared message');
        const own = await deliverText(store, [alice.id], 'only for alice');
        const aliceInbox = shared.entries.find((e) => e.userId === alice.id)!.mailboxId;

        await store.removeUser('Alice@example.com');
        assert.equal(await store.getUser('alice@example.com'), null);
        assert.equal(await store.getUserById(alice.id), null);
        assert.equal(await store.getMailboxById(aliceInbox), null);
        assert.deepEqual(await store.listMailboxes(alice.id), []);
        assert.deepEqual(await store.resolveRecipient('alice@example.com'), { kind: 'unknown' });
        assert.equal(await store.getMessage(own.messageId), null, 'a body only alice had is deleted');
        assert.notEqual(await store.getMessage(shared.messageId), null, 'a body bob still has stays');
        const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
        assert.deepEqual(
          (await store.listEntries(bobInbox.id)).map((e) => e.messageId),
          [shared.messageId],
        );
        await rejectsWith(store.removeUser('alice@example.com'), 'not-found');

        // Re-creating the address gives new mailboxes, never an old UIDVALIDITY.
        const again = await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
        assert.notEqual(again.id, alice.id);
        const newInbox = (await store.getMailbox(again.id, 'INBOX'))!;
        assert.notEqual(newInbox.id, aliceInbox);
        assert.equal(newInbox.messageCount, 0);
      });
    });

    describe('aliases', () => {
      const ids = (r: Awaited<ReturnType<Store['resolveRecipient']>>) =>
        r.kind === 'local' ? r.users.map((u) => u.id).sort((a, b) => a - b) : r.kind;

      it('adds targets (creating the alias), lists and removes them', async () => {
        const { store } = ctx;
        await setupUsers(store);
        assert.deepEqual(await store.addAlias('Team@Example.com', ['Alice@example.com']), {
          source: 'team@example.com',
          targets: ['alice@example.com'],
        });
        const grown = await store.addAlias('team@example.com', ['bob@example.com', 'carol@example.com']);
        assert.deepEqual([...grown.targets].sort(), ['alice@example.com', 'bob@example.com', 'carol@example.com']);
        await store.addAlias('@example.com', ['alice@example.com']);
        const listed = await store.listAliases('example.com');
        assert.deepEqual(listed.map((a) => a.source).sort(), ['@example.com', 'team@example.com']);
        assert.deepEqual(await store.listAliases(), listed);

        await store.removeAlias('team@example.com', ['bob@example.com']);
        const team = (await store.listAliases()).find((a) => a.source === 'team@example.com')!;
        assert.deepEqual([...team.targets].sort(), ['alice@example.com', 'carol@example.com']);
        await store.removeAlias('team@example.com');
        assert.deepEqual(
          (await store.listAliases()).map((a) => a.source),
          ['@example.com'],
        );
        await rejectsWith(store.removeAlias('team@example.com'), 'not-found');
      });

      it('rejects duplicate targets, non-local sources and invalid addresses', async () => {
        const { store } = ctx;
        await setupUsers(store);
        await store.addAlias('team@example.com', ['alice@example.com']);
        await rejectsWith(store.addAlias('team@example.com', ['ALICE@example.com']), 'conflict');
        await rejectsWith(store.addAlias('team@elsewhere.test', ['alice@example.com']), 'not-found');
        await rejectsWith(store.addAlias('team@example.com', ['not an address']), 'invalid');
        await rejectsWith(store.addAlias('team@example.com', ['someone@remote.test']), 'invalid');
        await rejectsWith(store.addAlias('bad source@example.com', ['alice@example.com']), 'invalid');
        await rejectsWith(store.addAlias('team@example.com', []), 'invalid');
        assert.deepEqual(await store.listAliases(), [{ source: 'team@example.com', targets: ['alice@example.com'] }]);
      });

      it('resolves remote, unknown and exact local addresses', async () => {
        const { store } = ctx;
        const { alice } = await setupUsers(store);
        assert.deepEqual(await store.resolveRecipient('someone@remote.test'), { kind: 'remote' });
        assert.deepEqual(await store.resolveRecipient('nobody@example.com'), { kind: 'unknown' });
        const r = await store.resolveRecipient('ALICE@Example.Com');
        assert.equal(r.kind, 'local');
        assert.deepEqual(r.kind === 'local' && r.users, [alice]);
        await rejectsWith(store.resolveRecipient('not an address'), 'invalid');
      });

      it('expands aliases recursively, de-duplicating users', async () => {
        const { store } = ctx;
        const { alice, bob, carol } = await setupUsers(store);
        await store.addAlias('devs@example.com', ['alice@example.com', 'bob@example.com']);
        await store.addAlias('all@example.com', ['devs@example.com', 'carol@example.com', 'alice@example.com']);
        await store.addAlias('top@example.com', ['all@example.com']);
        assert.deepEqual(ids(await store.resolveRecipient('top@example.com')), [alice.id, bob.id, carol.id]);
        // An alias whose targets do not exist resolves to nobody.
        await store.addAlias('ghost@example.com', ['gone@example.com']);
        assert.deepEqual(await store.resolveRecipient('ghost@example.com'), { kind: 'unknown' });
      });

      it('survives alias loops', async () => {
        const { store } = ctx;
        const { bob } = await setupUsers(store);
        await store.addAlias('x@example.com', ['y@example.com']);
        await store.addAlias('y@example.com', ['x@example.com', 'bob@example.com']);
        assert.deepEqual(ids(await store.resolveRecipient('x@example.com')), [bob.id]);
        await store.addAlias('self-a@example.com', ['self-b@example.com']);
        await store.addAlias('self-b@example.com', ['self-a@example.com']);
        assert.deepEqual(await store.resolveRecipient('self-a@example.com'), { kind: 'unknown' });
      });

      it('uses the catch-all only when no user or alias matches', async () => {
        const { store } = ctx;
        const { alice, bob } = await setupUsers(store);
        await store.addAlias('@Example.com', ['alice@example.com']);
        await store.addAlias('sales@example.com', ['bob@example.com']);
        assert.deepEqual(ids(await store.resolveRecipient('whatever@example.com')), [alice.id]);
        assert.deepEqual(ids(await store.resolveRecipient('bob@example.com')), [bob.id]);
        assert.deepEqual(ids(await store.resolveRecipient('sales@example.com')), [bob.id]);
      });

      it('strips a +subaddress when nothing matches exactly', async () => {
        const { store } = ctx;
        const { alice, bob } = await setupUsers(store);
        await store.addAlias('list@example.com', ['alice@example.com']);
        assert.deepEqual(ids(await store.resolveRecipient('bob+news@example.com')), [bob.id]);
        assert.deepEqual(ids(await store.resolveRecipient('list+weekly@example.com')), [alice.id]);
        assert.deepEqual(await store.resolveRecipient('nobody+tag@example.com'), { kind: 'unknown' });
        // An exact match wins over the stripped one.
        const plus = await store.addUser({ address: 'bob+special@example.com', passwordHash: 'h' });
        assert.deepEqual(ids(await store.resolveRecipient('bob+special@example.com')), [plus.id]);
      });
    });

    describe('DKIM keys', () => {
      it('sets, replaces and gets a domain key; the key goes with its domain', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        await store.addDomain('other.test');
        assert.equal(await store.getDkimKey('example.com'), null);
        const ed25519 = {
          selector: 'wharf2026',
          algorithm: 'ed25519-sha256' as const,
          privateKeyPem: privateKeyPem('ed25519'),
          createdAt: new Date('2026-01-02T03:04:05.678Z'),
        };
        await store.setDkimKey('Example.COM', ed25519);
        assert.deepEqual(await store.getDkimKey('EXAMPLE.com'), ed25519);
        assert.equal(await store.getDkimKey('other.test'), null, 'keys are per domain');

        const rsa = { selector: 'rsa.2026', algorithm: 'rsa-sha256' as const, privateKeyPem: privateKeyPem('rsa'), createdAt: new Date() };
        await store.setDkimKey('example.com', rsa);
        assert.deepEqual(await store.getDkimKey('example.com'), rsa);

        await store.addUser({ address: 'alice@example.com', passwordHash: 'h' });
        await rejectsWith(store.removeDomain('example.com'), 'conflict');
        assert.deepEqual(await store.getDkimKey('example.com'), rsa, 'a refused removal keeps the key');
        await store.removeUser('alice@example.com');
        await store.removeDomain('example.com');
        await store.addDomain('example.com');
        assert.equal(await store.getDkimKey('example.com'), null, 'removing the domain removed its key');
      });

      it('refuses unknown domains and bad keys', async () => {
        const { store } = ctx;
        await store.addDomain('example.com');
        const good = { selector: 's1', algorithm: 'ed25519-sha256' as const, privateKeyPem: privateKeyPem('ed25519'), createdAt: new Date() };
        await rejectsWith(store.setDkimKey('nowhere.test', good), 'not-found');
        assert.equal(await store.getDkimKey('nowhere.test'), null);
        assert.equal(await store.getDkimKey('not a domain'), null);
        await rejectsWith(store.setDkimKey('example.com', { ...good, selector: 'bad selector' }), 'invalid');
        await rejectsWith(store.setDkimKey('example.com', { ...good, selector: '' }), 'invalid');
        await rejectsWith(store.setDkimKey('example.com', { ...good, algorithm: 'rsa-sha256' }), 'invalid');
        await rejectsWith(store.setDkimKey('example.com', { ...good, algorithm: 'rsa-sha1' as 'rsa-sha256' }), 'invalid');
        await rejectsWith(store.setDkimKey('example.com', { ...good, privateKeyPem: 'not a key' }), 'invalid');
        await rejectsWith(store.setDkimKey('example.com', { ...good, createdAt: new Date(Number.NaN) }), 'invalid');
        assert.equal(await store.getDkimKey('example.com'), null);
      });
    });
  });
}
