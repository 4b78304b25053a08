/**
 * The baseline for bench/http.ts (forked, never run by hand): a bare Fastify HTTPS server with the
 * webhook's server options, parsing the same JSON bodies and answering every review with
 * `allowed: true`. The gap to it is what pullguard's own work costs per request.
 */
import { parseArgs } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { useFastJsonParser } from '../src/server/app.ts';
import { BODY_LIMIT_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, MIN_TLS_VERSION, REQUEST_TIMEOUT_CHECK_INTERVAL_MS } from '../src/server/limits.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { runBenchChild } from './child.ts';
import { benchState } from './fixtures.ts';

// Diagnostic variants (bench/http.ts --bare-variants): the bare server plus one piece of the
// webhook's setup at a time, to find where the gap to the webhook is. --busy-us (bench/http.ts
// --calibration): the bare server doing that many microseconds of busy work per review, touching no
// memory, to show what a known amount of work per review does to the ratio.
const { values } = parseArgs({
  options: {
    'server-options': { type: 'boolean', default: false },
    metrics: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    'busy-us': { type: 'string', default: '0' },
  },
});

interface ReviewBody {
  readonly request?: { readonly uid?: unknown };
}

runBenchChild(async (start) => {
  const app = Fastify({
    https: { cert: start.cert, key: start.key, minVersion: MIN_TLS_VERSION },
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    logger: false,
    ...(values['server-options'] ? { requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS, forceCloseConnections: 'idle' as const, return503OnClosing: true } : {}),
  }) as unknown as FastifyInstance;
  if (values['server-options']) {
    useFastJsonParser(app);
    const server = app.server as unknown as { headersTimeout: number; connectionsCheckingInterval: number };
    server.headersTimeout = DEFAULT_REQUEST_TIMEOUT_MS;
    server.connectionsCheckingInterval = REQUEST_TIMEOUT_CHECK_INTERVAL_MS;
  }
  // Kept alive for the whole run: what holding them costs (GC, process metrics) is the point.
  const kept = { metrics: values.metrics ? createMetrics() : undefined, state: values.snapshot ? benchState() : undefined };
  (globalThis as { benchKept?: unknown }).benchKept = kept;
  const busyMs = Number(values['busy-us']) / 1000;
  async function allowEverything(request: { body: unknown }) {
    if (busyMs > 0) {
      const until = performance.now() + busyMs;
      while (performance.now() < until) {
        // Busy: the clock read is the work.
      }
    }
    const uid = (request.body as ReviewBody | null)?.request?.uid;
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: typeof uid === 'string' ? uid : '', allowed: true } };
  }
  app.post('/validate', allowEverything);
  app.post('/mutate', allowEverything);
  return { app, detail: 'bare Fastify' };
});
