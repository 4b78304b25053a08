import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerMetrics } from './metrics.ts';

/** Plain-HTTP listener for Prometheus, separate from the webhook so scrapes need no webhook CA. */
export function buildMetricsApp(metrics: ServerMetrics, beforeScrape?: () => void): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.get('/metrics', async function scrape(_request, reply) {
    beforeScrape?.();
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}
