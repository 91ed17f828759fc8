/**
 * A FileStore in memory for the FTP engine's in-process tests: the contract's behaviour
 * (uploads visible only after commit, quota per upload, errors by code) without a disk, so
 * protocol tests do not depend on one backend. The real stores pass their own contract suite.
 */
import type { FileInfo, FileReader, FileSpace, FileStore, FileUpload, UploadOptions } from '../../src/store/file-store.js';
import { assertNormalizedFilePath, baseName, parentPath } from '../../src/store/files/path.js';
import { StoreError } from '../../src/store/types.js';

interface Node {
  type: 'file' | 'directory';
  data: Buffer;
  modified: Date;
  mode: number;
}

export class MemoryFileStore implements FileStore {
  private readonly spaces = new Map<string, Map<string, Node>>();
  /** Set to make the next write fail as a full disk would. */
  failNextWriteWith: NodeJS.ErrnoException | null = null;
  /** Commits so far (tests check an upload was made durable before the 226). */
  commits: Array<{ path: string; at: number }> = [];

  private nodes(space: FileSpace): Map<string, Node> {
    const key = space.kind === 'user' ? `u${space.userId}` : 'anonymous';
    let map = this.spaces.get(key);
    if (!map) {
      map = new Map([['/', { type: 'directory', data: Buffer.alloc(0), modified: new Date(), mode: 0o755 }]]);
      this.spaces.set(key, map);
    }
    return map;
  }

  private info(path: string, node: Node): FileInfo {
    return { name: baseName(path), type: node.type, size: node.type === 'file' ? node.data.length : 0, modified: node.modified, mode: node.mode };
  }

  private folder(space: FileSpace, path: string): Map<string, Node> {
    const nodes = this.nodes(space);
    const parent = nodes.get(parentPath(path));
    if (!parent) throw new StoreError('not-found', 'parent missing');
    if (parent.type !== 'directory') throw new StoreError('conflict', 'parent is a file');
    return nodes;
  }

  /** Writes a file directly (test setup). */
  put(space: FileSpace, path: string, data: Buffer | string): void {
    this.nodes(space).set(path, { type: 'file', data: Buffer.from(data), modified: new Date(), mode: 0o644 });
  }

  get(space: FileSpace, path: string): Buffer | null {
    const node = this.nodes(space).get(path);
    return node?.type === 'file' ? node.data : null;
  }

  async stat(space: FileSpace, path: string): Promise<FileInfo | null> {
    assertNormalizedFilePath(path);
    const node = this.nodes(space).get(path);
    return node ? this.info(path, node) : null;
  }

