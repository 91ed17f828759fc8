import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/defaults.js';
import { ENV_SETTINGS, loadConfig } from '../../src/config/load.js';
import { ConfigError, validateConfig } from '../../src/config/validate.js';

describe('configuration', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function configFile(name: string, content: unknown): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }

  describe('defaults', () => {
    it('has production-like values for every setting', async () => {
      const c = await loadConfig({ env: {}, cwd: dir });
      assert.equal(c.host, '127.0.0.1');
      assert.ok(c.hostname.length > 0);
      assert.equal(c.dataDir, path.join(dir, 'data'));
      assert.deepEqual(c.ports, {
        smtp: 2525,
        submission: 2587,
        submissions: 2465,
        pop3: 2110,
        pop3s: 2995,
        imap: 2143,
        imaps: 2993,
        ftp: 2121,
        ftps: 2990,
        sftp: 2222,
        http: 8080,
      });
      assert.deepEqual(c.smtp, {
        maxMessageBytes: 25 * 1024 * 1024,
        maxRecipients: 100,
        maxLineBytes: 2048,
        idleTimeoutMs: 300_000,
        transactionTimeoutMs: 1_800_000,
        vrfy: 'disabled',
        maxErrors: 20,
        maxUnknownRecipients: 10,
        greetingDelayMs: 0,
      });
      assert.deepEqual(c.pop3, { idleTimeoutMs: 600_000, lockTtlMs: 60_000, maxErrors: 10 });
      assert.equal(c.ftp.maxErrors, 100);
      assert.deepEqual(c.limits, {
        maxConnectionsPerAddress: 50,
        maxConnections: 1000,
        maxConnectionsTotal: 5000,
        maxConnectionRatePerAddress: 600,
        loginTimeoutMs: 60_000,
        commandTimeoutMs: 1_800_000,
      });
      assert.deepEqual(c.dns, { servers: [], timeoutMs: 5_000, cacheMs: 60_000 });
      assert.equal(c.delivery.port, 25);
      assert.equal(c.delivery.firstRetryMs, 60_000);
      assert.equal(c.delivery.maxRetryMs, 4 * 3_600_000);
      assert.equal(c.delivery.giveUpMs, 5 * 24 * 3_600_000);
      assert.equal(c.delivery.relay, undefined);
      assert.deepEqual(c.mailAuth, { verifyInbound: true, signOutbound: true, dnsbl: [] });
      assert.deepEqual(c.authThrottle, { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 15_000, windowMs: 900_000 });
      assert.deepEqual(c.auth, { allowInsecure: false });
      assert.deepEqual(c.tls, { renewTickets: false });
      assert.deepEqual(c.store, { kind: 'sqlite' });
      assert.equal(c.shutdownGraceMs, 10_000);
      assert.equal(c.logLevel, 'info');
      assert.match(c.nodeId, /^[A-Za-z0-9._-]+-[0-9a-f]{6}$/);
    });

    it('gives every start its own node id: the host name and a random suffix', async () => {
      const a = await loadConfig({ env: {}, cwd: dir });
      const b = await loadConfig({ env: {}, cwd: dir });
      const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48) || 'localhost';
      assert.ok(a.nodeId.startsWith(`${host}-`), a.nodeId);
      assert.notEqual(a.nodeId, b.nodeId);
    });

    it('are valid by themselves, and each call returns a fresh object', () => {
      const a = defaultConfig();
      assert.doesNotThrow(() => validateConfig(a));
      a.ports.smtp = 1;
      assert.equal(defaultConfig().ports.smtp, 2525);
    });
  });

  describe('environment', () => {
    it('overrides every documented setting', async () => {
      const env: Record<string, string> = {};
      ENV_SETTINGS.forEach((s, i) => {
        env[s.name] = s.numeric ? String(10_000 + i) : '';
      });
      Object.assign(env, {
        WHARF_HOST: '0.0.0.0',
        WHARF_HOSTNAME: 'mail.hamburger.edu',
        WHARF_NODE_ID: 'mx-2.fra',
        WHARF_DATA: 'var/wharf',
        WHARF_LOG_LEVEL: 'debug',
        WHARF_TLS_CERT: '/etc/wharf/cert.pem',
        WHARF_TLS_KEY: '/etc/wharf/key.pem',
        WHARF_DNS_SERVERS: '127.0.0.1:5353, [::1]:53',
      });
      const c = await loadConfig({ env, cwd: dir });
      assert.deepEqual(c.dns.servers, ['127.0.0.1:5353', '[::1]:53']);
      assert.equal(c.delivery.port, 10_000 + ENV_SETTINGS.findIndex((s) => s.name === 'WHARF_DELIVERY_PORT'));
      assert.equal(c.host, '0.0.0.0');
      assert.equal(c.hostname, 'mail.hamburger.edu');
      assert.equal(c.nodeId, 'mx-2.fra');
      assert.equal(c.dataDir, path.join(dir, 'var/wharf'));
      assert.equal(c.logLevel, 'debug');
      assert.deepEqual(c.tls, { certFile: '/etc/wharf/cert.pem', keyFile: '/etc/wharf/key.pem', renewTickets: false });
      const ports = Object.values(c.ports).sort();
      assert.equal(ports.length, 11);
      assert.equal(new Set(ports).size, 11, 'every port variable maps to its own port');
      const expected = ENV_SETTINGS.flatMap((s, i) => (s.numeric && s.path.startsWith('ports.') ? [10_000 + i] : []));
      assert.deepEqual(ports, expected.sort());
      assert.equal(c.ports.smtp, 10_000 + ENV_SETTINGS.findIndex((s) => s.name === 'WHARF_SMTP_PORT'));
    });

    it('accepts port 0 (a free port, for tests) and ignores empty variables', async () => {
      const c = await loadConfig({ env: { WHARF_SMTP_PORT: '0', WHARF_POP3_PORT: '', WHARF_HOST: '  ' }, cwd: dir });
      assert.equal(c.ports.smtp, 0);
      assert.equal(c.ports.pop3, 2110);
      assert.equal(c.host, '127.0.0.1');
    });

    it('rejects bad values, naming the variable', async () => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ WHARF_SMTP_PORT: 'abc' }, /WHARF_SMTP_PORT: must be an integer from 0 to 65535/],
        [{ WHARF_POP3_PORT: '65536' }, /WHARF_POP3_PORT: must be an integer from 0 to 65535 .*, got 65536$/],
        [{ WHARF_HTTP_PORT: '-1' }, /WHARF_HTTP_PORT/],
        [{ WHARF_IMAP_PORT: '1.5' }, /WHARF_IMAP_PORT/],
        [{ WHARF_LOG_LEVEL: 'verbose' }, /WHARF_LOG_LEVEL: must be one of debug, info, warn, error/],
        [{ WHARF_TLS_CERT: '/c.pem' }, /tls.certFile and tls.keyFile .* must be set together/],
        [{ WHARF_NODE_ID: 'node a' }, /nodeId \(WHARF_NODE_ID\) must be 1 to 64 letters, digits/],
        [{ WHARF_NODE_ID: 'x'.repeat(65) }, /WHARF_NODE_ID/],
      ];
      for (const [env, message] of cases) {
        await assert.rejects(loadConfig({ env, cwd: dir }), (err: Error) => {
          assert.ok(err instanceof ConfigError, `${err}`);
          assert.match(err.message, message);
          assert.equal(err.message.includes('\n'), false, 'one line');
          return true;
        });
      }
    });
  });

  describe('store', () => {
    it('WHARF_DATABASE_URL picks PostgreSQL at that URL, over the config file', async () => {
      const url = 'postgres://wharf:secret@db.internal:5432/wharf';
      const c = await loadConfig({ env: { WHARF_DATABASE_URL: url }, cwd: dir });
      assert.deepEqual(c.store, { kind: 'postgres', url });
      const file = await configFile('store-sqlite.json', { store: { kind: 'sqlite' } });
      const both = await loadConfig({ options: { config: file }, env: { WHARF_DATABASE_URL: url }, cwd: dir });
      assert.deepEqual(both.store, { kind: 'postgres', url });
      const fromFile = await configFile('store-pg.json', { store: { kind: 'postgres', url: 'postgresql://h/db' } });
      const c2 = await loadConfig({ options: { config: fromFile }, env: {}, cwd: dir });
      assert.deepEqual(c2.store, { kind: 'postgres', url: 'postgresql://h/db' });
    });

    it('rejects a missing, foreign or misplaced URL without showing its password', async () => {
      const cases: Array<[unknown, Record<string, string>, RegExp]> = [
        [{ store: { kind: 'postgres' } }, {}, /store\.kind "postgres" needs store\.url/],
        [{ store: { kind: 'sqlite', url: 'postgres://h/db' } }, {}, /store\.url is only for store\.kind "postgres"/],
        [{ store: { kind: 'mysql' } }, {}, /store\.kind: must be one of sqlite, postgres/],
        [{}, { WHARF_DATABASE_URL: 'mysql://root:hunter2@h/db' }, /must start with postgres:\/\/ or postgresql:\/\/, got "mysql:\/\/root:\*\*\*@h\/db"/],
        [{}, { WHARF_DATABASE_URL: 'not a url hunter2' }, /must be a URL like postgres:\/\/user@host\/db, got \(not a URL\)/],
      ];
      let i = 0;
      for (const [content, env, message] of cases) {
        const file = await configFile(`store-bad-${i++}.json`, content);
        await assert.rejects(loadConfig({ options: { config: file }, env, cwd: dir }), (err: Error) => {
          assert.ok(err instanceof ConfigError, `${err}`);
          assert.match(err.message, message);
          assert.ok(!err.message.includes('hunter2'), 'the password is not shown');
          return true;
        });
      }
    });
  });

  describe('config file', () => {
    it('is merged over the defaults, with nested sections merged key by key', async () => {
      const file = await configFile('partial.json', {
        hostname: 'hamburger.edu',
        smtp: { maxRecipients: 5 },
        authThrottle: { baseDelayMs: 20 },
        auth: { defaultDomain: 'hamburger.edu' },
      });
      const c = await loadConfig({ options: { config: file }, env: {}, cwd: '/' });
      assert.equal(c.hostname, 'hamburger.edu');
      assert.equal(c.smtp.maxRecipients, 5);
      assert.equal(c.smtp.maxLineBytes, 2048, 'untouched keys keep their default');
      assert.equal(c.authThrottle.baseDelayMs, 20);
      assert.equal(c.authThrottle.maxDelayMs, 15_000);
      assert.equal(c.auth.defaultDomain, 'hamburger.edu');
      assert.equal(c.auth.allowInsecure, false);
    });

    it('is found through WHARF_CONFIG too; --config wins over it', async () => {
      const a = await configFile('a.json', { hostname: 'a.example' });
      const b = await configFile('b.json', { hostname: 'b.example' });
      assert.equal((await loadConfig({ env: { WHARF_CONFIG: a }, cwd: dir })).hostname, 'a.example');
      assert.equal((await loadConfig({ options: { config: b }, env: { WHARF_CONFIG: a }, cwd: dir })).hostname, 'b.example');
    });

    it('resolves relative paths against the file\'s folder', async () => {
      const file = await configFile('paths.json', { dataDir: 'store', tls: { certFile: 'c.pem', keyFile: '/abs/k.pem' } });
      const c = await loadConfig({ options: { config: file }, env: {}, cwd: '/' });
      assert.equal(c.dataDir, path.join(dir, 'store'));
      assert.equal(c.tls.certFile, path.join(dir, 'c.pem'));
      assert.equal(c.tls.keyFile, '/abs/k.pem');
    });

    it('precedence: defaults < file < environment < flags', async () => {
      const file = await configFile('layers.json', { dataDir: '/from-file', host: '10.0.0.1', ports: { smtp: 25, pop3: 110 } });
      const env = { WHARF_DATA: '/from-env', WHARF_SMTP_PORT: '2500' };
      const fileAndEnv = await loadConfig({ options: { config: file }, env, cwd: dir });
      assert.equal(fileAndEnv.host, '10.0.0.1');
      assert.equal(fileAndEnv.ports.smtp, 2500, 'environment beats file');
      assert.equal(fileAndEnv.ports.pop3, 110, 'file beats default');
      assert.equal(fileAndEnv.ports.submission, 2587);
      assert.equal(fileAndEnv.dataDir, '/from-env');
      const all = await loadConfig({ options: { config: file, data: 'from-flag' }, env, cwd: dir });
      assert.equal(all.dataDir, path.join(dir, 'from-flag'), 'flag beats environment');
    });

    it('rejects unknown keys, naming the key and the file', async () => {
      const top = await configFile('unknown-top.json', { hostnme: 'x' });
      await assert.rejects(loadConfig({ options: { config: top }, env: {} }), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /unknown-top\.json: hostnme: unknown setting "hostnme"/);
        return true;
      });
      const nested = await configFile('unknown-nested.json', { smtp: { maxMesageBytes: 10 } });
      await assert.rejects(
        loadConfig({ options: { config: nested }, env: {} }),
        /unknown setting "smtp\.maxMesageBytes" \(known here: maxMessageBytes, /,
      );
    });

    it('rejects wrong types and out-of-range values', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ ports: { smtp: 70000 } }, /ports\.smtp: must be an integer from 0 to 65535 .*, got 70000$/],
        [{ ports: { smtp: '25' } }, /ports\.smtp: must be an integer/],
        [{ ports: 25 }, /ports: must be an object/],
        [{ smtp: { maxRecipients: 0 } }, /smtp\.maxRecipients: must be a positive integer/],
        [{ limits: { maxConnections: -5 } }, /limits\.maxConnections: must be a positive integer/],
        [{ pop3: { idleTimeoutMs: 1.5 } }, /pop3\.idleTimeoutMs: must be a positive integer/],
        [{ smtp: { vrfy: 'yes' } }, /smtp\.vrfy: must be one of disabled, enabled/],
        [{ auth: { allowInsecure: 'true' } }, /auth\.allowInsecure: must be true or false/],
        [{ hostname: '' }, /hostname: must be a non-empty string/],
        [{ smtp: { maxLineBytes: 100 } }, /smtp\.maxLineBytes must be at least 512/],
        [{ authThrottle: { baseDelayMs: 500, maxDelayMs: 100 } }, /maxDelayMs must not be smaller/],
        [[1, 2], /must hold a JSON object/],
        ['{ "host": ', /not valid JSON/],
      ];
      let i = 0;
      for (const [content, message] of cases) {
        const file = await configFile(`bad-${i++}.json`, content);
        await assert.rejects(loadConfig({ options: { config: file }, env: {} }), (err: Error) => {
          assert.ok(err instanceof ConfigError, `${err}`);
          assert.match(err.message, message);
          return true;
        });
      }
    });

    it('a missing file is a clear error', async () => {
      await assert.rejects(
        loadConfig({ options: { config: path.join(dir, 'nope.json') }, env: {} }),
        /config file .*nope\.json: cannot read it: no such file/,
      );
    });
  });
});
