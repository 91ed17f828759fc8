/**
 * Wire-level tests over raw sockets: the seeds' telnet dialogue byte for byte, then every
 * command of the AUTHORIZATION and TRANSACTION states and the error paths.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { loginRaw, messageOfSize, RawClient, startPop3Harness, type Pop3Harness } from './harness.js';

describe('POP3 dialogue', () => {
  let h: Pop3Harness;
  let bob: User;
  let carol: User;
  const first = messageOfSize(498, 'first');
  const second = messageOfSize(912, 'second');

  before(async () => {
    h = await startPop3Harness();
    bob = await h.addUser('bob', 'hungry');
    carol = await h.addUser('carol', 'secret');
    await h.deliver(first, [bob, carol]);
    await h.deliver(second, [bob, carol]);
  });
  after(() => h.close());

  it('answers the telnet dialogue of the seed, typed in lower case with bare LF', async () => {
    const c = await RawClient.connect(h.plain.port);
    assert.equal(await c.line(), '+OK Wharf POP3 server ready');
    assert.equal(await c.command('user bob', '\n'), '+OK');
    assert.equal(await c.command('pass hungry', '\n'), '+OK Logged in.');
    assert.equal(await c.command('list', '\n'), '+OK 2 messages (1410 octets)');
    assert.deepEqual(await c.listing(), ['1 498', '2 912']);
    assert.equal(await c.command('retr 1', '\n'), '+OK 498 octets');
    assert.deepEqual(await c.multiline(), Buffer.concat([first, Buffer.from('.\r\n')]));
    assert.equal(await c.command('dele 1', '\n'), '+OK Marked to be deleted.');
    assert.equal(await c.command('retr 2', '\n'), '+OK 912 octets');
    assert.deepEqual(await c.multiline(), Buffer.concat([second, Buffer.from('.\r\n')]));
    assert.equal(await c.command('dele 2', '\n'), '+OK Marked to be deleted.');
    assert.equal(await c.command('quit', '\n'), '+OK Logging out, messages deleted.');
    await c.waitClosed();
    assert.equal((await h.inbox(bob)).length, 0);
    // RETR marked the messages seen before they went; carol's copies are untouched.
    assert.equal((await h.inbox(carol)).length, 2);
  });

  it('refuses transaction commands before login and unknown commands', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('STAT'), '-ERR Not logged in');
    assert.equal(await c.command('RETR 1'), '-ERR Not logged in');
    assert.equal(await c.command('PASS secret'), '-ERR No username given, send USER first');
    assert.equal(await c.command('FOO'), '-ERR Unknown command');
    assert.equal(await c.command('APOP carol 0123456789abcdef0123456789abcdef'), '-ERR APOP is not supported');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
    await c.waitClosed();
  });

  it('rejects a wrong password with [AUTH], then accepts USER again', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('USER carol'), '+OK');
    assert.equal(await c.command('PASS wrong'), '-ERR [AUTH] Authentication failed.');
    assert.equal(await c.command('PASS secret'), '-ERR No username given, send USER first');
    assert.equal(await c.command('USER nobody'), '+OK');
    assert.equal(await c.command('PASS secret'), '-ERR [AUTH] Authentication failed.');
    assert.equal(await c.command('USER carol@example.org'), '+OK');
    assert.equal(await c.command('PASS secret'), '+OK Logged in.');
    assert.equal(await c.command('STAT'), '+OK 2 1410');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
    await c.waitClosed();
    const failures = h.logLines.map((l) => JSON.parse(l)).filter((r) => r.event === 'login failed');
    assert.ok(failures.some((r) => r.user === 'carol' && r.method === 'USER'));
    assert.ok(!h.logLines.some((l) => l.includes('secret') || l.includes('wrong')), 'a password reached the log');
  });

  it('answers CAPA with STLS, USER and SASL PLAIN on a loopback plain connection', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('CAPA'), '+OK Capability list follows');
    assert.deepEqual(await c.listing(), [
      'TOP',
      'UIDL',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      'USER',
      'SASL PLAIN',
      'STLS',
      'IMPLEMENTATION Wharf',
    ]);
    await loginOn(c, 'carol', 'secret');
    assert.equal(await c.command('CAPA'), '+OK Capability list follows');
    assert.deepEqual(await c.listing(), ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'IMPLEMENTATION Wharf']);
    assert.equal(await c.command('STLS'), '-ERR Already logged in');
    c.close();
  });

  it('implements STAT, LIST n, UIDL, TOP, NOOP and the error replies on message numbers', async () => {
    const c = await loginRaw(h.plain.port, 'carol', 'secret');
    assert.equal(await c.command('STAT'), '+OK 2 1410');
    assert.equal(await c.command('LIST 2'), '+OK 2 912');
    assert.equal(await c.command('LIST 3'), "-ERR There's no message 3.");
    assert.equal(await c.command('LIST 0'), "-ERR There's no message 0.");
    assert.equal(await c.command('LIST x'), '-ERR Invalid message number');
    assert.equal(await c.command('UIDL'), '+OK Unique-ID listing follows');
    const uids = await c.listing();
    assert.equal(uids.length, 2);
    const mailbox = await h.store.getMailbox(carol.id, 'INBOX');
    const entries = await h.inbox(carol);
    assert.deepEqual(uids, entries.map((e, i) => `${i + 1} ${mailbox!.uidValidity}.${e.uid}`));
    for (const u of uids) assert.match(u.split(' ')[1], /^[\x21-\x7e]{1,70}$/);
    assert.equal(await c.command('UIDL 1'), `+OK ${uids[0]}`);
    assert.equal(await c.command('TOP 1 0'), '+OK Top of message follows');
    assert.equal((await c.multiline()).toString(), 'From: alice@example.net\r\nTo: bob@example.org\r\nSubject: first\r\n\r\n.\r\n');
    assert.equal(await c.command('TOP 1 1'), '+OK Top of message follows');
    assert.match((await c.multiline()).toString(), /\r\n\r\nline 0 of the message body\r\n\.\r\n$/);
    assert.equal(await c.command('TOP 1'), '-ERR Syntax: TOP message lines');
    assert.equal(await c.command('NOOP'), '+OK');
    assert.equal(await c.command('DELE 1'), '+OK Marked to be deleted.');
    assert.equal(await c.command('DELE 1'), '-ERR Message 1 already deleted.');
    assert.equal(await c.command('RETR 1'), '-ERR Message 1 already deleted.');
    assert.equal(await c.command('TOP 1 0'), '-ERR Message 1 already deleted.');
    assert.equal(await c.command('STAT'), '+OK 1 912');
    assert.equal(await c.command('LIST'), '+OK 1 messages (912 octets)');
    assert.deepEqual(await c.listing(), ['2 912']);
    assert.equal(await c.command('UIDL'), '+OK Unique-ID listing follows');
    assert.deepEqual(await c.listing(), [uids[1]]);
    assert.equal(await c.command('RSET'), '+OK Maildrop has 2 messages (1410 octets)');
    assert.equal(await c.command('STAT'), '+OK 2 1410');
    assert.equal(await c.command('USER carol'), '-ERR Already logged in');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
    await c.waitClosed();
    assert.equal((await h.inbox(carol)).length, 2, 'RSET must have undone the deletion');
  });

  it('answers pipelined commands in order from one write', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    c.send('USER carol\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 2\r\nNOOP\r\nQUIT\r\n');
    assert.equal(await c.line(), '+OK');
    assert.equal(await c.line(), '+OK Logged in.');
    assert.equal(await c.line(), '+OK 2 1410');
    assert.equal(await c.line(), '+OK 2 messages (1410 octets)');
    assert.deepEqual(await c.listing(), ['1 498', '2 912']);
    assert.match(await c.line(), /^\+OK 2 \d+\.\d+$/);
    assert.equal(await c.line(), '+OK 912 octets');
    assert.deepEqual(await c.multiline(), Buffer.concat([second, Buffer.from('.\r\n')]));
    assert.equal(await c.line(), '+OK');
    assert.equal(await c.line(), '+OK Logging out.');
    await c.waitClosed();
  });

  it('answers an over-long line with -ERR and closes', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('USER ' + 'a'.repeat(5000)), '-ERR Line too long');
    await c.waitClosed();
  });

  it('answers NUL or 8-bit garbage with -ERR and keeps going', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('US\0ER carol'), '-ERR Invalid characters in command');
    c.send(Buffer.from([0xff, 0xfe, 0x80, 0x00, 0x0d, 0x0a]));
    assert.equal(await c.line(), '-ERR Invalid characters in command');
    c.send(Buffer.from([0xc3, 0x28, 0xa0, 0x0d, 0x0a]));
    assert.equal(await c.line(), '-ERR Unknown command');
    assert.equal(await c.command(''), '-ERR Unknown command');
    // Still a working session.
    await loginOn(c, 'carol', 'secret');
    assert.equal(await c.command('STAT'), '+OK 2 1410');
    assert.equal(await c.command('RETR 99999999999999'), '-ERR Invalid message number');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
  });

  it('disconnects a client after too many bad commands', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    for (let i = 0; i < 9; i++) assert.equal(await c.command('BOGUS'), '-ERR Unknown command');
    assert.equal(await c.command('BOGUS'), '-ERR Too many bad commands, closing connection');
    await c.waitClosed();
  });

  it('stuffs lines beginning with "." so the client gets the message back exactly', async () => {
    const dave = await h.addUser('dave', 'pw-dave');
    const tricky = Buffer.from('Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle.\r\n.', 'latin1');
    await h.deliver(tricky, [dave]);
    const c = await loginRaw(h.plain.port, 'dave', 'pw-dave');
    assert.equal(await c.command('RETR 1'), `+OK ${tricky.length} octets`);
    const wire = (await c.multiline()).toString('latin1');
    assert.equal(wire, 'Subject: dots\r\n\r\n..\r\n...\r\n..leading\r\nmiddle.\r\n..\r\n.\r\n');
    // What a client reconstructs: strip one leading dot per line.
    const lines = wire.split('\r\n').slice(0, -2).map((l) => (l.startsWith('.') ? l.slice(1) : l));
    assert.equal(lines.join('\r\n'), tricky.toString('latin1'));
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
  });

  it('sends a large message intact through socket back-pressure', async () => {
    const erin = await h.addUser('erin', 'pw-erin');
    const lines: string[] = ['Subject: big', ''];
    for (let i = 0; i < 60_000; i++) lines.push(i % 7 === 0 ? `.dotted line ${i}` : `plain line number ${i} ${'x'.repeat(i % 50)}`);
    const big = Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
    await h.deliver(big, [erin]);
    const c = await loginRaw(h.plain.port, 'erin', 'pw-erin');
    // Let the server fill the socket before reading anything.
    c.socket.pause();
    c.send('RETR 1\r\nNOOP\r\n');
    await new Promise((r) => setTimeout(r, 200));
    c.socket.resume();
    assert.equal(await c.line(), `+OK ${big.length} octets`);
    const wire = await c.multiline(20_000);
    const unstuffed = wire
      .toString('latin1')
      .split('\r\n')
      .slice(0, -2)
      .map((l) => (l.startsWith('.') ? l.slice(1) : l))
      .join('\r\n');
    assert.equal(unstuffed + '\r\n', big.toString('latin1'));
    assert.equal(await c.line(), '+OK');
    c.close();
  });

  it('authenticates with AUTH PLAIN, with an initial response or after "+ ", and can be cancelled', async () => {
    const good = Buffer.from('\0carol\0secret').toString('base64');
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('AUTH'), '+OK');
    assert.deepEqual(await c.listing(), ['PLAIN']);
    assert.equal(await c.command('AUTH CRAM-MD5'), '-ERR Unsupported authentication mechanism');
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.equal(await c.command('*'), '-ERR Authentication cancelled.');
    assert.equal(await c.command('AUTH PLAIN not*base64'), '-ERR Invalid base64 data');
    assert.equal(await c.command('AUTH PLAIN ' + Buffer.from('\0carol\0nope').toString('base64')), '-ERR [AUTH] Authentication failed.');
    assert.equal(await c.command('AUTH PLAIN ' + Buffer.from('bob\0carol\0secret').toString('base64')), '-ERR [AUTH] Authentication failed.');
    assert.equal(await c.command('AUTH PLAIN'), '+ ');
    assert.equal(await c.command(good), '+OK Logged in.');
    assert.equal(await c.command('STAT'), '+OK 2 1410');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
    await c.waitClosed();

    const d = await RawClient.connect(h.plain.port);
    await d.line();
    assert.equal(await d.command('AUTH PLAIN ' + Buffer.from('carol@example.org\0carol\0secret').toString('base64')), '+OK Logged in.');
    assert.equal(await d.command('QUIT'), '+OK Logging out.');
    assert.ok(!h.logLines.some((l) => l.includes(good)), 'an AUTH payload reached the log');
  });

  it('refuses AUTH PLAIN with an empty password even where the store would take it', async () => {
    await h.addUser('frank', '');
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    assert.equal(await c.command('AUTH PLAIN ' + Buffer.from('\0frank\0').toString('base64')), '-ERR [AUTH] Authentication failed.');
    assert.equal(await c.command('AUTH PLAIN ='), '-ERR [AUTH] Authentication failed.');
    assert.equal(await c.command('AUTH PLAIN Zm9v='), '-ERR Invalid base64 data');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
  });

  it('discards commands pipelined in the clear after STLS', async () => {
    const c = await RawClient.connect(h.plain.port);
    await c.line();
    // One packet: an attacker's USER travels with STLS.
    c.send('STLS\r\nUSER carol\r\n');
    assert.equal(await c.line(), '+OK Begin TLS negotiation');
    await c.startTls();
    assert.equal(await c.command('PASS secret'), '-ERR No username given, send USER first');
    assert.equal(await c.command('CAPA'), '+OK Capability list follows');
    assert.ok(!(await c.listing()).includes('STLS'));
    await loginOn(c, 'carol', 'secret');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
    assert.ok(h.logLines.some((l) => l.includes('discarded input pipelined after STLS')));
  });

  it('logs in over implicit TLS (POP3S) without offering STLS', async () => {
    const c = await RawClient.connect(h.secure.port, true);
    assert.equal(await c.line(), '+OK Wharf POP3 server ready');
    assert.equal(await c.command('CAPA'), '+OK Capability list follows');
    const caps = await c.listing();
    assert.ok(caps.includes('USER') && !caps.includes('STLS'));
    assert.equal(await c.command('STLS'), '-ERR Already using TLS');
    await loginOn(c, 'carol', 'secret');
    assert.equal(await c.command('STAT'), '+OK 2 1410');
    assert.equal(await c.command('QUIT'), '+OK Logging out.');
  });
});

async function loginOn(c: RawClient, name: string, password: string): Promise<void> {
  assert.equal(await c.command(`USER ${name}`), '+OK');
  assert.equal(await c.command(`PASS ${password}`), '+OK Logged in.');
}
