/**
 * The test DNS server (dnsmasq) answers what a test gives it, and nothing else, as Wharf's own
 * resolver (src/net/dns.ts) and an independent client (Python, raw DNS over UDP and TCP) see it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDnsResolver, isNoRecords, type DnsResolver } from '../../src/net/dns.js';
import { startDnsServer, txtStrings, type DnsServer } from './dns-server.js';
import { runProgram } from './process.js';

// A real 2048-bit DKIM key: its record is about 400 characters, more than one TXT string holds.
const dkimPublicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const DKIM_RECORD = `v=DKIM1; k=rsa; p=${dkimPublicKey}`;
const SPF_RECORD = 'v=spf1 ip4:127.0.0.1 -all';

/** Raw DNS questions from Python (no library beyond the standard one): the TXT strings of `name`. */
const PYTHON_TXT_QUERY = String.raw`
import json, socket, struct, sys
host, port, name, transport = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
qname = b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\0'
query = struct.pack('>HHHHHH', 0x2b2b, 0x0100, 1, 0, 0, 0) + qname + struct.pack('>HH', 16, 1)
if transport == 'tcp':
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(struct.pack('>H', len(query)) + query)
    def recv(n):
        b = b''
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk: raise SystemExit('connection closed')
            b += chunk
        return b
    data = recv(struct.unpack('>H', recv(2))[0])
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(query, (host, port))
    data = s.recv(65535)
flags, qd, an = struct.unpack('>H', data[2:4])[0], *struct.unpack('>HH', data[4:8])
def skip_name(i):
    while True:
        n = data[i]
        if n == 0: return i + 1
        if n & 0xc0 == 0xc0: return i + 2
        i += n + 1
i = 12
for _ in range(qd): i = skip_name(i) + 4
records = []
for _ in range(an):
    i = skip_name(i)
    rtype, _cls, _ttl, rdlen = struct.unpack('>HHIH', data[i:i + 10])
    i += 10
    rdata, i = data[i:i + rdlen], i + rdlen
    if rtype != 16: continue
    strings, j = [], 0
    while j < len(rdata):
        strings.append(rdata[j + 1:j + 1 + rdata[j]].decode()); j += 1 + rdata[j]
    records.append(strings)
print(json.dumps({'rcode': flags & 15, 'truncated': bool(flags & 0x200), 'txt': records}))
`;

async function pythonTxt(dns: DnsServer, name: string, transport: 'udp' | 'tcp'): Promise<{ rcode: number; truncated: boolean; txt: string[][] }> {
  const r = await runProgram('python3', ['-c', PYTHON_TXT_QUERY, dns.host, String(dns.port), name, transport]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { rcode: number; truncated: boolean; txt: string[][] };
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code);
    assert.ok(isNoRecords(err), `${code} is a definite "no such record"`);
    return true;
  });
}

