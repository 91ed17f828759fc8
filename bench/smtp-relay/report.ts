/** The relay benchmark's figures (from the generator's acks and the arrivals seen) and its report. */
import { readFile } from 'node:fs/promises';
import { fmt, percentile } from '../lib/common.js';
import type { Arrival } from '../lib/arrival-watch.js';
import type { LoadSummary } from '../lib/load-runner.js';

export interface RelayFigures {
  /** Messages that arrived in the destination mailbox during the measured window, per second. */
  relayedPerSecond: number;
  relayedInWindow: number;
  /** 250-on-submission to seen in the destination mailbox, for messages acknowledged in the window (ms). */
  delayMs: { p50: number; p99: number; max: number; count: number };
  /** The same from the Maildir file's mtime (when the delivery agent wrote it), Postfix only. */
  fileDelayMs?: { p50: number; p99: number };
  /** Acknowledged but not yet arrived when the window closed: the queue the sender built up. */
  backlogAtWindowEnd: number;
  /** Seconds from the window's end until the last acknowledged message arrived. */
  drainSeconds: number;
  /** Acknowledged messages that never arrived. */
  missing: number;
}

export interface SideResult {
  name: string;
  load: LoadSummary;
  figures: RelayFigures;
  notes: string[];
}

/** The generator's --acks file: message number → wall-clock time of its 250. */
export async function readAcks(file: string): Promise<Map<number, number>> {
  const acks = new Map<number, number>();
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return acks; // no message acknowledged (the generator writes the file at its end)
  }
  for (const line of text.split('\n')) {
    const [seq, at] = line.split(' ');
    if (seq && at) acks.set(Number(seq), Number(at));
  }
  return acks;
}

function stats(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}

export function relayFigures(load: LoadSummary, acks: Map<number, number>, arrivals: Map<number, Arrival>): RelayFigures {
  const start = load.windowStartEpochMs;
  const end = load.windowEndEpochMs;
  let relayedInWindow = 0;
  let lastArrival = -Infinity;
  for (const a of arrivals.values()) {
    if (a.seenAt >= start && a.seenAt < end) relayedInWindow++;
    lastArrival = Math.max(lastArrival, a.seenAt);
  }
  const delays: number[] = [];
  const fileDelays: number[] = [];
  let backlog = 0;
  let missing = 0;
  for (const [seq, ackAt] of acks) {
    const arrival = arrivals.get(seq);
    if (!arrival) missing++;
    if (ackAt < end && (!arrival || arrival.seenAt >= end)) backlog++;
    if (!arrival || ackAt < start || ackAt >= end) continue;
    delays.push(arrival.seenAt - ackAt);
    if (arrival.fileTime !== undefined) fileDelays.push(arrival.fileTime - ackAt);
  }
  const windowSeconds = (end - start) / 1000;
  const fileStats = fileDelays.length > 0 ? stats(fileDelays) : undefined;
  return {
    relayedPerSecond: windowSeconds > 0 ? relayedInWindow / windowSeconds : 0,
    relayedInWindow,
    delayMs: { ...stats(delays), count: delays.length },
    fileDelayMs: fileStats ? { p50: fileStats.p50, p99: fileStats.p99 } : undefined,
    backlogAtWindowEnd: backlog,
    drainSeconds: Number.isFinite(lastArrival) ? Math.max(0, (lastArrival - end) / 1000) : NaN,
    missing,
  };
}

export interface ReportParams {
  sessions: number;
  size: number;
  durationS: number;
  warmupS: number;
  rate: number;
  pollMs: number;
  tls: boolean;
  sameWork: boolean;
}

