/**
 * The file store inside the PostgreSQL database, for several nodes serving the same users:
 * one file_nodes row per file or folder (path-keyed, per space), the bytes in file_contents /
 * file_chunks (see files-io.ts). Every change is one transaction. A change below a folder
 * locks the folder and its ancestors (FOR SHARE), and removing or renaming a folder locks it
 * FOR UPDATE, so a folder cannot vanish or move while something is created inside it.
 *
 * Contents nobody points at any more are swept: pending ones whose writer stopped touching
 * them (a node died mid-upload), released ones an hour after they were replaced (readers
 * that opened them before keep reading meanwhile).
 */
import { randomUUID } from 'node:crypto';
import type { FileInfo, FileReader, FileSpace, FileStore, FileUpload, UploadOptions } from '../file-store.js';
import { NEW_FILE_MODE, NEW_FOLDER_MODE, effectiveMode, keptBytesFor } from '../files/modes.js';
import { assertNormalizedFilePath, baseName, parentPath } from '../files/path.js';
import { StoreError } from '../types.js';
import type { Database, Tx } from './db.js';
import { FILE_CHUNK_SIZE, PostgresFileReader, PostgresUpload } from './files-io.js';
import { copyKeptBytes, lockFolder, releaseContent, sweepContents, type NodeRow } from './files-nodes.js';

/** How often a store refreshes its uploads' pending contents and sweeps dead ones. */
const HEARTBEAT_MS = 60_000;
const SWEEP_MS = 5 * 60_000;
/** What the database's disk holds is not visible from here; SFTP statvfs is told this much. */
const NOMINAL_CAPACITY = 2 ** 50;

const NODE_COLUMNS = 'path, name, type, size, mode, modified, content_id';

export function spaceKey(space: FileSpace): string {
  if (space.kind === 'anonymous') return 'anonymous';
  if (!Number.isSafeInteger(space.userId) || space.userId <= 0) throw new StoreError('invalid', 'not a user id');
  return `u:${space.userId}`;
}

function infoOf(row: NodeRow): FileInfo {
  return { name: row.name, type: row.type, size: row.type === 'file' ? row.size : 0, modified: row.modified, mode: row.mode };
}

function checked(path: string): string {
  assertNormalizedFilePath(path);
  return path;
}

export class PostgresFileStore implements FileStore {
  private readonly token = randomUUID();
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(private readonly db: Database) {}

  /** Opens the file store on the store's database (whose migrations made its tables). */
  static async open(db: Database): Promise<PostgresFileStore> {
    const files = new PostgresFileStore(db);
    await sweepContents(db);
    files.startMaintenance();
    return files;
  }

  async stat(space: FileSpace, path: string): Promise<FileInfo | null> {
    const key = spaceKey(space);
    if (checked(path) === '/') return { name: '', type: 'directory', size: 0, modified: new Date(), mode: NEW_FOLDER_MODE };
    const row = await this.db.one<NodeRow>(`SELECT ${NODE_COLUMNS} FROM file_nodes WHERE space = $1 AND path = $2`, [key, path]);
    return row ? infoOf(row) : null;
  }

