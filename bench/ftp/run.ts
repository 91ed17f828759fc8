/**
 * File-transfer benchmark: Wharf's FTP against vsftpd and Wharf's SFTP against OpenSSH's
 * internal-sftp, on the same machine, with the same client (curl) on every side:
 *
 *   1. one large file up (STOR / SFTP write), then the same file down (RETR / SFTP read,
 *      into /dev/null so the client's disk does not count);
 *   2. N files of 4 KiB up in one session (curl reuses the connection for every URL in its
 *      config file).
 *
 * Prints MB/s and files/s per server and the ratios wharf/peer, the large upload of each peer
 * also made durable (its upload time plus an fsync of the file, which Wharf does before its
 * 226 and the peers never do), and Wharf's peak resident
 * memory during the large transfers (VmRSS polled every 50 ms, and VmHWM). Targets: ≥ 0.9×
 * vsftpd on the large download, ≥ 0.8× on the large upload (Wharf fsyncs before 226, vsftpd
 * does not), ≥ 1.0× on the small files, ≥ 1.0× OpenSSH for SFTP, < 100 MB peak RSS.
 *
 *   node dist/bench/ftp/run.js [--size MiB (1024)] [--files N (1000)] [--rounds N (1)]
 *        [--only wharf|vsftpd|openssh (comma-separated)] [--keep]
 *
 * With --rounds N every server is measured N times, taking turns (Wharf, vsftpd, OpenSSH, then
 * OpenSSH, vsftpd, Wharf, and so on), and the report gives each round's figures and then the
 * median of each figure, from which the ratios are taken: on a shared machine one run can be
 * 30% off either way.
 *
 * Runs as root: vsftpd and sshd are started privately (high ports, configuration in the work
 * directory) and log in a throwaway system account `wharfbench` (created when missing, given
 * a random password per run, locked afterwards). See peers.ts for why. The large file lives
 * in the work directory (bench/.work, the repository's disk; BENCH_WORKDIR moves it) and is
 * deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { canConnect, fmt, freePort, intOption, log, makeWorkDir, median, removeDir, requireRoot, run, runMain, runSide, settle, waitFor } from '../lib/common.js';
import { startWharf } from '../lib/wharf.js';
import { prepareAccount, startSshd, startVsftpd } from './peers.js';

const DOMAIN = 'bench.test';
const WHARF_USER = { address: `files@${DOMAIN}`, password: 'bench-files-pass-1' };
const SMALL_SIZE = 4096;

interface Measurement {
  server: string;
  protocol: 'ftp' | 'sftp';
  uploadMBps: number;
  /**
   * The large upload made durable: for a peer, its upload time plus an fsync of the uploaded
   * file run by the bench right after (what Wharf does before its 226); for Wharf the same as
   * uploadMBps.
   */
  durableUploadMBps: number;
  downloadMBps: number;
  filesPerS: number;
  /** Wharf only: VmRSS just before the large upload, peak VmRSS seen during the large transfers, and VmHWM, in MiB. */
  baseRssMiB?: number;
  peakRssMiB?: number;
  hwmMiB?: number;
  /** Wharf only: peak VmRSS during the first login of the measurement, in MiB. */
  loginPeakRssMiB?: number;
}

interface Target {
  server: string;
  protocol: 'ftp' | 'sftp';
  /** URL prefix of the directory uploads go to, ending in "/". */
  base: string;
  user: string;
  password: string;
  /** Wharf's pid, to watch its memory. */
  pid?: number;
  /**
   * A peer's upload folder on disk: its large file is fsync'd there after the upload for the
   * durable figure, and deleted there after the download (Wharf's is deleted through the protocol).
   */
  uploadDir?: string;
}

