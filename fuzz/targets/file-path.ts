/**
 * File path resolution inside a user's space (store/files/path.ts normalizeFilePath), as FTP
 * and SFTP clients' paths reach it. Input: "cwd" NUL "path" (UTF-8 decoded as a lossy client
 * decode would). A path must never resolve outside the space: the result is absolute, has no
 * "." / ".." / empty segments, is already normalized, agrees with path.posix.resolve (which
 * clamps ".." at the root exactly as chroot does), and stays within its byte limits.
 */
import path from 'node:path';
import fc from 'fast-check';
import { MAX_NAME_BYTES, MAX_PATH_BYTES, isNormalizedFilePath, normalizeFilePath } from '../../src/store/files/path.js';
import { StoreError } from '../../src/store/types.js';
import { check, type FuzzTarget } from '../engine/types.js';

const segment = fc.oneof(
  fc.constantFrom('.', '..', '...', '', 'a', 'b c', ' x ', '\\', '..\\..', 'é', 'e\u0301', '\u212b', '\u00c5', '%2e%2e', '~', '$HOME', '.hidden'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ minLength: 250, maxLength: 260, unit: fc.constantFrom('a', 'é') }),
);
const pathText = fc
  .tuple(fc.constantFrom('', '/', '\\', '//'), fc.array(segment, { maxLength: 12 }), fc.constantFrom('/', '\\', '//', '/./', '/../'))
  .map(([lead, parts, sep]) => lead + parts.join(sep));

function resolveCwd(text: string): string {
  try {
    return normalizeFilePath('/', text);
  } catch {
    return '/';
  }
}

const target: FuzzTarget = {
  name: 'file-path',
  description: 'FTP/SFTP path resolution in the jail (store/files/path.ts normalizeFilePath)',
  generator: fc.tuple(pathText, pathText).map(([cwd, p]) => ({ bytes: Buffer.from(`${cwd}\0${p}`, 'utf8') })),
  dictionary: ['..', '/', '\\', '/../', '..\\', '.', '\u0000', '%2e', '\u212b', '//'],
  run(bytes) {
    const text = bytes.toString('utf8');
    const nul = text.indexOf('\0');
    const cwd = resolveCwd(nul < 0 ? '/' : text.slice(0, nul));
    const input = nul < 0 ? text : text.slice(nul + 1);
    let result: string;
    try {
      result = normalizeFilePath(cwd, input);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid') return;
      throw err;
    }
    check(result.startsWith('/'), `not absolute: ${JSON.stringify(result)}`);
    check(result === '/' || !result.endsWith('/'), `trailing slash: ${JSON.stringify(result)}`);
    const segments = result === '/' ? [] : result.slice(1).split('/');
    for (const s of segments) {
      check(s !== '' && s !== '.' && s !== '..', () => `segment ${JSON.stringify(s)} in ${JSON.stringify(result)}`);
      check(!s.includes('\\') && !s.includes('\0'), () => `separator or NUL in ${JSON.stringify(s)}`);
      check(Buffer.byteLength(s) <= MAX_NAME_BYTES, 'name over the byte limit');
    }
    check(Buffer.byteLength(result) <= MAX_PATH_BYTES, 'path over the byte limit');
    check(isNormalizedFilePath(result), () => `result not normalized: ${JSON.stringify(result)}`);
    check(normalizeFilePath('/', result) === result, 'normalizing twice changes the path');
    check(result === result.normalize('NFC'), 'result not NFC');
    // An independent oracle: POSIX resolution from the space's root, ".." clamped at "/".
    const expected = path.posix.resolve(cwd, input.normalize('NFC').replace(/\\/g, '/'));
    check(result === expected, () => `resolved ${JSON.stringify(input)} in ${cwd} to ${JSON.stringify(result)}, POSIX says ${JSON.stringify(expected)}`);
    // An absolute path does not depend on the current folder.
    if (input.startsWith('/') || input.startsWith('\\')) check(normalizeFilePath('/', input) === result, 'absolute path depends on cwd');
  },
};
export default target;
