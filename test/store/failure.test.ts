/** The store failure classifier every service maps its "try again later" replies from. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeFailureKind } from '../../src/store/failure.js';
import { StoreError } from '../../src/store/types.js';

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('storeFailureKind', () => {
  it('a full disk: ENOSPC, EDQUOT, SQLITE_FULL, PostgreSQL disk_full', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']) assert.equal(storeFailureKind(coded(code)), 'no-space', code);
  });

  it('an I/O error: EIO, any SQLITE_IOERR, PostgreSQL io_error', () => {
    for (const code of ['EIO', 'SQLITE_IOERR', 'SQLITE_IOERR_FSYNC', 'SQLITE_IOERR_WRITE', '58030']) assert.equal(storeFailureKind(coded(code)), 'io', code);
  });

  it('a database away or busy: refused or cut connections, shutdown, SQLITE_BUSY', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '53300', 'SQLITE_BUSY']) {
      assert.equal(storeFailureKind(coded(code)), 'unavailable', code);
    }
    assert.equal(storeFailureKind(new Error('Connection terminated unexpectedly')), 'unavailable');
    assert.equal(storeFailureKind(coded('55000', 'database "x" is not currently accepting connections')), 'unavailable');
  });

  it('looks through causes', () => {
    assert.equal(storeFailureKind(new Error('delivery failed', { cause: coded('ENOSPC') })), 'no-space');
  });

  it('anything else is no store failure: bugs, refusals, constraint violations', () => {
    assert.equal(storeFailureKind(new TypeError('x is undefined')), null);
    assert.equal(storeFailureKind(new StoreError('quota', 'over quota')), null);
    assert.equal(storeFailureKind(coded('23505')), null);
    assert.equal(storeFailureKind(coded('SQLITE_CONSTRAINT_UNIQUE')), null);
    assert.equal(storeFailureKind(coded('ENOENT')), null);
    assert.equal(storeFailureKind(undefined), null);
    assert.equal(storeFailureKind('ENOSPC'), null);
  });
});
