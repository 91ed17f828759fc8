/**
 * Paths inside a file space, as FTP and SFTP clients give them, turned into the one form the
 * file store accepts. Everything a client can say is resolved against its current folder
 * inside its own space: ".." at the root stays at the root (as chroot does), so there is no
 * spelling that leaves the space. What cannot be a name on any system we serve from is
 * refused instead of repaired: NUL and other control characters, invalid UTF-8 (U+FFFD from
 * a bad decode, unpaired surrogates), names over 255 bytes, paths over 4096 bytes.
 */
import { StoreError } from '../types.js';

export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/** C0 controls, DEL, C1 controls; U+FFFD is what a lossy decode of bad bytes leaves. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ufffd]/;
/** A lone surrogate: not a character, and not encodable as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Resolves `input` (absolute, or relative to `cwd`, which must itself be normalized) to a
 * normalized absolute path: "/" or "/a/b", NFC, no "." / ".." / empty segments. Backslashes are
 * separators too, so a Windows client's "..\\x" cannot name a file "..\\x" that another tool
 * reads as a path. Throws StoreError('invalid') for what cannot be a path.
 */
export function normalizeFilePath(cwd: string, input: string): string {
  if (FORBIDDEN.test(input) || LONE_SURROGATE.test(input)) {
    throw new StoreError('invalid', 'the path contains control characters or invalid UTF-8');
  }
  const text = input.normalize('NFC');
  const segments = text.startsWith('/') || text.startsWith('\\') ? [] : splitNormalized(cwd);
  for (const part of text.split(/[/\\]+/)) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(part) > MAX_NAME_BYTES) {
      throw new StoreError('invalid', `a name may have at most ${MAX_NAME_BYTES} bytes`);
    }
    segments.push(part);
  }
  const path = '/' + segments.join('/');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new StoreError('invalid', `a path may have at most ${MAX_PATH_BYTES} bytes`);
  }
  return path;
}

/** Whether `path` is exactly what normalizeFilePath returns for it (the store's own check). */
export function isNormalizedFilePath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  try {
    return normalizeFilePath('/', path) === path;
  } catch {
    return false;
  }
}

/** Throws StoreError('invalid') unless `path` is normalized; the store calls it on every path. */
export function assertNormalizedFilePath(path: string): void {
  if (!isNormalizedFilePath(path)) throw new StoreError('invalid', 'not a normalized path');
}

/** The segments of a normalized path ("/" has none). */
export function splitNormalized(path: string): string[] {
  assertIsAbsolute(path);
  return path === '/' ? [] : path.slice(1).split('/');
}

/** The folder holding `path` ("/" for a top-level name and for "/" itself). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The last segment ("" for "/"). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function assertIsAbsolute(path: string): void {
  if (!path.startsWith('/')) throw new StoreError('invalid', 'the current folder must be an absolute path');
}