describe('test DNS server (dnsmasq)', () => {
  let dns: DnsServer;
  let resolver: DnsResolver;

  before(async () => {
    dns = await startDnsServer({
      mx: [
        { domain: 'hamburger.test', host: 'mx.hamburger.test', preference: 10 },
        { domain: 'hamburger.test', host: 'backup.hamburger.test', preference: 20 },
        { domain: 'crepes.test', host: 'mail.crepes.test', preference: 5 },
        { domain: 'nomail.test', host: '.', preference: 0 },
      ],
      a: [
        { name: 'mx.hamburger.test', address: '127.0.0.2' },
        { name: 'backup.hamburger.test', address: '127.0.0.3' },
        { name: 'mail.crepes.test', address: '127.0.0.1' },
      ],
      txt: [
        { name: 'crepes.test', value: SPF_RECORD },
        { name: 'crepes.test', value: 'google-site-verification=abc, with "quotes" and \\ a comma' },
        { name: 'sel1._domainkey.crepes.test', value: DKIM_RECORD },
        { name: 'split.crepes.test', value: ['first part;', ' second part'] },
      ],
    });
    resolver = createDnsResolver({ servers: dns.servers, timeoutMs: 2000, cacheMs: 0 });
  });

  after(async () => {
    await dns?.stop();
  });

  it('listens on a high port of 127.0.0.1 and reports it as a resolver address', () => {
    assert.equal(dns.host, '127.0.0.1');
    assert.ok(dns.port > 1024);
    assert.deepEqual(dns.servers, [`127.0.0.1:${dns.port}`]);
  });

  it('serves MX records with their preferences', async () => {
    const mx = await resolver.resolveMx('hamburger.test');
    assert.deepEqual(
      mx.sort((a, b) => a.priority - b.priority),
      [
        { exchange: 'mx.hamburger.test', priority: 10 },
        { exchange: 'backup.hamburger.test', priority: 20 },
      ],
    );
    assert.deepEqual(await resolver.resolveMx('crepes.test'), [{ exchange: 'mail.crepes.test', priority: 5 }]);
  });

  it('serves a null MX (RFC 7505) as an empty exchange', async () => {
    assert.deepEqual(await resolver.resolveMx('nomail.test'), [{ exchange: '', priority: 0 }]);
  });

  it('serves A records for loopback addresses beyond 127.0.0.1', async () => {
    assert.deepEqual(await resolver.resolve4('mx.hamburger.test'), ['127.0.0.2']);
    assert.deepEqual(await resolver.resolve4('backup.hamburger.test'), ['127.0.0.3']);
    assert.deepEqual(await resolver.lookup('mail.crepes.test', 'A'), ['127.0.0.1']);
  });

  it('serves TXT records: SPF, several records for one name, commas and quotes kept', async () => {
    const records = (await resolver.resolveTxt('crepes.test')).map((strings) => strings.join(''));
    assert.deepEqual(records.sort(), [SPF_RECORD, 'google-site-verification=abc, with "quotes" and \\ a comma'].sort());
    assert.deepEqual(await resolver.resolveTxt('split.crepes.test'), [['first part;', ' second part']]);
  });

  it('serves a DKIM key longer than 255 characters as several strings of one record', async () => {
    assert.ok(DKIM_RECORD.length > 255, `the record is ${DKIM_RECORD.length} characters`);
    const records = await resolver.resolveTxt('sel1._domainkey.crepes.test');
    assert.equal(records.length, 1);
    const strings = records[0]!;
    assert.ok(strings.length >= 2, 'split into several character strings');
    for (const s of strings) assert.ok(s.length <= 255);
    assert.equal(strings.join(''), DKIM_RECORD);
  });

  it('answers NXDOMAIN for other names in the test zone, and no data for a missing type', async () => {
    await rejectsWithCode(resolver.resolve4('nothing.hamburger.test'), 'ENOTFOUND');
    await rejectsWithCode(resolver.resolveMx('unknown.test'), 'ENOTFOUND');
    await rejectsWithCode(resolver.resolveTxt('_dmarc.crepes.test'), 'ENOTFOUND');
    // The name exists (it has an A record) but has no TXT record.
    await rejectsWithCode(resolver.resolveTxt('mx.hamburger.test'), 'ENODATA');
    await rejectsWithCode(resolver.resolve6('mx.hamburger.test'), 'ENODATA');
  });

  it('forwards nothing: a name outside the test zones gets no address', async () => {
    await assert.rejects(resolver.resolve4('example.com'), (err: NodeJS.ErrnoException) => {
      assert.ok(err.code === 'EREFUSED' || err.code === 'ENOTFOUND', String(err.code));
      return true;
    });
  });

  it('gives the same long TXT record to an independent client over UDP and TCP', async () => {
    for (const transport of ['udp', 'tcp'] as const) {
      const answer = await pythonTxt(dns, 'sel1._domainkey.crepes.test', transport);
      assert.equal(answer.rcode, 0, transport);
      assert.equal(answer.truncated, false, transport);
      assert.equal(answer.txt.length, 1, transport);
      assert.ok(answer.txt[0]!.every((s) => s.length <= 255), transport);
      assert.equal(answer.txt[0]!.join(''), DKIM_RECORD, transport);
    }
    const missing = await pythonTxt(dns, 'nothing.crepes.test', 'tcp');
    assert.equal(missing.rcode, 3, 'NXDOMAIN over TCP too');
  });

  it('127.0.0.2 from an A record is a usable listen and connect address on this machine', async () => {
    // Linux routes all of 127/8 to lo, so a second "host" needs no setup.
    const server = net.createServer((sock) => sock.end('hello from 127.0.0.2\n'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.2', () => resolve());
    });
    try {
      const { port } = server.address() as net.AddressInfo;
      const [mx] = await resolver.resolveMx('hamburger.test').then((r) => r.sort((a, b) => a.priority - b.priority));
      const [address] = await resolver.resolve4(mx!.exchange);
      const got = await new Promise<{ text: string; local: string }>((resolve, reject) => {
        const sock = net.connect({ host: address!, port });
        let text = '';
        sock.setEncoding('utf8').on('data', (d: string) => (text += d));
        sock.once('error', reject);
        sock.once('end', () => resolve({ text, local: sock.localAddress ?? '' }));
      });
      assert.equal(got.text, 'hello from 127.0.0.2\n');
      assert.match(got.local, /^127\./);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('startDnsServer', () => {
  it('refuses a name that is not a DNS name rather than serving something else', async () => {
    await assert.rejects(startDnsServer({ a: [{ name: 'bad name.test', address: '127.0.0.2' }] }), /not a DNS name/);
    await assert.rejects(startDnsServer({ a: [{ name: 'x.test', address: '::1' }] }), /not an IPv4 address/);
    await assert.rejects(startDnsServer({ txt: [{ name: 'x.test', value: 'two\nlines' }] }), /line break/);
  });

  it('stops: the port no longer answers', async () => {
    const dns = await startDnsServer({ a: [{ name: 'gone.test', address: '127.0.0.1' }] });
    const resolver = createDnsResolver({ servers: dns.servers, timeoutMs: 500, cacheMs: 0 });
    assert.deepEqual(await resolver.resolve4('gone.test'), ['127.0.0.1']);
    await dns.stop();
    await dns.stop(); // twice is harmless
    const refused = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: dns.host, port: dns.port });
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(true));
    });
    assert.ok(refused, 'TCP connection refused after stop');
    await assert.rejects(resolver.resolve4('gone.test'));
  });

  it("the resolver's cache reuses answers and 'no such name', never a failure", async () => {
    const dns = await startDnsServer({ a: [{ name: 'kept.test', address: '127.0.0.3' }] });
    const resolver = createDnsResolver({ servers: dns.servers, timeoutMs: 300, cacheMs: 60_000 });
    assert.deepEqual(await resolver.resolve4('kept.test'), ['127.0.0.3']);
    await assert.rejects(resolver.resolve4('missing.test'), (err: NodeJS.ErrnoException) => err.code === 'ENOTFOUND');
    await dns.stop();
    // Answered from the cache although the server is gone, the same for a differently cased name.
    assert.deepEqual(await resolver.resolve4('KEPT.test'), ['127.0.0.3']);
    assert.deepEqual(await resolver.lookup('kept.test', 'A'), ['127.0.0.3']);
    await assert.rejects(resolver.resolve4('missing.test'), (err: NodeJS.ErrnoException) => err.code === 'ENOTFOUND');
    // A question never answered fails, and fails again (asked anew, not remembered as an answer).
    await assert.rejects(resolver.resolveTxt('kept.test'), (err: NodeJS.ErrnoException) => err.code !== 'ENOTFOUND' && err.code !== 'ENODATA');
    await assert.rejects(resolver.resolveTxt('kept.test'));
  });

  it('splits long TXT values on character boundaries', () => {
    assert.deepEqual(txtStrings('short'), ['short']);
    const long = 'é'.repeat(200); // 400 bytes of UTF-8
    const parts = txtStrings(long);
    assert.ok(parts.every((p) => Buffer.byteLength(p) <= 255));
    assert.equal(parts.join(''), long);
    assert.deepEqual(txtStrings(['a', 'b']), ['a', 'b']);
  });
});
