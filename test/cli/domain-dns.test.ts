/**
 * `wharf domain add` makes a DKIM key; `wharf domain dkim` shows and rotates it; `wharf domain
 * dns` prints the records to publish. The printed DKIM record is parsed back and must verify
 * what the stored key signs.
 */
import assert from 'node:assert/strict';
import { createPublicKey, sign, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dkimSign, dkimVerify } from 'mailauth';
import { loadSigningKey } from '../../src/smtp/dkim-keys.js';
import { openStore } from '../../src/store/index.js';
import { cleanEnv, makeTempDir, removeDir, runWharf } from '../helpers/cli.js';

interface ZoneRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
  /** TXT: the character-strings, unquoted. */
  strings: string[];
}

/** Reads zone-file lines: comments dropped, parenthesised records joined onto one line. */
function parseZone(text: string): ZoneRecord[] {
  const joined = text
    .split('\n')
    .filter((l) => !l.startsWith(';'))
    .join('\n')
    .replace(/\(([^)]*)\)/g, (_, inner: string) => inner.replace(/\s*\n\s*/g, ' '));
  const out: ZoneRecord[] = [];
  for (const line of joined.split('\n')) {
    if (!line.trim()) continue;
    const m = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(line.trim());
    assert.ok(m, `not a zone-file record: ${JSON.stringify(line)}`);
    const strings = [...m[4].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((s) => s[1].replace(/\\(.)/g, '$1'));
    out.push({ name: m[1], ttl: Number(m[2]), type: m[3], data: m[4].trim(), strings });
  }
  return out;
}

const MESSAGE = 'From: chef@example.org\r\nTo: bob@hamburger.edu\r\nSubject: signed by the CLI key\r\n\r\nBon appetit!\r\n';

