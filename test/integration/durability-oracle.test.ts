/**
 * The durability oracle: `wharf serve` runs under `strace -f`, one success of each kind is
 * driven (SMTP 250 after DATA, IMAP OK after APPEND, FTP 226 after STOR), and the trace must
 * show, for each success reply, that every store file written since the last byte of the data
 * was read from the client was fsync'd (fsync or fdatasync) after its last write and before
 * the reply was written to the socket — and a name put in place by rename was made durable by
 * an fsync of its folder. So synchronous=NORMAL without the WAL fsync, a lost group-commit
 * flush or a skipped file or folder fsync fails here.
 *
 * strace -f -ttt orders the calls of every thread (event loop, libuv's thread pool, worker
 * threads) on one clock; -y names the file behind each descriptor. The oracle is shown to
 * be able to fail: the fsyncs of a file it relied on are taken out of the trace, and the
 * oracle must then refuse that success.
 *
 * SQLite and the local file store only: on PostgreSQL the database server does the fsync.
 */
import assert from 'node:assert/strict';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { LineClient } from '../helpers/line-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { FtpTestClient, writeAndEnd } from '../ftp/ftp-client.js';
import { ImapClient } from '../imap/harness.js';
import { BOB_PASSWORD, addBob } from './setup.js';

const BOB = 'bob@hamburger.edu';

