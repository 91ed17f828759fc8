import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../src/auth/password.js';
import { openStore } from '../../src/store/index.js';
import { cleanEnv, makeTempDir, removeDir, runWharf, type CliResult } from '../helpers/cli.js';

describe('wharf admin commands', () => {
  let dataDir: string;
  const wharf = (args: string[], stdin?: string) => runWharf([...args, '--data', dataDir], { stdin });

  before(async () => {
    dataDir = await makeTempDir('wharf-cli-');
  });
  after(async () => {
    await removeDir(dataDir);
  });

  function ok(result: CliResult, stdout?: string): void {
    assert.equal(result.code, 0, `exit ${result.code}, stderr: ${result.stderr}`);
    assert.equal(result.stderr, '');
    if (stdout !== undefined) assert.equal(result.stdout, stdout);
  }

  function fails(result: CliResult, code: number, message: RegExp): void {
    assert.equal(result.code, code, `stdout: ${result.stdout} stderr: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '');
  }

  async function storedHash(address: string): Promise<string | null> {
    const store = await openStore({ dataDir });
    try {
      return await store.getPasswordHash(address);
    } finally {
      await store.close();
    }
  }

  it('domain add, list and remove', async () => {
    ok(await wharf(['domain', 'list']), '');
    const added = await wharf(['domain', 'add', 'hamburger.edu']);
    assert.equal(added.code, 0);
    assert.match(added.stdout, /^added domain hamburger\.edu\nadded DKIM key wharf\d{6} \(rsa-sha256\) for hamburger\.edu; publish the DNS records: wharf domain dns hamburger\.edu\n$/);
    assert.match(added.stderr, /^note: mail to postmaster@hamburger\.edu is refused until .*wharf alias add postmaster@hamburger\.edu <address>\n$/);
    fails(await wharf(['domain', 'add', 'crepes.fr', '--postmaster', 'chef@elsewhere.example']), 2, /not in a local domain/);
    const withPostmaster = await wharf(['domain', 'add', 'Crepes.FR', '--postmaster', 'Chef@crepes.fr']);
    ok(withPostmaster);
    assert.match(withPostmaster.stdout, /^added domain crepes\.fr\nadded alias postmaster@crepes\.fr -> chef@crepes\.fr\nadded DKIM key /);
    ok(await wharf(['alias', 'list', 'crepes.fr']), 'postmaster@crepes.fr -> chef@crepes.fr\n');
    ok(await wharf(['alias', 'remove', 'postmaster@crepes.fr']));
    ok(await wharf(['domain', 'list']), 'crepes.fr\nhamburger.edu\n');
    fails(await wharf(['domain', 'add', 'hamburger.edu']), 1, /^wharf: domain hamburger\.edu already exists\n$/);
    fails(await wharf(['domain', 'add', 'not a domain']), 2, /^wharf: invalid domain name/);
    ok(await wharf(['domain', 'remove', 'crepes.fr']), 'removed domain crepes.fr\n');
    fails(await wharf(['domain', 'remove', 'crepes.fr']), 1, /^wharf: no domain crepes\.fr\n$/);
    ok(await wharf(['domain', 'list']), 'hamburger.edu\n');
  });

  it('user add with --password-stdin stores a hash that verifies, and never echoes the password', async () => {
    const result = await wharf(['user', 'add', 'bob@hamburger.edu', '--password-stdin'], 'hungry\n');
    ok(result, 'added user bob@hamburger.edu\n');
    assert.equal(result.stdout.includes('hungry') || result.stderr.includes('hungry'), false);
    const hash = await storedHash('bob@hamburger.edu');
    assert.ok(hash?.startsWith('$scrypt$'));
    assert.equal(await verifyPassword('hungry', hash!), true);
    assert.equal(hash!.includes('hungry'), false);
  });

  it('reads only the first line of stdin, without its line ending', async () => {
    ok(await wharf(['user', 'add', 'carol@hamburger.edu', '--password-stdin'], 'first line\r\nsecond line\n'));
    const hash = (await storedHash('carol@hamburger.edu'))!;
    assert.equal(await verifyPassword('first line', hash), true);
    ok(await wharf(['user', 'remove', 'carol@hamburger.edu']), 'removed user carol@hamburger.edu\n');
  });

  it('user add refuses: no password source, empty password, unknown domain, duplicate, bad address', async () => {
    fails(await wharf(['user', 'add', 'dave@hamburger.edu']), 2, /no terminal to ask for the password on; pipe it in with --password-stdin/);
    fails(await wharf(['user', 'add', 'dave@hamburger.edu', '--password-stdin'], '\n'), 2, /password must not be empty/);
    fails(await wharf(['user', 'add', 'dave@nowhere.example', '--password-stdin'], 'x\n'), 1, /domain nowhere\.example does not exist; add it first with: wharf domain add nowhere\.example/);
    fails(await wharf(['user', 'add', 'bob@hamburger.edu', '--password-stdin'], 'x\n'), 1, /user bob@hamburger\.edu already exists/);
    fails(await wharf(['user', 'add', 'not-an-address', '--password-stdin'], 'x\n'), 2, /invalid address/);
    fails(await wharf(['user', 'add', 'dave@hamburger.edu', '--quota', 'lots', '--password-stdin'], 'x\n'), 2, /invalid size "lots"/);
  });

  it('never takes a password from the command line', async () => {
    const result = await wharf(['user', 'add', 'eve@hamburger.edu', 'secret123']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /too many arguments/);
    assert.equal(result.stderr.includes('secret123'), false);
    assert.equal(await storedHash('eve@hamburger.edu'), null);
  });

  it('user list, with a domain filter and the long form', async () => {
    assert.equal((await wharf(['domain', 'add', 'crepes.fr'])).code, 0);
    ok(await wharf(['user', 'add', 'alice@crepes.fr', '--quota', '500M', '--password-stdin'], 'pw\n'));
    ok(await wharf(['user', 'list']), 'alice@crepes.fr\nbob@hamburger.edu\n');
    ok(await wharf(['user', 'list', 'hamburger.edu']), 'bob@hamburger.edu\n');
    ok(await wharf(['user', 'list', 'crepes.fr', '--long']), 'alice@crepes.fr quota=500M used=0\n');
    ok(await wharf(['user', 'quota', 'alice@crepes.fr', 'unlimited']), 'quota of alice@crepes.fr is unlimited\n');
    ok(await wharf(['user', 'list', 'crepes.fr', '-l']), 'alice@crepes.fr quota=unlimited used=0\n');
  });

  it('user passwd replaces the password', async () => {
    const before = (await storedHash('bob@hamburger.edu'))!;
    ok(await wharf(['user', 'passwd', 'bob@hamburger.edu', '--password-stdin'], 'still hungry\n'), 'changed password of bob@hamburger.edu\n');
    const after = (await storedHash('bob@hamburger.edu'))!;
    assert.notEqual(after, before);
    assert.equal(await verifyPassword('still hungry', after), true);
    assert.equal(await verifyPassword('hungry', after), false);
    fails(await wharf(['user', 'passwd', 'nobody@hamburger.edu', '--password-stdin'], 'x\n'), 1, /no such user: nobody@hamburger\.edu/);
  });

  it('alias add, list and remove, including a catch-all', async () => {
    ok(await wharf(['alias', 'add', 'info@hamburger.edu', 'bob@hamburger.edu']), 'info@hamburger.edu -> bob@hamburger.edu\n');
    ok(await wharf(['alias', 'add', 'info@hamburger.edu', 'alice@crepes.fr']));
    ok(await wharf(['alias', 'add', '@crepes.fr', 'alice@crepes.fr']), '@crepes.fr -> alice@crepes.fr\n');
    const all = await wharf(['alias', 'list']);
    ok(all);
    assert.deepEqual(all.stdout.trimEnd().split('\n').sort(), [
      '@crepes.fr -> alice@crepes.fr',
      'info@hamburger.edu -> alice@crepes.fr, bob@hamburger.edu',
    ].sort());
    ok(await wharf(['alias', 'list', 'crepes.fr']), '@crepes.fr -> alice@crepes.fr\n');
    ok(await wharf(['alias', 'remove', 'info@hamburger.edu', 'alice@crepes.fr']), 'removed alice@crepes.fr from alias info@hamburger.edu\n');
    ok(await wharf(['alias', 'list', 'hamburger.edu']), 'info@hamburger.edu -> bob@hamburger.edu\n');
    ok(await wharf(['alias', 'remove', '@crepes.fr']), 'removed alias @crepes.fr\n');
    fails(await wharf(['alias', 'remove', '@crepes.fr']), 1, /no alias @crepes\.fr/);
    fails(await wharf(['alias', 'add', 'x@nowhere.example', 'bob@hamburger.edu']), 1, /no domain nowhere\.example/);
    ok(await wharf(['alias', 'list', 'crepes.fr']), '');
  });

  it('a domain with users cannot be removed; user remove frees it', async () => {
    fails(await wharf(['domain', 'remove', 'crepes.fr']), 1, /crepes\.fr still has users or aliases/);
    ok(await wharf(['user', 'remove', 'alice@crepes.fr']), 'removed user alice@crepes.fr\n');
    fails(await wharf(['user', 'remove', 'alice@crepes.fr']), 1, /no user alice@crepes\.fr/);
    ok(await wharf(['domain', 'remove', 'crepes.fr']));
  });

  it('finds the data folder through WHARF_DATA', async () => {
    const result = await runWharf(['domain', 'list'], { env: cleanEnv({ WHARF_DATA: dataDir }) });
    ok(result, 'hamburger.edu\n');
  });

  it('usage errors exit with code 2; --help exits with 0', async () => {
    const unknown = await runWharf(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.equal((await runWharf(['domain', 'add'])).code, 2);
    assert.equal((await runWharf(['user', 'add', 'x@y.z', '--bogus'])).code, 2);
    assert.equal((await runWharf([])).code, 2);
    for (const args of [['--help'], ['user', 'add', '--help'], ['alias', '--help'], ['serve', '--help']]) {
      const help = await runWharf(args);
      assert.equal(help.code, 0, args.join(' '));
      assert.match(help.stdout, /^Usage: wharf/);
    }
    const addHelp = await runWharf(['user', 'add', '--help']);
    assert.match(addHelp.stdout, /--password-stdin/);
    assert.match(addHelp.stdout, /--data <dir>/);
  });

  it('a bad configuration is a usage error with a one-line message', async () => {
    const result = await runWharf(['domain', 'list'], { env: cleanEnv({ WHARF_DATA: dataDir, WHARF_SMTP_PORT: 'x' }) });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'wharf: environment WHARF_SMTP_PORT: must be an integer from 0 to 65535 (0 picks a free port), got "x"\n');
  });
});
