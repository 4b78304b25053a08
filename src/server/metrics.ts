import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { MAX_MEMO_BYTES, type AdmissionMemoStats } from '../admission/admission-memo.ts';

/** Every metric pullguard exports; the README's metrics table lists the same names. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Read it through the registry; count with countRequest (increments reach it at each collection). */
  readonly requests: Counter<'webhook' | 'action'>;
  readonly latency: LabelledHistogram;
  /** Read it through the registry; count with countFinding (increments reach it at each collection). */
  readonly findings: Counter<'code' | 'severity'>;
  readonly decisionErrors: Counter<'webhook'>;
  readonly malformed: Counter<'webhook'>;
  readonly clientCertificateRejections: Counter<'webhook' | 'reason'>;
  readonly certificateExpiry: Gauge;
  /** pullguard_admission_requests_total{webhook, action} += 1, on the per-request path. */
  countRequest(webhook: string, action: string): void;
  /** pullguard_findings_total{code, severity} += 1, on the per-request path. */
  countFinding(code: string, severity: string): void;
  /** Where the decision-cache metrics read their figures at each collection (the webhook app sets it). */
  readDecisionCacheFrom(source: () => AdmissionMemoStats): void;
}

const NO_CACHE_STATS: AdmissionMemoStats = Object.freeze({ hits: 0, misses: 0, bypassed: 0, invalidations: 0, entries: 0, bytes: 0 });

/** Decision latency is tens of microseconds; buckets start at 50 µs so the histogram can show it. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export function createMetrics(options: { defaultMetrics: boolean } = { defaultMetrics: true }): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'pullguard_' });
  const requests = deferredCounter(registry, {
    name: 'pullguard_admission_requests_total',
    help: 'Admission reviews answered, by webhook (mutate|validate) and action (allow|patch|deny|warn|dry-run|skip|error|malformed).',
    labelNames: ['webhook', 'action'],
  });
  const latency = new LabelledHistogram({
    name: 'pullguard_admission_duration_seconds',
    help: 'Time from a parsed review to its response (decision, patch and encoding), by webhook.',
    labelName: 'webhook',
    buckets: LATENCY_BUCKETS,
  });
  // prom-client's Metric type is the union of its own classes; the registry only reads the fields
  // LabelledHistogram has (name, getForPromString/get, reset), as the test of its output checks.
  registry.registerMetric(latency as unknown as Metric);
  const findings = deferredCounter(registry, {
    name: 'pullguard_findings_total',
    help: 'Findings reported in admission responses, by code and severity (dry-run and warn modes included).',
    labelNames: ['code', 'severity'],
  });
  let cacheStats = (): AdmissionMemoStats => NO_CACHE_STATS;
  decisionCacheMetrics(registry, () => cacheStats());
  return {
    registry,
    requests: requests.counter,
    latency,
    findings: findings.counter,
    decisionErrors: new Counter({
      name: 'pullguard_decision_errors_total',
      help: 'Reviews that could not be decided (HTTP 500; the API server applies failurePolicy).',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    malformed: new Counter({
      name: 'pullguard_malformed_reviews_total',
      help: 'Requests rejected with HTTP 400 because the body was not a valid AdmissionReview v1 or held more than a review may (review limits).',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    clientCertificateRejections: new Counter({
      name: 'pullguard_client_certificate_rejections_total',
      help: 'Webhook requests refused by mutual TLS (--client-ca), by webhook and reason: no-certificate and untrusted (HTTP 401), name-not-allowed (HTTP 403, see --client-cn).',
      labelNames: ['webhook', 'reason'],
      registers: [registry],
    }),
    certificateExpiry: new Gauge({
      name: 'pullguard_certificate_expiry_seconds',
      help: 'Seconds until the serving certificate expires (negative once expired).',
      registers: [registry],
    }),
    countRequest: requests.count,
    countFinding: findings.count,
    readDecisionCacheFrom(source) {
      cacheStats = source;
    },
  };
}

/** The decision cache counts in plain numbers on the request path; these metrics copy them when read. */
function decisionCacheMetrics(registry: Registry, stats: () => AdmissionMemoStats): void {
  totalsCounter(registry, {
    name: 'pullguard_decision_cache_lookups_total',
    help: 'Admission reviews by decision-cache result: hit (a replica of a pod CREATE answered from the cache), miss (a pod CREATE decided, then kept unless denied or too large), bypass (decided without the cache: not a pod CREATE, from a kubelet, an expiring token in the namespace, or the cache is off).',
    label: 'result',
    totals: () => {
      const now = stats();
      return { hit: now.hits, miss: now.misses, bypass: now.bypassed };
    },
  });
  totalsCounter(registry, {
    name: 'pullguard_decision_cache_invalidations_total',
    help: 'Kept decisions dropped because their namespace changed (its labels, pull secrets or ServiceAccounts) or the policy was reloaded.',
    label: undefined,
    totals: () => ({ '': stats().invalidations }),
  });
  new Gauge({
    name: 'pullguard_decision_cache_entries',
    help: `Decisions held in the decision cache now (bounded by --decision-cache-entries and an ${MAX_MEMO_BYTES / 2 ** 20} MiB estimate).`,
    registers: [registry],
    collect() {
      this.set(stats().entries);
    },
  });
}

/**
 * A counter that follows running totals kept elsewhere: each collection adds what the totals grew
 * by since the last one, and a reset (registry.resetMetrics(), counter.reset()) starts from the
 * totals of that moment, as prom-client's own counters would. Totals that go down (the source was
 * replaced) start over from zero.
 */
