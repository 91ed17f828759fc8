/** The path resolver FTP and SFTP share: every spelling stays inside the space. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertNormalizedFilePath,
  baseName,
  isNormalizedFilePath,
  normalizeFilePath,
  parentPath,
  splitNormalized,
} from '../../src/store/files/path.js';
import { rejectsWith } from './helpers.js';

const invalid = (fn: () => unknown) => rejectsWith((async () => fn())(), 'invalid');

describe('normalizeFilePath', () => {
  it('resolves relative paths against the current folder', () => {
    assert.equal(normalizeFilePath('/', 'a'), '/a');
    assert.equal(normalizeFilePath('/a', 'b/c'), '/a/b/c');
    assert.equal(normalizeFilePath('/a/b', '../c'), '/a/c');
    assert.equal(normalizeFilePath('/a/b', './c/./d/'), '/a/b/c/d');
    assert.equal(normalizeFilePath('/a/b', '/x//y'), '/x/y');
    assert.equal(normalizeFilePath('/a', ''), '/a');
    assert.equal(normalizeFilePath('/a', '.'), '/a');
  });

  it('keeps ".." at the root, as chroot does', () => {
    assert.equal(normalizeFilePath('/', '..'), '/');
    assert.equal(normalizeFilePath('/', '../../etc/passwd'), '/etc/passwd');
    assert.equal(normalizeFilePath('/a', '../../../..'), '/');
    assert.equal(normalizeFilePath('/a', '/../x'), '/x');
  });

  it('takes backslashes as separators', () => {
    assert.equal(normalizeFilePath('/a', '..\\..\\x'), '/x');
    assert.equal(normalizeFilePath('/', 'a\\b'), '/a/b');
    assert.equal(normalizeFilePath('/', '\\a'), '/a');
  });

  it('puts names in NFC', () => {
    assert.equal(normalizeFilePath('/', 'e\u0301'), '/\u00e9');
  });

  it('refuses control characters, invalid UTF-8 and over-long names or paths', async () => {
    await invalid(() => normalizeFilePath('/', 'a\u0000b'));
    await invalid(() => normalizeFilePath('/', 'a\nb'));
    await invalid(() => normalizeFilePath('/', 'a\u007fb'));
    await invalid(() => normalizeFilePath('/', 'a\u0085b'));
    await invalid(() => normalizeFilePath('/', 'bad\ufffd'));
    await invalid(() => normalizeFilePath('/', 'x\ud800'));
    await invalid(() => normalizeFilePath('/', '\udc00x'));
    await invalid(() => normalizeFilePath('/', 'n'.repeat(256)));
    assert.equal(normalizeFilePath('/', 'n'.repeat(255)), '/' + 'n'.repeat(255));
    await invalid(() => normalizeFilePath('/', 'é'.repeat(128)));
    await invalid(() => normalizeFilePath('/', Array(20).fill('n'.repeat(250)).join('/')));
    assert.equal(normalizeFilePath('/', '😀'), '/😀', 'a surrogate pair is one character');
  });
});

describe('isNormalizedFilePath / assertNormalizedFilePath', () => {
  it('accepts only what normalizeFilePath returns', async () => {
    for (const ok of ['/', '/a', '/a/b.txt', '/\u00e9', '/..a', '/a..', '/...']) assert.ok(isNormalizedFilePath(ok), ok);
    for (const bad of ['', 'a', 'a/b', '/a/', '//a', '/./a', '/a/..', '/../a', '/a\\b', '/e\u0301', '/a\u0000']) {
      assert.equal(isNormalizedFilePath(bad), false, JSON.stringify(bad));
      await invalid(() => assertNormalizedFilePath(bad));
    }
  });
});

describe('path parts', () => {
  it('splits, takes the parent and the base name', async () => {
    assert.deepEqual(splitNormalized('/'), []);
    assert.deepEqual(splitNormalized('/a/b'), ['a', 'b']);
    await invalid(() => splitNormalized('a/b'));
    assert.equal(parentPath('/'), '/');
    assert.equal(parentPath('/a'), '/');
    assert.equal(parentPath('/a/b/c'), '/a/b');
    assert.equal(baseName('/'), '');
    assert.equal(baseName('/a/b.txt'), 'b.txt');
  });
});
