import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric pullguard exports; the README's metrics table lists the same names. */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'webhook' | 'action'>;
  readonly latency: Histogram<'webhook'>;
  readonly findings: Counter<'code' | 'severity'>;
  readonly decisionErrors: Counter<'webhook'>;
  readonly malformed: Counter<'webhook'>;
  readonly certificateExpiry: Gauge;
}

/** Decision latency is tens of microseconds; buckets start at 50 µs so the histogram can show it. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export function createMetrics(options: { defaultMetrics: boolean } = { defaultMetrics: true }): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'pullguard_' });
  return {
    registry,
    requests: new Counter({
      name: 'pullguard_admission_requests_total',
      help: 'Admission reviews answered, by webhook (mutate|validate) and action (allow|patch|deny|warn|dry-run|skip|error|malformed).',
      labelNames: ['webhook', 'action'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'pullguard_admission_duration_seconds',
      help: 'Time from a parsed review to its response (decision, patch and encoding), by webhook.',
      labelNames: ['webhook'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    findings: new Counter({
      name: 'pullguard_findings_total',
      help: 'Findings reported in admission responses, by code and severity (dry-run and warn modes included).',
      labelNames: ['code', 'severity'],
      registers: [registry],
    }),
    decisionErrors: new Counter({
      name: 'pullguard_decision_errors_total',
      help: 'Reviews that could not be decided (HTTP 500; the API server applies failurePolicy).',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    malformed: new Counter({
      name: 'pullguard_malformed_reviews_total',
      help: 'Requests rejected with HTTP 400 because the body was not a valid AdmissionReview v1.',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    certificateExpiry: new Gauge({
      name: 'pullguard_certificate_expiry_seconds',
      help: 'Seconds until the serving certificate expires (negative once expired).',
      registers: [registry],
    }),
  };
}
