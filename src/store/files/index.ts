/** Opening the file store the configuration asks for. */
import type { WharfConfig } from '../../config/types.js';
import type { FileStore } from '../file-store.js';
import type { Store } from '../types.js';
import { LocalFileStore } from './local.js';

// The PostgreSQL classes are imported only when asked for (they load the pg driver).
export { LocalFileStore } from './local.js';
export { uploadAllowance } from './quota.js';

/** Which implementation `files.kind` means with this store: 'auto' follows the store's kind. */
export function fileStoreKind(config: WharfConfig): 'local' | 'database' {
  if (config.files.kind !== 'auto') return config.files.kind;
  return config.store.kind === 'postgres' ? 'database' : 'local';
}

/**
 * Opens the file store: real files under the data folder ('local'), or tables in the
 * PostgreSQL database the store uses ('database'), so every node sees the same files.
 */
export async function openFileStore(config: WharfConfig, store: Store): Promise<FileStore> {
  if (fileStoreKind(config) === 'local') return LocalFileStore.open(config.dataDir);
  const [{ PostgresStore }, { PostgresFileStore }] = await Promise.all([import('../postgres/store.js'), import('../postgres/files.js')]);
  if (!(store instanceof PostgresStore)) throw new Error('files.kind "database" needs the PostgreSQL store (store.kind "postgres")');
  return PostgresFileStore.open(store.database);
}
