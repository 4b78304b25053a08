import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Phase } from '../admission/admit.ts';
import { AdmissionMemo, DEFAULT_ADMISSION_MEMO_ENTRIES } from '../admission/admission-memo.ts';
import type { Finding } from '../findings/catalogue.ts';
import { decodeAdmissionReview, MalformedReviewError, reviewResponse } from '../admission/review.ts';
import { checkJsonBodyLimits, checkReviewLimits, ReviewLimitError } from '../admission/review-limits.ts';
import { shorten } from '../decide/messages.ts';
import { DecisionLog, LOG_FIELD_MAX_CHARS } from './decision-log.ts';
import { BODY_LIMIT_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, ERROR_MESSAGE_MAX_CHARS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_CHECK_INTERVAL_MS } from './limits.ts';
import type { ServerMetrics } from './metrics.ts';
import type { DecisionState } from './state.ts';
import type { ClientCertificateGate } from './tls-client-auth.ts';

export interface WebhookAppOptions {
  readonly state: DecisionState;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** HTTPS options for the listener; omitted in tests that use fastify.inject(). */
  readonly https?: HttpsServerOptions | undefined;
  readonly requestTimeoutMs?: number;
  /** Extra readiness check (the certificate is loaded). */
  readonly certificateReady?: () => boolean;
  /** Clock for token expiry; injectable for tests. */
  readonly now?: () => number;
  /** Decisions kept for the replicas of one template (AdmissionMemo); 0 decides every review afresh. */
  readonly decisionCacheEntries?: number;
  /** Mutual TLS: /mutate and /validate answer only callers with an allowed client certificate. */
  readonly clientCertificates?: ClientCertificateGate | undefined;
  /** Log plain allows and skips at info too (`--log-allows`); by default they are logged at debug. */
  readonly logAllows?: boolean;
}