function totalsCounter(
  registry: Registry,
  config: { readonly name: string; readonly help: string; readonly label: string | undefined; readonly totals: () => Record<string, number> },
): void {
  let seen: Record<string, number> = {};
  const counter = new Counter({
    name: config.name,
    help: config.help,
    labelNames: config.label === undefined ? [] : [config.label],
    registers: [registry],
    collect() {
      const now = config.totals();
      for (const [value, total] of Object.entries(now)) {
        const before = seen[value] ?? 0;
        const grown = total >= before ? total - before : total;
        if (config.label === undefined) this.inc(grown);
        else this.inc({ [config.label]: value }, grown);
      }
      seen = now;
    },
  });
  const resetCounter = counter.reset.bind(counter);
  counter.reset = () => {
    seen = config.totals();
    resetCounter();
  };
}

/**
 * A two-label prom-client Counter fed through PendingCounts: `count` adds one on the request path,
 * the counter collects the sum when read, and a reset (registry.resetMetrics(), counter.reset())
 * drops the increments not yet collected too, as prom-client's own counters would.
 */
function deferredCounter<A extends string, B extends string>(
  registry: Registry,
  config: { readonly name: string; readonly help: string; readonly labelNames: readonly [A, B] },
): { counter: Counter<A | B>; count(first: string, second: string): void } {
  const pending = new PendingCounts();
  const [firstName, secondName] = config.labelNames;
  const counter = new Counter<A | B>({
    name: config.name,
    help: config.help,
    labelNames: config.labelNames,
    registers: [registry],
    collect() {
      pending.flushInto(this);
    },
  });
  const resetCounter = counter.reset.bind(counter);
  counter.reset = () => {
    pending.clear();
    resetCounter();
  };
  return { counter, count: (first, second) => pending.add(firstName, first, secondName, second) };
}

interface PendingSeries {
  readonly labels: Record<string, string>;
  count: number;
}

/**
 * Increments of a two-label counter, summed in plain numbers and handed to prom-client when it
 * collects (every scrape, and every read through the registry). prom-client hashes and validates
 * the label object on each inc(), a few microseconds a request on the webhook's path; here an
 * increment is two lookups of constant strings. Series are handed over in the order they were first
 * counted, so prom-client lists them in the same order as if each increment had reached it at once.
 */
export class PendingCounts {
  private readonly byFirst = new Map<string, Map<string, PendingSeries>>();
  private readonly inOrder: PendingSeries[] = [];

  add(firstName: string, first: string, secondName: string, second: string): void {
    let bySecond = this.byFirst.get(first);
    if (bySecond === undefined) {
      bySecond = new Map();
      this.byFirst.set(first, bySecond);
    }
    let series = bySecond.get(second);
    if (series === undefined) {
      series = { labels: { [firstName]: first, [secondName]: second }, count: 0 };
      bySecond.set(second, series);
      this.inOrder.push(series);
    }
    series.count += 1;
  }

  /** Forgets every series, so the next ones are handed over in the order they are counted from now. */
  clear(): void {
    this.byFirst.clear();
    this.inOrder.length = 0;
  }

  flushInto(counter: Counter<string>): void {
    for (const series of this.inOrder) {
      if (series.count === 0) continue;
      const count = series.count;
      series.count = 0;
      counter.inc(series.labels, count);
    }
  }
}

interface HistogramSeries {
  readonly labels: Record<string, string>;
  /** Observations per bucket (not cumulative), in the order of the bounds. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client's registry reads from a histogram: the same objects prom-client's own Histogram builds. */
interface HistogramExportValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/**
 * A histogram over one label, observed on every admission. prom-client's Histogram validates and
 * hashes the label object and turns the bucket bound into a property name on each observe (the
 * single most expensive metric call on the request path); this one finds the series by the label
 * value and counts into an array, and builds prom-client's export shape only when scraped. The
 * exposition is byte-identical to prom-client's (test/unit/server-metrics.test.ts compares them).
 */
export class LabelledHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelName: string;
  /** As prom-client's metrics expose them (scripts/generate-docs.ts lists them in the README). */
  readonly labelNames: readonly string[];
  readonly upperBounds: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();

  constructor(options: { readonly name: string; readonly help: string; readonly labelName: string; readonly buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.labelName = options.labelName;
    this.labelNames = Object.freeze([options.labelName]);
    this.upperBounds = Object.freeze([...options.buckets]);
  }

  observe(labelValue: string, value: number): void {
    // As prom-client: a value that is not a finite number is a programming error.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`);
    let series = this.series.get(labelValue);
    if (series === undefined) {
      series = { labels: { [this.labelName]: labelValue }, counts: new Float64Array(this.upperBounds.length), sum: 0, count: 0 };
      this.series.set(labelValue, series);
    }
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        series.counts[i] = (series.counts[i] ?? 0) + 1;
        break;
      }
    }
    series.sum += value;
    series.count += 1;
  }

  /** The registry's text exposition reads this (labels and shared labels apart, as prom-client's Histogram). */
  getForPromString(): { name: string; help: string; type: string; values: HistogramExportValue[]; aggregator: string } {
    const values: HistogramExportValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((bound, index) => {
        cumulative += series.counts[index] as number;
        values.push({ labels: { le: bound }, sharedLabels: series.labels, value: cumulative, metricName: bucketName, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: bucketName, exemplar: null },
        { labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count`, exemplar: undefined },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** JSON form (registry.getMetricsAsJSON): each value's own labels merged with its series' labels, as prom-client does. */
  async get(): Promise<{ name: string; help: string; type: string; values: { labels: Record<string, string | number>; value: number; metricName: string; exemplar: null | undefined }[]; aggregator: string }> {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    };
  }

  reset(): void {
    this.series.clear();
  }
}
