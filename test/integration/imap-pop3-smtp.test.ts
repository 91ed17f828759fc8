/**
 * One `wharf serve` process, three protocols on one INBOX: mail that arrives over SMTP wakes
 * an IMAP client in IDLE, and a POP3 DELE + QUIT shows up in IMAP as an EXPUNGE.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LineClient } from '../helpers/line-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { ImapClient } from '../imap/harness.js';
import { addBob, BOB_PASSWORD, sendMessage } from './setup.js';

describe('SMTP, IMAP and POP3 on the same mailbox', () => {
  let wharf: WharfProcess;

  before(async () => {
    wharf = await startWharf();
    await addBob(wharf);
  });
  after(() => wharf.stop());

  it('an SMTP delivery reaches IDLE within a second; POP3 DELE+QUIT becomes an IMAP EXPUNGE', async () => {
    const imap = await ImapClient.connect(wharf.ports.imap!);
    await imap.login('bob@hamburger.edu', BOB_PASSWORD);
    const selected = await imap.command('SELECT INBOX');
    assert.ok(selected.untagged.includes('* 0 EXISTS'));
    imap.send('i1 IDLE\r\n');
    assert.match(await imap.readResponse(), /^\+ /);

    const smtp = await LineClient.connect(wharf.ports.smtp!);
    await smtp.line();
    await smtp.smtp('HELO crepes.fr');
    const sent = Date.now();
    await sendMessage(smtp, ['Subject: ketchup', '', 'Do you like ketchup?', 'How about pickles?']);
    assert.equal(await imap.readResponse(2000), '* 1 EXISTS');
    assert.ok(Date.now() - sent < 1000, 'IDLE woke within a second');
    await sendMessage(smtp, ['Subject: pickles', '', 'Second.']);
    await smtp.smtp('QUIT');
    imap.send('DONE\r\n');
    const done = await imap.complete('i1');
    assert.match(done.tagged, /^i1 OK/);

    const pop = await LineClient.connect(wharf.ports.pop3!);
    await pop.line();
    pop.send('USER bob');
    await pop.line();
    pop.send(`PASS ${BOB_PASSWORD}`);
    assert.match(await pop.line(), /^\+OK/);
    pop.send('DELE 1');
    assert.match(await pop.line(), /^\+OK/);
    pop.send('QUIT');
    assert.match(await pop.line(), /^\+OK/);

    let expunged = false;
    for (let i = 0; i < 20 && !expunged; i++) {
      const noop = await imap.command('NOOP');
      expunged = noop.untagged.includes('* 1 EXPUNGE');
      if (!expunged) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(expunged, 'the POP3 deletion reached the IMAP session');
    const left = await imap.command('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.equal(left.untagged.length, 1);
    assert.match(left.untagged[0]!, /Subject: pickles/);
    imap.close();
  });
});
