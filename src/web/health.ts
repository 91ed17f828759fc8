/**
 * The endpoints a load balancer or orchestrator probes:
 *   GET /healthz  200 while the process runs (liveness), also while it drains;
 *   GET /readyz   200 when this node should be sent work, 503 with the reason when not.
 * Both answer JSON with this node's id, so a probe's answer says which node gave it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Readiness } from './readiness.js';

export interface HealthOptions {
  nodeId: string;
  readiness: Pick<Readiness, 'check'>;
}

/** Response schemas: the serializer writes exactly these fields, nothing a handler adds by mistake. */
const answer = (withReason = false) => ({
  type: 'object',
  required: withReason ? ['status', 'nodeId', 'reason'] : ['status', 'nodeId'],
  properties: {
    status: { type: 'string' },
    nodeId: { type: 'string' },
    ...(withReason ? { reason: { type: 'string' } } : {}),
  },
  additionalProperties: false,
});

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, { nodeId, readiness }) => {
  // A cached probe answer is a wrong answer.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get('/healthz', { schema: { response: { 200: answer() } } }, async () => ({ status: 'ok', nodeId }));

  app.get(
    '/readyz',
    { schema: { response: { 200: answer(), 503: answer(true) } } },
    async (_request, reply) => {
      try {
        await readiness.check();
        return { status: 'ready', nodeId };
      } catch (err) {
        reply.code(503);
        return { status: 'unavailable', nodeId, reason: err instanceof Error ? err.message : String(err) };
      }
    },
  );
};
