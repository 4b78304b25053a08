import { pino } from 'pino';
import { buildWebhookApp, type WebhookAppOptions } from '../../src/server/app.ts';
import { createMetrics, type ServerMetrics } from '../../src/server/metrics.ts';
import { StaticDecisionState, type DecisionState } from '../../src/server/state.ts';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';

export interface TestServer {
  readonly app: ReturnType<typeof buildWebhookApp>;
  readonly metrics: ServerMetrics;
  readonly logs: Record<string, unknown>[];
}

export function policyResolver(policy: Record<string, unknown> = {}): PolicyResolver {
  const loaded = parsePolicyObject(policy);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return new PolicyResolver(loaded.policy);
}

/** A webhook app over fastify.inject(), with logs captured as parsed JSON lines. */
export function testServer(
  state: readonly Record<string, unknown>[],
  policy: Record<string, unknown> = {},
  overrides: Partial<WebhookAppOptions> & { decisionState?: DecisionState; logLevel?: string } = {},
): TestServer {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: overrides.logLevel ?? 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = createMetrics({ defaultMetrics: false });
  const app = buildWebhookApp({
    state: overrides.decisionState ?? new StaticDecisionState(snapshotFromObjects(state), policyResolver(policy)),
    metrics,
    logger,
    now: () => Date.parse('2026-06-01T12:00:00Z'),
    ...overrides,
  });
  return { app, metrics, logs };
}
