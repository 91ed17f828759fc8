import type { Logger } from './types.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are never written, whatever a caller passes by mistake. */
const SECRET_FIELDS = /pass(word)?|secret|token|credential|auth_?payload/i;

/** Nested objects deeper than this are written as "[nested]" (no log line needs more). */
const MAX_DEPTH = 4;

function scrubValue(value: unknown, depth: number): unknown {
  if (value instanceof Error) return value.message;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return scrub(value as Record<string, unknown>, depth + 1);
}

/** Redacts secret-named fields at every depth (a field given as `{ login: { password } }` too). */
function scrub(fields: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = SECRET_FIELDS.test(k) ? '[redacted]' : scrubValue(v, depth);
  }
  return out;
}

/** Past this many buffered bytes the lines are written at once rather than at the end of the turn. */
const FLUSH_BYTES = 64 * 1024;

/**
 * Writes log lines to stdout in one write per event-loop turn instead of one per line. Writes
 * to a pipe are synchronous in Node on Linux: under load, a line per SMTP command meant a
 * system call each, and a reader that fell behind stalled every session while the pipe was
 * full (a tenth of the serving thread's time in one profile). Lines still buffered when the
 * process exits are written by the 'exit' handler, also after an uncaught exception.
 */
export function batchedStdoutWriter(out: NodeJS.WritableStream = process.stdout): (line: string) => void {
  let pending: string[] = [];
  let bytes = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    bytes = 0;
    out.write(text);
  };
  process.on('exit', flush);
  return (line: string) => {
    pending.push(line);
    bytes += line.length;
    if (bytes >= FLUSH_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

let stdoutWriter: ((line: string) => void) | null = null;

/**
 * One JSON object per line: {"time","level","event",...fields}. Structured so that a session
 * can be followed by its `session` field and so that tests and tools can parse the output.
 */
export function createLogger(
  opts: { level?: Level; write?: (line: string) => void; fields?: Record<string, unknown> } = {},
): Logger {
  const min = RANK[opts.level ?? 'info'];
  const write = opts.write ?? (stdoutWriter ??= batchedStdoutWriter());
  const base = opts.fields ?? {};
  const emit = (level: Level, event: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    const record = { time: new Date().toISOString(), level, event, ...base, ...(fields ? scrub(fields) : {}) };
    write(JSON.stringify(record) + '\n');
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (fields) => createLogger({ level: opts.level, write, fields: { ...base, ...scrub(fields) } }),
  };
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });
