import t from 'tap';
import { Counter, Histogram, Registry, type Metric } from 'prom-client';
import { createMetrics, LabelledHistogram, PendingCounts } from '../../src/server/metrics.ts';

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

/** prom-client's own Histogram and ours, each alone in a registry, fed the same observations. */
function histograms(): { stock: Histogram<'webhook'>; ours: LabelledHistogram; stockRegistry: Registry; ourRegistry: Registry } {
  const stockRegistry = new Registry();
  const ourRegistry = new Registry();
  const config = { name: 'pullguard_admission_duration_seconds', help: 'Time from a parsed review to its response.' };
  const stock = new Histogram({ ...config, labelNames: ['webhook'], buckets: BUCKETS, registers: [stockRegistry] });
  const ours = new LabelledHistogram({ ...config, labelName: 'webhook', buckets: BUCKETS });
  ourRegistry.registerMetric(ours as unknown as Metric);
  return { stock, ours, stockRegistry, ourRegistry };
}

const observations: Record<string, readonly (readonly [string, number])[]> = {
  'nothing observed yet': [],
  'one observation': [['validate', 0.00012]],
  'observations exactly on bucket bounds': BUCKETS.map((bound) => ['mutate', bound] as const),
  'an observation above every bucket (counted in +Inf only)': [['validate', 3.5], ['validate', 0.002]],
  'a zero duration': [['mutate', 0]],
  'two series interleaved, mutate first': [['mutate', 0.0003], ['validate', 0.00007], ['mutate', 0.04], ['validate', 0.3], ['mutate', 0.00003]],
  'many observations whose sum is not exact in binary': Array.from({ length: 200 }, (_, i) => [i % 3 === 0 ? 'validate' : 'mutate', (i % 17) * 0.000137 + 0.00001] as const),
};
for (const [name, list] of Object.entries(observations)) {
  t.test(`the latency histogram exposes the same text and JSON as prom-client's Histogram: ${name}`, async (t) => {
    const { stock, ours, stockRegistry, ourRegistry } = histograms();
    for (const [webhook, seconds] of list) {
      stock.observe({ webhook }, seconds);
      ours.observe(webhook, seconds);
    }
    t.equal(await ourRegistry.metrics(), await stockRegistry.metrics());
    t.same(await ourRegistry.getMetricsAsJSON(), await stockRegistry.getMetricsAsJSON());
  });
}

t.test('the latency histogram starts over after a registry reset, as prom-client does', async (t) => {
  const { stock, ours, stockRegistry, ourRegistry } = histograms();
  stock.observe({ webhook: 'validate' }, 0.001);
  ours.observe('validate', 0.001);
  stockRegistry.resetMetrics();
  ourRegistry.resetMetrics();
  stock.observe({ webhook: 'mutate' }, 0.002);
  ours.observe('mutate', 0.002);
  t.equal(await ourRegistry.metrics(), await stockRegistry.metrics());
});

t.test('the latency histogram refuses a value that is not a finite number, as prom-client does', async (t) => {
  const { ours } = histograms();
  t.throws(() => ours.observe('validate', Number.NaN), TypeError);
  t.throws(() => ours.observe('validate', Number.POSITIVE_INFINITY), TypeError);
});

/** A counter fed directly, one inc() per event, and one fed through PendingCounts, read at the given points. */
async function counterTexts(events: readonly (readonly [string, string] | 'read')[]): Promise<{ direct: string[]; pending: string[] }> {
  const directRegistry = new Registry();
  const pendingRegistry = new Registry();
  const config = { name: 'pullguard_admission_requests_total', help: 'Admission reviews answered.', labelNames: ['webhook', 'action'] as const };
  const direct = new Counter({ ...config, registers: [directRegistry] });
  const counts = new PendingCounts();
  new Counter({
    ...config,
    registers: [pendingRegistry],
    collect() {
      counts.flushInto(this);
    },
  });
  const texts = { direct: [] as string[], pending: [] as string[] };
  for (const event of events) {
    if (event === 'read') {
      texts.direct.push(await directRegistry.metrics());
      texts.pending.push(await pendingRegistry.metrics());
      continue;
    }
    direct.inc({ webhook: event[0], action: event[1] });
    counts.add('webhook', event[0], 'action', event[1]);
  }
  texts.direct.push(await directRegistry.metrics());
  texts.pending.push(await pendingRegistry.metrics());
  return texts;
}

const counterCases: Record<string, readonly (readonly [string, string] | 'read')[]> = {
  'no increments': [],
  'increments of one series': [['validate', 'allow'], ['validate', 'allow'], ['validate', 'allow']],
  'series listed in the order they were first counted, not grouped by the first label': [['validate', 'allow'], ['mutate', 'patch'], ['validate', 'deny'], ['mutate', 'allow'], ['validate', 'allow']],
  'reads between increments, with a new series after a read': [['mutate', 'allow'], 'read', ['mutate', 'allow'], ['validate', 'skip'], 'read', 'read', ['mutate', 'allow']],
  'a series counted before a read and not after it': [['validate', 'warn'], 'read', ['mutate', 'allow'], 'read'],
};
for (const [name, events] of Object.entries(counterCases)) {
  t.test(`deferred counts read exactly as direct increments: ${name}`, async (t) => {
    const { direct, pending } = await counterTexts(events);
    t.same(pending, direct);
  });
}

t.test('createMetrics counts requests and findings through the registry, whichever way it is read', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.countRequest('validate', 'allow');
  metrics.countRequest('validate', 'allow');
  metrics.countFinding('AnonymousPullRateLimited', 'info');
  t.match(await metrics.registry.getSingleMetricAsString('pullguard_admission_requests_total'), /pullguard_admission_requests_total\{webhook="validate",action="allow"\} 2/);
  t.same((await metrics.findings.get()).values, [{ value: 1, labels: { code: 'AnonymousPullRateLimited', severity: 'info' } }]);
  metrics.countRequest('validate', 'allow');
  metrics.latency.observe('validate', 0.0002);
  const text = await metrics.registry.metrics();
  t.match(text, /pullguard_admission_requests_total\{webhook="validate",action="allow"\} 3/);
  t.match(text, /pullguard_admission_duration_seconds_bucket\{le="0.00025",webhook="validate"\} 1/);
  t.match(text, /pullguard_admission_duration_seconds_count\{webhook="validate"\} 1/);
});

t.test('a registry reset drops counts not yet collected and starts the series order over, as prom-client counters do', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const stockRegistry = new Registry();
  const stock = new Counter({ name: 'pullguard_admission_requests_total', help: 'x', labelNames: ['webhook', 'action'] as const, registers: [stockRegistry] });
  metrics.countRequest('validate', 'allow');
  metrics.countRequest('validate', 'allow');
  stock.inc({ webhook: 'validate', action: 'allow' }, 2);
  metrics.countFinding('AnonymousPullRateLimited', 'info');
  metrics.registry.resetMetrics();
  stockRegistry.resetMetrics();
  t.same((await metrics.requests.get()).values, [], 'no request counted before the reset is left');
  t.same((await metrics.findings.get()).values, [], 'no finding counted before the reset is left');
  for (const [webhook, action] of [['mutate', 'patch'], ['validate', 'allow']] as const) {
    metrics.countRequest(webhook, action);
    stock.inc({ webhook, action });
  }
  t.same((await metrics.requests.get()).values, (await stock.get()).values, 'series after the reset in the order they were counted after it');
});
