/**
 * A flood of 3,000 connections from 127.0.0.1 spread over every service of a real `wharf
 * serve` (SMTP, submission, POP3, IMAP, FTP, SFTP) is held to limits.maxConnectionsPerAddress
 * in total (the count per address is shared by every listener), each refused connection
 * gets its protocol's refusal, and meanwhile a client from 127.0.0.2 is served normally on
 * every service. The server runs as a child process, so this process holds only the client
 * side of the sockets (3,000 descriptors, well within the usual limits).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { WireClient } from '../helpers/wire-client.js';
import { addUser, connectSsh, PASSWORD, USER } from '../sftp/sftp-harness.js';

const FLOOD = 3000;
const PER_ADDRESS = 50;
const SERVICES = ['smtp', 'submission', 'pop3', 'imap', 'ftp', 'sftp'] as const;
type Service = (typeof SERVICES)[number];
/** What a refused connection is told first, per service. */
const REFUSAL: Record<Service, RegExp> = {
  smtp: /^421 /,
  submission: /^421 /,
  pop3: /^-ERR /,
  imap: /^\* BYE /,
  ftp: /^421 /,
  sftp: /^Too many connections/,
};
/** What an admitted connection is told first. */
const GREETING: Record<Service, RegExp> = {
  smtp: /^220 /,
  submission: /^220 /,
  pop3: /^\+OK /,
  imap: /^\* OK /,
  ftp: /^220 /,
  sftp: /^SSH-2\.0-/,
};

/** Connects from 127.0.0.1 and resolves with the first line the server sends ('' if it closes first). */
function firstLine(port: number, sockets: net.Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    sockets.push(socket);
    let text = '';
    const timer = setTimeout(() => done(), 60_000);
    const done = () => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve(text.split('\n')[0]);
    };
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (text.includes('\n')) done();
    });
    socket.on('error', () => {});
    socket.on('close', done);
  });
}

describe('a flood from one address', () => {
  let dir: string;
  let wharf: WharfProcess;
  const sockets: net.Socket[] = [];

  before(async () => {
    dir = await makeTempDir('wharf-flood-');
    const configFile = path.join(dir, 'wharf.json');
    // The defaults, said out loud: 50 per address; the rate limit above the flood, so that
    // every refusal here is the count's.
    await writeFile(configFile, JSON.stringify({ limits: { maxConnectionsPerAddress: PER_ADDRESS, maxConnectionRatePerAddress: 10 * FLOOD } }));
    wharf = await startWharf({ env: { WHARF_CONFIG: configFile } });
    await addUser(wharf);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await wharf.stop();
    await wharf.removeData();
    await removeDir(dir);
  });

  it(`holds ${FLOOD} connections from 127.0.0.1 over every service to ${PER_ADDRESS}, and serves 127.0.0.2 meanwhile`, async (t) => {
    const results: Array<{ service: Service; line: string }> = [];
    // In waves, so the listen backlogs are not what refuses.
    for (let start = 0; start < FLOOD; start += 300) {
      const wave = [];
      for (let i = start; i < Math.min(FLOOD, start + 300); i++) {
        const service = SERVICES[i % SERVICES.length];
        wave.push(firstLine(wharf.ports[service], sockets).then((line) => results.push({ service, line })));
      }
      await Promise.all(wave);
    }
    const admitted = results.filter((r) => GREETING[r.service].test(r.line));
    const refused = results.filter((r) => REFUSAL[r.service].test(r.line));
    const other = results.filter((r) => !GREETING[r.service].test(r.line) && !REFUSAL[r.service].test(r.line));
    assert.deepEqual(other.slice(0, 5), [], 'every connection was greeted or refused in its protocol');
    assert.equal(admitted.length, PER_ADDRESS, 'one count for the address over every service');
    assert.equal(refused.length, FLOOD - PER_ADDRESS);
    for (const service of SERVICES) {
      const of = (list: typeof results) => list.filter((r) => r.service === service).length;
      t.diagnostic(`${service}: ${of(admitted)} admitted, ${of(refused)} refused`);
      assert.ok(of(refused) > 0, `${service} refused some`);
    }

    // While the flood holds its 50, another address is served on every service.
    const from2 = { localAddress: '127.0.0.2' };
    const smtp = await WireClient.connect(wharf.ports.smtp, from2);
    await smtp.until(/^220 .*\r\n/);
    smtp.send('EHLO other.example\r\n');
    await smtp.until(/^250 .*\r\n/m);
    smtp.send('QUIT\r\n');
    await smtp.closed();

    const submission = await WireClient.connect(wharf.ports.submission, from2);
    await submission.until(/^220 .*\r\n/);
    submission.send('EHLO other.example\r\n');
    await submission.until(/^250 .*\r\n/m);
    submission.close();

    const pop3 = await WireClient.connect(wharf.ports.pop3, from2);
    await pop3.until(/^\+OK .*\r\n/);
    pop3.send(`USER ${USER}\r\n`);
    await pop3.until(/^\+OK.*\r\n/);
    pop3.send(`PASS ${PASSWORD}\r\n`);
    assert.match(await pop3.until(/\r\n/), /^\+OK/);
    pop3.send('QUIT\r\n');
    await pop3.closed();

    const imap = await WireClient.connect(wharf.ports.imap, from2);
    await imap.until(/^\* OK .*\r\n/);
    imap.send(`l LOGIN ${USER} ${PASSWORD}\r\n`);
    assert.match(await imap.until(/^l .*\r\n/m), /^l OK /m);
    imap.send('z LOGOUT\r\n');
    await imap.closed();

    const ftp = await WireClient.connect(wharf.ports.ftp, from2);
    await ftp.until(/^220 .*\r\n/);
    ftp.send(`USER ${USER}\r\n`);
    await ftp.until(/^331 .*\r\n/);
    ftp.send(`PASS ${PASSWORD}\r\n`);
    assert.match(await ftp.until(/^230 .*\r\n/m), /^230 /m);
    ftp.send('QUIT\r\n');
    await ftp.closed();

    const ssh = await connectSsh(wharf.ports.sftp, { localAddress: '127.0.0.2' });
    const listing = await new Promise<unknown[]>((resolve, reject) =>
      ssh.sftp((err, sftp) => (err ? reject(err) : sftp.readdir('/', (e, list) => (e ? reject(e) : resolve(list))))),
    );
    assert.ok(Array.isArray(listing));
    ssh.end();

    // The flood still gets nothing more.
    assert.match(await firstLine(wharf.ports.imap, sockets), REFUSAL.imap);
  });
});
