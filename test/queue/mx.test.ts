/** MX lookup through a fake resolver: order, ties, implicit MX, null MX, loops, DNS failures. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findMailHosts, ownIdentity, type OwnIdentity } from '../../src/queue/mx.js';
import { fakeDns } from './fake-dns.js';

const SELF: OwnIdentity = { hostname: 'mail.us.test', addresses: new Set(['192.0.2.25']) };

async function hostsOf(domain: string, table: Parameters<typeof fakeDns>[0], random?: () => number) {
  const result = await findMailHosts(domain, fakeDns(table), SELF, random);
  assert.ok(result.ok, `expected hosts, got ${JSON.stringify(result)}`);
  return result;
}

async function failureOf(domain: string, table: Parameters<typeof fakeDns>[0]) {
  const result = await findMailHosts(domain, fakeDns(table), SELF);
  assert.ok(!result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  return result;
}

describe('MX lookup', () => {
  it('orders hosts by preference, with their addresses (IPv4 first)', async () => {
    const result = await hostsOf('them.test', {
      mx: { 'them.test': [{ exchange: 'backup.them.test', priority: 20 }, { exchange: 'MX1.them.test.', priority: 10 }] },
      a: { 'mx1.them.test': ['198.51.100.1'], 'backup.them.test': ['198.51.100.2'] },
      aaaa: { 'mx1.them.test': ['2001:db8::1'] },
    });
    assert.equal(result.implicit, false);
    assert.deepEqual(result.hosts, [
      { name: 'mx1.them.test', preference: 10, addresses: ['198.51.100.1', '2001:db8::1'] },
      { name: 'backup.them.test', preference: 20, addresses: ['198.51.100.2'] },
    ]);
  });

  it('puts hosts of equal preference in random order, keeping the preference order', async () => {
    const table = {
      mx: {
        'them.test': [
          { exchange: 'a.them.test', priority: 10 },
          { exchange: 'b.them.test', priority: 10 },
          { exchange: 'c.them.test', priority: 10 },
          { exchange: 'z.them.test', priority: 50 },
        ],
      },
      a: { 'a.them.test': ['198.51.100.1'], 'b.them.test': ['198.51.100.2'], 'c.them.test': ['198.51.100.3'], 'z.them.test': ['198.51.100.9'] },
    };
    const orders = new Set<string>();
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let i = 0; i < 60; i++) {
      const names = (await hostsOf('them.test', table, random)).hosts.map((h) => h.name);
      assert.equal(names[3], 'z.them.test', 'a less preferred host never comes first');
      assert.deepEqual([...names.slice(0, 3)].sort(), ['a.them.test', 'b.them.test', 'c.them.test']);
      orders.add(names.join(' '));
    }
    assert.equal(orders.size, 6, `every order of the three equal hosts shows up: ${[...orders].join(' | ')}`);
    // With a fixed source of randomness the order is fixed (the shuffle uses only it).
    const first = (await hostsOf('them.test', table, () => 0)).hosts.map((h) => h.name);
    const again = (await hostsOf('them.test', table, () => 0)).hosts.map((h) => h.name);
    assert.deepEqual(first, again);
  });

  it('falls back to the domain\'s own addresses when it has no MX (RFC 5321 5.1)', async () => {
    const result = await hostsOf('plain.test', { a: { 'plain.test': ['198.51.100.7'] }, aaaa: { 'plain.test': ['2001:db8::7'] } });
    assert.equal(result.implicit, true);
    assert.deepEqual(result.hosts, [{ name: 'plain.test', preference: 0, addresses: ['198.51.100.7', '2001:db8::7'] }]);
  });

  it('bounces a domain with a null MX (RFC 7505) with 5.1.10', async () => {
    const failure = await failureOf('nomail.test', { mx: { 'nomail.test': [{ exchange: '', priority: 0 }] }, a: { 'nomail.test': ['198.51.100.8'] } });
    assert.equal(failure.outcome, 'bounced');
    assert.match(failure.reply, /^556 5\.1\.10 Domain nomail\.test does not accept mail/);
  });

  it('ignores a null MX published next to real ones', async () => {
    const result = await hostsOf('mixed.test', {
      mx: { 'mixed.test': [{ exchange: '', priority: 0 }, { exchange: 'mx.mixed.test', priority: 10 }] },
      a: { 'mx.mixed.test': ['198.51.100.10'] },
    });
    assert.deepEqual(result.hosts.map((h) => h.name), ['mx.mixed.test']);
  });

  it('bounces a domain that does not exist (5.1.2), defers on DNS failure', async () => {
    const nx = await failureOf('nowhere.test', {});
    assert.equal(nx.outcome, 'bounced');
    assert.match(nx.reply, /^550 5\.1\.2 Domain nowhere\.test does not exist/);
    for (const code of ['ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED']) {
      const failure = await failureOf('flaky.test', { mx: { 'flaky.test': code } });
      assert.equal(failure.outcome, 'deferred', code);
      assert.match(failure.reply, new RegExp(`^451 4\\.4\\.3 DNS lookup of the MX of flaky\\.test failed \\(${code}\\)`));
    }
  });

  it('bounces a domain with neither MX nor address; defers when the address lookup fails', async () => {
    const none = await failureOf('empty.test', { names: ['empty.test'] });
    assert.equal(none.outcome, 'bounced');
    assert.match(none.reply, /^550 5\.1\.2 empty\.test has no MX and no address record/);
    const broken = await failureOf('broken.test', { mx: { 'broken.test': [{ exchange: 'mx.broken.test', priority: 1 }] }, a: { 'mx.broken.test': 'ETIMEOUT' } });
    assert.equal(broken.outcome, 'deferred');
    assert.match(broken.reply, /^451 4\.4\.3 /);
  });

  it('skips MX hosts without an address and bounces when none has one', async () => {
    const some = await hostsOf('half.test', {
      mx: { 'half.test': [{ exchange: 'gone.half.test', priority: 1 }, { exchange: 'ok.half.test', priority: 2 }] },
      a: { 'ok.half.test': ['198.51.100.11'] },
    });
    assert.deepEqual(some.hosts.map((h) => h.name), ['ok.half.test']);
    const none = await failureOf('dead.test', { mx: { 'dead.test': [{ exchange: 'gone.dead.test', priority: 1 }] } });
    assert.equal(none.outcome, 'bounced');
    assert.match(none.reply, /^550 5\.4\.4 no MX host of dead\.test has an address/);
  });

  it('bounces mail that would loop back to this server (5.4.6): by MX name or by address', async () => {
    const byName = await failureOf('loop.test', {
      mx: { 'loop.test': [{ exchange: 'Mail.US.test', priority: 10 }] },
      a: { 'mail.us.test': ['198.51.100.12'] },
    });
    assert.equal(byName.outcome, 'bounced');
    assert.match(byName.reply, /^554 5\.4\.6 Mail for loop\.test loops back to myself \(MX mail\.us\.test is this server\)/);
    const byAddress = await failureOf('loop2.test', {
      mx: { 'loop2.test': [{ exchange: 'alias-of-us.loop2.test', priority: 10 }] },
      a: { 'alias-of-us.loop2.test': ['192.0.2.25'] },
    });
    assert.match(byAddress.reply, /^554 5\.4\.6 /);
    const implicitSelf = await failureOf('us.test', { a: { 'us.test': ['192.0.2.25'] } });
    assert.match(implicitSelf.reply, /^554 5\.4\.6 /);
  });

  it('as a backup MX, tries only the more preferred hosts (RFC 5321 5.1)', async () => {
    const result = await hostsOf('backup.test', {
      mx: {
        'backup.test': [
          { exchange: 'primary.backup.test', priority: 10 },
          { exchange: 'mail.us.test', priority: 20 },
          { exchange: 'tertiary.backup.test', priority: 30 },
        ],
      },
      a: { 'primary.backup.test': ['198.51.100.13'], 'mail.us.test': ['192.0.2.25'], 'tertiary.backup.test': ['198.51.100.14'] },
    });
    assert.deepEqual(result.hosts.map((h) => h.name), ['primary.backup.test']);
  });

  it('knows its own addresses only when delivery would reach its own MX port', () => {
    const base = { hostname: 'Mail.Us.Test', host: '192.0.2.25', ports: { smtp: 25 }, delivery: { port: 25 } } as Parameters<typeof ownIdentity>[0];
    assert.deepEqual([...ownIdentity(base).addresses], ['192.0.2.25']);
    assert.equal(ownIdentity(base).hostname, 'mail.us.test');
    assert.equal(ownIdentity({ ...base, delivery: { ...base.delivery, port: 2525 } }).addresses.size, 0);
    const wildcard = ownIdentity({ ...base, host: '0.0.0.0' });
    assert.ok(wildcard.addresses.has('127.0.0.1'), 'a wildcard listener is every local address');
  });
});
