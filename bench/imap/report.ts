/** The IMAP benchmark's printed report: one table per scenario, and the ratios wharf/dovecot. */
import { fmt, median } from '../lib/common.js';
import type { TreeMemory } from '../lib/proc-memory.js';
import type { BigSummary } from './big-mailbox.js';
import type { SessionsSummary } from './idle-sessions.js';
import { MIX, type MixedSummary } from './mixed-load.js';

interface Named<T> {
  name: string;
  summary: T;
}

export interface Results {
  mixed: Named<MixedSummary>[];
  memory: Named<SessionsSummary>[];
  big: Named<BigSummary>[];
}

export interface ReportParams {
  durationS: number;
  warmupS: number;
  clients: number;
  messages: number;
  sessions: number;
  bigMessages: number;
  rounds: number;
}

const mib = (kib: number) => fmt(kib / 1024);

/** "ratio wharf/dovecot = x" of a figure, when both servers have it. */
function ratio<T>(rows: Named<T>[], figure: (s: T) => number, what: string, lowerIsBetter = false): string | null {
  const w = rows.find((r) => r.name === 'wharf');
  const d = rows.find((r) => r.name === 'dovecot');
  if (!w || !d) return null;
  const [a, b] = [figure(w.summary), figure(d.summary)];
  if (!(b > 0) || !Number.isFinite(a)) return null;
  return `ratio wharf/dovecot ${what} = ${(a / b).toFixed(2)}${lowerIsBetter ? ' (lower is better for Wharf)' : ''}`;
}

function mixedReport(rows: Named<MixedSummary>[], p: ReportParams): string[] {
  const lines = ['', `IMAP mixed load: ${p.clients} clients, ${p.messages}-message INBOX, ${p.durationS} s measured after ${p.warmupS} s warm-up`];
  lines.push(`  mix (weight): ${MIX.map((m) => `${m.kind} ${m.weight}`).join(', ')}`);
  lines.push(`${'server'.padEnd(9)}${'ops/s'.padStart(10)}${'ops'.padStart(9)}${'errors'.padStart(8)}${'IDLE wakes'.padStart(12)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'missed'.padStart(8)}`);
  for (const { name, summary: s } of rows) {
    lines.push(`${name.padEnd(9)}${fmt(s.opsPerSecond).padStart(10)}${String(s.ops).padStart(9)}${String(s.errors).padStart(8)}${String(s.idleWake.count).padStart(12)}${fmt(s.idleWake.p50, 2).padStart(9)}${fmt(s.idleWake.p99, 2).padStart(9)}${String(s.idleWake.missed).padStart(8)}`);
  }
  lines.push(`${'per operation'.padEnd(16)}${rows.map((r) => `${r.name.padStart(10)}: count    p50 ms    p99 ms`).join('')}`);
  for (const { kind } of MIX) {
    let line = kind.padEnd(16);
    for (const r of rows) {
      const k = r.summary.perKind[kind]!;
      line += `${String(k.count).padStart(17)}${fmt(k.p50, 2).padStart(10)}${fmt(k.p99, 2).padStart(10)}`;
    }
    lines.push(line);
  }
  for (const { name, summary: s } of rows) {
    for (const [msg, n] of Object.entries(s.errorSamples)) lines.push(`  ${name} error x${n}: ${msg}`);
    if (s.appendsWithoutUid > 0) lines.push(`  ${name}: ${s.appendsWithoutUid} APPENDs had no APPENDUID; their UIDs were found with UID SEARCH HEADER (extra commands)`);
  }
  const r = ratio(rows, (s) => s.opsPerSecond, 'ops/s');
  if (r) lines.push(r);
  return lines;
}

function memoryLine(m: TreeMemory): string {
  return `${String(m.processes).padStart(6)}${mib(m.rssKiB).padStart(11)}${mib(m.pssKiB).padStart(11)}`;
}

