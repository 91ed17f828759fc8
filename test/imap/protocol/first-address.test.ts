import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayOf, type FirstAddress, firstAddress } from '../../../src/imap/protocol/first-address.js';

describe('first address of a header', () => {
  const cases: Array<[string, FirstAddress | null, string]> = [
    ['alice@example.com', { name: '', mailbox: 'alice', host: 'example.com' }, 'alice@example.com'],
    ['Alice Smith <Alice@Example.com>', { name: 'Alice Smith', mailbox: 'Alice', host: 'Example.com' }, 'Alice Smith'],
    ['"Smith, Alice" <a@x>, bob@y', { name: 'Smith, Alice', mailbox: 'a', host: 'x' }, 'Smith, Alice'],
    ['a@x (Alice, the boss), b@y', { name: '', mailbox: 'a', host: 'x' }, 'a@x'],
    ['Team: carol@z, dave@z;', { name: '', mailbox: 'carol', host: 'z' }, 'carol@z'],
    ['undisclosed-recipients:;', null, ''],
    ['<@relay.example:eve@e.example>', { name: '', mailbox: 'eve', host: 'e.example' }, 'eve@e.example'],
    ['"odd \\"local\\""@x', { name: '', mailbox: 'odd "local"', host: 'x' }, 'odd "local"@x'],
    ['', null, ''],
  ];
  for (const [header, expected, display] of cases) {
    it(`${JSON.stringify(header)}`, () => {
      const address = firstAddress(header);
      assert.deepEqual(address, expected);
      assert.equal(displayOf(address), display);
    });
  }
  it('decodes display names with the given decoder', () => {
    assert.equal(firstAddress('=?utf-8?q?Ren=C3=A9?= <r@x>', (raw) => (raw.startsWith('=?') ? 'René' : raw))?.name, 'René');
  });
});
