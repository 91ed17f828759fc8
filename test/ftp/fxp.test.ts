/**
 * Server-to-server transfer (FXP) between two Wharf servers, one on 127.0.0.1 and one on
 * 127.0.0.2, driven by one client: PASV on one, PORT to it on the other, RETR and STOR. It
 * works for a user listed in ftp.fxpUsers and is refused for everyone else (RFC 2577).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FtpTestClient, readAll, writeAndEnd, connectData } from './ftp-client.js';
import { FTP_PASSWORD, FTP_USER, startFtpWharf, type FtpWharf } from './wharf-ftp.js';

const OTHER_USER = 'alice@hamburger.edu';

async function login(port: number, host: string, user = FTP_USER): Promise<FtpTestClient> {
  // The client talks to each server from that server's own address, so for each server the
  // other one is a third party.
  const c = await FtpTestClient.connect(port, { host, localAddress: host });
  await c.login(user, FTP_PASSWORD);
  await c.expect('TYPE I', 200);
  return c;
}

function portArgument(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

describe('FXP between two Wharf servers', () => {
  let one: FtpWharf;
  let two: FtpWharf;
  const content = randomBytes(500_000);

  before(async () => {
    const settings = { ftp: { fxpUsers: [FTP_USER] } };
    one = await startFtpWharf({ host: '127.0.0.1', settings });
    two = await startFtpWharf({ host: '127.0.0.2', settings });
    for (const server of [one, two]) {
      const r = await server.wharf.cli(['user', 'add', OTHER_USER, '--password-stdin'], `${FTP_PASSWORD}\n`);
      assert.equal(r.code, 0, r.stderr);
    }
    const c = await login(one.ftp, '127.0.0.1');
    const { host, port } = await c.pasv();
    const socket = await connectData(host, port, '127.0.0.1');
    await c.expect('STOR source.bin', 150);
    await writeAndEnd(socket, content);
    assert.equal((await c.reply()).code, 226);
    c.close();
  });
  after(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  it('moves a file from one server to the other for an FXP user', async () => {
    const source = await login(one.ftp, '127.0.0.1');
    const target = await login(two.ftp, '127.0.0.2');
    const { host, port } = await source.pasv();
    assert.equal(host, '127.0.0.1');
    // The second server connects to the first one's passive port from 127.0.0.2.
    await target.expect(`PORT ${portArgument(host, port)}`, 200);
    target.send('STOR copy.bin');
    source.send('RETR source.bin');
    assert.equal((await target.reply()).code, 150);
    assert.equal((await source.reply()).code, 150);
    assert.equal((await source.reply()).code, 226);
    assert.equal((await target.reply()).code, 226);
    assert.equal((await target.cmd('SIZE copy.bin')).text, String(content.length));
    const { host: h2, port: p2 } = await target.pasv();
    const socket = await connectData(h2, p2, '127.0.0.2');
    const data = readAll(socket);
    await target.expect('RETR copy.bin', 150);
    assert.ok((await data).equals(content));
    assert.equal((await target.reply()).code, 226);
    source.close();
    target.close();
  });

  it('refuses both halves for a user without FXP', async () => {
    const source = await login(one.ftp, '127.0.0.1', OTHER_USER);
    const target = await login(two.ftp, '127.0.0.2', OTHER_USER);
    const { host, port } = await source.pasv();
    assert.equal((await target.cmd(`PORT ${portArgument(host, port)}`)).code, 501);
    assert.equal((await target.cmd(`EPRT |1|${host}|${port}|`)).code, 501);
    // A connection from the other server's address to the passive port is dropped unseen,
    // and the port stays open for the client itself.
    const stranger = await connectData(host, port, '127.0.0.2');
    assert.equal((await readAll(stranger)).length, 0);
    const own = await connectData(host, port, '127.0.0.1');
    await source.expect('STOR mine.txt', 150);
    await writeAndEnd(own, 'mine');
    assert.equal((await source.reply()).code, 226);
    assert.equal((await source.cmd('SIZE mine.txt')).text, '4');
    source.close();
    target.close();
  });
});
