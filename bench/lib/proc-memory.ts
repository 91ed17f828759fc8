/**
 * Memory of a server, whole: the process and all its descendants (Dovecot is a master with
 * login, mail, auth and helper processes; Wharf is one Node.js process). Linux /proc only.
 *
 * RSS (VmRSS) counts every page a process has mapped, so for many processes it counts shared
 * libraries and shared mappings once per process; PSS (from smaps_rollup) splits each shared
 * page among the processes that share it, so its sum is what the server really occupies.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessMemory {
  pid: number;
  name: string;
  rssKiB: number;
  pssKiB: number;
}

export interface TreeMemory {
  processes: number;
  rssKiB: number;
  pssKiB: number;
  /** Sums by process name (e.g. "imap", "imap-login", "auth", "node"). */
  byName: Record<string, { processes: number; rssKiB: number; pssKiB: number }>;
}

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." — comm may hold spaces and parentheses
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(after[1]);
  } catch {
    return undefined;
  }
}

/** The pid and every descendant of it that is alive now. */
export async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = await parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

function kib(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export async function processMemory(pid: number): Promise<ProcessMemory | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
    let pssKiB = 0;
    try {
      pssKiB = kib(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      // kernel without smaps_rollup: PSS unknown
    }
    return { pid, name, rssKiB: kib(status, 'VmRSS'), pssKiB };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Memory of `root` and all its descendants. */
export async function treeMemory(root: number): Promise<TreeMemory> {
  const out: TreeMemory = { processes: 0, rssKiB: 0, pssKiB: 0, byName: {} };
  for (const pid of await processTree(root)) {
    const m = await processMemory(pid);
    if (!m) continue;
    out.processes++;
    out.rssKiB += m.rssKiB;
    out.pssKiB += m.pssKiB;
    const n = (out.byName[m.name] ??= { processes: 0, rssKiB: 0, pssKiB: 0 });
    n.processes++;
    n.rssKiB += m.rssKiB;
    n.pssKiB += m.pssKiB;
  }
  return out;
}

/** MemAvailable from /proc/meminfo, in KiB. */
export async function memAvailableKiB(): Promise<number> {
  return kib(await readFile('/proc/meminfo', 'utf8'), 'MemAvailable');
}

/** The soft limit on open files of this process. */
export async function openFilesLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return !m ? NaN : m[1] === 'unlimited' ? Infinity : Number(m[1]);
}
