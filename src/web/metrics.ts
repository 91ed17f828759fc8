/**
 *   GET /metrics  this process's own vital signs, as JSON:
 *     rssBytes, heapUsedBytes    memory (process.memoryUsage)
 *     openFds                    open descriptors (/proc/self/fd; null where there is no /proc)
 *     eventLoopDelayP99Ms/MaxMs  how late the event loop ran timers, since the previous request
 *     windowMs                   the time that delay covers
 *     sessions                   open sessions per service (when the server passes a counter)
 * The event-loop delay can only be measured inside the process: a slow loop delays every
 * session it serves, and no outside probe tells that apart from a slow network. A soak or a
 * monitoring agent reads this every so often; each read starts a fresh window, so the figure
 * says how the loop did lately, not since the start.
 */
import type { FastifyPluginAsync } from 'fastify';
import { readdir } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface MetricsOptions {
  /** Open sessions per service name; absent before the services run. */
  sessions?: () => Readonly<Record<string, number>>;
}

/** Histogram sampling interval: fine enough for a 50 ms target, cheap enough to leave on. */
const RESOLUTION_MS = 10;

const NS_PER_MS = 1e6;

/** Open descriptors of this process; null where /proc is not there (not Linux). */
export async function openDescriptors(): Promise<number | null> {
  try {
    // The readdir itself holds one descriptor open while it runs.
    return (await readdir('/proc/self/fd')).length - 1;
  } catch {
    return null;
  }
}

const numberOrNull = { type: ['number', 'null'] };

const metricsSchema = {
  type: 'object',
  required: ['rssBytes', 'heapUsedBytes', 'openFds', 'eventLoopDelayP99Ms', 'eventLoopDelayMaxMs', 'windowMs', 'sessions'],
  properties: {
    rssBytes: { type: 'number' },
    heapUsedBytes: { type: 'number' },
    openFds: numberOrNull,
    eventLoopDelayP99Ms: { type: 'number' },
    eventLoopDelayMaxMs: { type: 'number' },
    windowMs: { type: 'number' },
    sessions: { type: 'object', additionalProperties: { type: 'number' } },
  },
  additionalProperties: false,
};

export const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let windowStart = performance.now();
  app.addHook('onClose', async () => delay.disable());

  app.get('/metrics', { schema: { response: { 200: metricsSchema } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const memory = process.memoryUsage();
    const now = performance.now();
    // The histogram holds nothing until the first sample interval has passed.
    const sampled = delay.count > 0;
    const body = {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      openFds: await openDescriptors(),
      // The histogram counts the whole delay, including the sampling interval itself.
      eventLoopDelayP99Ms: sampled ? Math.max(0, delay.percentile(99) / NS_PER_MS - RESOLUTION_MS) : 0,
      eventLoopDelayMaxMs: sampled ? Math.max(0, delay.max / NS_PER_MS - RESOLUTION_MS) : 0,
      windowMs: Math.round(now - windowStart),
      sessions: { ...(opts.sessions?.() ?? {}) },
    };
    delay.reset();
    windowStart = now;
    return body;
  });
};
