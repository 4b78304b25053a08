/**
 * The real webhook for bench/http.ts (forked, never run by hand): buildWebhookApp over HTTPS with a
 * StaticDecisionState over the 10,000-namespace snapshot and the bench policy.
 *
 *   --logger silent   pino at level 'silent' (no log lines)
 *   --logger info     pino at level 'info' to stdout, exactly as `pullguard serve` builds it (the
 *                     default: one line per decision that patches, denies, warns or reports dry-run
 *                     findings; plain allows at debug); the parent points stdout at a file
 *   --log-allows      as `pullguard serve --log-allows`: plain allows logged at info too
 *   --decision-cache-entries N
 *                     as `pullguard serve --decision-cache-entries` (default as serve); 0 decides every
 *                     review afresh, the cost of pods the webhook has never seen
 *   --exclude-bench-namespaces
 *                     the policy excludes every namespace the bench reviews use, so each request is
 *                     decoded, skipped, counted and logged but not decided: the server's cost
 *                     without the decision (a diagnostic target)
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ADMISSION_MEMO_ENTRIES } from '../src/admission/admission-memo.ts';
import { buildWebhookApp } from '../src/server/app.ts';
import { MIN_TLS_VERSION } from '../src/server/limits.ts';
import { createLogger } from '../src/server/logger.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { StaticDecisionState } from '../src/server/state.ts';
import { runBenchChild } from './child.ts';
import { benchNamespaces, benchPolicy, benchState, NAMESPACE_COUNT } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    logger: { type: 'string', default: 'silent' },
    namespaces: { type: 'string', default: String(NAMESPACE_COUNT) },
    'exclude-bench-namespaces': { type: 'boolean', default: false },
    'log-allows': { type: 'boolean', default: false },
    'decision-cache-entries': { type: 'string', default: String(DEFAULT_ADMISSION_MEMO_ENTRIES) },
  },
});
if (values.logger !== 'silent' && values.logger !== 'info') throw new Error(`--logger must be silent or info, got ${values.logger}`);

runBenchChild(async (start) => {
  const { snapshot, policy: benchPolicyResolver, buildMs } = benchState(Number(values.namespaces));
  const policy = values['exclude-bench-namespaces'] ? benchPolicy(benchNamespaces()) : benchPolicyResolver;
  const logger = createLogger(values.logger);
  const app = buildWebhookApp({
    state: new StaticDecisionState(snapshot, policy),
    // As `pullguard serve`: default process metrics on, so their cost is in the numbers.
    metrics: createMetrics(),
    logger,
    https: { cert: start.cert, key: start.key, minVersion: MIN_TLS_VERSION },
    decisionCacheEntries: Number(values['decision-cache-entries']),
    logAllows: values['log-allows'],
  });
  const stats = snapshot.stats();
  return { app, detail: `snapshot ${stats.namespaces} namespaces / ${stats.secrets} secrets built in ${Math.round(buildMs)} ms` };
});