const READS = new Set(['read', 'readv', 'recvfrom', 'recvmsg']);
const WRITES = new Set(['write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'sendto', 'sendmsg']);
const SYNCS = new Set(['fsync', 'fdatasync']);
const RENAMES = new Set(['rename', 'renameat', 'renameat2', 'link', 'linkat']);
const TRACED = [...READS, ...WRITES, ...SYNCS, ...RENAMES].join(',');

/** One system call from the trace. */
interface Call {
  tid: number;
  start: number;
  end: number;
  name: string;
  /** The file or socket behind the first argument (strace -y), if it is a descriptor. */
  target: string | null;
  args: string;
  result: number;
}

/** Parses `strace -f -ttt -y` output, joining `<unfinished ...>` and `<... resumed>` halves. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<number, { start: number; name: string; head: string }>();
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const tid = Number(m[1]);
    const at = Number(m[2]);
    let rest = m[3]!;
    let start = at;
    let name: string;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const head = pending.get(tid);
      pending.delete(tid);
      if (!head) continue;
      ({ start, name } = head);
      rest = head.head + resumed[2]!;
    } else {
      const call = /^(\w+)\((.*)$/.exec(rest);
      if (!call) continue; // signals, exits
      name = call[1]!;
      if (rest.endsWith('<unfinished ...>')) {
        pending.set(tid, { start: at, name, head: `${name}(${call[2]!.replace(/\s*<unfinished \.\.\.>$/, '')}` });
        continue;
      }
    }
    const parsed = /^\w+\((.*)\)\s+=\s+(-?\d+)/.exec(rest);
    if (!parsed) continue;
    const args = parsed[1]!;
    const target = /^\d+<(.*?)>(?:,|$)/.exec(args)?.[1] ?? null;
    calls.push({ tid, start, end: at, name, target, args, result: Number(parsed[2]) });
  }
  return calls.sort((a, b) => a.start - b.start);
}

interface Success {
  label: string;
  /** Text at the start of the reply written to the client. */
  reply: string;
  /** Text the client's data starts with (found in a read from the data's socket). */
  dataMarker: string;
}

/**
 * Why the trace does not show `success` was durable before its reply, or null when it does.
 * `storeDir` is the data folder; `mainTid` the event loop's thread.
 */
function durabilityProblem(calls: Call[], success: Success, storeDir: string, mainTid: number): string | null {
  const reply = calls.find((c) => WRITES.has(c.name) && c.target?.startsWith('socket:') && c.result > 0 && c.args.includes(`"${success.reply}`));
  if (!reply) return `no reply starting "${success.reply}" written to a socket`;
  const firstData = calls.find((c) => READS.has(c.name) && c.target?.startsWith('socket:') && c.result > 0 && c.args.includes(success.dataMarker));
  if (!firstData) return `the data (${success.dataMarker}) was never read from a socket`;
  const dataReads = calls.filter((c) => READS.has(c.name) && c.target === firstData.target && c.result > 0 && c.end <= reply.start);
  const lastRead = dataReads[dataReads.length - 1]!;
  const inWindow = (c: Call) => c.start >= lastRead.end && c.end <= reply.start;
  const storeFile = (p: string | null): p is string => p !== null && p.startsWith(`${storeDir}/`) && !p.endsWith('-shm');
  const isSqlite = (p: string) => /\/wharf\.db(-wal)?$/.test(p);

  // What had to reach the disk: every store file written after the data was read — the
  // database's files only where this event loop wrote them (a checkpoint or the search index
  // writes on their own threads and sync by their own rules) — and every name renamed into place.
  const lastWrite = new Map<string, number>();
  for (const c of calls) {
    if (!WRITES.has(c.name) || !inWindow(c) || !storeFile(c.target)) continue;
    if (isSqlite(c.target) && (c.tid !== mainTid || c.target.endsWith('/wharf.db'))) continue;
    lastWrite.set(c.target, Math.max(lastWrite.get(c.target) ?? 0, c.end));
  }
  for (const c of calls) {
    if (!RENAMES.has(c.name) || !inWindow(c) || c.result !== 0) continue;
    const names = [...c.args.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    const placed = names[names.length - 1];
    if (placed && placed.startsWith(`${storeDir}/`)) lastWrite.set(path.dirname(placed), Math.max(lastWrite.get(path.dirname(placed)) ?? 0, c.end));
  }
  if (lastWrite.size === 0) return `nothing was written to the store between the last read of the data and "${success.reply}"`;
  for (const [file, writtenAt] of lastWrite) {
    const synced = calls.some((c) => SYNCS.has(c.name) && c.target === file && c.result === 0 && c.start >= writtenAt && c.end <= reply.start);
    if (!synced) return `${path.relative(storeDir, file) || '.'} was written at ${writtenAt} but not fsync'd before "${success.reply}" at ${reply.start}`;
  }
  return null;
}

/** The fsyncs between the data and the reply that the oracle could have relied on. */
function syncsInWindow(calls: Call[], success: Success, storeDir: string): Call[] {
  const reply = calls.find((c) => WRITES.has(c.name) && c.target?.startsWith('socket:') && c.args.includes(`"${success.reply}`))!;
  const firstData = calls.find((c) => READS.has(c.name) && c.target?.startsWith('socket:') && c.result > 0 && c.args.includes(success.dataMarker))!;
  const reads = calls.filter((c) => READS.has(c.name) && c.target === firstData.target && c.result > 0 && c.end <= reply.start);
  const from = reads[reads.length - 1]!.end;
  return calls.filter((c) => SYNCS.has(c.name) && c.target?.startsWith(`${storeDir}/`) && c.start >= from && c.end <= reply.start);
}

describe('durability oracle: an fsync between the data and every success reply (strace)', () => {
  let wharf: WharfProcess;
  let traceDir: string;
  let calls: Call[];
  let storeDir: string;
  let mainTid: number;
  const id = `oracle-${Date.now().toString(36)}`;
  const successes: Success[] = [
    { label: 'SMTP DATA', reply: '250 2.0.0 Ok: queued as', dataMarker: `Subject: ${id}-smtp` },
    { label: 'IMAP APPEND', reply: 'a1 OK [APPENDUID', dataMarker: `Subject: ${id}-imap` },
    { label: 'FTP STOR', reply: '226 ', dataMarker: `${id}-ftp` },
  ];

  before(async () => {
    traceDir = await makeTempDir('wharf-strace-');
    const traceFile = path.join(traceDir, 'trace');
    wharf = await startWharf({
      sqlite: true,
      readyTimeoutMs: 90_000,
      wrapper: ['strace', '-f', '-ttt', '-y', '-s', '96', '-e', `trace=${TRACED}`, '-o', traceFile],
    });
    storeDir = await realpath(wharf.dataDir);
    // strace runs wharf as its child: that is the process to stop, and its pid names the event loop's thread.
    mainTid = Number((await readFile(`/proc/${wharf.pid}/task/${wharf.pid}/children`, 'utf8')).trim().split(' ')[0]);
    assert.ok(mainTid > 0, 'wharf serve under strace not found');
    await addBob(wharf);

    const smtp = await LineClient.connect(wharf.ports.smtp!);
    await smtp.line();
    assert.equal((await smtp.smtp('HELO crepes.fr')).code, 250);
    assert.equal((await smtp.smtp('MAIL FROM:<alice@crepes.fr>')).code, 250);
    assert.equal((await smtp.smtp(`RCPT TO:<${BOB}>`)).code, 250);
    assert.equal((await smtp.smtp('DATA')).code, 354);
    for (const line of [`Subject: ${id}-smtp`, '', 'x'.repeat(3000)]) smtp.send(line);
    assert.equal((await smtp.smtp('.')).code, 250);
    await smtp.smtp('QUIT');
    smtp.close();

    const imap = await ImapClient.connect(wharf.ports.imap!);
    await imap.login(BOB, BOB_PASSWORD);
    const message = `Subject: ${id}-imap\r\n\r\n${'y'.repeat(3000)}\r\n`;
    imap.send(`a1 APPEND INBOX {${Buffer.byteLength(message)}+}\r\n${message}\r\n`);
    assert.match((await imap.complete('a1')).tagged, /^a1 OK \[APPENDUID/);
    imap.close();

    const ftp = await FtpTestClient.connect(wharf.ports.ftp!);
    await ftp.login(BOB, BOB_PASSWORD);
    const data = await ftp.openPassive();
    assert.equal((await ftp.cmd(`STOR ${id}.txt`)).code, 150);
    await writeAndEnd(data, `${id}-ftp\n${'z'.repeat(300_000)}\n`);
    assert.equal((await ftp.reply()).code, 226);
    await ftp.cmd('QUIT');
    ftp.close();

    // Stop wharf itself (strace passes no signal on) and let strace finish the trace.
    process.kill(mainTid, 'SIGTERM');
    assert.equal(await wharf.exited, 0, wharf.stderr());
    calls = parseTrace(await readFile(traceFile, 'utf8'));
  });
  after(async () => {
    if (wharf?.alive()) await wharf.stop('SIGKILL');
    await wharf?.removeData();
    if (traceDir) await removeDir(traceDir);
  });

  for (const success of successes) {
    it(`${success.label}: durable before its success reply, and the oracle notices a missing fsync`, () => {
      assert.equal(durabilityProblem(calls, success, storeDir, mainTid), null);
      // A skipped flush must be noticed: without the fsyncs of some file it had to see synced
      // (the WAL; the upload's file or its folder), it objects. (A single fsync can be
      // redundant: a checkpoint running meanwhile syncs the WAL too.)
      const syncs = syncsInWindow(calls, success, storeDir);
      assert.ok(syncs.length > 0);
      const files = [...new Set(syncs.map((s) => s.target!))];
      const noticed = files.filter((f) => durabilityProblem(calls.filter((c) => !(syncs.includes(c) && c.target === f)), success, storeDir, mainTid) !== null);
      assert.ok(noticed.length > 0, `taking out the fsyncs of any one file went unnoticed for ${success.label}: ${files.join(', ')}`);
      // Without any of them, it refuses.
      const none = calls.filter((c) => !syncs.includes(c));
      assert.match(durabilityProblem(none, success, storeDir, mainTid) ?? '', /not fsync'd/);
    });
  }
});