runMain(async () => {
  const { values } = parseArgs({
    options: { size: { type: 'string' }, files: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' }, keep: { type: 'boolean', default: false } },
    strict: true,
  });
  const sizeMiB = intOption(values.size, 'BENCH_FTP_SIZE_MIB', 1024, 1, 65536);
  const fileCount = intOption(values.files, 'BENCH_FTP_FILES', 1000, 1, 100_000);
  const rounds = intOption(values.rounds, 'BENCH_FTP_ROUNDS', 1, 1, 20);
  const only = new Set((values.only ?? 'wharf,vsftpd,openssh').split(',').map((s) => s.trim()));
  for (const name of only) if (!['wharf', 'vsftpd', 'openssh'].includes(name)) throw new Error('--only takes wharf, vsftpd or openssh (comma-separated)');
  if (only.has('vsftpd') || only.has('openssh')) requireRoot('the vsftpd and OpenSSH sides of this benchmark');

  const work = await makeWorkDir('ftp');
  log(`work directory ${work}`);
  const big = join(work, 'big.bin');
  await makeBigFile(big, sizeMiB);
  const smallDir = join(work, 'small');
  await mkdir(smallDir);
  for (let i = 0; i < fileCount; i++) await writeFile(join(smallDir, smallName(i)), randomBytes(SMALL_SIZE));
  log(`made a ${sizeMiB} MiB file and ${fileCount} files of ${SMALL_SIZE} bytes`);

  const results: Measurement[] = [];
  const failures: string[] = [];
  const bench = { work, big, bigBytes: sizeMiB * 1024 * 1024, smallDir, fileCount };

  const account = only.has('vsftpd') || only.has('openssh') ? await prepareAccount(join(work, 'home')) : null;
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}`);
    const sides: Array<() => Promise<void>> = [];
    if (only.has('wharf')) sides.push(() => runSide(failures, 'wharf', async () => {
      const dir = join(work, `wharf-${round}`);
      await mkdir(dir);
      const ftpPort = await freePort();
      const sftpPort = await freePort();
      const wharf = await startWharf({
        dir,
        domain: DOMAIN,
        users: [WHARF_USER],
        // BENCH_WHARF_CONFIG: settings for Wharf's config file, as JSON (e.g. to compare a setting).
        config: process.env.BENCH_WHARF_CONFIG ? (JSON.parse(process.env.BENCH_WHARF_CONFIG) as Record<string, unknown>) : undefined,
        // Plain FTP from loopback, like the vsftpd side (Wharf's default allows it there too).
        env: { WHARF_FTP_PORT: String(ftpPort), WHARF_SFTP_PORT: String(sftpPort) },
      });
      for (const [what, port] of [['FTP', ftpPort], ['SFTP', sftpPort]] as const) {
        await waitFor(`Wharf ${what} on 127.0.0.1:${port}`, 30_000, () => canConnect(port, 500));
      }
      const user = WHARF_USER.address;
      results.push(await measure({ ...bench, round }, { server: 'wharf', protocol: 'ftp', base: `ftp://127.0.0.1:${ftpPort}/`, user, password: WHARF_USER.password, pid: wharf.pid }));
      results.push(await measure({ ...bench, round }, { server: 'wharf', protocol: 'sftp', base: `sftp://127.0.0.1:${sftpPort}/`, user, password: WHARF_USER.password, pid: wharf.pid }));
      await wharf.stop();
    }));
    if (account && only.has('vsftpd')) sides.push(() => runSide(failures, 'vsftpd', async () => {
      const port = await freePort();
      const passiveMin = 40000 + Math.floor(Math.random() * 20000);
      const vsftpd = await startVsftpd({ dir: work, port, account, passiveMin, passiveMax: passiveMin + 100 });
      // local_root is where the login lands: URLs relative to it, as with Wharf.
      results.push(
        await measure({ ...bench, round }, { server: 'vsftpd', protocol: 'ftp', base: `ftp://127.0.0.1:${port}/`, user: account.name, password: account.password, uploadDir: vsftpd.root }),
      );
      await vsftpd.stop();
    }));
    if (account && only.has('openssh')) sides.push(() => runSide(failures, 'openssh', async () => {
      const port = await freePort();
      const sshd = await startSshd({ dir: work, port, account });
      // curl's sftp:// paths are absolute: the account's directory.
      results.push(
        await measure({ ...bench, round }, { server: 'openssh', protocol: 'sftp', base: `sftp://127.0.0.1:${port}${sshd.root}/`, user: account.name, password: account.password, uploadDir: sshd.root }),
      );
      await sshd.stop();
    }));
    // Every other round runs the servers in the opposite order, so that none is always the
    // first to run after the inputs were made or always the one after another's large files
    // (on a virtual machine, memory just freed can cost more to take again than memory in use).
    if (round % 2 === 0) sides.reverse();
    for (const side of sides) await side();
  }

  const floorMs = durableFileFloorMs(join(work, 'floor'), Math.min(fileCount, 500));
  if (rounds > 1) printTable(results, 'Each round, in the order run');
  printReport(rounds > 1 ? medians(results) : results, { sizeMiB, fileCount, rounds, floorMs });
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  if (values.keep || failures.length > 0) {
    await removeDir(big);
    log(`kept work directory ${work} (without the large file)`);
  } else {
    await removeDir(work);
  }
  if (failures.length > 0) process.exitCode = 1;
});

