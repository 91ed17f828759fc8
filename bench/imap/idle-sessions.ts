/**
 * The memory scenario: open many sessions that each LOGIN, SELECT INBOX and IDLE, then read the
 * whole server's memory (the server process and all its descendants) and compare it with the
 * same reading taken before the sessions opened.
 *
 * Sessions open a bounded number at a time. The opening stops early, and says so, when the
 * machine's available memory falls under a floor, so a server that needs more than the machine
 * has cannot take the machine down with it.
 */
import { readFile } from 'node:fs/promises';
import { sleep } from '../lib/common.js';
import { ImapConnection, openImapSession } from '../lib/imap-client.js';
import { memAvailableKiB, treeMemory, type TreeMemory } from '../lib/proc-memory.js';

export interface SessionsOptions {
  host: string;
  port: number;
  user: string;
  pass: string;
  sessions: number;
  /** Sessions being opened at once. */
  concurrency: number;
  serverPid: number;
  /** Stop opening sessions when MemAvailable falls under this, MiB. */
  minFreeMiB: number;
  /** Wait after the last session is idle, before reading memory, ms. */
  settleMs: number;
  timeoutMs: number;
  label: string;
  log: (msg: string) => void;
}

export interface SessionsSummary {
  label: string;
  wanted: number;
  opened: number;
  /** Sessions still open when memory was read. */
  alive: number;
  failed: number;
  failureSamples: Record<string, number>;
  stoppedForMemory: boolean;
  openSeconds: number;
  before: TreeMemory;
  after: TreeMemory;
  /**
   * The server process's own resident memory split (Linux /proc/PID/status): anonymous (heaps,
   * stacks, caches: what sessions and data cost) and file-backed (the program's and libraries'
   * code, shared with any other process running them). Absent where /proc has no such fields.
   */
  rootSplit?: { before: ResidentSplit; after: ResidentSplit };
}

export interface ResidentSplit {
  anonKiB: number;
  fileKiB: number;
}

async function residentSplit(pid: number): Promise<ResidentSplit | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
    const file = /^RssFile:\s+(\d+) kB/m.exec(status);
    return anon && file ? { anonKiB: Number(anon[1]), fileKiB: Number(file[1]) } : undefined;
  } catch {
    return undefined;
  }
}

export async function runSessions(o: SessionsOptions): Promise<SessionsSummary> {
  const before = await treeMemory(o.serverPid);
  const splitBefore = await residentSplit(o.serverPid);
  const open: ImapConnection[] = [];
  const failureSamples = new Map<string, number>();
  let failed = 0;
  let next = 0;
  let stoppedForMemory = false;
  const t0 = performance.now();

  const openOne = async (): Promise<void> => {
    let conn: ImapConnection | null = null;
    try {
      conn = await openImapSession(o.host, o.port, o.user, o.pass, o.timeoutMs);
      await conn.ok('SELECT INBOX');
      await conn.idle();
      open.push(conn);
    } catch (err) {
      conn?.destroy();
      failed++;
      const key = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
      failureSamples.set(key, (failureSamples.get(key) ?? 0) + 1);
    }
  };

  const worker = async () => {
    while (next < o.sessions && !stoppedForMemory && failed < Math.max(100, o.sessions / 10)) {
      const n = ++next;
      if (n % 100 === 0) {
        if ((await memAvailableKiB()) < o.minFreeMiB * 1024) {
          stoppedForMemory = true;
          o.log(`${o.label}: machine's available memory under ${o.minFreeMiB} MiB after ${open.length} sessions; opening no more`);
          break;
        }
        if (n % 1000 === 0) o.log(`${o.label}: ${open.length} sessions idle, ${failed} failed`);
      }
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.sessions) }, worker));
  const openSeconds = (performance.now() - t0) / 1000;
  await sleep(o.settleMs);
  const after = await treeMemory(o.serverPid);
  const splitAfter = await residentSplit(o.serverPid);
  const alive = open.filter((c) => !c.closed).length;
  // The server is stopped next; closing the sockets is all the goodbye these sessions need.
  for (const c of open) c.destroy();
  return {
    label: o.label,
    wanted: o.sessions,
    opened: open.length,
    alive,
    failed,
    failureSamples: Object.fromEntries(failureSamples),
    stoppedForMemory,
    openSeconds,
    before,
    after,
    rootSplit: splitBefore && splitAfter ? { before: splitBefore, after: splitAfter } : undefined,
  };
}
