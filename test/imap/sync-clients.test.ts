/**
 * Debian's mail synchronisers against the IMAP service: mbsync (isync) mirrors every mailbox
 * into a local Maildir and pushes local flag changes and new messages back; fetchmail
 * downloads over IMAP, leaving the messages on the server marked \Seen.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { runProgram } from '../helpers/process.js';
import { DOMAIN, startImapHarness, textMessage, type ImapHarness } from './harness.js';

describe('IMAP with mbsync and fetchmail', () => {
  let h: ImapHarness;
  let work: string;

  before(async () => {
    h = await startImapHarness();
    work = await mkdtemp(path.join(tmpdir(), 'wharf-sync-'));
  });
  after(async () => {
    await h.close();
    await rm(work, { recursive: true, force: true });
  });

  async function inboxOf(user: User) {
    const inbox = (await h.store.getMailbox(user.id, 'INBOX'))!;
    return { inbox, entries: await h.store.listEntries(inbox.id) };
  }

  it('mbsync mirrors the mailboxes both ways (flags, new messages, expunges)', async () => {
    const carol = await h.addUser('carol', 'sync-secret');
    await h.deliver(textMessage('first'), [carol]);
    await h.deliver(textMessage('second'), [carol]);
    const maildir = path.join(work, 'maildir');
    const config = path.join(work, 'mbsyncrc');
    await mkdir(maildir);
    await writeFile(
      config,
      [
        'IMAPAccount wharf',
        'Host 127.0.0.1',
        `Port ${h.plain.port}`,
        `User carol@${DOMAIN}`,
        'Pass sync-secret',
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore remote',
        'Account wharf',
        '',
        'MaildirStore local',
        `Path ${maildir}/`,
        `Inbox ${maildir}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel mirror',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Both',
        'Expunge Both',
        `SyncState *`,
        '',
      ].join('\n'),
    );
    const sync = async () => {
      const r = await runProgram('mbsync', ['-c', config, '-a'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `mbsync failed: ${r.stdout}\n${r.stderr}`);
    };
    await sync();

    const folders = (await readdir(maildir)).sort();
    for (const name of ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']) assert.ok(folders.includes(name), `${name} in ${folders}`);
    const inboxDir = path.join(maildir, 'INBOX');
    const files = [...(await readdir(path.join(inboxDir, 'new'))), ...(await readdir(path.join(inboxDir, 'cur')))];
    assert.equal(files.length, 2);
    const where = async (name: string) => ((await readdir(path.join(inboxDir, 'cur'))).includes(name) ? 'cur' : 'new');
    const bodies = await Promise.all(files.map(async (f) => readFile(path.join(inboxDir, await where(f), f), 'latin1')));
    assert.ok(bodies.some((b) => b.includes('Subject: first')) && bodies.some((b) => b.includes('Subject: second')));

    // Locally: mark "first" seen and flagged, delete "second", file a new message in Drafts.
    const firstFile = files[bodies.findIndex((b) => b.includes('Subject: first'))]!;
    const secondFile = files[bodies.findIndex((b) => b.includes('Subject: second'))]!;
    const base = firstFile.split(':2,')[0]!;
    await rename(path.join(inboxDir, await where(firstFile), firstFile), path.join(inboxDir, 'cur', `${base}:2,FS`));
    await rm(path.join(inboxDir, await where(secondFile), secondFile));
    await writeFile(
      path.join(maildir, 'Drafts', 'cur', `${Date.now()}.1.local:2,D`),
      'From: carol@example.com\r\nSubject: local draft\r\n\r\nwritten offline\r\n',
    );
    await sync();

    const { entries } = await inboxOf(carol);
    assert.equal(entries.length, 1, 'the locally deleted message is expunged on the server');
    assert.deepEqual([...entries[0]!.flags].sort(), ['\\Flagged', '\\Seen']);
    const drafts = (await h.store.getMailbox(carol.id, 'Drafts'))!;
    const draftEntries = await h.store.listEntries(drafts.id);
    assert.equal(draftEntries.length, 1, 'the local draft was uploaded');
    assert.ok(draftEntries[0]!.flags.includes('\\Draft'));

    // A change on the server comes back down.
    await h.deliver(textMessage('third'), [carol]);
    await sync();
    const after = [...(await readdir(path.join(inboxDir, 'new'))), ...(await readdir(path.join(inboxDir, 'cur')))];
    assert.equal(after.length, 2);
  });

  it('fetchmail downloads every message over IMAP and leaves them \\Seen', async () => {
    const dave = await h.addUser('dave', 'fetch-secret');
    await h.deliver(textMessage('one for fetchmail'), [dave]);
    await h.deliver(textMessage('two for fetchmail'), [dave]);
    const out = path.join(work, 'fetched');
    const rc = path.join(work, 'fetchmailrc');
    await writeFile(
      rc,
      [
        `poll 127.0.0.1 service ${h.plain.port} protocol IMAP auth password`,
        `  user "dave@${DOMAIN}" password "fetch-secret"`,
        `  sslproto '' keep fetchall`,
        `  mda "/bin/sh -c 'cat >> ${out}'"`,
        '',
      ].join('\n'),
    );
    await chmod(rc, 0o600);
    const r = await runProgram('fetchmail', ['-f', rc, '--nodetach', '--nosyslog', '-v'], {
      timeoutMs: 60_000,
      env: { ...process.env, HOME: work, FETCHMAILHOME: work },
    });
    assert.equal(r.code, 0, `fetchmail failed (${r.code}): ${r.stdout}\n${r.stderr}`);
    const mail = await readFile(out, 'latin1');
    assert.match(mail, /Subject: one for fetchmail/);
    assert.match(mail, /Subject: two for fetchmail/);
    const { entries } = await inboxOf(dave);
    assert.equal(entries.length, 2, 'keep: nothing deleted');
    for (const e of entries) assert.ok(e.flags.includes('\\Seen'), `flags ${e.flags}`);
  });
});