function smallName(i: number): string {
  return `f${String(i).padStart(6, '0')}.bin`;
}

async function makeBigFile(file: string, mib: number): Promise<void> {
  const out = createWriteStream(file);
  // Random bytes, so neither side gains from compression anywhere; 16 MiB reused with a
  // varying first byte keeps generation fast.
  const block = randomBytes(16 * 1024 * 1024);
  for (let done = 0; done < mib; ) {
    const n = Math.min(16, mib - done);
    block[0] = done & 0xff;
    if (!out.write(Buffer.from(block.subarray(0, n * 1024 * 1024)))) await once(out, 'drain');
    done += n;
  }
  out.end();
  await once(out, 'finish');
}

/** A curl config file holding the login, so the password is not on curl's command line. */
async function curlConfig(work: string, t: Target, lines: string[] = []): Promise<string> {
  const file = join(work, `curl-${t.server}-${t.protocol}.conf`);
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  await writeFile(file, [`user = ${q(`${t.user}:${t.password}`)}`, 'silent', 'show-error', 'insecure', ...lines].join('\n') + '\n', { mode: 0o600 });
  return file;
}

/** Runs curl and returns the wall-clock seconds. */
async function timedCurl(config: string, args: string[]): Promise<{ seconds: number; stdout: string }> {
  const t0 = performance.now();
  const { stdout } = await run('curl', ['-K', config, ...args], { timeoutMs: 3_600_000 });
  return { seconds: (performance.now() - t0) / 1000, stdout };
}

/** Polls a process's VmRSS every 50 ms while `body` runs; returns the peak in KiB. */
async function watchRss<T>(pid: number | undefined, body: () => Promise<T>): Promise<{ result: T; peakKiB: number }> {
  let peakKiB = 0;
  const sample = async () => {
    if (pid === undefined) return;
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // exited
    }
  };
  const timer = setInterval(() => void sample(), 50);
  try {
    await sample();
    const result = await body();
    await sample();
    return { result, peakKiB };
  } finally {
    clearInterval(timer);
  }
}

/** Seconds an fsync of `file` takes (the bytes a peer wrote but did not sync yet). */
async function timedFsync(file: string): Promise<number> {
  const t0 = performance.now();
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return (performance.now() - t0) / 1000;
}

async function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
  return m ? Number(m[1]) : NaN;
}

/**
 * The large file goes up under a new name each time, and is deleted once downloaded, on every
 * server alike: no server writes into memory the file it replaces has just given back (vsftpd
 * truncates the file it overwrites; Wharf writes a new file and replaces the old one only once
 * the new one is complete). Fresh memory is what costs on a virtual machine that hands freed
 * memory back to its host (free page reporting): see the README's caveats.
 */
function bigName(t: Target, round: number): string {
  return `big-${t.protocol}-${round}.bin`;
}