function memoryReport(rows: Named<SessionsSummary>[], p: ReportParams): string[] {
  const lines = ['', `IMAP memory: ${p.sessions} sessions, each LOGIN + SELECT INBOX (${p.messages} messages) + IDLE; the server process and all its children`];
  lines.push(`${'server'.padEnd(9)}${'idle'.padStart(7)}${'procs'.padStart(7)}${'RSS MiB'.padStart(11)}${'PSS MiB'.padStart(11)}${'  before: procs'.padStart(16)}${'RSS MiB'.padStart(11)}${'PSS MiB'.padStart(11)}${'PSS KiB/session'.padStart(17)}`);
  for (const { name, summary: s } of rows) {
    const perSession = s.alive > 0 ? (s.after.pssKiB - s.before.pssKiB) / s.alive : NaN;
    lines.push(`${name.padEnd(9)}${String(s.alive).padStart(7)}${memoryLine(s.after)}${' '.repeat(4)}${memoryLine(s.before)}${fmt(perSession).padStart(17)}`);
    const parts = Object.entries(s.after.byName).sort((a, b) => b[1].pssKiB - a[1].pssKiB);
    lines.push(`  ${name} by process: ${parts.map(([n, v]) => `${n} x${v.processes} ${mib(v.pssKiB)} MiB PSS`).join(', ')}`);
    if (s.rootSplit) {
      const { before: b, after: a } = s.rootSplit;
      lines.push(`  ${name} main process RSS: anonymous ${mib(a.anonKiB)} MiB + file-backed (code) ${mib(a.fileKiB)} MiB; before: ${mib(b.anonKiB)} + ${mib(b.fileKiB)} MiB`);
    }
    if (s.alive < s.wanted) lines.push(`  ${name}: WARNING only ${s.alive} of ${s.wanted} sessions idle at the reading (${s.opened} opened, ${s.failed} failed${s.stoppedForMemory ? ', stopped: the machine ran low on memory' : ''})`);
    for (const [msg, n] of Object.entries(s.failureSamples)) lines.push(`  ${name} failure x${n}: ${msg}`);
    lines.push(`  ${name}: sessions opened in ${fmt(s.openSeconds)} s (untimed setup: includes each LOGIN's password check)`);
  }
  for (const r of [ratio(rows, (s) => s.after.rssKiB, 'RSS', true), ratio(rows, (s) => s.after.pssKiB, 'PSS', true)]) if (r) lines.push(r);
  return lines;
}

function bigReport(rows: Named<BigSummary>[], p: ReportParams): string[] {
  const lines = ['', `IMAP big mailbox: ${p.bigMessages}-message INBOX, fresh session each round, median of ${p.rounds} rounds after one warm-up round`];
  lines.push(`${'server'.padEnd(9)}${'SELECT ms'.padStart(12)}${'UID FETCH 1:* (FLAGS) ms'.padStart(27)}${'SEARCH TEXT ms'.padStart(17)}${'found'.padStart(8)}`);
  const figures = {
    select: (s: BigSummary) => median(s.rounds.map((r) => r.selectMs)),
    fetch: (s: BigSummary) => median(s.rounds.map((r) => r.fetchFlagsMs)),
    search: (s: BigSummary) => median(s.rounds.map((r) => r.searchTextMs)),
  };
  for (const { name, summary: s } of rows) {
    lines.push(`${name.padEnd(9)}${fmt(figures.select(s)).padStart(12)}${fmt(figures.fetch(s)).padStart(27)}${fmt(figures.search(s)).padStart(17)}${String(s.rounds[0]?.found ?? 0).padStart(8)}`);
  }
  for (const [what, f] of Object.entries(figures)) {
    const r = ratio(rows, f, `${what} time`, true);
    if (r) lines.push(r);
  }
  return lines;
}

export function printReport(results: Results, p: ReportParams): void {
  const lines: string[] = [];
  if (results.mixed.length > 0) lines.push(...mixedReport(results.mixed, p));
  if (results.memory.length > 0) lines.push(...memoryReport(results.memory, p));
  if (results.big.length > 0) lines.push(...bigReport(results.big, p));
  process.stdout.write(lines.join('\n') + '\n');
}