  async list(space: FileSpace, path: string): Promise<FileInfo[]> {
    const key = spaceKey(space);
    if (checked(path) !== '/') {
      const folder = await this.db.one<{ type: string }>('SELECT type FROM file_nodes WHERE space = $1 AND path = $2', [key, path]);
      if (!folder) throw new StoreError('not-found', 'no such folder');
      if (folder.type !== 'directory') throw new StoreError('conflict', 'not a folder');
    }
    const rows = await this.db.rows<NodeRow>(`SELECT ${NODE_COLUMNS} FROM file_nodes WHERE space = $1 AND parent = $2`, [key, path]);
    // Sorted here, as the local store sorts: by UTF-16 code units, whatever the database's collation.
    return rows.map(infoOf).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async makeDirectory(space: FileSpace, path: string): Promise<FileInfo> {
    const key = spaceKey(space);
    if (checked(path) === '/') throw new StoreError('conflict', 'the root folder exists');
    return this.db.transaction(async (tx) => {
      await lockFolder(tx, key, parentPath(path));
      const row = await tx.one<NodeRow>(
        `INSERT INTO file_nodes (space, path, parent, name, type, mode) VALUES ($1, $2, $3, $4, 'directory', $5)
         ON CONFLICT (space, path) DO NOTHING RETURNING ${NODE_COLUMNS}`,
        [key, path, parentPath(path), baseName(path), NEW_FOLDER_MODE],
      );
      if (!row) throw new StoreError('conflict', 'something has that name');
      return infoOf(row);
    });
  }

  async removeDirectory(space: FileSpace, path: string): Promise<void> {
    const key = spaceKey(space);
    if (checked(path) === '/') throw new StoreError('invalid', 'the root folder cannot be removed');
    await this.db.transaction(async (tx) => {
      const row = await this.lockNode(tx, key, path);
      if (row.type !== 'directory') throw new StoreError('conflict', 'not a folder');
      const child = await tx.one('SELECT 1 FROM file_nodes WHERE space = $1 AND parent = $2 LIMIT 1', [key, path]);
      if (child) throw new StoreError('conflict', 'the folder is not empty');
      await tx.count('DELETE FROM file_nodes WHERE space = $1 AND path = $2', [key, path]);
    });
  }

  async removeFile(space: FileSpace, path: string): Promise<void> {
    const key = spaceKey(space);
    if (checked(path) === '/') throw new StoreError('invalid', 'the root is a folder');
    await this.db.transaction(async (tx) => {
      const row = await this.lockNode(tx, key, path);
      if (row.type !== 'file') throw new StoreError('conflict', 'a folder is not removed as a file');
      await tx.count('DELETE FROM file_nodes WHERE space = $1 AND path = $2', [key, path]);
      await releaseContent(tx, row.content_id);
    });
  }

  async rename(space: FileSpace, from: string, to: string, options?: { overwrite?: boolean }): Promise<void> {
    const key = spaceKey(space);
    if (checked(from) === '/' || checked(to) === '/') throw new StoreError('invalid', 'the root cannot be renamed');
    await this.db.transaction(async (tx) => {
      const source = await this.lockNode(tx, key, from);
      if (from === to) return;
      if (to.startsWith(from + '/')) throw new StoreError('invalid', 'a folder cannot move into itself');
      await lockFolder(tx, key, parentPath(to));
      const existing = await tx.one<NodeRow>(`SELECT ${NODE_COLUMNS} FROM file_nodes WHERE space = $1 AND path = $2 FOR UPDATE`, [key, to]);
      if (existing) {
        if (!options?.overwrite || existing.type !== 'file' || source.type !== 'file') {
          throw new StoreError('conflict', 'the new name is taken');
        }
        await tx.count('DELETE FROM file_nodes WHERE space = $1 AND path = $2', [key, to]);
        await releaseContent(tx, existing.content_id);
      }
      await tx.count('UPDATE file_nodes SET path = $3, parent = $4, name = $5 WHERE space = $1 AND path = $2', [
        key,
        from,
        to,
        parentPath(to),
        baseName(to),
      ]);
      if (source.type === 'directory') {
        // Everything below: the key range from + '/' .. from + '0' ('0' follows '/' bytewise).
        await tx.count(
          `UPDATE file_nodes SET path = $3 || substr(path, char_length($2) + 1), parent = $3 || substr(parent, char_length($2) + 1)
           WHERE space = $1 AND path >= $2 || '/' AND path < $2 || '0'`,
          [key, from, to],
        );
      }
    });
  }

  async setMode(space: FileSpace, path: string, mode: number): Promise<void> {
    const key = spaceKey(space);
    // The root folder has no row and keeps its mode.
    if (checked(path) === '/') return;
    const updated = await this.db.count(
      `UPDATE file_nodes SET mode = CASE WHEN type = 'directory' THEN $3::int ELSE $4::int END WHERE space = $1 AND path = $2`,
      [key, path, effectiveMode('directory', mode), effectiveMode('file', mode)],
    );
    if (updated === 0) throw new StoreError('not-found', 'no such file or folder');
  }

  async setModified(space: FileSpace, path: string, modified: Date): Promise<void> {
    if (Number.isNaN(modified.getTime())) throw new StoreError('invalid', 'not a time');
    const key = spaceKey(space);
    if (checked(path) === '/') return;
    const updated = await this.db.count('UPDATE file_nodes SET modified = $3 WHERE space = $1 AND path = $2', [key, path, modified]);
    if (updated === 0) throw new StoreError('not-found', 'no such file or folder');
  }

  async openRead(space: FileSpace, path: string): Promise<FileReader> {
    const key = spaceKey(space);
    if (checked(path) === '/') throw new StoreError('conflict', 'the root is a folder');
    const row = await this.db.one<NodeRow & { chunk_size: number }>(
      `SELECT n.path, n.name, n.type, n.size, n.mode, n.modified, n.content_id, c.chunk_size
       FROM file_nodes n LEFT JOIN file_contents c ON c.id = n.content_id
       WHERE n.space = $1 AND n.path = $2`,
      [key, path],
    );
    if (!row) throw new StoreError('not-found', 'no such file');
    if (row.type !== 'file' || row.content_id === null) throw new StoreError('conflict', 'a folder cannot be read as a file');
    return new PostgresFileReader(this.db, { id: row.content_id, size: row.size, chunkSize: row.chunk_size }, infoOf(row));
  }

  async createUpload(space: FileSpace, path: string, options: UploadOptions): Promise<FileUpload> {
    const key = spaceKey(space);
    if (checked(path) === '/') throw new StoreError('invalid', 'the root is a folder');
    const parent = parentPath(path);
    if (parent !== '/') {
      const folder = await this.db.one<{ type: string }>('SELECT type FROM file_nodes WHERE space = $1 AND path = $2', [key, parent]);
      if (folder?.type !== 'directory') throw new StoreError('not-found', 'no such folder');
    }
    const existing = await this.db.one<NodeRow>(`SELECT ${NODE_COLUMNS} FROM file_nodes WHERE space = $1 AND path = $2`, [key, path]);
    if (existing?.type === 'directory') throw new StoreError('conflict', 'a folder has that name');
    if (existing && options.exclusive) throw new StoreError('conflict', 'the file exists');
    const keptBytes = keptBytesFor(options, existing?.size ?? 0);
    const content = await this.db.one<{ id: number }>(
      `INSERT INTO file_contents (state, chunk_size, owner_token) VALUES ('pending', $1, $2) RETURNING id`,
      [FILE_CHUNK_SIZE, this.token],
    );
    const contentId = content!.id;
    try {
      const keptTail = keptBytes > 0 ? await copyKeptBytes(this.db, existing!.content_id!, contentId, keptBytes) : Buffer.alloc(0);
      const exclusive = options.exclusive === true;
      return new PostgresUpload(
        { db: this.db, place: (tx, id, size) => this.place(tx, key, path, id, size, exclusive) },
        { contentId, keptBytes, keptTail, replacedBytes: existing?.size ?? 0, maxBytes: options.maxBytes },
      );
    } catch (err) {
      await this.db.count('DELETE FROM file_contents WHERE id = $1', [contentId]).catch(() => undefined);
      throw err;
    }
  }

  async usage(space: FileSpace): Promise<number> {
    const row = await this.db.one<{ bytes: number }>(
      `SELECT COALESCE(sum(size), 0)::bigint AS bytes FROM file_nodes WHERE space = $1 AND type = 'file'`,
      [spaceKey(space)],
    );
    return row!.bytes;
  }

  async capacity(_space: FileSpace): Promise<{ totalBytes: number; freeBytes: number }> {
    const row = await this.db.one<{ used: number }>('SELECT pg_database_size(current_database())::bigint AS used');
    return { totalBytes: NOMINAL_CAPACITY, freeBytes: Math.max(0, NOMINAL_CAPACITY - row!.used) };
  }

  async removeSpace(space: FileSpace): Promise<void> {
    const key = spaceKey(space);
    await this.db.transaction(async (tx) => {
      await tx.count(
        `UPDATE file_contents SET state = 'released', touched_at = now()
         WHERE id IN (SELECT content_id FROM file_nodes WHERE space = $1 AND content_id IS NOT NULL)`,
        [key],
      );
      await tx.count('DELETE FROM file_nodes WHERE space = $1', [key]);
    });
  }

  /** Stops the timers and drops this instance's unfinished uploads. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    await this.db.count(`DELETE FROM file_contents WHERE state = 'pending' AND owner_token = $1`, [this.token]).catch(() => undefined);
  }

  /** Inside an upload's commit: the file at `path` now has content `contentId`. */
  private async place(tx: Tx, key: string, path: string, contentId: number, size: number, exclusive: boolean): Promise<FileInfo> {
    await lockFolder(tx, key, parentPath(path));
    // Two commits to one new name take turns here, so the second replaces the first instead of
    // failing on the primary key.
    await tx.rows('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${key}:${path}`]);
    const existing = await tx.one<NodeRow>(`SELECT ${NODE_COLUMNS} FROM file_nodes WHERE space = $1 AND path = $2 FOR UPDATE`, [key, path]);
    if (existing && (exclusive || existing.type !== 'file')) throw new StoreError('conflict', 'something has that name');
    let row: NodeRow | undefined;
    if (existing) {
      row = await tx.one<NodeRow>(
        `UPDATE file_nodes SET size = $3, content_id = $4, modified = now() WHERE space = $1 AND path = $2 RETURNING ${NODE_COLUMNS}`,
        [key, path, size, contentId],
      );
      await releaseContent(tx, existing.content_id);
    } else {
      row = await tx.one<NodeRow>(
        `INSERT INTO file_nodes (space, path, parent, name, type, size, mode, content_id)
         VALUES ($1, $2, $3, $4, 'file', $5, $6, $7) RETURNING ${NODE_COLUMNS}`,
        [key, path, parentPath(path), baseName(path), size, NEW_FILE_MODE, contentId],
      );
    }
    return infoOf(row!);
  }

  /** The row at `path`, locked for a change; 'not-found' without one. */
  private async lockNode(tx: Tx, key: string, path: string): Promise<NodeRow> {
    const row = await tx.one<NodeRow>(`SELECT ${NODE_COLUMNS} FROM file_nodes WHERE space = $1 AND path = $2 FOR UPDATE`, [key, path]);
    if (!row) throw new StoreError('not-found', 'no such file or folder');
    return row;
  }

  private startMaintenance(): void {
    const every = (ms: number, task: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        task().catch((err: unknown) => process.emitWarning(`file store: ${what} failed: ${String(err)}`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(
      HEARTBEAT_MS,
      () => this.db.count(`UPDATE file_contents SET touched_at = now() WHERE state = 'pending' AND owner_token = $1`, [this.token]),
      'refreshing uploads',
    );
    every(SWEEP_MS, () => sweepContents(this.db), 'sweeping file contents');
  }
}
