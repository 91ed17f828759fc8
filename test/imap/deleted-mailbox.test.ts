/**
 * The selected mailbox deleted by another session (found by the wire fuzzer: NOOP, STORE and
 * COPY then answered "NO [SERVERBUG] ... try again later" for ever, each logged as an internal
 * error; an APPEND racing the delete did the same). The session now ends with BYE, as Dovecot's
 * does; the APPEND gets NO [TRYCREATE]; nothing is logged as an error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapClient, startImapHarness, textMessage, type ImapHarness } from './harness.js';

describe('IMAP: the selected mailbox deleted by another session', () => {
  let h: ImapHarness;
  let port: number;

  before(async () => {
    h = await startImapHarness();
    port = h.plain.port;
    await h.addUser('carol', 'PW-carol-1');
  });
  after(() => h.close());

  it('APPEND whose mailbox is deleted while the literal is on its way: NO [TRYCREATE], no internal error', async () => {
    const a = await ImapClient.connect(port);
    const b = await ImapClient.connect(port);
    try {
      await a.login('carol', 'PW-carol-1');
      await b.login('carol', 'PW-carol-1');
      assert.match((await a.command('CREATE Vanishing')).tagged, / OK /);
      const errorsBefore = h.logLines.filter((l) => l.includes('"level":"error"')).length;
      const msg = textMessage('vanishing');
      a.send(`z2 APPEND Vanishing {${Buffer.byteLength(msg)}}\r\n`);
      assert.match(await a.readResponse(), /^\+/);
      assert.match((await b.command('DELETE Vanishing')).tagged, / OK /);
      a.send(`${msg}\r\n`);
      assert.equal((await a.complete('z2')).tagged, 'z2 NO [TRYCREATE] Mailbox does not exist');
      const errors = h.logLines.filter((l) => l.includes('"level":"error"'));
      assert.equal(errors.length, errorsBefore, errors.join('\n'));
      assert.match((await a.command('NOOP')).tagged, / OK /, 'the session goes on');
    } finally {
      a.close();
      b.close();
    }
  });

  // The last one is a BAD command: the updates sent before BAD failed the same way, outside the
  // command's own error handling, and the connection was cut without a word.
  for (const command of ['NOOP', 'STORE 1 +FLAGS (\\Seen)', 'COPY 1 INBOX', 'FETCH 1 (NOSUCHITEM)']) {
    it(`${command.split(' ')[0]} after the delete: BYE and the connection closes`, async () => {
      const a = await ImapClient.connect(port);
      const b = await ImapClient.connect(port);
      try {
        await a.login('carol', 'PW-carol-1');
        await b.login('carol', 'PW-carol-1');
        assert.match((await a.command('CREATE Doomed')).tagged, / OK /);
        const msg = textMessage('doomed');
        assert.match((await a.command(`APPEND Doomed {${Buffer.byteLength(msg)}+}\r\n${msg}`)).tagged, / OK /);
        assert.match((await a.command('SELECT Doomed')).tagged, / OK /);
        assert.match((await b.command('DELETE Doomed')).tagged, / OK /);
        const errorsBefore = h.logLines.filter((l) => l.includes('"level":"error"')).length;

        a.send(`z1 ${command}\r\n`);
        const lines: string[] = [];
        for (;;) {
          const line = await a.readResponse();
          lines.push(line);
          if (line.startsWith('* BYE') || line.startsWith('z1 ')) break;
        }
        assert.equal(lines[lines.length - 1], '* BYE Selected mailbox was deleted, have to disconnect', lines.join('\n'));
        await a.waitClosed();
        const errors = h.logLines.filter((l) => l.includes('"level":"error"'));
        assert.equal(errors.length, errorsBefore, errors.join('\n'));
        // The other session, and the account, are fine.
        assert.match((await b.command('SELECT INBOX')).tagged, / OK /);
      } finally {
        a.close();
        b.close();
      }
    });
  }
});
