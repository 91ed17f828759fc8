/**
 * A full disk (ENOSPC) and an I/O error (EIO) injected into a running `wharf serve` while it
 * stores: SMTP DATA, a submission to a remote domain (the outbound queue), IMAP APPEND, an
 * IMAP flag STORE, IMAP COPY and FTP STOR. Each must get a temporary failure (never a success), leave
 * nothing a client can see (no message, no flag, no file, no queue entry, POP3 STAT and the
 * mailbox counts unchanged), and work again, without a restart, once the fault clears.
 *
 * The faults come from libfiu's preload library (`fiu-run -x`), switched on and off in the
 * running process with `fiu-ctrl`. Only pwrite/pwritev and fsync/fdatasync fail: that is how
 * the store's files are written and flushed (SQLite writes its WAL with pwrite, Node's
 * positioned file writes are pwrite), while sockets are written with write/writev, so the
 * client still hears the reply. Each operation is brought up to its storing step with no
 * fault, so the fault hits exactly that step.
 *
 * SQLite and the local file store only: on PostgreSQL the data is written by the database
 * server, not by this process (its outage is database-restart.test.ts's subject).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { LineClient } from '../helpers/line-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { FtpTestClient, writeAndEnd } from '../ftp/ftp-client.js';
import { ImapClient } from '../imap/harness.js';
import { BOB_PASSWORD, addBob } from './setup.js';

const BOB = 'bob@hamburger.edu';
const REMOTE = 'carol@faraway.example';

/**
 * 'sync-no-space': ENOSPC from fsync. When SQLite's own fsync fails (it syncs the WAL header
 * when it starts the WAL over) it reports SQLITE_IOERR_FSYNC without the errno, so either
 * temporary reply is right there; when the store's fsync fails, the errno is known.
 */
type Kind = 'no-space' | 'io' | 'sync-no-space';
interface Fault {
  label: string;
  points: string[];
  errno: number;
  kind: Kind;
}

const WRITES = ['posix/io/rw/pwrite', 'posix/io/rw/pwritev'];
const SYNCS = ['posix/io/sync/fsync', 'posix/io/sync/fdatasync'];
const FAULTS: Fault[] = [
  { label: 'pwrite ENOSPC', points: WRITES, errno: constants.errno.ENOSPC, kind: 'no-space' },
  { label: 'pwrite EIO', points: WRITES, errno: constants.errno.EIO, kind: 'io' },
  { label: 'fsync ENOSPC', points: SYNCS, errno: constants.errno.ENOSPC, kind: 'sync-no-space' },
  { label: 'fsync EIO', points: SYNCS, errno: constants.errno.EIO, kind: 'io' },
];

/** What a client can see of the whole account, compared before and after a refused operation. */
interface Snapshot {
  inbox: number;
  sent: number;
  archive: number;
  pop3: string;
  flags: string;
  files: string[];
}

interface Operation {
  name: string;
  /** The reply each kind of failure must get, and the success reply. */
  refused: Record<Kind, RegExp>;
  accepted: RegExp;
  /** Brings the operation up to its storing step (no fault yet); resolves with that step. */
  prepare(id: string): Promise<() => Promise<string>>;
  /** Whether the operation's effect can be seen. */
  visible(id: string): Promise<boolean>;
}

