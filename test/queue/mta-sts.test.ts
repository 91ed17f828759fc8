/**
 * MTA-STS (RFC 8461): the TXT record, the policy format, MX patterns, and the resolver
 * fetching policies over HTTPS from a local server whose certificate comes from a test CA,
 * cached by id.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MtaStsResolver, mxMatches, parsePolicy, parseTxtRecords } from '../../src/queue/mta-sts.js';
import { fakeDns, type DnsTable } from './fake-dns.js';
import { createTestCa, type TestCa } from './test-ca.js';

const POLICY = 'version: STSv1\r\nmode: enforce\r\nmx: mx1.sts.test\r\nmx: *.backup.sts.test\r\nmax_age: 86400\r\n';

describe('MTA-STS records and policies', () => {
  it('reads the id of the one STSv1 TXT record', () => {
    assert.equal(parseTxtRecords([['v=STSv1; id=20240101T000000;']]), '20240101T000000');
    assert.equal(parseTxtRecords([['v=STSv1;', ' id=abc123']]), 'abc123', 'character strings are joined');
    assert.equal(parseTxtRecords([['v=spf1 -all'], ['v=STSv1; id=x1']]), 'x1');
    assert.equal(parseTxtRecords([['v=STSv1; id=a'], ['v=STSv1; id=b']]), null, 'two records: no policy');
    assert.equal(parseTxtRecords([['v=STSv1; id=has-dash']]), null, 'the id is alphanumeric');
    assert.equal(parseTxtRecords([['v=STSv2; id=a']]), null);
  });

  it('parses a policy body', () => {
    assert.deepEqual(parsePolicy(POLICY), { mode: 'enforce', mx: ['mx1.sts.test', '*.backup.sts.test'], maxAge: 86400 });
    assert.deepEqual(parsePolicy('version: STSv1\nmode: none\nmax_age: 99999999999\n'.replace('99999999999', '40000000')), { mode: 'none', mx: [], maxAge: 31557600 });
    for (const bad of [
      'mode: enforce\nmx: a\nmax_age: 1',
      'version: STSv1\nmode: strict\nmx: a\nmax_age: 1',
      'version: STSv1\nmode: enforce\nmax_age: 1',
      'version: STSv1\nmode: enforce\nmx: a\n',
      'version: STSv1\nmode: enforce\nmx: a\nmax_age: -5',
      '<html>not a policy</html>',
    ]) {
      assert.throws(() => parsePolicy(bad), JSON.stringify(bad));
    }
  });

  it('matches MX patterns: exact names and one leftmost wildcard label', () => {
    assert.ok(mxMatches('mx1.sts.test', 'MX1.sts.test.'));
    assert.ok(mxMatches('*.backup.sts.test', 'a.backup.sts.test'));
    assert.ok(!mxMatches('*.backup.sts.test', 'a.b.backup.sts.test'));
    assert.ok(!mxMatches('*.backup.sts.test', 'backup.sts.test'));
    assert.ok(!mxMatches('mx1.sts.test', 'mx2.sts.test'));
  });
});

describe('MTA-STS resolver over HTTPS', () => {
  let ca: TestCa;
  let server: https.Server;
  let port: number;
  let fetches: string[] = [];
  /** What the policy host answers next. */
  let respond: (res: import('node:http').ServerResponse) => void;

  before(async () => {
    ca = await createTestCa();
    const cert = await ca.issue(['mta-sts.sts.test', 'mta-sts.other.test']);
    server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      fetches.push(`${req.headers.host} ${req.url}`);
      respond(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const serveText = (text: string, type = 'text/plain; charset=utf-8') => (res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': type });
    res.end(text);
  };

  function resolver(table: DnsTable, now = () => Date.now(), trustCa = true) {
    const dns = fakeDns({ a: { 'mta-sts.sts.test': ['127.0.0.1'], 'mta-sts.other.test': ['127.0.0.1'] }, ...table, });
    return { dns, sts: new MtaStsResolver({ dns, httpsPort: port, ca: trustCa ? [ca.certPem] : [], timeoutMs: 3000, now }) };
  }

  it('fetches the policy named by the TXT record, then serves it from the cache while the id stays', async () => {
    fetches = [];
    respond = serveText(POLICY);
    const table: DnsTable = { txt: { '_mta-sts.sts.test': [['v=STSv1; id=one']] } };
    const { sts } = resolver(table);
    const policy = await sts.policyFor('sts.test');
    assert.deepEqual(policy, { id: 'one', mode: 'enforce', mx: ['mx1.sts.test', '*.backup.sts.test'], maxAge: 86400 });
    assert.deepEqual(fetches, [`mta-sts.sts.test:${port} /.well-known/mta-sts.txt`]);
    assert.deepEqual(await sts.policyFor('STS.test'), policy);
    assert.equal(fetches.length, 1, 'same id: no second fetch');

    // A new id means a new policy.
    respond = serveText(POLICY.replace('enforce', 'testing'));
    table.txt!['_mta-sts.sts.test'] = [['v=STSv1; id=two']];
    assert.equal((await sts.policyFor('sts.test'))?.mode, 'testing');
    assert.equal(fetches.length, 2);

    // The TXT record gone or the policy host down: the cached policy stays until max_age.
    delete table.txt!['_mta-sts.sts.test'];
    assert.equal((await sts.policyFor('sts.test'))?.id, 'two');
    table.txt!['_mta-sts.sts.test'] = [['v=STSv1; id=three']];
    respond = (res) => {
      res.writeHead(500);
      res.end();
    };
    assert.equal((await sts.policyFor('sts.test'))?.id, 'two');
  });

  it('forgets a policy after max_age', async () => {
    respond = serveText(POLICY.replace('86400', '60'));
    let clock = 1_000_000;
    const table: DnsTable = { txt: { '_mta-sts.sts.test': [['v=STSv1; id=short']] } };
    const { sts } = resolver(table, () => clock);
    assert.equal((await sts.policyFor('sts.test'))?.maxAge, 60);
    delete table.txt!['_mta-sts.sts.test'];
    clock += 59_000;
    assert.ok(await sts.policyFor('sts.test'));
    clock += 2_000;
    assert.equal(await sts.policyFor('sts.test'), null);
  });

  it('has no policy without a TXT record, and none from a bad fetch', async () => {
    fetches = [];
    const { sts } = resolver({ names: ['_mta-sts.none.test'] });
    assert.equal(await sts.policyFor('none.test'), null);
    assert.equal(fetches.length, 0);

    const table: DnsTable = { txt: { '_mta-sts.other.test': [['v=STSv1; id=r1']] } };
    for (const bad of [
      (res: import('node:http').ServerResponse) => {
        res.writeHead(301, { location: 'https://elsewhere.test/' });
        res.end();
      },
      serveText(POLICY, 'text/html'),
      serveText('version: STSv1\nmode: enforce\n'),
      serveText('x'.repeat(70 * 1024)),
    ]) {
      respond = bad;
      assert.equal(await resolver(table).sts.policyFor('other.test'), null);
    }
  });

  it('refuses a policy host whose certificate does not verify', async () => {
    respond = serveText(POLICY);
    fetches = [];
    const { sts } = resolver({ txt: { '_mta-sts.sts.test': [['v=STSv1; id=one']] } }, undefined, false);
    assert.equal(await sts.policyFor('sts.test'), null);
    assert.equal(fetches.length, 0, 'nothing was asked of an unverified server');
  });
});
