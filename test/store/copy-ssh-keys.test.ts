/** copyStore makes each user's SSH keys on the target exactly the source's (SQLite → SQLite). */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { copyStore } from '../../src/store/copy.js';
import { openStore, type Store } from '../../src/store/index.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function freshStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-copy-keys-'));
  dirs.push(dir);
  return openStore({ dataDir: dir });
}

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}
function ed25519Key(comment: string) {
  const raw = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { algorithm: 'ssh-ed25519', publicKey: Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]), comment };
}

describe('copyStore and SSH keys', () => {
  it('copies keys, leaves equal ones, and removes keys the source no longer has', async () => {
    const source = await freshStore();
    const target = await freshStore();
    try {
      await source.addDomain('example.com');
      await source.addUser({ address: 'alice@example.com', passwordHash: 'x' });
      const laptop = await source.addSshKey('alice@example.com', ed25519Key('laptop'));
      const phone = await source.addSshKey('alice@example.com', ed25519Key('phone'));
      const first = await copyStore(source, target);
      assert.equal(first.counts.sshKeysCopied, 2);
      const copied = await target.listSshKeys('alice@example.com');
      assert.deepEqual(copied.map((k) => [k.fingerprint, k.comment]), [[laptop.fingerprint, 'laptop'], [phone.fingerprint, 'phone']]);
      assert.deepEqual(copied[0]!.publicKey, laptop.publicKey);

      const again = await copyStore(source, target);
      assert.deepEqual([again.counts.sshKeysCopied, again.counts.sshKeysRemoved], [0, 0]);

      // The phone was lost: its key revoked in the source must not keep opening the target.
      await source.removeSshKey('alice@example.com', phone.fingerprint);
      const third = await copyStore(source, target);
      assert.deepEqual([third.counts.sshKeysCopied, third.counts.sshKeysRemoved], [0, 1]);
      assert.deepEqual((await target.listSshKeys('alice@example.com')).map((k) => k.fingerprint), [laptop.fingerprint]);
    } finally {
      await source.close();
      await target.close();
    }
  });
});
