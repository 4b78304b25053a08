import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LeaseElector } from '../cluster/lease.ts';
import { startLiveState } from '../cluster/live-state.ts';
import { REPORTS_LEASE_NAME, ReportRefresher } from '../cluster/report-refresher.ts';
import { kubeRest } from '../cluster/rest-client-node.ts';
import type { DecisionState } from '../server/state.ts';
import { loadKubeConfig } from './certs.ts';
import { UsageError } from './errors.ts';
import type { ServeOptions } from './serve.ts';

/**
 * Live cluster state: informers for pull secrets, ServiceAccounts and Namespaces, and the policy
 * ConfigMap, hot-reloaded. Returns at once; /readyz stays false until every informer has listed.
 */
export async function startClusterState(options: ServeOptions, logger: Logger, registry: Registry): Promise<{ state: DecisionState; stop: () => Promise<void> }> {
  if (options.policy !== undefined) {
    throw new UsageError(`--policy is for --state/--cluster off; watching a cluster, the policy comes from ConfigMap ${options.namespace}/${options.policyConfigMap}`);
  }
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig(options.kubeconfig);
  } catch (error) {
    throw new UsageError(`cannot load a kubeconfig${options.kubeconfig === undefined ? '' : ` from ${options.kubeconfig}`}: ${(error as Error).message}`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  logger.info(
    { server: cluster?.server, namespace: options.namespace, configMap: options.policyConfigMap, secretNamespaces: options.secretNamespaces ?? 'all' },
    'watching the cluster for pull secrets, ServiceAccounts, Namespaces and the policy',
  );
  const state = await startLiveState({
    kubeConfig,
    namespace: options.namespace,
    configMapName: options.policyConfigMap,
    logger,
    registry,
    instance: process.env['POD_NAME'] ?? hostname(),
    secretNamespaces: options.secretNamespaces,
  });
  if (!options.reports) return { state, stop: () => state.stop() };
  const rest = kubeRest(kubeConfig);
  const refresher = new ReportRefresher({
    rest,
    state,
    lease: new LeaseElector({
      rest,
      namespace: options.namespace,
      name: REPORTS_LEASE_NAME,
      identity: process.env['POD_NAME'] ?? hostname(),
      // Renewed at every refresh: held across one missed refresh, taken over after two.
      durationSeconds: options.reportsIntervalSeconds * 2 + 60,
    }),
    intervalMs: options.reportsIntervalSeconds * 1000,
    reportApi: options.reportApi,
    includePass: false,
    logger,
  });
  refresher.start();
  logger.info({ intervalSeconds: options.reportsIntervalSeconds, lease: `${options.namespace}/${REPORTS_LEASE_NAME}` }, 'policy reports: refreshing from the live state');
  return {
    state,
    stop: async () => {
      await refresher.stop();
      await state.stop();
    },
  };
}
