/**
 * The HTTP side of a node: one fastify instance with its plugins (for now the health
 * endpoints), listening on `ports.http`. Fastify because HTTP — parsing, keep-alive, routing,
 * closing connections cleanly — is what a well-kept library should own, and the web mail UI
 * to come is meant to be fastify plugins registered here.
 */
import fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../net/types.js';
import { healthPlugin } from './health.js';
import { fastifyLogger } from './log-bridge.js';
import { metricsPlugin } from './metrics.js';
import type { Readiness } from './readiness.js';

export interface WebAppOptions {
  nodeId: string;
  readiness: Pick<Readiness, 'check'>;
  log: Logger;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Open sessions per service, for GET /metrics. */
  sessions?: () => Readonly<Record<string, number>>;
}

export interface WebServerOptions extends WebAppOptions {
  host: string;
  port: number;
  /** Concurrent connections accepted, as for the other services. */
  maxConnections: number;
}

export interface WebServer {
  /** The port actually listened on (differs from the option when that was 0). */
  readonly port: number;
  /** Stops listening, lets requests in flight finish and closes idle keep-alive connections. */
  close(): Promise<void>;
}

export function buildWebApp(opts: WebAppOptions): FastifyInstance {
  const app = fastify({
    loggerInstance: fastifyLogger(opts.log, opts.logLevel),
    // Closing also ends idle keep-alive connections (a load balancer's), so stop() ends.
    forceCloseConnections: 'idle',
    // Nothing here takes a request body yet; plugins that do set their own limit.
    bodyLimit: 64 * 1024,
  });
  // Fastify's defaults would echo the requested URL (query string and all) in a 404 and an
  // internal error's message in a 500; neither belongs in an answer to whoever asks.
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ req: request, err: error }, 'request failed');
      return reply.code(status).send({ error: 'internal error' });
    }
    // 4xx from fastify itself (bad JSON, body too large): its message is about the request.
    return reply.code(status).send({ error: error.message });
  });
  void app.register(healthPlugin, { nodeId: opts.nodeId, readiness: opts.readiness });
  void app.register(metricsPlugin, { sessions: opts.sessions });
  return app;
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const log = opts.log.child({ service: 'http' });
  const app = buildWebApp({ ...opts, log });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  app.server.maxConnections = opts.maxConnections;
  const port = (app.server.address() as AddressInfo).port;
  opts.log.info('listening', { service: 'http', host: opts.host, port, tls: false });
  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= app.close();
      return closing;
    },
  };
}
