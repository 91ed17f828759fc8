/**
 * The extensions a client turns on or asks for by name, through the wire: ENABLE, CONDSTORE
 * and QRESYNC, SORT and THREAD, QUOTA, LIST-STATUS and SPECIAL-USE, BINARY, UNSELECT, ID and
 * NAMESPACE, SEARCHRES.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { ImapClient, startImapHarness, textMessage, type ImapHarness } from './harness.js';

describe('IMAP extensions', () => {
  let h: ImapHarness;
  let user: User;

  before(async () => {
    h = await startImapHarness();
    user = await h.addUser('ext', 'pw', 10 * 1024 * 1024);
    await h.deliver(textMessage('Banana split', 'one\r\n', 'Date: Sat, 2 Mar 2024 10:00:00 +0000\r\n'), [user]);
    await h.deliver(textMessage('apple pie', 'two\r\n'), [user]);
    await h.deliver(
      textMessage('Re: apple pie', 'three\r\n', 'In-Reply-To: <applepie@example.net>\r\nReferences: <applepie@example.net>\r\n'),
      [user],
    );
  });
  after(() => h.close());

  async function session(): Promise<ImapClient> {
    const c = await ImapClient.connect(h.plain.port);
    await c.login('ext', 'pw');
    return c;
  }

  it('SORT by subject and reverse size, THREAD by references and by subject', async () => {
    const c = await session();
    await c.command('EXAMINE INBOX');
    assert.deepEqual((await c.command('SORT (SUBJECT) UTF-8 ALL')).untagged, ['* SORT 2 3 1']);
    assert.deepEqual((await c.command('UID SORT (REVERSE SIZE) UTF-8 ALL')).untagged, ['* SORT 3 1 2']);
    assert.deepEqual((await c.command('THREAD REFERENCES UTF-8 ALL')).untagged, ['* THREAD (1)(2 3)']);
    assert.deepEqual((await c.command('THREAD ORDEREDSUBJECT UTF-8 ALL')).untagged, ['* THREAD (1)(2 3)']);
    c.close();
  });

  it('CONDSTORE: MODSEQ in FETCH, UNCHANGEDSINCE refuses a stale STORE with MODIFIED', async () => {
    const c = await session();
    const enabled = await c.command('ENABLE CONDSTORE');
    assert.deepEqual(enabled.untagged, ['* ENABLED CONDSTORE']);
    const sel = await c.command('SELECT INBOX');
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))?.[1]);
    assert.ok(highest > 0);
    const fetched = await c.command('FETCH 1 (MODSEQ)');
    const modseq = Number(/MODSEQ \((\d+)\)/.exec(fetched.untagged[0]!)?.[1]);
    const ok = await c.command(`STORE 1 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Answered)`);
    assert.match(ok.untagged[0]!, /^\* 1 FETCH \(FLAGS \(\\Answered( \\Recent)?\) MODSEQ \(\d+\)\)$/);
    const stale = await c.command(`STORE 1 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
    assert.match(stale.tagged, /OK \[MODIFIED 1\]/);
    const changed = await c.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
    assert.equal(changed.untagged.length, 1);
    c.close();
  });

  it('QRESYNC: SELECT with the last known state reports what vanished', async () => {
    const c = await session();
    await c.command('ENABLE QRESYNC');
    const sel = await c.command('SELECT INBOX');
    const validity = Number(/UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))?.[1]);
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))?.[1]);
    const m = await h.store.getMailbox(user.id, 'INBOX');
    const appended = textMessage('temporary');
    c.send(`a APPEND INBOX {${appended.length}+}\r\n${appended}\r\n`);
    const uid = Number(/APPENDUID \d+ (\d+)/.exec((await c.complete('a')).tagged)?.[1]);
    await c.command(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
    const expunged = await c.command(`UID EXPUNGE ${uid}`);
    assert.ok(expunged.untagged.includes(`* VANISHED ${uid}`), expunged.untagged.join('\n'));
    await c.command('UNSELECT');
    const resync = await c.command(`SELECT INBOX (QRESYNC (${validity} ${modseq}))`);
    assert.ok(resync.untagged.includes(`* VANISHED (EARLIER) ${uid}`), resync.untagged.join('\n'));
    assert.ok(m);
    c.close();
  });

  it('QUOTA, LIST-STATUS, SPECIAL-USE, NAMESPACE, ID', async () => {
    const c = await session();
    const quota = await c.command('GETQUOTAROOT INBOX');
    assert.equal(quota.untagged[0], '* QUOTAROOT INBOX ""');
    assert.match(quota.untagged[1]!, /^\* QUOTA "" \(STORAGE \d+ 10240\)$/);
    assert.match((await c.command('SETQUOTA "" (STORAGE 1)')).tagged, /NO \[NOPERM\]/);
    const ls = await c.command('LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN SIZE))');
    assert.equal(ls.untagged[0], '* LIST (\\HasNoChildren) "/" INBOX');
    assert.match(ls.untagged[1]!, /^\* STATUS INBOX \(MESSAGES 3 UNSEEN \d SIZE \d+\)$/);
    const special = await c.command('LIST (SPECIAL-USE) "" "*"');
    assert.deepEqual(
      special.untagged.map((l) => l.replace(/ "\/".*/, '')),
      ['* LIST (\\HasNoChildren \\Archive)', '* LIST (\\HasNoChildren \\Drafts)', '* LIST (\\HasNoChildren \\Junk)', '* LIST (\\HasNoChildren \\Sent)', '* LIST (\\HasNoChildren \\Trash)'],
    );
    assert.deepEqual((await c.command('NAMESPACE')).untagged, ['* NAMESPACE (("" "/")) NIL NIL']);
    assert.match((await c.command('ID ("name" "test")')).untagged[0]!, /^\* ID \("name" "Wharf"/);
    c.close();
  });

  it('SEARCHRES keeps a result for the next command; BINARY.SIZE and UNSELECT', async () => {
    const c = await session();
    await c.command('SELECT INBOX');
    assert.deepEqual((await c.command('UID SEARCH RETURN (SAVE) SUBJECT apple')).untagged, []);
    const fetched = await c.command('UID FETCH $ (UID)');
    assert.deepEqual(fetched.untagged, ['* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)']);
    assert.match((await c.command('FETCH 1 (BINARY.SIZE[1])')).untagged[0]!, /BINARY\.SIZE\[1\] 5/);
    assert.match((await c.command('UNSELECT')).tagged, /OK/);
    assert.match((await c.command('FETCH 1 FLAGS')).tagged, /BAD/);
    c.close();
  });

  it('IMAP4rev2 after ENABLE: no RECENT, ESEARCH answers SEARCH', async () => {
    const c = await session();
    assert.deepEqual((await c.command('ENABLE IMAP4rev2')).untagged, ['* ENABLED IMAP4rev2']);
    const sel = await c.command('EXAMINE INBOX');
    assert.ok(!sel.untagged.some((l) => / RECENT$/.test(l)));
    assert.ok(sel.untagged.includes('* LIST () "/" INBOX'));
    assert.match((await c.command('SEARCH ALL')).untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) ALL 1:3$/);
    c.close();
  });
});