describe('disk faults injected while storing (fiu)', () => {
  let wharf: WharfProcess;
  let fifoDir: string;
  const faultsSeen: string[] = [];
  /** Lines of `wharf queue list` naming the remote recipient, as last seen. */
  let countQueued = 0;
  /** Messages in Archive (where COPY puts message 1), as last seen. */
  let countCopied = 0;

  function fiu(command: string): void {
    const r = spawnSync('fiu-ctrl', ['-f', path.join(fifoDir, 'fiu'), '-c', command, String(wharf.pid)], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `fiu-ctrl ${command}: ${r.stderr}`);
  }
  const enable = (f: Fault) => f.points.forEach((p) => fiu(`enable name=${p},failnum=1,failinfo=${f.errno}`));
  const disable = (f: Fault) => f.points.forEach((p) => fiu(`disable name=${p}`));

  /** An IMAP session for looking: logged in, `mailbox` selected. */
  async function imapLook<T>(mailbox: string, look: (imap: ImapClient) => Promise<T>): Promise<T> {
    const imap = await ImapClient.connect(wharf.ports.imap!);
    try {
      await imap.login(BOB, BOB_PASSWORD);
      const selected = await imap.command(`EXAMINE ${mailbox}`);
      assert.match(selected.tagged, /OK/);
      return await look(imap);
    } finally {
      imap.close();
    }
  }

  async function searchSubject(mailbox: string, subject: string): Promise<boolean> {
    return imapLook(mailbox, async (imap) => {
      const r = await imap.command(`UID SEARCH HEADER Subject "${subject}"`);
      return r.untagged.some((l) => /^\* SEARCH \d/.test(l));
    });
  }

  /** Every file (not folder) under the file store, as paths. */
  async function userFiles(): Promise<string[]> {
    const root = path.join(wharf.dataDir, 'files');
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => !e.isDirectory()).map((e) => path.join(e.path, e.name)).sort();
  }

  async function snapshot(): Promise<Snapshot> {
    const counts = await imapLook('INBOX', async (imap) => {
      const inbox = await imap.command('STATUS INBOX (MESSAGES)');
      const sent = await imap.command('STATUS Sent (MESSAGES)');
      const archive = await imap.command('STATUS Archive (MESSAGES)');
      const flags = await imap.command('FETCH 1 (FLAGS)');
      const count = (r: { untagged: string[] }) => Number(/MESSAGES (\d+)/.exec(r.untagged.join(' '))?.[1] ?? NaN);
      return { inbox: count(inbox), sent: count(sent), archive: count(archive), flags: flags.untagged.join(' ').replace(/\\Recent ?/, '') };
    });
    const pop3 = await LineClient.connect(wharf.ports.pop3!);
    await pop3.line();
    await pop3.pop3(`USER ${BOB}`);
    await pop3.pop3(`PASS ${BOB_PASSWORD}`);
    const stat = await pop3.pop3('STAT');
    await pop3.pop3('QUIT');
    pop3.close();
    return { ...counts, pop3: stat, files: await userFiles() };
  }

  async function smtpUpTo(port: number, login: boolean, from: string, to: string): Promise<LineClient> {
    const smtp = await LineClient.connect(port);
    await smtp.line();
    assert.equal((await smtp.smtp('EHLO crepes.fr')).code, 250);
    if (login) assert.equal((await smtp.smtp(`AUTH PLAIN ${Buffer.from(`\0${BOB}\0${BOB_PASSWORD}`).toString('base64')}`)).code, 235);
    assert.equal((await smtp.smtp(`MAIL FROM:<${from}>`)).code, 250);
    assert.equal((await smtp.smtp(`RCPT TO:<${to}>`)).code, 250);
    assert.equal((await smtp.smtp('DATA')).code, 354);
    return smtp;
  }

  function endData(smtp: LineClient, subject: string, from: string, to: string): () => Promise<string> {
    return async () => {
      for (const line of [`From: <${from}>`, `To: <${to}>`, `Subject: ${subject}`, `Message-ID: <${subject}@crepes.fr>`, '', 'A line.', 'x'.repeat(5000)]) smtp.send(line);
      const reply = await smtp.smtp('.');
      await smtp.smtp('QUIT').catch(() => undefined);
      smtp.close();
      return reply.lines.join(' ');
    };
  }

  const SMTP_REFUSED: Record<Kind, RegExp> = {
    'no-space': /^452 4\.3\.1 /,
    io: /^451 4\.3\.0 /,
    'sync-no-space': /^(452 4\.3\.1|451 4\.3\.0) /,
  };
  const IMAP_REFUSED: Record<Kind, RegExp> = {
    'no-space': /^\w+ NO \[OVERQUOTA\] /,
    io: /^\w+ NO \[SERVERBUG\] /,
    'sync-no-space': /^\w+ NO \[(OVERQUOTA|SERVERBUG)\] /,
  };

  const operations: Operation[] = [
    {
      name: 'SMTP DATA',
      refused: SMTP_REFUSED,
      accepted: /^250 2\.0\.0 /,
      prepare: async (id) => endData(await smtpUpTo(wharf.ports.smtp!, false, 'alice@crepes.fr', BOB), id, 'alice@crepes.fr', BOB),
      visible: (id) => searchSubject('INBOX', id),
    },
    {
      name: 'submission to the queue',
      refused: SMTP_REFUSED,
      accepted: /^250 2\.0\.0 /,
      prepare: async (id) => endData(await smtpUpTo(wharf.ports.submission!, true, BOB, REMOTE), id, BOB, REMOTE),
      async visible(id) {
        const queue = await wharf.cli(['queue', 'list']);
        assert.equal(queue.code, 0, queue.stderr);
        const inSent = await searchSubject('Sent', id);
        // The queue holds the message exactly when its Sent copy is there (one transaction).
        const queued = queue.stdout.split('\n').filter((l) => l.includes(REMOTE)).length;
        assert.equal(queued > countQueued, inSent, `queue (${queued} lines for ${REMOTE}) and Sent copy disagree`);
        countQueued = queued;
        return inSent;
      },
    },
    {
      name: 'IMAP APPEND',
      refused: IMAP_REFUSED,
      accepted: /^a1 OK \[APPENDUID /,
      async prepare(id) {
        const imap = await ImapClient.connect(wharf.ports.imap!);
        await imap.login(BOB, BOB_PASSWORD);
        return async () => {
          const message = `From: <alice@crepes.fr>\r\nSubject: ${id}\r\n\r\n${'y'.repeat(3000)}\r\n`;
          imap.send(`a1 APPEND INBOX {${Buffer.byteLength(message)}+}\r\n${message}\r\n`);
          const r = await imap.complete('a1');
          imap.close();
          return r.tagged;
        };
      },
      visible: (id) => searchSubject('INBOX', id),
    },
    {
      name: 'IMAP flag STORE',
      refused: IMAP_REFUSED,
      accepted: /^\w+ OK /,
      async prepare(id) {
        const imap = await ImapClient.connect(wharf.ports.imap!);
        await imap.login(BOB, BOB_PASSWORD);
        assert.match((await imap.command('SELECT INBOX')).tagged, /OK/);
        return async () => {
          const r = await imap.command(`STORE 1 +FLAGS ($${id.replace(/\W/g, '')})`);
          imap.close();
          return r.tagged;
        };
      },
      visible: (id) =>
        imapLook('INBOX', async (imap) => (await imap.command('FETCH 1 (FLAGS)')).untagged.join(' ').includes(`$${id.replace(/\W/g, '')}`)),
    },
    {
      name: 'IMAP COPY',
      refused: IMAP_REFUSED,
      accepted: /^\w+ OK \[COPYUID /,
      async prepare() {
        const imap = await ImapClient.connect(wharf.ports.imap!);
        await imap.login(BOB, BOB_PASSWORD);
        assert.match((await imap.command('SELECT INBOX')).tagged, /OK/);
        return async () => {
          const r = await imap.command('COPY 1 Archive');
          imap.close();
          return r.tagged;
        };
      },
      async visible() {
        const copies = await imapLook('Archive', async (imap) => {
          const status = await imap.command('STATUS Archive (MESSAGES)');
          return Number(/MESSAGES (\d+)/.exec(status.untagged.join(' '))![1]);
        });
        const grew = copies > countCopied;
        countCopied = copies;
        return grew;
      },
    },
    {
      name: 'FTP STOR',
      refused: { 'no-space': /^452 /, io: /^451 /, 'sync-no-space': /^452 / },
      accepted: /^226 /,
      async prepare(id) {
        const ftp = await FtpTestClient.connect(wharf.ports.ftp!);
        await ftp.login(BOB, BOB_PASSWORD);
        const data = await ftp.openPassive();
        assert.equal((await ftp.cmd(`STOR ${id}.txt`)).code, 150);
        return async () => {
          await writeAndEnd(data, `${id}\n${'z'.repeat(200_000)}\n`);
          const r = await ftp.reply();
          await ftp.cmd('QUIT').catch(() => undefined);
          ftp.close();
          return r.lines.join(' ');
        };
      },
      visible: async (id) => (await userFiles()).some((f) => path.basename(f) === `${id}.txt`),
    },
  ];

  before(async () => {
    fifoDir = await makeTempDir('wharf-fiu-');
    // The preload library's control FIFOs are made next to this prefix, named by the pid.
    wharf = await startWharf({ sqlite: true, wrapper: ['fiu-run', '-x', '-f', path.join(fifoDir, 'fiu')] });
    await addBob(wharf);
    await imapLook('INBOX', async (imap) => assert.match((await imap.command('CREATE Archive')).tagged, / OK |ALREADYEXISTS/));
    // Something to flag and copy, and the baseline of every count.
    const first = await operations[0]!.prepare('fault-first');
    assert.match(await first(), /^250 /);
  });
  after(async () => {
    await wharf?.stop();
    await wharf?.removeData();
    if (fifoDir) await removeDir(fifoDir);
    if (faultsSeen.length > 0) process.stdout.write(`# faults injected:\n${faultsSeen.map((l) => `#   ${l}\n`).join('')}`);
  });

  for (const fault of FAULTS) {
    it(`${fault.label}: a temporary failure, nothing visible, then served again`, async () => {
      for (const op of operations) {
        const id = `fault-${op.name.split(' ')[0]!.toLowerCase()}-${fault.label.replace(/\W/g, '')}-${Date.now().toString(36)}`;
        const before = await snapshot();
        const step = await op.prepare(id);
        enable(fault);
        let reply: string;
        try {
          reply = await step();
        } finally {
          disable(fault);
        }
        assert.ok(wharf.alive(), `wharf serve died under ${fault.label} during ${op.name}: ${wharf.stderr()}`);
        assert.match(reply, op.refused[fault.kind], `${op.name} under ${fault.label}`);
        assert.deepEqual(await snapshot(), before, `${op.name} under ${fault.label} left something visible`);
        assert.equal(await op.visible(id), false, `${op.name} under ${fault.label}: refused, yet visible`);

        // The fault has cleared: the same operation works, on the same server process.
        const retry = await op.prepare(id);
        const accepted = await retry();
        assert.match(accepted, op.accepted, `${op.name} after ${fault.label} cleared`);
        assert.equal(await op.visible(id), true, `${op.name} after ${fault.label} cleared: accepted, yet not visible`);
        faultsSeen.push(`${fault.label.padEnd(14)} ${op.name.padEnd(24)} -> ${reply.slice(0, 60)} | nothing visible | retry: ${accepted.slice(0, 30)}`);
      }
    });
  }
});
