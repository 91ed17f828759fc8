/**
 * Fastify's logger interface on top of Wharf's: one log format for the whole process, and only
 * chosen request details ever reach it. Fastify hands its logger whole request and reply
 * objects (pino would serialize them); here a request becomes its method and path — never its
 * headers (cookies, Authorization) nor its query string (tokens) — and an error its message.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../net/types.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  raw?: IncomingMessage;
}

function requestFields(req: RequestLike): Record<string, unknown> {
  const url = req.url ?? req.raw?.url ?? '';
  return { method: req.method ?? req.raw?.method, path: url.split('?')[0], remoteAddress: req.ip };
}

/** Turns a pino-style call (`obj, msg` or `msg`) into an event name and fields we are willing to write. */
function toRecord(args: unknown[]): { event: string; fields: Record<string, unknown> } {
  const [first, ...rest] = args;
  if (typeof first !== 'object' || first === null) {
    return { event: typeof first === 'string' && first ? first : 'http', fields: {} };
  }
  const fields: Record<string, unknown> = {};
  if (first instanceof Error) {
    fields.error = first.message;
  } else {
    for (const [key, value] of Object.entries(first as Record<string, unknown>)) {
      if (key === 'req' && typeof value === 'object' && value) Object.assign(fields, requestFields(value as RequestLike));
      else if (key === 'res' && typeof value === 'object' && value) fields.status = (value as { statusCode?: unknown }).statusCode;
      else if (key === 'err' || key === 'error') fields.error = value instanceof Error ? value.message : String(value);
      else if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value;
      // Anything else (sockets, whole objects) is left out rather than dumped.
    }
  }
  const message = rest.find((m) => typeof m === 'string');
  return { event: typeof message === 'string' && message ? message : 'http', fields };
}

/**
 * `level` is ours; fastify's own `info` lines (request received/completed, route not found,
 * "Server listening") go out at debug: the listener's `listening` line and the health answers
 * say what an operator needs, and a load balancer probing every second must not flood the log.
 */
export function fastifyLogger(log: Logger, level: Level): FastifyBaseLogger {
  const emit = (to: Level) => (...args: unknown[]) => {
    const { event, fields } = toRecord(args);
    log[to](event, fields);
  };
  const bridge = {
    level,
    fatal: emit('error'),
    error: emit('error'),
    warn: emit('warn'),
    info: emit('debug'),
    debug: emit('debug'),
    trace: emit('debug'),
    silent: () => {},
    child: (bindings: Record<string, unknown>) => fastifyLogger(log.child(bindings), level),
  };
  // The methods take pino's call forms (object and/or message) at run time; its overloaded
  // LogFn type has no simpler spelling.
  return bridge as unknown as FastifyBaseLogger;
}
