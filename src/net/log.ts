import type { Logger } from './types.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are never written, whatever a caller passes by mistake. */
const SECRET_FIELDS = /pass(word)?|secret|token|credential|auth_?payload/i;

function scrub(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELDS.test(k)) out[k] = '[redacted]';
    else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

/**
 * One JSON object per line: {"time","level","event",...fields}. Structured so that a session
 * can be followed by its `session` field and so that tests and tools can parse the output.
 */
export function createLogger(
  opts: { level?: Level; write?: (line: string) => void; fields?: Record<string, unknown> } = {},
): Logger {
  const min = RANK[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
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
