/**
 * `wharf store copy` with PostgreSQL on either side, run as an administrator would: a data
 * folder copied into a database (`--to postgres://...`), and the configured database
 * (WHARF_DATABASE_URL) copied back into a folder. The URL's password is never printed.
 *
 * Needs PostgreSQL (WHARF_TEST_DATABASE_URL, see test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../src/auth/password.js';
import { randomBytes } from 'node:crypto';
import { LocalFileStore } from '../../src/store/files/local.js';
import { PostgresFileStore } from '../../src/store/postgres/files.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import type { FileSpace } from '../../src/store/file-store.js';
import { getFile, putFile } from '../store/contract-files.js';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';
import { cleanEnv, makeTempDir, removeDir, runWharf } from '../helpers/cli.js';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/postgres.js';

async function withStore<T>(open: OpenStoreOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(open);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The URL with a password in it (trust authentication ignores it), to check it stays unprinted. */
function withPassword(url: string): { url: string; password: string } {
  const parsed = new URL(url);
  if (!parsed.password) parsed.password = 'pickles-secret';
  return { url: parsed.toString(), password: decodeURIComponent(parsed.password) };
}

/** Bob's INBOX as a caching IMAP client knows it, and his password hash. */
async function bobView(open: OpenStoreOptions) {
  return withStore(open, async (store) => {
    const bob = (await store.getUser('bob@hamburger.edu'))!;
    const inbox = (await store.getMailbox(bob.id, 'INBOX'))!;
    return {
      uidValidity: inbox.uidValidity,
      uidNext: inbox.uidNext,
      highestModseq: inbox.highestModseq,
      entries: (await store.listEntries(inbox.id)).map((e) => [e.uid, e.flags, e.modseq]),
      mailboxes: (await store.listMailboxes(bob.id)).map((m) => [m.name, m.uidValidity]).sort(),
      aliases: await store.listAliases(),
      passwordHash: await store.getPasswordHash(bob.address),
      quotaBytes: bob.quotaBytes,
    };
  });
}

/** Bob with a quota, an alias and three messages (one seen, one expunged) through the CLI and the store. */
async function seedBob(env: Record<string, string>, dataDir: string, open: OpenStoreOptions): Promise<void> {
  for (const args of [
    ['domain', 'add', 'hamburger.edu'],
    ['user', 'add', 'bob@hamburger.edu', '--password-stdin', '--quota', '50M'],
    ['alias', 'add', 'info@hamburger.edu', 'bob@hamburger.edu'],
  ]) {
    const result = await runWharf([...args, '--data', dataDir], { stdin: 'hungry\n', env: cleanEnv(env) });
    assert.equal(result.code, 0, result.stderr);
  }
  await withStore(open, async (store) => {
    const bob = (await store.getUser('bob@hamburger.edu'))!;
    for (const n of [1, 2, 3, 4]) {
      const body = store.createBody();
      await body.write(Buffer.from(`Subject: ketchup ${n}\r\n\r\nDo you like ketchup?\r\n`));
      await store.deliver({ body, internalDate: new Date(), envelope: { mailFrom: '', rcptTo: [] }, userIds: [bob.id] });
    }
    const inbox = (await store.getMailbox(bob.id, 'INBOX'))!;
    await store.setFlags(inbox.id, [2], 'add', ['\\Seen', 'ketchup']);
    await store.expunge(inbox.id, [1]);
  });
}

