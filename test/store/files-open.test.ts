/**
 * openFileStore (which implementation the configuration asks for) and uploadAllowance (the
 * bytes an upload may add under either quota policy), on real stores. openFileStore on
 * PostgreSQL is in postgres-files.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/defaults.js';
import type { FilesConfig, WharfConfig } from '../../src/config/types.js';
import { LocalFileStore, fileStoreKind, openFileStore, uploadAllowance } from '../../src/store/files/index.js';
import { openStore } from '../../src/store/index.js';
import { putFile } from './contract-files.js';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-files-open-'));
  tempDirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

function configWith(dataDir: string, store: WharfConfig['store'], files: Partial<FilesConfig> = {}): WharfConfig {
  const config = defaultConfig();
  return { ...config, dataDir, store, files: { ...config.files, ...files } };
}

describe('openFileStore', () => {
  it("'auto' follows the store: local files with SQLite, the database with PostgreSQL", () => {
    const sqlite = configWith('/data', { kind: 'sqlite' });
    const postgres = configWith('/data', { kind: 'postgres', url: 'postgres://x/y' });
    assert.equal(fileStoreKind(sqlite), 'local');
    assert.equal(fileStoreKind(postgres), 'database');
    assert.equal(fileStoreKind(configWith('/data', { kind: 'postgres', url: 'postgres://x/y' }, { kind: 'local' })), 'local');
  });

  it('opens local files on SQLite', async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir });
    const files = await openFileStore(configWith(dir, { kind: 'sqlite' }), store);
    try {
      assert.ok(files instanceof LocalFileStore);
    } finally {
      await files.close();
      await store.close();
    }
  });
});

describe('uploadAllowance', () => {
  it('separate: the file quota minus the files; 0 is unlimited; anonymous may add nothing', async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir });
    const files = await LocalFileStore.open(dir);
    try {
      await store.addDomain('example.com');
      const user = await store.addUser({ address: 'alice@example.com', passwordHash: 'x', quotaBytes: 10 });
      const space = { kind: 'user' as const, userId: user.id, address: user.address };
      const separate: FilesConfig = { ...defaultConfig().files, quota: 'separate', quotaBytes: 1000 };
      assert.equal(await uploadAllowance(separate, store, files, space), 1000);
      await putFile(files, space, '/f', Buffer.alloc(300));
      assert.equal(await uploadAllowance(separate, store, files, space), 700);
      await putFile(files, space, '/g', Buffer.alloc(900));
      assert.equal(await uploadAllowance(separate, store, files, space), 0, 'never negative');
      assert.equal(await uploadAllowance({ ...separate, quotaBytes: 0 }, store, files, space), null);
      assert.equal(await uploadAllowance(separate, store, files, { kind: 'anonymous' }), 0);
    } finally {
      await files.close();
      await store.close();
    }
  });

  it('shared: the mail quota minus mail and files; a user without quota has no limit', async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir });
    const files = await LocalFileStore.open(dir);
    try {
      await store.addDomain('example.com');
      const user = await store.addUser({ address: 'alice@example.com', passwordHash: 'x', quotaBytes: 5000 });
      const space = { kind: 'user' as const, userId: user.id, address: user.address };
      const shared: FilesConfig = { ...defaultConfig().files, quota: 'shared' };
      const inbox = (await store.listMailboxes(user.id)).find((m) => m.role === 'inbox')!;
      const body = store.createBody();
      await body.write(Buffer.alloc(1200, 0x61));
      await store.deliver({ body, internalDate: new Date(), headers: {}, envelope: { mailFrom: '', rcptTo: [] }, userIds: [user.id] });
      assert.ok(inbox);
      const mail = (await store.getUser(user.address))!.usedBytes;
      assert.ok(mail >= 1200);
      assert.equal(await uploadAllowance(shared, store, files, space), 5000 - mail);
      await putFile(files, space, '/f', Buffer.alloc(800));
      assert.equal(await uploadAllowance(shared, store, files, space), 5000 - mail - 800);
      await store.setQuota(user.address, null);
      assert.equal(await uploadAllowance(shared, store, files, space), null);
      await store.removeUser(user.address);
      assert.equal(await uploadAllowance(shared, store, files, space), 0, 'a removed user may store nothing');
    } finally {
      await files.close();
      await store.close();
    }
  });
});