/** The webhook's HTTP surface: /mutate, /validate, /healthz, /readyz. Metrics live on their own listener. */
export function buildWebhookApp(options: WebhookAppOptions): FastifyInstance {
  const { state, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const memo = new AdmissionMemo(options.decisionCacheEntries ?? DEFAULT_ADMISSION_MEMO_ENTRIES);
  metrics.readDecisionCacheFrom(() => memo.stats());
  const decisionLog = new DecisionLog(logger, { logAllows: options.logAllows === true });
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const serverOptions = {
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout,
    // One log line per decision is written by the handler with our own logger; Fastify's
    // per-request lines would double it.
    logger: false,
    // On close, drop idle keep-alive connections at once and let in-flight requests finish.
    forceCloseConnections: 'idle' as const,
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
  };
  // The HTTPS variant needs `https` set; Fastify's overloads pick the server type from it.
  const app = (options.https !== undefined
    ? Fastify({ ...serverOptions, https: options.https })
    : Fastify(serverOptions)) as unknown as FastifyInstance;
  useFastJsonParser(app, checkBodyLimits);
  // Node cuts a request whose headers and body have not arrived within requestTimeout, but only
  // checks every connectionsCheckingInterval (30 s by default) and gives headers their own 60 s
  // headersTimeout: a stalled body was cut after 73-90 s. One deadline for headers and body,
  // checked often enough that it holds. Both are read when the server starts listening.
  const server = app.server as unknown as { headersTimeout: number; connectionsCheckingInterval: number };
  server.headersTimeout = requestTimeout;
  server.connectionsCheckingInterval = Math.min(REQUEST_TIMEOUT_CHECK_INTERVAL_MS, requestTimeout);

  /** Fastify's answer to a request Node gave up on, plus a log line (a stalled client is worth knowing about). */
  function answerClientError(error: Error & { code?: string }, socket: import('node:net').Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timeout) logger.warn({ code: error.code, timeoutMs: requestTimeout }, 'request timed out: headers and body did not arrive within --request-timeout');
    else logger.warn({ code: error.code, error: shorten(error.message, ERROR_MESSAGE_MAX_CHARS) }, 'rejected malformed HTTP request');
    const [status, text, message] = timeout
      ? [408, 'Request Timeout', 'Client Timeout']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'Exceeded maximum allowed HTTP header size']
        : [400, 'Bad Request', 'Client Error'];
    const body = JSON.stringify({ error: text, message, statusCode: status });
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy(error);
  }

  /** A body over a limit that holds before parsing (REVIEW_MAX_JSON_CONTAINERS): the 400 of any review limit, before JSON.parse builds it. */
  function checkBodyLimits(text: string): Error | undefined {
    try {
      checkJsonBodyLimits(text);
      return undefined;
    } catch (error) {
      if (!(error instanceof ReviewLimitError)) throw error;
      return Object.assign(new Error(`AdmissionReview over a review limit: ${error.message}`), { statusCode: 400, code: 'PULLGUARD_REVIEW_LIMIT' });
    }
  }

  function handlerFor(phase: Phase) {
    const webhookLabels = { webhook: phase };
    const countFindings = (findings: readonly Finding[]): void => {
      for (const finding of findings) metrics.countFinding(finding.code, finding.severity);
    };

    /** A 400 for a malformed review or one over a review limit (the API server never sends either). */
    const refuse = (reply: FastifyReply, error: MalformedReviewError) => {
      metrics.malformed.inc(webhookLabels);
      metrics.countRequest(phase, 'malformed');
      // The message quotes at most ECHOED_VALUE_MAX_CHARS of any field (review.ts).
      const what = error instanceof ReviewLimitError ? 'AdmissionReview over a review limit' : 'malformed AdmissionReview';
      logger.warn({ webhook: phase, error: error.message }, what);
      return reply.code(400).send({ error: 'Bad Request', message: `${what}: ${error.message}` });
    };

    return async function answerReview(request: FastifyRequest, reply: FastifyReply) {
      const started = performance.now();
      let admissionRequest;
      try {
        admissionRequest = decodeAdmissionReview(request.body);
      } catch (error) {
        if (error instanceof MalformedReviewError) return refuse(reply, error);
        throw error;
      }
      let outcome;
      try {
        const policy = state.policy();
        // Bounds the pod spec of every kind this policy decides (custom resources included), before deciding.
        checkReviewLimits(admissionRequest, policy.podTemplates);
        outcome = memo.admit(admissionRequest, phase, { snapshot: state.snapshot(), policy, now: now() });
      } catch (error) {
        if (error instanceof ReviewLimitError) return refuse(reply, error);
        metrics.decisionErrors.inc(webhookLabels);
        metrics.countRequest(phase, 'error');
        logger.error(
          { webhook: phase, uid: shorten(admissionRequest.uid, LOG_FIELD_MAX_CHARS), err: error instanceof Error ? { message: shorten(error.message, ERROR_MESSAGE_MAX_CHARS), stack: error.stack } : String(error) },
          'could not decide; answering 500 so the API server applies failurePolicy',
        );
        return reply.code(500).send({ error: 'Internal Server Error', message: 'pullguard could not decide this review; see the webhook logs' });
      }
      const seconds = (performance.now() - started) / 1e3;
      metrics.latency.observe(phase, seconds);
      metrics.countRequest(phase, outcome.action);
      // The findings the validating answer stands on (the mutating one reports only its injections).
      if (phase === 'validate') countFindings(outcome.findings);
      decisionLog.write(phase, outcome, admissionRequest.dryRun, seconds * 1e3);
      return reviewResponse(outcome.response);
    };
  }

  const gate = options.clientCertificates;
  const webhookRoute = gate === undefined ? {} : { onRequest: requireClientCertificate };
  // A route hook, so /healthz and /readyz stay open to the kubelet's probes (they carry no certificate).
  function requireClientCertificate(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const verdict = (gate as ClientCertificateGate).verdict(request.raw.socket);
    if (verdict.allowed) return done();
    const webhook = request.url === '/mutate' ? 'mutate' : 'validate';
    metrics.clientCertificateRejections.inc({ webhook, reason: verdict.reason });
    logger.warn({ webhook, remoteAddress: request.raw.socket.remoteAddress, reason: verdict.reason, error: verdict.message }, 'refused a caller without an allowed client certificate');
    void reply.code(verdict.status).send({ error: verdict.status === 401 ? 'Unauthorized' : 'Forbidden', message: verdict.message });
  }

  app.post('/mutate', webhookRoute, handlerFor('mutate'));
  app.post('/validate', webhookRoute, handlerFor('validate'));

  app.get('/healthz', async function alive() {
    return { status: 'ok' };
  });

  app.get('/readyz', async function ready(_request, reply) {
    const readiness = state.readiness();
    const missing = [...readiness.missing];
    if (options.certificateReady !== undefined && !options.certificateReady()) missing.push('certificate');
    if (missing.length > 0) return reply.code(503).send({ status: 'not ready', missing });
    return { status: 'ready' };
  });

  app.setErrorHandler(function mapError(error: { statusCode?: number; message?: string; code?: string }, request, reply) {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const webhook = request.url === '/mutate' ? 'mutate' : request.url === '/validate' ? 'validate' : undefined;
    const message = shorten(error.message ?? '', ERROR_MESSAGE_MAX_CHARS);
    if (status >= 500) {
      // Counted like a decision that failed: the API server applies failurePolicy to it all the same.
      if (webhook !== undefined) {
        metrics.decisionErrors.inc({ webhook });
        metrics.countRequest(webhook, 'error');
      }
      logger.error({ url: request.url, err: { message, code: error.code } }, 'internal error');
      return reply.code(500).send({ error: 'Internal Server Error', message: 'internal error; see the webhook logs' });
    }
    if (webhook !== undefined) {
      metrics.malformed.inc({ webhook });
      metrics.countRequest(webhook, 'malformed');
    }
    // A body over a review limit that holds before parsing is logged as the other review limits are.
    logger.warn({ url: request.url, status, code: error.code, error: message }, error.code === 'PULLGUARD_REVIEW_LIMIT' ? 'AdmissionReview over a review limit' : 'rejected request');
    const names: Record<number, string> = { 408: 'Request Timeout', 413: 'Payload Too Large', 415: 'Unsupported Media Type' };
    return reply.code(status).send({ error: names[status] ?? 'Bad Request', message: message || 'bad request' });
  });

  return app;
}

