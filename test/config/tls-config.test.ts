/**
 * The tls section: the default certificate files and the certificates chosen by SNI
 * (tls.certificates), checked when the configuration is read, paths relative to the file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/validate.js';

describe('tls configuration', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-tls-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(tls: unknown) {
    const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ tls }));
    return loadConfig({ env: {}, cwd: '/', options: { config: file } });
  }

  it('takes certificates by host name, their files relative to the config file', async () => {
    const c = await load({
      certFile: 'default.crt',
      keyFile: 'default.key',
      certificates: [
        { hostnames: ['mail.example.org', 'MX.example.org.'], certFile: 'org.crt', keyFile: 'keys/org.key' },
        { hostnames: ['*.example.net'], certFile: '/etc/ssl/net.crt', keyFile: '/etc/ssl/net.key' },
      ],
    });
    assert.equal(c.tls.certFile, path.join(dir, 'default.crt'));
    assert.deepEqual(c.tls.certificates, [
      { hostnames: ['mail.example.org', 'MX.example.org.'], certFile: path.join(dir, 'org.crt'), keyFile: path.join(dir, 'keys/org.key') },
      { hostnames: ['*.example.net'], certFile: '/etc/ssl/net.crt', keyFile: '/etc/ssl/net.key' },
    ]);
    assert.equal((await loadConfig({ env: {}, cwd: dir })).tls.certificates, undefined, 'none by default');
  });

  it('refuses entries without files, without names, with a bad name or a name twice', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ certificates: {} }, /tls\.certificates: must be a list/],
      [{ certificates: [{ hostnames: ['a.test'], certFile: 'a.crt' }] }, /tls\.certificates\[0\]\.keyFile: missing setting/],
      [{ certificates: [{ hostnames: [], certFile: 'a.crt', keyFile: 'a.key' }] }, /tls\.certificates\[0\]\.hostnames: must list at least one/],
      [{ certificates: [{ hostnames: 'a.test', certFile: 'a.crt', keyFile: 'a.key' }] }, /hostnames: must be a list of non-empty strings/],
      [{ certificates: [{ hostnames: ['a.test'], certFile: 'a.crt', keyFile: 'a.key', ca: 'x' }] }, /unknown setting "tls\.certificates\[0\]\.ca"/],
      [{ certificates: [{ hostnames: ['mail example.org'], certFile: 'a.crt', keyFile: 'a.key' }] }, /"mail example.org" is not a host name/],
      [{ certificates: [{ hostnames: ['*.*.example.org'], certFile: 'a.crt', keyFile: 'a.key' }] }, /is not a host name or a wildcard/],
      [{ certificates: [{ hostnames: ['mail.*.org'], certFile: 'a.crt', keyFile: 'a.key' }] }, /is not a host name or a wildcard/],
      [{ certificates: [{ hostnames: ['*.org'], certFile: 'a.crt', keyFile: 'a.key' }] }, /is not a host name or a wildcard/],
      [
        {
          certificates: [
            { hostnames: ['a.test'], certFile: 'a.crt', keyFile: 'a.key' },
            { hostnames: ['A.test'], certFile: 'b.crt', keyFile: 'b.key' },
          ],
        },
        /"A.test" is listed for two certificates/,
      ],
    ];
    for (const [tls, message] of bad) {
      await assert.rejects(load(tls), (err: Error) => err instanceof ConfigError && message.test(err.message), JSON.stringify(tls));
    }
  });
});
