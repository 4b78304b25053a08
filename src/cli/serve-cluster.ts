import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DecisionState } from '../server/state.ts';
import { UsageError } from './errors.ts';
import type { ServeOptions } from './serve.ts';

/** Live cluster state (informers and the policy ConfigMap). */
export async function startClusterState(_options: ServeOptions, _logger: Logger, _registry: Registry): Promise<{ state: DecisionState; stop: () => Promise<void> }> {
  throw new UsageError('watching a cluster is not available yet: pass --state FILE or --cluster off');
}