/**
 * Fastify's JSON parser (secure-json-parse, refusing `__proto__` and `constructor.prototype` keys)
 * scans every body twice with two regular expressions after JSON.parse, about 4 µs of a 3.7 KiB
 * review on every request. Such a key, escaped or not, needs `__proto__`, `constructor` or a `\u`
 * escape somewhere in the text: a body without all three (searched as `__proto__`, `uctor` and
 * `\u`) is parsed with JSON.parse alone, and any
 * other body (and every body JSON.parse refuses, for the same 400 and message) goes to Fastify's
 * own parser. `refuse` sees every body first: an error it returns is the answer (a review limit
 * that holds before parsing).
 */
export function useFastJsonParser(app: FastifyInstance, refuse?: (text: string) => Error | undefined): void {
  const strict = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, function parseJsonBody(request, body, done) {
    const text = body as string;
    const refused = refuse?.(text);
    if (refused !== undefined) return done(refused, undefined);
    // `uctor` for `constructor`: every text holding the word holds its tail, and `u` is rare enough in
    // a review that the search skips ahead (half the cost of searching for `c`, on every body).
    if (text === '' || text.charCodeAt(0) === 0xfeff || text.includes('__proto__') || text.includes('uctor') || text.includes('\\u')) {
      return strict(request, text, done);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return strict(request, text, done);
    }
    done(null, value);
  });
}
