/**
 * The textbook example end to end, through a real `wharf serve`: Alice's mail server hands
 * Bob's server a message over SMTP, exactly as in the classic dialogue, and Bob fetches and
 * deletes it over POP3 ("download and delete").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LineClient } from '../helpers/line-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { addBob, BOB_PASSWORD } from './setup.js';

describe('Alice sends Bob a message (SMTP in, POP3 out)', () => {
  let wharf: WharfProcess;

  before(async () => {
    wharf = await startWharf({ env: { WHARF_HOSTNAME: 'hamburger.edu' } });
    await addBob(wharf);
  });
  after(async () => {
    await wharf.stop();
    await wharf.removeData();
  });

  it('accepts the message with the dialogue from the seed', async () => {
    const smtp = await LineClient.connect(wharf.ports.smtp);
    assert.match(await smtp.line(), /^220 hamburger\.edu\b/);
    assert.match((await smtp.smtp('HELO crepes.fr')).lines[0], /^250 hamburger\.edu\b.*crepes\.fr/);
    assert.match((await smtp.smtp('MAIL FROM: <alice@crepes.fr>')).lines[0], /^250 .*alice@crepes\.fr/);
    assert.match((await smtp.smtp('RCPT TO: <bob@hamburger.edu>')).lines[0], /^250 .*bob@hamburger\.edu/);
    assert.match((await smtp.smtp('DATA')).lines[0], /^354 /);
    smtp.send('Do you like ketchup?');
    smtp.send('How about pickles?');
    assert.match((await smtp.smtp('.')).lines[0], /^250 /);
    assert.match((await smtp.smtp('QUIT')).lines[0], /^221 (2\.0\.0 )?hamburger\.edu\b/);
    await smtp.closed;
  });

  it('lets Bob list, retrieve and delete it over POP3', async () => {
    const pop = await LineClient.connect(wharf.ports.pop3);
    assert.match(await pop.line(), /^\+OK/);
    assert.match(await pop.pop3('user bob'), /^\+OK/);
    assert.match(await pop.pop3(`pass ${BOB_PASSWORD}`), /^\+OK/);

    assert.match(await pop.pop3('list'), /^\+OK/);
    const listing = await pop.pop3Lines();
    assert.equal(listing.length, 1);
    const [number, size] = listing[0].split(' ');
    assert.equal(number, '1');

    assert.match(await pop.pop3('retr 1'), /^\+OK/);
    const message = await pop.pop3Lines();
    const text = message.join('\r\n') + '\r\n';
    assert.equal(Buffer.byteLength(text), Number(size), 'LIST size is the exact size RETR sends');
    const blank = message.indexOf('');
    const header = blank >= 0 ? message.slice(0, blank) : message;
    assert.equal(header[0], 'Return-Path: <alice@crepes.fr>');
    assert.ok(message.some((l) => /^Received: from crepes\.fr\b/.test(l)), text);
    assert.ok(text.includes('for <bob@hamburger.edu>'), text);
    assert.ok(text.endsWith('Do you like ketchup?\r\nHow about pickles?\r\n'), text);

    assert.match(await pop.pop3('dele 1'), /^\+OK/);
    assert.match(await pop.pop3('quit'), /^\+OK/);
    await pop.closed;
  });

  it('has removed the message after QUIT', async () => {
    const pop = await LineClient.connect(wharf.ports.pop3);
    await pop.line();
    await pop.pop3('user bob');
    assert.match(await pop.pop3(`pass ${BOB_PASSWORD}`), /^\+OK/);
    assert.match(await pop.pop3('stat'), /^\+OK 0 0$/);
    await pop.pop3('quit');
    await pop.closed;
  });

  it('logs every session with its id, and never the password', async () => {
    const sessions = wharf
      .logs()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.event === 'connected');
    assert.ok(sessions.length >= 3);
    for (const r of sessions) assert.match(String(r.session), /^[\w-]{6,}$/);
    const smtpId = sessions.find((r) => r.service === 'smtp')!.session;
    assert.ok(wharf.logs().filter((l) => l.includes(`"session":"${smtpId}"`)).length >= 3, 'the id is on every line of the session');
    const everything = wharf.logs().join('\n') + wharf.stderr();
    assert.equal(everything.includes(BOB_PASSWORD), false, 'the password appears in the logs');
  });
});
