/** `wharf store copy`, run as an administrator would: into another data folder, twice. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../src/auth/password.js';
import { readFile } from 'node:fs/promises';
import { LocalFileStore } from '../../src/store/files/local.js';
import { openStore, type Store } from '../../src/store/index.js';
import { putFile } from '../store/contract-files.js';
import { makeTempDir, removeDir, runWharf } from '../helpers/cli.js';

async function withStore<T>(dataDir: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ dataDir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function deliver(store: Store, userId: number, text: string): Promise<void> {
  const body = store.createBody();
  await body.write(Buffer.from(text));
  await store.deliver({ body, internalDate: new Date(), envelope: { mailFrom: '', rcptTo: [] }, userIds: [userId] });
}

describe('wharf store copy', () => {
  let root: string;
  let sourceDir: string;
  let targetDir: string;
  const copy = (...extra: string[]) => runWharf(['store', 'copy', '--data', sourceDir, '--to', targetDir, ...extra]);

  before(async () => {
    root = await makeTempDir('wharf-store-copy-');
    sourceDir = path.join(root, 'source');
    targetDir = path.join(root, 'target');
    for (const args of [
      ['domain', 'add', 'hamburger.edu'],
      ['user', 'add', 'bob@hamburger.edu', '--password-stdin', '--quota', '50M'],
      ['alias', 'add', 'info@hamburger.edu', 'bob@hamburger.edu'],
    ]) {
      const result = await runWharf([...args, '--data', sourceDir], { stdin: 'hungry\n' });
      assert.equal(result.code, 0, result.stderr);
    }
    await withStore(sourceDir, async (store) => {
      const bob = (await store.getUser('bob@hamburger.edu'))!;
      for (const n of [1, 2, 3]) await deliver(store, bob.id, `Subject: ketchup ${n}\r\n\r\nDo you like ketchup?\r\n`);
      const inbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      await store.setFlags(inbox.id, [2], 'add', ['\\Seen']);
      // Bob's files, served over FTP and SFTP, go along too.
      const files = await LocalFileStore.open(sourceDir);
      await files.makeDirectory({ kind: 'user', userId: bob.id, address: bob.address }, '/recipes');
      await putFile(files, { kind: 'user', userId: bob.id, address: bob.address }, '/recipes/ketchup.txt', 'tomatoes, vinegar\n');
      await files.close();
    });
  });
  after(async () => {
    await removeDir(root);
  });

  it('copies the store, prints progress and a summary, and the target logs bob in with his password', async () => {
    const result = await copy();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, new RegExp(`^copying ${sourceDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to `));
    assert.match(result.stdout, /accounts: 1 domains and 1 users added/);
    assert.match(result.stdout, /^bob@hamburger\.edu INBOX: 3 copied, 0 already there$/m);
    assert.match(result.stdout, /^copied 3 messages \(0\.0 MiB\) in 6 mailboxes; 0 were already there$/m);
    assert.match(result.stdout, /^verified 6 mailboxes, 3 messages, 0 queued: identical$/m);
    assert.match(result.stdout, /^files: 1 copied \(0\.0 MiB\), 0 already there, 1 folders made, .*: identical$/m);
    // Real files in the target's data folder, as in the source's.
    assert.equal(await readFile(path.join(targetDir, 'files', 'hamburger.edu', 'bob', 'recipes', 'ketchup.txt'), 'utf8'), 'tomatoes, vinegar\n');

    const [sourceInbox, sourceHash] = await withStore(sourceDir, async (s) => {
      const bob = (await s.getUser('bob@hamburger.edu'))!;
      return [(await s.getMailbox(bob.id, 'INBOX'))!, await s.getPasswordHash(bob.address)] as const;
    });
    await withStore(targetDir, async (t) => {
      const bob = (await t.getUser('bob@hamburger.edu'))!;
      assert.equal(bob.quotaBytes, 50 * 1024 * 1024);
      assert.equal(await t.getPasswordHash(bob.address), sourceHash);
      assert.equal(await verifyPassword('hungry', (await t.getPasswordHash(bob.address))!), true);
      const inbox = (await t.getMailbox(bob.id, 'INBOX'))!;
      assert.equal(inbox.uidValidity, sourceInbox.uidValidity);
      assert.equal(inbox.uidNext, sourceInbox.uidNext);
      assert.deepEqual((await t.listEntries(inbox.id)).map((e) => [e.uid, e.flags]), [[1, []], [2, ['\\Seen']], [3, []]]);
      assert.deepEqual(await t.listAliases(), [{ source: 'info@hamburger.edu', targets: ['bob@hamburger.edu'] }]);
    });
  });

  it('run again, copies only what is new', async () => {
    await withStore(sourceDir, async (store) => {
      await deliver(store, (await store.getUser('bob@hamburger.edu'))!.id, 'Subject: pickles\r\n\r\nHow about pickles?\r\n');
    });
    const result = await copy();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^bob@hamburger\.edu INBOX: 1 copied, 3 already there$/m);
    assert.match(result.stdout, /^copied 1 messages .* 3 were already there$/m);
    assert.match(result.stdout, /: identical$/m);
    assert.match(result.stdout, /^files: 0 copied \(0\.0 MiB\), 1 already there, 0 folders made/m);

    const quiet = await copy('--no-verify');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.match(quiet.stdout, /^copied 0 messages .* 4 were already there$/m);
    assert.doesNotMatch(quiet.stdout, /verif/);
    assert.match(quiet.stdout, /^files: 0 copied \(0\.0 MiB\), 1 already there, 0 folders made, 0 vanished from the source while copying, in 2 spaces$/m);
  });

  it('exits 1 and names each difference when the target holds what the source does not', async () => {
    await withStore(targetDir, async (store) => {
      const bob = (await store.getUser('bob@hamburger.edu'))!;
      const extra = await store.createMailbox(bob.id, 'Only here');
      const body = store.createBody();
      await body.write(Buffer.from('Subject: stray\r\n\r\n.\r\n'));
      await store.append(extra.id, { body, internalDate: new Date(), flags: [] });
    });
    const result = await copy();
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /: 1 differences$/m);
    assert.equal(
      result.stderr,
      'difference: bob@hamburger.edu: mailbox Only here exists only in the target (1 messages)\n' +
        'wharf: verification failed: 1 differences\n',
    );
  });

  it('refuses usage errors with exit code 2, before touching anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['store', 'copy', '--data', sourceDir], /required option '--to <url-or-dir>' not specified/],
      [['store', 'copy', '--data', sourceDir, '--to', sourceDir], /the target is the source store itself/],
      [['store', 'copy', '--data', sourceDir, '--to', path.join(sourceDir, '.')], /the target is the source store itself/],
      [['store', 'copy', '--data', sourceDir, '--to', 'mysql://db/wharf'], /unsupported target "mysql:\/\/db\/wharf"/],
      [['store', 'copy', '--data', path.join(root, 'nothing'), '--to', targetDir], /no store in .*nothing to copy/],
    ];
    for (const [args, message] of cases) {
      const result = await runWharf(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });
});
