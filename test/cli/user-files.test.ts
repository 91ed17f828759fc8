/** `wharf user remove` removes the user's files too (local file store). */
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalFileStore } from '../../src/store/files/local.js';
import { openStore } from '../../src/store/index.js';
import { makeTempDir, removeDir, runWharf } from '../helpers/cli.js';

describe('wharf user remove and files', () => {
  let dataDir: string;
  const wharf = (args: string[], stdin?: string) => runWharf([...args, '--data', dataDir], { stdin });
  before(async () => {
    dataDir = await makeTempDir('wharf-cli-files-');
  });
  after(async () => {
    await removeDir(dataDir);
  });

  it("removes the user's folder and nobody else's", async () => {
    for (const args of [
      ['domain', 'add', 'example.com'],
      ['user', 'add', 'alice@example.com', '--password-stdin'],
      ['user', 'add', 'bob@example.com', '--password-stdin'],
    ]) {
      const result = await wharf(args, 'secret\n');
      assert.equal(result.code, 0, result.stderr);
    }
    const store = await openStore({ dataDir });
    const files = await LocalFileStore.open(dataDir);
    try {
      for (const address of ['alice@example.com', 'bob@example.com']) {
        const user = (await store.getUser(address))!;
        const upload = await files.createUpload({ kind: 'user', userId: user.id, address }, '/notes.txt', { mode: 'replace', maxBytes: null });
        await upload.write(Buffer.from(`${address}'s notes`));
        await upload.commit();
      }
    } finally {
      await files.close();
      await store.close();
    }
    const removed = await wharf(['user', 'remove', 'alice@example.com']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed user alice@example.com\n');
    await assert.rejects(access(join(dataDir, 'files', 'example.com', 'alice')));
    assert.equal(await readFile(join(dataDir, 'files', 'example.com', 'bob', 'notes.txt'), 'utf8'), "bob@example.com's notes");
    const again = await wharf(['user', 'remove', 'alice@example.com']);
    assert.equal(again.code, 1);
  });
});
