/**
 * IMAP through the wire, checked line by line: the seeds' LOGIN and SELECT, mailbox
 * management, FETCH/STORE/SEARCH edge cases, APPEND refusals, and what a second session sees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { ImapClient, startImapHarness, textMessage, type ImapHarness } from './harness.js';

describe('IMAP dialogue', () => {
  let h: ImapHarness;
  let bob: User;
  let port: number;

  before(async () => {
    h = await startImapHarness();
    port = h.plain.port;
    bob = await h.addUser('smith', 'SESAME');
    for (let i = 1; i <= 3; i++) await h.deliver(textMessage(`message ${i}`), [bob]);
  });
  after(() => h.close());

  it('greets with capabilities and replays the seed LOGIN and SELECT', async () => {
    const c = await ImapClient.connect(port);
    const greeting = await c.readResponse();
    assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*AUTH=PLAIN.*\] /);
    assert.doesNotMatch(greeting, /LOGINDISABLED/, 'loopback may send passwords');
    c.send('a001 LOGIN SMITH SESAME\r\n');
    const login = await c.complete('a001');
    assert.match(login.tagged, /^a001 OK /);
    c.send('A142 SELECT INBOX\r\n');
    const select = await c.complete('A142');
    assert.match(select.tagged, /^A142 OK \[READ-WRITE\] SELECT completed$/);
    const u = select.untagged;
    assert.ok(u.includes('* 3 EXISTS'), u.join('\n'));
    assert.ok(u.includes('* 3 RECENT'), 'the first session to select sees new mail as recent');
    assert.ok(u.includes('* OK [UNSEEN 1] Message 1 is first unseen'));
    assert.ok(u.some((l) => /^\* OK \[UIDVALIDITY \d+\] UIDs valid$/.test(l)));
    assert.ok(u.includes('* OK [UIDNEXT 4] Predicted next UID'));
    assert.ok(u.includes('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)'));
    assert.ok(u.some((l) => l.startsWith('* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]')));
    // A second session does not see the same messages as recent.
    const d = await ImapClient.connect(port);
    await d.login('smith', 'SESAME');
    const again = await d.command('EXAMINE INBOX');
    assert.ok(again.untagged.includes('* 0 RECENT'));
    assert.match(again.tagged, /OK \[READ-ONLY\]/);
    c.close();
    d.close();
  });

  it('refuses commands in the wrong state and garbage with BAD, never closing', async () => {
    const c = await ImapClient.connect(port);
    await c.readResponse();
    assert.match((await c.command('SELECT INBOX')).tagged, /^t\d+ BAD /);
    assert.match((await c.command('FROBNICATE')).tagged, /^t\d+ BAD /);
    c.send('\r\n');
    assert.match(await c.readResponse(), /^\* BAD /);
    await c.command('LOGIN smith SESAME');
    assert.match((await c.command('FETCH 1 FLAGS')).tagged, /BAD .*No mailbox selected/);
    assert.match((await c.command('SELECT nosuch')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    assert.match((await c.command('CREATE "a/../b"')).tagged, /^t\d+ NO /);
    c.close();
  });

  it('creates, lists, renames and deletes mailboxes (INBOX rename moves the messages)', async () => {
    const u = await h.addUser('lister', 'pw');
    await h.deliver(textMessage('in inbox'), [u]);
    const c = await ImapClient.connect(port);
    await c.login('lister', 'pw');
    assert.match((await c.command('CREATE Projects/2024')).tagged, /OK/);
    assert.match((await c.command('CREATE Projects')).tagged, /NO \[ALREADYEXISTS\]/);
    const list = await c.command('LIST "" "*"');
    assert.ok(list.untagged.includes('* LIST (\\HasNoChildren) "/" INBOX'), list.untagged.join('\n'));
    assert.ok(list.untagged.includes('* LIST (\\HasChildren) "/" Projects'));
    assert.ok(list.untagged.includes('* LIST (\\HasNoChildren) "/" Projects/2024'));
    assert.ok(list.untagged.includes('* LIST (\\HasNoChildren \\Sent) "/" Sent'));
    const top = await c.command('LIST "" %');
    assert.ok(!top.untagged.some((l) => l.includes('Projects/2024')));
    assert.deepEqual((await c.command('LIST "" ""')).untagged, ['* LIST (\\Noselect) "/" ""']);
    assert.match((await c.command('RENAME Projects Work')).tagged, /OK/);
    const renamed = await c.command('LIST "" "Work*"');
    assert.ok(renamed.untagged.includes('* LIST (\\HasNoChildren) "/" Work/2024'), renamed.untagged.join('\n'));
    assert.match((await c.command('RENAME INBOX Old')).tagged, /OK/);
    const status = await c.command('STATUS Old (MESSAGES UIDNEXT)');
    assert.ok(status.untagged.includes('* STATUS Old (MESSAGES 1 UIDNEXT 2)'), status.untagged.join('\n'));
    const inbox = await c.command('STATUS INBOX (MESSAGES)');
    assert.ok(inbox.untagged.includes('* STATUS INBOX (MESSAGES 0)'));
    assert.match((await c.command('DELETE INBOX')).tagged, /NO/);
    assert.match((await c.command('DELETE Work/2024')).tagged, /OK/);
    assert.match((await c.command('SELECT Work/2024')).tagged, /NO \[NONEXISTENT\]/);
    c.close();
  });

  it('resolves UID sets with * and reversed ranges, and partial fetches past the end', async () => {
    const c = await ImapClient.connect(port);
    await c.login('smith', 'SESAME');
    await c.command('EXAMINE INBOX');
    const star = await c.command('UID FETCH 3:* (FLAGS)');
    assert.deepEqual(star.untagged.map((l) => l.replace(/ FLAGS.*/, '')), ['* 3 FETCH (UID 3']);
    const beyond = await c.command('UID FETCH 99:* (FLAGS)');
    assert.equal(beyond.untagged.length, 1, 'n:* with n past the last UID still names the last message');
    const reversed = await c.command('FETCH 3:2 (UID)');
    assert.deepEqual(reversed.untagged, ['* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)']);
    const partial = await c.command('FETCH 1 (BODY.PEEK[]<100000.10>)');
    assert.deepEqual(partial.untagged, ['* 1 FETCH (BODY[]<100000> {0}\r\n)']);
    const head = await c.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.deepEqual(head.untagged, ['* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: message 1\r\n\r\n)']);
    assert.match((await c.command('FETCH 9 FLAGS')).tagged, /BAD/);
    c.close();
  });

  it('sets \\Seen on BODY[] but not on BODY.PEEK[], and STORE reports flags', async () => {
    const u = await h.addUser('flagger', 'pw');
    await h.deliver(textMessage('one'), [u]);
    await h.deliver(textMessage('two'), [u]);
    const c = await ImapClient.connect(port);
    await c.login('flagger', 'pw');
    await c.command('SELECT INBOX');
    await c.command('FETCH 1 BODY.PEEK[TEXT]');
    assert.deepEqual((await c.command('FETCH 1 FLAGS')).untagged, ['* 1 FETCH (FLAGS (\\Recent))']);
    const body = await c.command('FETCH 1 BODY[TEXT]');
    assert.match(body.untagged[0]!, /BODY\[TEXT\] \{8\}\r\nHello\.\r\n FLAGS \(\\Seen \\Recent\)\)$/);
    const store = await c.command('STORE 2 +FLAGS (\\Flagged $Work)');
    assert.deepEqual(store.untagged, ['* 2 FETCH (FLAGS (\\Flagged $Work \\Recent))']);
    assert.deepEqual((await c.command('STORE 2 -FLAGS.SILENT ($Work)')).untagged, []);
    assert.match((await c.command('STORE 2 +FLAGS (\\Recent)')).tagged, /NO/);
    const search = await c.command('SEARCH FLAGGED');
    assert.deepEqual(search.untagged, ['* SEARCH 2']);
    const unseen = await c.command('UID SEARCH UNSEEN');
    assert.deepEqual(unseen.untagged, ['* SEARCH 2']);
    const es = await c.command('SEARCH RETURN (MIN MAX COUNT) ALL');
    assert.match(es.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 2 COUNT 2$/);
    c.close();
  });

  it('searches text through the index with substring semantics', async () => {
    const u = await h.addUser('searcher', 'pw');
    await h.deliver(textMessage('Quarterly report', 'The numbers are in.\r\n'), [u]);
    await h.deliver(textMessage('Lunch', 'Shall we have Crêpes?\r\n'), [u]);
    const c = await ImapClient.connect(port);
    await c.login('searcher', 'pw');
    await c.command('SELECT INBOX');
    assert.deepEqual((await c.command('SEARCH SUBJECT report')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await c.command('SEARCH BODY umbe')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await c.command('SEARCH CHARSET UTF-8 TEXT "crêpes"')).untagged, ['* SEARCH 2']);
    assert.deepEqual((await c.command('SEARCH TEXT zz')).untagged, ['* SEARCH']);
    assert.deepEqual((await c.command('SEARCH OR FROM alice SUBJECT nothing')).untagged, ['* SEARCH 1 2']);
    assert.match((await c.command('SEARCH CHARSET KOI8-R TEXT x')).tagged, /NO \[BADCHARSET/);
    c.close();
  });

  it('announces another session\'s EXPUNGE only where RFC 9051 allows it', async () => {
    const u = await h.addUser('sharer', 'pw');
    for (let i = 0; i < 3; i++) await h.deliver(textMessage(`m${i}`), [u]);
    const a = await ImapClient.connect(port);
    const b = await ImapClient.connect(port);
    await a.login('sharer', 'pw');
    await b.login('sharer', 'pw');
    await a.command('SELECT INBOX');
    await b.command('SELECT INBOX');
    await a.command('STORE 2 +FLAGS.SILENT (\\Deleted)');
    const expunged = await a.command('EXPUNGE');
    assert.deepEqual(expunged.untagged, ['* 2 EXPUNGE']);
    await new Promise((r) => setTimeout(r, 300));
    const fetch = await b.command('FETCH 1:3 (UID)');
    assert.ok(!fetch.untagged.some((l) => l.includes('EXPUNGE')), 'no EXPUNGE during FETCH');
    assert.ok(fetch.untagged.includes('* 3 FETCH (UID 3)'), 'numbers stay stable until announced');
    const noop = await b.command('NOOP');
    assert.ok(noop.untagged.includes('* 2 EXPUNGE'), noop.untagged.join('\n'));
    a.close();
    b.close();
  });

  it('answers CHECK (IMAP4rev1) in the selected state only, reporting updates like NOOP', async () => {
    const u = await h.addUser('checker', 'pw');
    const c = await ImapClient.connect(port);
    await c.login('checker', 'pw');
    assert.match((await c.command('CHECK')).tagged, /^t\d+ BAD/);
    await c.command('SELECT INBOX');
    await h.deliver(textMessage('while selected'), [u]);
    await new Promise((r) => setTimeout(r, 300));
    const check = await c.command('CHECK');
    assert.match(check.tagged, /^t\d+ OK/);
    assert.ok(check.untagged.includes('* 1 EXISTS'), check.untagged.join('\n'));
    c.close();
  });

  it('wakes an IDLE client within a second of a delivery', async () => {
    const u = await h.addUser('idler', 'pw');
    const c = await ImapClient.connect(port);
    await c.login('idler', 'pw');
    await c.command('SELECT INBOX');
    c.send('i1 IDLE\r\n');
    assert.match(await c.readResponse(), /^\+ /);
    const started = Date.now();
    await h.deliver(textMessage('ping'), [u]);
    assert.equal(await c.readResponse(2000), '* 1 EXISTS');
    assert.ok(Date.now() - started < 1000);
    c.send('DONE\r\n');
    const done = await c.complete('i1');
    assert.match(done.tagged, /^i1 OK/);
    c.close();
  });

  it('APPENDs with APPENDUID, refuses over quota and too big before the literal, stores nothing cut short', async () => {
    const u = await h.addUser('appender', 'pw', 4000);
    const c = await ImapClient.connect(port);
    await c.login('appender', 'pw');
    const msg = textMessage('appended');
    c.send(`a1 APPEND INBOX (\\Seen) "01-Mar-2024 10:00:00 +0000" {${msg.length}}\r\n`);
    assert.match(await c.readResponse(), /^\+ /);
    c.send(`${msg}\r\n`);
    const ok = await c.complete('a1');
    assert.match(ok.tagged, /^a1 OK \[APPENDUID \d+ 1\] /);
    c.send('a2 APPEND INBOX {5000}\r\n');
    assert.match((await c.complete('a2')).tagged, /^a2 NO \[OVERQUOTA\]/);
    c.send(`a3 APPEND nosuch {${msg.length}}\r\n`);
    assert.match((await c.complete('a3')).tagged, /^a3 NO \[TRYCREATE\]/);
    c.send(`a4 APPEND INBOX {${h.config.imap.maxAppendBytes + 1}}\r\n`);
    assert.match((await c.complete('a4')).tagged, /^a4 NO \[TOOBIG\]/);
    // A literal cut off by a disconnect leaves nothing behind.
    c.send(`a5 APPEND INBOX {1000}\r\n`);
    assert.match(await c.readResponse(), /^\+ /);
    c.send('From: x\r\n\r\npartial');
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    await new Promise((r) => setTimeout(r, 200));
    const inbox = await h.store.getMailbox(u.id, 'INBOX');
    assert.equal(inbox!.messageCount, 1);
  });

  it('MULTIAPPENDs with LITERAL+ and copies and moves with COPYUID', async () => {
    const u = await h.addUser('mover', 'pw');
    const c = await ImapClient.connect(port);
    await c.login('mover', 'pw');
    const m1 = textMessage('first');
    const m2 = textMessage('second');
    c.send(`m1 APPEND INBOX {${m1.length}+}\r\n${m1} (\\Flagged) {${m2.length}+}\r\n${m2}\r\n`);
    assert.match((await c.complete('m1')).tagged, /^m1 OK \[APPENDUID \d+ 1:2\]/);
    await c.command('SELECT INBOX');
    const copy = await c.command('COPY 1:2 Archive');
    assert.match(copy.tagged, /OK \[COPYUID \d+ 1:2 1:2\]/);
    const move = await c.command('UID MOVE 1 Trash');
    assert.ok(move.untagged.some((l) => /^\* OK \[COPYUID \d+ 1 1\]/.test(l)));
    assert.ok(move.untagged.includes('* 1 EXPUNGE'));
    assert.match((await c.command('COPY 1 Nowhere')).tagged, /NO \[TRYCREATE\]/);
    const trash = await h.store.getMailbox(u.id, 'Trash');
    assert.equal(trash!.messageCount, 1);
    c.close();
  });

  it('discards commands pipelined in the clear after STARTTLS and sends capabilities again', async () => {
    const c = await ImapClient.connect(port);
    await c.readResponse();
    c.send('s1 STARTTLS\r\ns2 LOGIN smith SESAME\r\n');
    assert.match(await c.readResponse(), /^s1 OK/);
    await c.startTls();
    const caps = await c.command('CAPABILITY');
    assert.ok(caps.untagged[0]!.includes('AUTH=PLAIN'));
    assert.ok(!caps.untagged[0]!.includes('STARTTLS'));
    const sel = await c.command('SELECT INBOX');
    assert.match(sel.tagged, /BAD/, 'the pipelined LOGIN was not acted on');
    c.close();
  });

  it('refuses a literal larger than the line limit before reading it', async () => {
    const c = await ImapClient.connect(port);
    await c.login('smith', 'SESAME');
    c.send(`x1 LOGIN {${h.config.imap.maxLineBytes + 10}}\r\n`);
    const reply = await c.readResponse();
    assert.match(reply, /^x1 BAD/);
    assert.match((await c.command('NOOP')).tagged, /OK/);
    c.close();
  });
});
