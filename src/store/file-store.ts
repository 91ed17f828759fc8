/**
 * The file store: the facet FTP, FTPS and SFTP serve files from. Each user has a space of
 * their own (a folder tree rooted at "/"); the anonymous area, when enabled, is one more
 * space, read-only to the protocols. Two implementations pass the same contract suite: real
 * files under the data folder (the default, what an admin backs up with their usual tools)
 * and one inside the PostgreSQL database (chunked like message bodies) for several nodes.
 *
 * Paths given to the store are normalized absolute paths as `normalizeFilePath` in
 * src/store/files/path.ts makes them ("/", "/a/b.txt": no "." or ".." segments, no empty
 * segments, no NUL, each segment at most 255 bytes of valid UTF-8 in NFC). The store refuses
 * any other string with StoreError('invalid'), so a protocol bug cannot walk out of a space;
 * the local implementation also refuses to follow symbolic links.
 *
 * Errors are StoreError with code 'not-found' (no such file or folder, or a parent missing),
 * 'conflict' (exists already, folder not empty, a file where a folder is needed or the other
 * way round), 'invalid' (bad path, the root itself where a file is needed) and 'quota'.
 */

/** Whose files. */
export type FileSpace =
  /** A user's own files; `address` names the folder on disk (data/files/<domain>/<local>). */
  | { kind: 'user'; userId: number; address: string }
  /** The anonymous area (data/files-anonymous), served read-only when configured. */
  | { kind: 'anonymous' };

export interface FileInfo {
  /** Last segment of the path ("" for the root). */
  name: string;
  type: 'file' | 'directory';
  /** Bytes (0 for folders). */
  size: number;
  modified: Date;
  /** Unix permission bits, e.g. 0o644 / 0o755 (SITE CHMOD and SFTP setstat change them). */
  mode: number;
}

export interface UploadOptions {
  /**
   * 'replace': a new file (STOR, SFTP open with TRUNC or CREAT on a missing file);
   * 'append': after the existing bytes, creating the file when missing (APPE);
   * 'resume': keep the existing file's first `offset` bytes and write from there (REST + STOR).
   */
  mode: 'replace' | 'append' | 'resume';
  /** For 'resume': must not exceed the existing file's size ('invalid' otherwise). */
  offset?: number;
  /** Fail with 'conflict' when the target exists (STOU, SFTP O_EXCL). */
  exclusive?: boolean;
  /**
   * Bytes this upload may add to the space's usage (quota left), null for no limit. A write
   * that would pass it fails with StoreError('quota') and writes nothing of that chunk.
   */
  maxBytes: number | null;
}

/**
 * An upload in progress. Bytes go to a temporary object, never to the target name: until
 * commit() resolves a reader sees the old file (or none), and a crash leaves no half file.
 */
export interface FileUpload {
  /** Bytes written through this upload so far (not counting kept bytes of 'resume'/'append'). */
  readonly bytesWritten: number;
  /**
   * Writes at the end. Calls must not overlap (await each one). Once the promise settles the
   * store holds no reference to `chunk`: the caller may reuse it (SFTP's write-behind does).
   */
  write(chunk: Buffer): Promise<void>;
  /**
   * Makes the bytes written so far durable without putting the file under its name, so a
   * caller can overlap the disk's work with something else (FTP waits meanwhile to see
   * whether the client is still there). No write may follow; commit() or abort() must.
   * Optional to call: commit() does it when it was not done.
   */
  sync(): Promise<void>;
  /**
   * Makes the bytes durable (fsync of the data and of the folder, or the database commit)
   * and puts the file under its name, replacing what was there. Only after this resolves may
   * a protocol say "accepted" (FTP 226, SFTP STATUS OK on CLOSE).
   */
  commit(): Promise<FileInfo>;
  /**
   * Gives the upload up. `keepPartial`: what was received is committed under the target name
   * as commit() would (so a client can resume with REST); otherwise nothing changes.
   * Safe after a failed write or commit, and more than once.
   */
  abort(options?: { keepPartial?: boolean }): Promise<void>;
}

/** An open file for reading: positional reads (SFTP READ) or a stream (FTP RETR). */
export interface FileReader {
  readonly info: FileInfo;
  /**
   * Up to `length` bytes at `position`; an empty buffer at or past the end. The buffer is the
   * caller's own (a fresh one each call): SFTP's read-ahead writes reply headers into it.
   */
  read(position: number, length: number): Promise<Buffer>;
  /** The bytes from `start` (default 0) to the end, in chunks of at most 256 KiB. */
  stream(start?: number): AsyncIterable<Buffer>;
  /**
   * Optional: reads into the caller's `target` at `position` and returns how many bytes were
   * read (fewer only at the end, 0 at or past it), so a sender can reuse its buffers instead
   * of allocating one per chunk. The store holds no reference to `target` once it settles.
   */
  readInto?(target: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface FileStore {
  /** Null when nothing is at `path` (or a parent is missing, or is a file). */
  stat(space: FileSpace, path: string): Promise<FileInfo | null>;
  /** A folder's entries sorted by name; 'not-found' / 'conflict' when `path` is no folder. */
  list(space: FileSpace, path: string): Promise<FileInfo[]>;
  /** Creates one folder (the parent must exist); 'conflict' when something is there. */
  makeDirectory(space: FileSpace, path: string): Promise<FileInfo>;
  /** Removes an empty folder; 'conflict' when not empty or not a folder, 'invalid' for "/". */
  removeDirectory(space: FileSpace, path: string): Promise<void>;
  /** Removes a file; 'conflict' when `path` is a folder. */
  removeFile(space: FileSpace, path: string): Promise<void>;
  /**
   * Renames a file or folder (a folder with everything in it). With `overwrite` an existing
   * file at `to` is replaced (FTP RNTO, as rename(2)); without, 'conflict' (SFTP v3). Moving a
   * folder into itself is 'invalid'.
   */
  rename(space: FileSpace, from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;
  /** Sets the permission bits (only 0o7777 are kept). */
  setMode(space: FileSpace, path: string, mode: number): Promise<void>;
  /** Sets the modification time (MFMT, SFTP setstat). */
  setModified(space: FileSpace, path: string, modified: Date): Promise<void>;
  /** Opens a file for reading; 'conflict' when `path` is a folder. */
  openRead(space: FileSpace, path: string): Promise<FileReader>;
  /** Starts an upload to `path` (the parent folder must exist). */
  createUpload(space: FileSpace, path: string, options: UploadOptions): Promise<FileUpload>;
  /** Bytes of all files in the space (what counts against quota). */
  usage(space: FileSpace): Promise<number>;
  /** Size and free space of what holds the files, for SFTP statvfs and FTP's 452. */
  capacity(space: FileSpace): Promise<{ totalBytes: number; freeBytes: number }>;
  /** Removes the whole space (a user being deleted). */
  removeSpace(space: FileSpace): Promise<void>;
  close(): Promise<void>;
}
