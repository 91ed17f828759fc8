/** Row-level pieces of the PostgreSQL file store shared by its operations. */
import { StoreError } from '../types.js';
import type { Database, Tx } from './db.js';
import { FILE_CHUNK_SIZE } from './files-io.js';

/** A pending content untouched this long has no live upload (many missed heartbeats). */
const STALE_PENDING_MINUTES = 30;
/** A replaced or removed file's bytes stay this long for readers that opened it before. */
const RELEASED_KEEP_MINUTES = 60;

export interface NodeRow {
  path: string;
  name: string;
  type: 'file' | 'directory';
  size: number;
  mode: number;
  modified: Date;
  content_id: number | null;
}

/**
 * Inside a transaction: locks `folder` and every folder above it FOR SHARE, so none of them is
 * removed or renamed before this transaction ends; 'not-found' unless `folder` is a folder.
 */
export async function lockFolder(tx: Tx, key: string, folder: string): Promise<void> {
  if (folder === '/') return;
  const ancestors: string[] = [];
  for (let i = folder.indexOf('/', 1); i !== -1; i = folder.indexOf('/', i + 1)) ancestors.push(folder.slice(0, i));
  ancestors.push(folder);
  const rows = await tx.rows<{ path: string; type: string }>(
    'SELECT path, type FROM file_nodes WHERE space = $1 AND path = ANY($2::text[]) ORDER BY path FOR SHARE',
    [key, ancestors],
  );
  if (!rows.some((row) => row.path === folder && row.type === 'directory')) {
    throw new StoreError('not-found', 'no such folder');
  }
}

/** Inside a transaction: the bytes of a replaced or removed file are no longer any file's. */
export async function releaseContent(tx: Tx, contentId: number | null): Promise<void> {
  if (contentId === null) return;
  await tx.count(`UPDATE file_contents SET state = 'released', touched_at = now() WHERE id = $1`, [contentId]);
}

/** Deletes contents no file points at: dead uploads, and released ones past their grace time. */
export function sweepContents(db: Database): Promise<number> {
  return db.count(
    `DELETE FROM file_contents
     WHERE (state = 'pending' AND touched_at < now() - make_interval(mins => $1))
        OR (state = 'released' AND touched_at < now() - make_interval(mins => $2))`,
    [STALE_PENDING_MINUTES, RELEASED_KEEP_MINUTES],
  );
}

/**
 * Copies the first `kept` bytes of content `from` into the new content `to` ('append' and
 * 'resume'): the whole chunks inside the database, without passing through this process;
 * returns the last partial chunk's bytes, which the upload continues from.
 */
export async function copyKeptBytes(db: Database, from: number, to: number, kept: number): Promise<Buffer> {
  const source = await db.one<{ chunk_size: number }>('SELECT chunk_size FROM file_contents WHERE id = $1', [from]);
  if (!source) throw new StoreError('conflict', 'the file changed meanwhile');
  // Chunk sizes have never changed; copying whole chunks relies on them being the same.
  if (source.chunk_size !== FILE_CHUNK_SIZE) throw new Error(`a file stored in chunks of ${source.chunk_size} bytes cannot be continued`);
  const wholeChunks = Math.floor(kept / FILE_CHUNK_SIZE);
  const copied = await db.count(
    `INSERT INTO file_chunks (content_id, seq, data)
     SELECT $2, seq, data FROM file_chunks WHERE content_id = $1 AND seq < $3`,
    [from, to, wholeChunks],
  );
  if (copied !== wholeChunks) throw new StoreError('conflict', 'the file changed meanwhile');
  const rest = kept - wholeChunks * FILE_CHUNK_SIZE;
  if (rest === 0) return Buffer.alloc(0);
  const row = await db.one<{ data: Buffer }>(
    'SELECT substring(data FROM 1 FOR $3) AS data FROM file_chunks WHERE content_id = $1 AND seq = $2',
    [from, wholeChunks, rest],
  );
  if (!row || row.data.length !== rest) throw new StoreError('conflict', 'the file changed meanwhile');
  return row.data;
}