async function measure(b: { work: string; big: string; bigBytes: number; smallDir: string; fileCount: number; round: number }, t: Target): Promise<Measurement> {
  const name = `${t.server} ${t.protocol.toUpperCase()}`;
  const file = bigName(t, b.round);
  const config = await curlConfig(b.work, t);
  // Logged in once before the large transfers, on every server alike. A fresh Wharf runs the
  // password through scrypt at the first login (about 32 MiB for a few tens of milliseconds,
  // what makes the hash memory-hard) and caches the success, so the upload's own login costs
  // nothing more; the transfers' figure is then the transfers' memory, and the login's peak is
  // reported beside it.
  const login = await watchRss(t.pid, () => timedCurl(config, ['-o', '/dev/null', t.base]));
  await settle();
  const baseKiB = t.pid !== undefined ? await statusKiB(t.pid, 'VmRSS') : NaN;
  log(`${name}: uploading ${fmt(b.bigBytes / 1048576, 0)} MiB`);
  const up = await watchRss(t.pid, () => timedCurl(config, ['-T', b.big, '-w', '%{size_upload}', `${t.base}${file}`]));
  if (Number(up.result.stdout) !== b.bigBytes) throw new Error(`${name}: curl uploaded ${up.result.stdout} bytes, expected ${b.bigBytes}`);
  const syncSeconds = t.uploadDir ? await timedFsync(join(t.uploadDir, file)) : 0;
  await settle();
  log(`${name}: downloading it`);
  const down = await watchRss(t.pid, () => timedCurl(config, ['-o', '/dev/null', '-w', '%{size_download}', `${t.base}${file}`]));
  if (Number(down.result.stdout) !== b.bigBytes) throw new Error(`${name}: curl downloaded ${down.result.stdout} bytes, expected ${b.bigBytes}`);
  if (t.uploadDir) await rm(join(t.uploadDir, file));
  else await timedCurl(config, ['-o', '/dev/null', '-Q', t.protocol === 'ftp' ? `DELE ${file}` : `rm /${file}`, t.base]);
  await settle();

  log(`${name}: uploading ${b.fileCount} files of ${SMALL_SIZE} bytes in one session`);
  const pairs: string[] = ['ftp-create-dirs'];
  for (let i = 0; i < b.fileCount; i++) pairs.push(`upload-file = "${join(b.smallDir, smallName(i))}"`, `url = "${t.base}small/${smallName(i)}"`);
  const smallConfig = await curlConfig(b.work, { ...t, server: `${t.server}-small` }, pairs);
  const small = await timedCurl(smallConfig, []);
  // The server's own listing is the check that every file arrived.
  const listing = await timedCurl(config, ['-l', `${t.base}small/`]);
  const listed = listing.stdout.split('\n').filter((l) => /^f\d+\.bin$/.test(l.trim())).length;
  if (listed !== b.fileCount) throw new Error(`${name}: ${listed} files listed after the upload, expected ${b.fileCount}`);

  const m: Measurement = {
    server: t.server,
    protocol: t.protocol,
    uploadMBps: b.bigBytes / 1e6 / up.result.seconds,
    durableUploadMBps: b.bigBytes / 1e6 / (up.result.seconds + syncSeconds),
    downloadMBps: b.bigBytes / 1e6 / down.result.seconds,
    filesPerS: b.fileCount / small.seconds,
  };
  if (t.pid !== undefined) {
    m.baseRssMiB = baseKiB / 1024;
    m.peakRssMiB = Math.max(up.peakKiB, down.peakKiB) / 1024;
    m.hwmMiB = (await statusKiB(t.pid, 'VmHWM')) / 1024;
    m.loginPeakRssMiB = login.peakKiB / 1024;
  }
  log(`${name}: up ${fmt(m.uploadMBps)} MB/s, down ${fmt(m.downloadMBps)} MB/s, ${fmt(m.filesPerS)} small files/s${m.peakRssMiB !== undefined ? `, peak RSS ${fmt(m.peakRssMiB)} MiB` : ''}`);
  return m;
}

