/** Store contract, SshKeyStore: users' SSH public keys for SFTP login. */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { it } from 'node:test';
import { contractSuite, type OpenStore } from './contract.js';
import { rejectsWith } from './helpers.js';

/** The RFC 4253 blob of a fresh Ed25519 key: string "ssh-ed25519", string the 32-byte key. */
function ed25519Blob(): Buffer {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x!, 'base64url');
  return Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
}

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

export function runSshKeyContract(backend: string, open: OpenStore): void {
  contractSuite(`SshKeyStore contract: ${backend}`, open, (ctx) => {
    const setup = async () => {
      await ctx.store.addDomain('example.com');
      await ctx.store.addUser({ address: 'alice@example.com', passwordHash: 'x' });
      await ctx.store.addUser({ address: 'bob@example.com', passwordHash: 'x' });
    };

    it('adds keys with OpenSSH fingerprints and lists them oldest first', async () => {
      await setup();
      const first = ed25519Blob();
      const second = ed25519Blob();
      const added = await ctx.store.addSshKey('Alice@Example.com', { algorithm: 'ssh-ed25519', publicKey: first, comment: 'laptop' });
      const expected = 'SHA256:' + createHash('sha256').update(first).digest('base64').replace(/=+$/, '');
      assert.equal(added.fingerprint, expected);
      assert.doesNotMatch(added.fingerprint, /=/);
      assert.ok(added.createdAt instanceof Date);
      await ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-ed25519', publicKey: second, comment: '' });
      const keys = await ctx.store.listSshKeys('alice@example.com');
      assert.equal(keys.length, 2);
      assert.deepEqual(keys[0]!.publicKey, first);
      assert.equal(keys[0]!.algorithm, 'ssh-ed25519');
      assert.equal(keys[0]!.comment, 'laptop');
      assert.equal(keys[0]!.fingerprint, expected);
      assert.deepEqual(keys[1]!.publicKey, second);
      assert.deepEqual(await ctx.store.listSshKeys('bob@example.com'), []);
      assert.deepEqual(await ctx.store.listSshKeys('nobody@example.com'), []);
      assert.deepEqual(await ctx.store.listSshKeys('not an address'), []);
    });

    it('refuses a key twice for one user, but two users may share one', async () => {
      await setup();
      const blob = ed25519Blob();
      await ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-ed25519', publicKey: blob, comment: 'a' });
      await rejectsWith(ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-ed25519', publicKey: blob, comment: 'b' }), 'conflict');
      await ctx.store.addSshKey('bob@example.com', { algorithm: 'ssh-ed25519', publicKey: blob, comment: 'b' });
      assert.equal((await ctx.store.listSshKeys('alice@example.com')).length, 1);
      assert.equal((await ctx.store.listSshKeys('bob@example.com')).length, 1);
    });

    it('refuses unknown users and keys that are not what they say', async () => {
      await setup();
      const blob = ed25519Blob();
      await rejectsWith(ctx.store.addSshKey('nobody@example.com', { algorithm: 'ssh-ed25519', publicKey: blob, comment: '' }), 'not-found');
      await rejectsWith(ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-rsa', publicKey: blob, comment: '' }), 'invalid');
      await rejectsWith(ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-ed25519', publicKey: Buffer.from('junk'), comment: '' }), 'invalid');
      await rejectsWith(ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-ed25519', publicKey: blob, comment: 'a\nb' }), 'invalid');
      assert.deepEqual(await ctx.store.listSshKeys('alice@example.com'), []);
    });

    it('removes a key by fingerprint, and keys go with their user', async () => {
      await setup();
      const key = await ctx.store.addSshKey('alice@example.com', { algorithm: 'ssh-ed25519', publicKey: ed25519Blob(), comment: '' });
      await ctx.store.addSshKey('bob@example.com', { algorithm: 'ssh-ed25519', publicKey: ed25519Blob(), comment: '' });
      assert.equal(await ctx.store.removeSshKey('bob@example.com', key.fingerprint), false, "not bob's key");
      assert.equal(await ctx.store.removeSshKey('alice@example.com', key.fingerprint), true);
      assert.equal(await ctx.store.removeSshKey('alice@example.com', key.fingerprint), false);
      assert.deepEqual(await ctx.store.listSshKeys('alice@example.com'), []);
      await ctx.store.removeUser('bob@example.com');
      await ctx.store.addUser({ address: 'bob@example.com', passwordHash: 'x' });
      assert.deepEqual(await ctx.store.listSshKeys('bob@example.com'), [], 'a new user of the same address has no old keys');
    });
  });
}