  async list(space: FileSpace, path: string): Promise<FileInfo[]> {
    assertNormalizedFilePath(path);
    const nodes = this.nodes(space);
    const node = nodes.get(path);
    if (!node) throw new StoreError('not-found', 'no such folder');
    if (node.type !== 'directory') throw new StoreError('conflict', 'not a folder');
    const out: FileInfo[] = [];
    for (const [p, n] of nodes) if (p !== '/' && parentPath(p) === path) out.push(this.info(p, n));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async makeDirectory(space: FileSpace, path: string): Promise<FileInfo> {
    assertNormalizedFilePath(path);
    const nodes = this.folder(space, path);
    if (nodes.has(path)) throw new StoreError('conflict', 'exists');
    const node: Node = { type: 'directory', data: Buffer.alloc(0), modified: new Date(), mode: 0o755 };
    nodes.set(path, node);
    return this.info(path, node);
  }

  async removeDirectory(space: FileSpace, path: string): Promise<void> {
    assertNormalizedFilePath(path);
    if (path === '/') throw new StoreError('invalid', 'root');
    const nodes = this.nodes(space);
    const node = nodes.get(path);
    if (!node) throw new StoreError('not-found', 'missing');
    if (node.type !== 'directory' || (await this.list(space, path)).length > 0) throw new StoreError('conflict', 'not empty');
    nodes.delete(path);
  }

  async removeFile(space: FileSpace, path: string): Promise<void> {
    assertNormalizedFilePath(path);
    const nodes = this.nodes(space);
    const node = nodes.get(path);
    if (!node) throw new StoreError('not-found', 'missing');
    if (node.type !== 'file') throw new StoreError('conflict', 'a folder');
    nodes.delete(path);
  }

  async rename(space: FileSpace, from: string, to: string, options?: { overwrite?: boolean }): Promise<void> {
    assertNormalizedFilePath(from);
    assertNormalizedFilePath(to);
    const nodes = this.folder(space, to);
    const node = nodes.get(from);
    if (!node) throw new StoreError('not-found', 'missing');
    if (to === from || to.startsWith(from + '/')) throw new StoreError('invalid', 'into itself');
    const existing = nodes.get(to);
    if (existing && (!options?.overwrite || existing.type === 'directory' || node.type === 'directory')) throw new StoreError('conflict', 'exists');
    for (const [p, n] of [...nodes]) {
      if (p === from || p.startsWith(from + '/')) {
        nodes.delete(p);
        nodes.set(to + p.slice(from.length), n);
      }
    }
  }

  async setMode(space: FileSpace, path: string, mode: number): Promise<void> {
    const node = this.nodes(space).get(path);
    if (!node) throw new StoreError('not-found', 'missing');
    node.mode = mode & 0o7777;
  }

  async setModified(space: FileSpace, path: string, modified: Date): Promise<void> {
    const node = this.nodes(space).get(path);
    if (!node) throw new StoreError('not-found', 'missing');
    node.modified = modified;
  }

  async openRead(space: FileSpace, path: string): Promise<FileReader> {
    assertNormalizedFilePath(path);
    const node = this.nodes(space).get(path);
    if (!node) throw new StoreError('not-found', 'missing');
    if (node.type !== 'file') throw new StoreError('conflict', 'a folder');
    const data = node.data;
    const info = this.info(path, node);
    return {
      info,
      read: async (position, length) => data.subarray(position, position + length),
      async *stream(start = 0) {
        for (let i = start; i < data.length; i += 64 * 1024) yield data.subarray(i, Math.min(data.length, i + 64 * 1024));
      },
      close: async () => {},
    };
  }

  async createUpload(space: FileSpace, path: string, options: UploadOptions): Promise<FileUpload> {
    assertNormalizedFilePath(path);
    if (path === '/') throw new StoreError('invalid', 'root');
    const nodes = this.folder(space, path);
    const existing = nodes.get(path);
    if (existing?.type === 'directory') throw new StoreError('conflict', 'a folder');
    if (options.exclusive && existing) throw new StoreError('conflict', 'exists');
    let kept: Buffer = Buffer.alloc(0);
    if (options.mode === 'append' && existing) kept = existing.data;
    if (options.mode === 'resume') {
      const offset = options.offset ?? 0;
      if (!existing || offset > existing.data.length) throw new StoreError('invalid', 'offset past the end');
      kept = existing.data.subarray(0, offset);
    }
    const chunks: Buffer[] = [];
    let written = 0;
    let done = false;
    const finish = (): FileInfo => {
      const node: Node = { type: 'file', data: Buffer.concat([kept, ...chunks]), modified: new Date(), mode: existing?.mode ?? 0o644 };
      nodes.set(path, node);
      this.commits.push({ path, at: Date.now() });
      return this.info(path, node);
    };
    const store = this;
    return {
      get bytesWritten() {
        return written;
      },
      async write(chunk) {
        if (store.failNextWriteWith) {
          const err = store.failNextWriteWith;
          store.failNextWriteWith = null;
          throw err;
        }
        if (options.maxBytes !== null && written + chunk.length > options.maxBytes) throw new StoreError('quota', 'over quota');
        chunks.push(Buffer.from(chunk));
        written += chunk.length;
      },
      async commit() {
        if (done) throw new StoreError('invalid', 'done');
        done = true;
        // A tick, as an fsync would take: a 226 sent before this resolves would be seen first.
        await new Promise((resolve) => setTimeout(resolve, 1));
        return finish();
      },
      async abort(opts) {
        if (done) return;
        done = true;
        if (opts?.keepPartial) finish();
      },
    };
  }

  async usage(space: FileSpace): Promise<number> {
    let total = 0;
    for (const n of this.nodes(space).values()) total += n.data.length;
    return total;
  }

  async capacity(): Promise<{ totalBytes: number; freeBytes: number }> {
    return { totalBytes: 1e12, freeBytes: 1e12 };
  }

  async removeSpace(space: FileSpace): Promise<void> {
    this.spaces.delete(space.kind === 'user' ? `u${space.userId}` : 'anonymous');
  }

  async close(): Promise<void> {}
}
