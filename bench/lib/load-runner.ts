/** Runs load generators as separate processes and parses their summaries. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { libDir, LOOPBACK, onCleanup } from './common.js';

export interface LoadSummary {
  label: string;
  /** Part of every message's Message-ID, <RUNID.SEQ@HELO>. */
  runId: string;
  sessions: number;
  messageBytes: number;
  windowSeconds: number;
  /** The measured window in wall-clock time (comparable with `epochNow()` in the runner). */
  windowStartEpochMs: number;
  windowEndEpochMs: number;
  acked: number;
  ackedWarmup: number;
  ackedAfterWindow: number;
  ackedTotal: number;
  messagesPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  errorsInWindow: number;
  errorSamples: Record<string, number>;
  perRecipient: Record<string, number>;
  aborted: boolean;
}

export interface LoadOptions {
  label: string;
  /** One port, or several: the generator's sessions then go round-robin across them. */
  port: number | number[];
  sessions: number;
  durationS: number;
  warmupS: number;
  size: number;
  rcpts: string[];
  from?: string;
  /** Log every session in with AUTH PLAIN (a submission port). */
  auth?: { user: string; password: string };
  /** At most this many messages/s over all sessions (open loop); unlimited when absent or 0. */
  rate?: number;
  /** Write "SEQ EPOCH_MS" for every acknowledged message to this file. */
  acksFile?: string;
  /** The run's id in every Message-ID (hex); random when absent. */
  runId?: string;
}

export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  const args = [
    join(libDir(), 'smtp-load.js'),
    '--host', LOOPBACK,
    '--port', (Array.isArray(o.port) ? o.port : [o.port]).join(','),
    '--sessions', String(o.sessions),
    '--duration', String(o.durationS),
    '--warmup', String(o.warmupS),
    '--size', String(o.size),
    '--rcpt', o.rcpts.join(','),
    '--label', o.label,
  ];
  if (o.from) args.push('--from', o.from);
  if (o.auth) args.push('--auth-user', o.auth.user);
  if (o.rate) args.push('--rate', String(o.rate));
  if (o.acksFile) args.push('--acks', o.acksFile);
  if (o.runId) args.push('--run-id', o.runId);
  // The password goes through the environment, not the command line (visible in ps).
  const env = o.auth ? { ...process.env, SMTP_LOAD_AUTH_PASSWORD: o.auth.password } : undefined;
  // The generator stops itself; the limit is only a backstop.
  return runGenerator<LoadSummary>(args, o.label, (o.durationS + o.warmupS) * 1000 + 300_000, env);
}

/**
 * Runs a load generator (`node ARGS...`) as a separate process, so the client's work never
 * shares an event loop with the runner, and returns the JSON summary on the last line of its
 * stdout. Its stderr (progress) goes to ours. Killed after `limitMs`, on Ctrl-C and on errors.
 */
export async function runGenerator<T>(args: string[], label: string, limitMs: number, env?: NodeJS.ProcessEnv): Promise<T> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: env ?? process.env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const closed = new Promise<number | null>((res) => child.once('close', (c) => res(c)));
  // On Ctrl-C or an error in the runner, the generator must not keep going.
  const stop = onCleanup(
    `load generator (${label})`,
    async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  );
  const code = await closed;
  clearTimeout(timer);
  await stop();
  const last = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`load generator (${label}) exited ${code} without a summary`);
  }
}