/** One measurement per server and protocol: the median of each figure over the rounds. */
function medians(results: Measurement[]): Measurement[] {
  const groups = new Map<string, Measurement[]>();
  for (const r of results) {
    const key = `${r.server} ${r.protocol}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  // Memory is watched on Wharf only: the peers' rows have none.
  const optional = (xs: (number | undefined)[]) => (xs.every((x) => x === undefined) ? undefined : median(xs.filter((x): x is number => x !== undefined)));
  return [...groups.values()].map((rs) => ({
    server: rs[0]!.server,
    protocol: rs[0]!.protocol,
    uploadMBps: median(rs.map((r) => r.uploadMBps)),
    durableUploadMBps: median(rs.map((r) => r.durableUploadMBps)),
    downloadMBps: median(rs.map((r) => r.downloadMBps)),
    filesPerS: median(rs.map((r) => r.filesPerS)),
    baseRssMiB: optional(rs.map((r) => r.baseRssMiB)),
    peakRssMiB: optional(rs.map((r) => r.peakRssMiB)),
    hwmMiB: optional(rs.map((r) => r.hwmMiB)),
    loginPeakRssMiB: optional(rs.map((r) => r.loginPeakRssMiB)),
  }));
}

function tableLines(results: Measurement[]): string[] {
  const lines = [`${'server'.padEnd(14)}${'up MB/s'.padStart(10)}${'durable'.padStart(10)}${'down MB/s'.padStart(11)}${'files/s'.padStart(10)}  RSS MiB: before, peak during the large transfers (VmHWM)`];
  for (const r of results) {
    const rss = r.peakRssMiB !== undefined ? `${fmt(r.baseRssMiB ?? NaN)}, ${fmt(r.peakRssMiB)} (${fmt(r.hwmMiB ?? NaN)})` : '';
    lines.push(
      `${`${r.server} ${r.protocol}`.padEnd(14)}${fmt(r.uploadMBps).padStart(10)}${fmt(r.durableUploadMBps).padStart(10)}${fmt(r.downloadMBps).padStart(11)}${fmt(r.filesPerS).padStart(10)}  ${rss}`,
    );
  }
  return lines;
}

function printTable(results: Measurement[], title: string): void {
  process.stdout.write(['', title, ...tableLines(results)].join('\n') + '\n');
}

/**
 * What one small file costs on this disk when it must be durable before the reply, and nothing
 * else: write 4 KiB to a new file, fsync it, rename it into place, fsync the folder, all in
 * one thread with no protocol and no thread pool. Milliseconds per file, over `count` files.
 * The peers do not sync, so this is time they never spend.
 */
function durableFileFloorMs(dir: string, count: number): number {
  mkdirSync(dir, { recursive: true });
  const data = randomBytes(SMALL_SIZE);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const temp = join(dir, `.part-${i}`);
    const fd = openSync(temp, 'wx');
    writeSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, join(dir, smallName(i)));
    const folder = openSync(dir, 'r');
    fsyncSync(folder);
    closeSync(folder);
  }
  return (performance.now() - t0) / count;
}

function printReport(results: Measurement[], p: { sizeMiB: number; fileCount: number; rounds: number; floorMs: number }): void {
  const lines: string[] = [''];
  lines.push(`File transfer, one curl client: a ${p.sizeMiB} MiB file up then down (to /dev/null), ${p.fileCount} files of ${SMALL_SIZE} B up in one session${p.rounds > 1 ? `; the median of ${p.rounds} rounds` : ''}`);
  lines.push(...tableLines(results));
  lines.push('(durable: the large upload plus an fsync of the file; Wharf syncs before its 226, the peers do not, so the bench syncs theirs after)');
  const ratio = (protocol: 'ftp' | 'sftp', peer: string, target: { up: number; down: number; files: number }) => {
    const w = results.find((r) => r.server === 'wharf' && r.protocol === protocol);
    const o = results.find((r) => r.server === peer && r.protocol === protocol);
    if (!w || !o) return;
    const cell = (x: number, goal: number) => `${x.toFixed(2)} (target ≥ ${goal.toFixed(1)}${x >= goal ? ', met' : ', MISSED'})`;
    lines.push(
      `wharf/${peer} ${protocol.toUpperCase()}: upload ${cell(w.uploadMBps / o.uploadMBps, target.up)}, download ${cell(w.downloadMBps / o.downloadMBps, target.down)}, small files ${cell(w.filesPerS / o.filesPerS, target.files)}`,
    );
    lines.push(`  upload against the peer's upload made durable: ${(w.uploadMBps / o.durableUploadMBps).toFixed(2)}`);
  };
  ratio('ftp', 'vsftpd', { up: 0.8, down: 0.9, files: 1.0 });
  ratio('sftp', 'openssh', { up: 1.0, down: 1.0, files: 1.0 });
  // What durability alone costs a small file, against the peers' whole time per file.
  const peers = results.filter((r) => r.server !== 'wharf');
  lines.push(`A durable small file alone (write, fsync, rename, fsync the folder; one thread, no protocol): ${p.floorMs.toFixed(2)} ms on this disk.`);
  if (peers.length > 0) {
    const ms = (r: Measurement) => 1000 / r.filesPerS;
    lines.push(
      `  The peers, which do not sync, take ${peers.map((r) => `${r.server} ${ms(r).toFixed(2)} ms`).join(', ')} per file: a server as fast as them in all else, plus that sync, reaches ${peers.map((r) => `${(ms(r) / (ms(r) + p.floorMs)).toFixed(2)}`).join(' and ')} of their rate.`,
    );
  }
  const wharf = results.filter((r) => r.peakRssMiB !== undefined);
  const peak = Math.max(...wharf.map((r) => r.peakRssMiB!));
  const growth = Math.max(...wharf.map((r) => r.peakRssMiB! - r.baseRssMiB!));
  if (Number.isFinite(peak)) {
    lines.push(`Wharf peak RSS during the large transfers: ${fmt(peak)} MiB, ${fmt(growth)} MiB above its RSS before them (target < 100 MB: ${peak * 1.048576 < 100 ? 'met' : growth * 1.048576 < 100 ? 'met by the growth, not by the whole process' : 'MISSED'})`);
    const loginPeak = Math.max(...wharf.map((r) => r.loginPeakRssMiB ?? 0));
    if (loginPeak > 0) lines.push(`  and during the login before them (a fresh server's first password check, scrypt): ${fmt(loginPeak)} MiB`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