describe('wharf store copy with PostgreSQL', () => {
  let root: string;
  const databases: TestDatabase[] = [];
  const database = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return db;
  };

  before(async () => {
    root = await makeTempDir('wharf-store-copy-pg-');
  });
  after(async () => {
    await removeDir(root);
    await Promise.all(databases.map((db) => db.drop()));
  });

  it('--to postgres://... copies a data folder into the database, twice, never printing the password', async () => {
    const sourceDir = path.join(root, 'sqlite-source');
    await seedBob({}, sourceDir, { dataDir: sourceDir });
    const target = withPassword((await database()).url);
    const copy = () => runWharf(['store', 'copy', '--data', sourceDir, '--to', target.url]);

    const result = await copy();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const name = new URL(target.url).pathname.slice(1);
    assert.match(result.stdout, new RegExp(`^copying .*sqlite-source to the PostgreSQL database ${name} on [^ ]+:\\d+$`, 'm'));
    assert.match(result.stdout, /^bob@hamburger\.edu INBOX: 3 copied, 0 already there$/m);
    assert.match(result.stdout, /^verified 6 mailboxes, 3 messages, 0 queued: identical$/m);
    assert.ok(!result.stdout.includes(target.password), 'the password is not printed');

    const copied = await bobView({ dataDir: root, databaseUrl: target.url });
    assert.deepEqual(copied, await bobView({ dataDir: sourceDir }));
    assert.deepEqual(copied.entries.map(([uid, flags]) => [uid, flags]), [[2, ['\\Seen', 'ketchup']], [3, []], [4, []]]);
    assert.equal(await verifyPassword('hungry', copied.passwordHash!), true);

    const again = await copy();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^copied 0 messages .* 3 were already there$/m);
    assert.match(again.stdout, /: identical$/m);
  });

  it('--to postgres://... takes the users\' files into the database (files.kind "auto"), resumes, and verifies them', async () => {
    const sourceDir = path.join(root, 'sqlite-files');
    await seedBob({}, sourceDir, { dataDir: sourceDir });
    const bobId = await withStore({ dataDir: sourceDir }, async (store) => (await store.getUser('bob@hamburger.edu'))!.id);
    const space: FileSpace = { kind: 'user', userId: bobId, address: 'bob@hamburger.edu' };
    const big = randomBytes(700 * 1024);
    const local = await LocalFileStore.open(sourceDir);
    await local.makeDirectory(space, '/menus');
    await putFile(local, space, '/menus/ketchup.txt', 'two spoons\r\n');
    await putFile(local, space, '/menus/photo.bin', big);
    await local.setModified(space, '/menus/photo.bin', new Date('2026-01-02T03:04:05Z'));
    await local.setMode(space, '/menus/ketchup.txt', 0o600);
    await local.close();
    const target = (await database()).url;
    const copy = () => runWharf(['store', 'copy', '--data', sourceDir, '--to', target]);

    const result = await copy();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^files: 2 copied \(0\.7 MiB\), 0 already there, 1 folders made, 0 vanished from the source while copying, in 2 spaces; 2 verified byte for byte: identical$/m);

    const store = await PostgresStore.open(target);
    try {
      const files = await PostgresFileStore.open(store.database);
      const there: FileSpace = { kind: 'user', userId: (await store.getUser('bob@hamburger.edu'))!.id, address: 'bob@hamburger.edu' };
      assert.deepEqual(await getFile(files, there, '/menus/photo.bin'), big);
      assert.equal((await getFile(files, there, '/menus/ketchup.txt')).toString(), 'two spoons\r\n');
      assert.equal((await files.stat(there, '/menus/photo.bin'))!.modified.toISOString(), '2026-01-02T03:04:05.000Z');
      assert.equal((await files.stat(there, '/menus/ketchup.txt'))!.mode, 0o600);
      await files.close();
    } finally {
      await store.close();
    }

    // Again: nothing to copy. Then a file changed in the source is copied anew.
    const again = await copy();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^files: 0 copied \(0\.0 MiB\), 2 already there, 0 folders made/m);
    const changed = await LocalFileStore.open(sourceDir);
    await putFile(changed, space, '/menus/ketchup.txt', 'three spoons, please\r\n');
    await changed.close();
    const third = await copy();
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /^files: 1 copied \(0\.0 MiB\), 1 already there, 0 folders made.*identical$/m);
  });

  it('copies the configured PostgreSQL store (WHARF_DATABASE_URL) into a folder', async () => {
    const source = withPassword((await database()).url);
    const env = { WHARF_DATABASE_URL: source.url };
    // The data folder of a node on PostgreSQL holds no store: it is no reason to refuse.
    const dataDir = path.join(root, 'pg-node-data');
    await seedBob(env, dataDir, { dataDir, databaseUrl: source.url });
    const targetDir = path.join(root, 'sqlite-target');

    const result = await runWharf(['store', 'copy', '--data', dataDir, '--to', targetDir], { env: cleanEnv(env) });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^copying the PostgreSQL database \\S+ on \\S+ to ${targetDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(result.stdout, /^verified 6 mailboxes, 3 messages, 0 queued: identical$/m);
    assert.ok(!result.stdout.includes(source.password), 'the password is not printed');
    assert.deepEqual(await bobView({ dataDir: targetDir }), await bobView({ dataDir, databaseUrl: source.url }));
  });

  it('refuses, with exit code 2, a database without a store and a target that is the source', async () => {
    const empty = await database();
    const dataDir = path.join(root, 'refusals');
    const noStore = await runWharf(['store', 'copy', '--data', dataDir, '--to', path.join(root, 'never')], {
      env: cleanEnv({ WHARF_DATABASE_URL: empty.url }),
    });
    assert.equal(noStore.code, 2, noStore.stderr);
    assert.match(noStore.stderr, /no store in the PostgreSQL database \S+ on \S+ to copy/);
    const tables = await queryDatabase(empty.url, `SELECT 1 FROM pg_tables WHERE schemaname = 'public'`);
    assert.equal(tables.length, 0, 'the empty database was left alone');

    const source = (await database()).url;
    const itself = await runWharf(['store', 'copy', '--data', dataDir, '--to', withPassword(source).url], {
      env: cleanEnv({ WHARF_DATABASE_URL: source }),
    });
    assert.equal(itself.code, 2, itself.stderr);
    assert.match(itself.stderr, /the target is the source store itself/);
  });
});
