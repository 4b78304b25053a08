/**
 * The baseline for bench/http.ts (forked, never run by hand): a bare Fastify HTTPS server with the
 * webhook's server options, parsing the same JSON bodies and answering every review with
 * `allowed: true`. The gap to it is what pullguard's own work costs per request.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { BODY_LIMIT_BYTES, KEEP_ALIVE_TIMEOUT_MS, MIN_TLS_VERSION } from '../src/server/limits.ts';
import { runBenchChild } from './child.ts';

interface ReviewBody {
  readonly request?: { readonly uid?: unknown };
}

runBenchChild(async (start) => {
  const app = Fastify({
    https: { cert: start.cert, key: start.key, minVersion: MIN_TLS_VERSION },
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    logger: false,
  }) as unknown as FastifyInstance;
  async function allowEverything(request: { body: unknown }) {
    const uid = (request.body as ReviewBody | null)?.request?.uid;
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: typeof uid === 'string' ? uid : '', allowed: true } };
  }
  app.post('/validate', allowEverything);
  app.post('/mutate', allowEverything);
  return { app, detail: 'bare Fastify' };
});