describe('wharf domain dkim and dns', () => {
  let dataDir: string;
  const env = () => cleanEnv({ WHARF_DATA: dataDir, WHARF_HOSTNAME: 'mail.example.org', WHARF_SUBMISSION_PORT: '587', WHARF_IMAPS_PORT: '993' });
  const wharf = (args: string[]) => runWharf(args, { env: env() });

  before(async () => {
    dataDir = await makeTempDir('wharf-cli-dns-');
  });
  after(async () => {
    await removeDir(dataDir);
  });

  async function storedKey() {
    const store = await openStore({ dataDir });
    try {
      return { key: await store.getDkimKey('example.org'), signing: await loadSigningKey(store, 'Example.ORG') };
    } finally {
      await store.close();
    }
  }

  async function records(): Promise<ZoneRecord[]> {
    const r = await wharf(['domain', 'dns', 'example.org']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    return parseZone(r.stdout);
  }

  /** A resolver answering TXT queries from the printed records, as mailauth asks. */
  function resolverFor(zone: ZoneRecord[]) {
    return async (name: string, type: string) => {
      const found = zone.filter((r) => r.type === type && r.name === `${name}.`);
      if (found.length === 0) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return found.map((r) => r.strings);
    };
  }

  it('domain add makes an RSA-2048 key under a wharfYYYYMM selector', async () => {
    const added = await wharf(['domain', 'add', 'example.org']);
    assert.equal(added.code, 0, added.stderr);
    const m = /^added DKIM key (wharf\d{6}) \(rsa-sha256\) for example\.org/m.exec(added.stdout);
    assert.ok(m, added.stdout);
    const { key, signing } = await storedKey();
    assert.ok(key && signing);
    assert.equal(key.selector, m[1]);
    assert.equal(createPublicKey(key.privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
    assert.deepEqual({ ...signing, privateKey: '' }, { signingDomain: 'example.org', selector: m[1], algorithm: 'rsa-sha256', privateKey: '' });
    // Secrets stay out of the output.
    assert.equal(added.stdout.includes('PRIVATE KEY'), false);
  });

  it('domain dns prints MX, SPF, DKIM, DMARC and SRV records; the DKIM record verifies the stored key', async () => {
    const zone = await records();
    const { key, signing } = await storedKey();
    assert.ok(key && signing);
    const by = (type: string, name: string) => zone.filter((r) => r.type === type && r.name === name);
    assert.deepEqual(by('MX', 'example.org.').map((r) => r.data), ['10 mail.example.org.']);
    assert.deepEqual(by('TXT', 'example.org.').map((r) => r.strings), [['v=spf1 mx -all']]);
    assert.deepEqual(by('TXT', '_dmarc.example.org.').map((r) => r.strings.join('')), ['v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org']);
    const srv = Object.fromEntries(zone.filter((r) => r.type === 'SRV').map((r) => [r.name, r.data]));
    assert.deepEqual(srv, {
      '_submissions._tcp.example.org.': '0 1 2465 mail.example.org.',
      '_submission._tcp.example.org.': '0 1 587 mail.example.org.',
      '_imaps._tcp.example.org.': '0 1 993 mail.example.org.',
      '_imap._tcp.example.org.': '0 1 2143 mail.example.org.',
      '_pop3s._tcp.example.org.': '0 1 2995 mail.example.org.',
    });

    const [dkim] = by('TXT', `${key.selector}._domainkey.example.org.`);
    assert.ok(dkim, 'DKIM record printed');
    assert.ok(dkim.strings.length > 1, 'a 2048-bit key needs more than one string');
    for (const s of dkim.strings) assert.ok(s.length <= 255, `string of ${s.length} characters`);
    const value = dkim.strings.join('');
    assert.match(value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    const publicKey = createPublicKey({ key: Buffer.from(value.split('p=')[1], 'base64'), format: 'der', type: 'spki' });
    const data = Buffer.from('what the stored key signs');
    assert.equal(verify('sha256', data, publicKey, sign('sha256', data, key.privateKeyPem)), true);

    // And a whole message signed with loadSigningKey verifies against the printed records.
    const signed = await dkimSign(Buffer.from(MESSAGE), { ...signing, signatureData: [signing] });
    const result = await dkimVerify(Buffer.from(signed.signatures + MESSAGE), { resolver: resolverFor(zone) as never });
    assert.equal(result.results[0].status.result, 'pass', JSON.stringify(result.results[0].status));
    assert.equal(result.results[0].signingDomain, 'example.org');
  });

  it('domain dkim shows the key; --algorithm alone does not replace it; --rotate does, under a new selector', async () => {
    const before = (await storedKey()).key;
    assert.ok(before);
    const shown = await wharf(['domain', 'dkim', 'example.org']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^current DKIM key ${before.selector} \\(rsa-sha256\\) for example\\.org\\n`));

    const refused = await wharf(['domain', 'dkim', 'example.org', '--algorithm', 'ed25519']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /already has an rsa-sha256 key; add --rotate/);
    assert.equal(refused.stdout, '');

    const rotated = await wharf(['domain', 'dkim', 'example.org', '--rotate', '--algorithm', 'ed25519']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const after = (await storedKey()).key;
    assert.ok(after);
    assert.equal(after.algorithm, 'ed25519-sha256');
    assert.notEqual(after.selector, before.selector);
    assert.match(rotated.stdout, new RegExp(`^rotated to DKIM key ${after.selector} \\(ed25519-sha256\\) for example\\.org\\n`));
    assert.match(rotated.stdout, new RegExp(`old selector ${before.selector}\\._domainkey\\.example\\.org`));

    const zone = await records();
    const [dkim] = zone.filter((r) => r.type === 'TXT' && r.name === `${after.selector}._domainkey.example.org.`);
    assert.ok(dkim);
    const value = dkim.strings.join('');
    assert.match(value, /^v=DKIM1; k=ed25519; p=/);
    // RFC 8463: the bare 32-byte key.
    assert.equal(Buffer.from(value.split('p=')[1], 'base64').length, 32);
    const signing = (await storedKey()).signing;
    assert.ok(signing);
    const signed = await dkimSign(Buffer.from(MESSAGE), { ...signing, signatureData: [signing] });
    const result = await dkimVerify(Buffer.from(signed.signatures + MESSAGE), { resolver: resolverFor(zone) as never });
    assert.equal(result.results[0].status.result, 'pass', JSON.stringify(result.results[0].status));
  });

  it('refuses a domain that is not local, and an unknown algorithm', async () => {
    const dns = await wharf(['domain', 'dns', 'nowhere.example']);
    assert.equal(dns.code, 1);
    assert.equal(dns.stderr, 'wharf: no domain nowhere.example\n');
    const bad = await wharf(['domain', 'dkim', 'example.org', '--rotate', '--algorithm', 'dsa']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown DKIM algorithm "dsa"/);
  });
});