export function printReport(results: SideResult[], p: ReportParams): void {
  const lines: string[] = [''];
  lines.push(
    `SMTP relay: ${p.sessions} sessions submitting ${p.size}-byte messages to the sender's server, ` +
      `relayed to the recipient's server on 127.0.0.2; ${p.rate > 0 ? `offered load ${p.rate} msgs/s; ` : ''}` +
      `${p.durationS} s measured after ${p.warmupS} s warm-up; mailbox polled every ${p.pollMs} ms`,
  );
  const head = (s: string, w: number) => s.padStart(w);
  lines.push(
    `${'pair'.padEnd(9)}${head('relayed/s', 11)}${head('submitted/s', 13)}${head('delay p50', 11)}${head('p99', 9)}${head('max', 9)}` +
      `${head('backlog', 9)}${head('drain s', 9)}${head('errors', 8)}${head('acked', 8)}${head('arrived', 9)}`,
  );
  for (const r of results) {
    const f = r.figures;
    const l = r.load;
    lines.push(
      `${r.name.padEnd(9)}${head(fmt(f.relayedPerSecond), 11)}${head(fmt(l.messagesPerSecond), 13)}${head(fmt(f.delayMs.p50, 0), 11)}` +
        `${head(fmt(f.delayMs.p99, 0), 9)}${head(fmt(f.delayMs.max, 0), 9)}${head(String(f.backlogAtWindowEnd), 9)}${head(fmt(f.drainSeconds), 9)}` +
        `${head(String(l.errors), 8)}${head(String(l.ackedTotal), 8)}${head(String(l.ackedTotal - f.missing), 9)}`,
    );
    if (f.fileDelayMs) lines.push(`  ${r.name}: delay from the Maildir file's mtime instead of the poll: p50 ${fmt(f.fileDelayMs.p50, 0)} ms, p99 ${fmt(f.fileDelayMs.p99, 0)} ms`);
    for (const [msg, n] of Object.entries(l.errorSamples)) lines.push(`  ${r.name} error x${n}: ${msg}`);
    if (f.missing > 0) lines.push(`  ${r.name}: WARNING ${f.missing} acknowledged messages never reached the destination mailbox`);
    for (const note of r.notes) lines.push(`  ${r.name}: ${note}`);
  }
  const w = results.find((r) => r.name === 'wharf');
  const pf = results.find((r) => r.name === 'postfix');
  if (w && pf && pf.figures.relayedPerSecond > 0) {
    lines.push(`ratio wharf/postfix relayed/s = ${(w.figures.relayedPerSecond / pf.figures.relayedPerSecond).toFixed(2)} (target >= 1.00)`);
    if (pf.figures.delayMs.p50 > 0) lines.push(`ratio wharf/postfix delay p50 = ${(w.figures.delayMs.p50 / pf.figures.delayMs.p50).toFixed(2)} (lower is better)`);
  }
  lines.push('');
  lines.push('relayed/s: messages that reached the recipient mailbox during the window; submitted/s: 250s to the client in the window.');
  lines.push("delay: from the submission's 250 to the poll that first saw the message in the recipient's mailbox (ms), for messages acknowledged in the window.");
  lines.push('backlog: acknowledged but not yet in the recipient mailbox when the window closed; drain s: from then until the last one arrived.');
  lines.push(
    "Client side: Wharf's submission port requires AUTH, done with AUTH PLAIN over loopback once per session; Postfix's smtpd accepts the client " +
      'without authentication (mynetworks), as Debian sets up no SASL by default.',
  );
  lines.push(
    `Between the servers: Wharf finds hamburger.test through DNS (dnsmasq: MX -> mx.hamburger.test -> 127.0.0.2); Postfix through transport_maps ` +
      `(hamburger.test smtp:[127.0.0.2]:PORT), no DNS. ${p.tls ? 'Both use STARTTLS when the receiver offers it (both do, self-signed certificates).' : 'No TLS on either (--tls off).'}`,
  );
  lines.push(
    p.sameWork
      ? 'Same work (--same-work): Wharf without its Sent copy and without SPF/DKIM/DMARC checks, as the Postfix pair has neither.'
      : "Wharf as shipped: it also files a copy in the sender's Sent mailbox and checks SPF/DKIM/DMARC on arrival, which the Postfix pair does not " +
          '(--same-work turns both off).',
  );
  process.stdout.write(lines.join('\n') + '\n');
}
