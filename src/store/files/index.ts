/** Opening the file store the configuration asks for. */
import type { WharfConfig } from '../../config/types.js';
import type { FileStore } from '../file-store.js';
import type { Store } from '../types.js';
import { PostgresFileStore } from '../postgres/files.js';
import { PostgresStore } from '../postgres/store.js';
import { LocalFileStore } from './local.js';

export { LocalFileStore } from './local.js';
export { PostgresFileStore } from '../postgres/files.js';
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
  if (!(store instanceof PostgresStore)) throw new Error('files.kind "database" needs the PostgreSQL store (store.kind "postgres")');
  return PostgresFileStore.open(store.database);
}
