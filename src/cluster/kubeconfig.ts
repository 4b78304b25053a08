import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { delimiter, join } from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { configFiles, KubeconfigError, type ClusterAccessOptions } from './kubeconfig-files.ts';

export { KubeconfigError, type ClusterAccessOptions } from './kubeconfig-files.ts';

/**
 * How a command-line tool finds its cluster, the way kubectl does: `--kubeconfig FILE`, else the
 * files in `KUBECONFIG` (merged: the first file to set a value wins, missing files are skipped),
 * else `~/.kube/config`, else the in-cluster ServiceAccount. `--context` picks a context; the
 * namespace defaults to the context's. Unlike client-node's loadFromDefault, a later KUBECONFIG
 * file never overrides the first one's current context, duplicate names are not an error, and
 * finding nothing is an error rather than a silent http://localhost:8080.
 */

export interface ClusterAccess {
  readonly kubeConfig: KubeConfig;
  /** The context's namespace, or `default`. */
  readonly namespace: string;
  readonly context: string;
  /** Where the configuration came from, for messages: a file list or `in-cluster`. */
  readonly source: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function loadClusterAccess(options: ClusterAccessOptions = {}): ClusterAccess {
  const env = options.env ?? process.env;
  const exists = options.fileExists ?? existsSync;
  const files = configFiles(options, env, exists);
  let kubeConfig: KubeConfig;
  let source: string;
  if (files.length > 0) {
    kubeConfig = mergeFiles(files);
    source = files.join(delimiter);
  } else {
    const root = options.inClusterRoot ?? '';
    if (env['KUBERNETES_SERVICE_HOST'] === undefined || !exists(root + SERVICE_ACCOUNT_DIR + '/token')) {
      throw new KubeconfigError('no kubeconfig found: give --kubeconfig FILE, set KUBECONFIG, create ~/.kube/config, or run in a pod with a ServiceAccount');
    }
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster(root);
    // loadFromCluster reads process.env; the address comes from the env we were given.
    kubeConfig.clusters = kubeConfig.clusters.map((cluster) => ({ ...cluster, server: inClusterServer(env) }));
    source = 'in-cluster';
  }
  if (options.context !== undefined) {
    if (kubeConfig.getContextObject(options.context) === null) {
      const known = kubeConfig.getContexts().map((context) => context.name);
      throw new KubeconfigError(`context "${options.context}" not found in ${source} (contexts: ${known.length === 0 ? 'none' : known.join(', ')})`);
    }
    kubeConfig.setCurrentContext(options.context);
  }
  const context = kubeConfig.getCurrentContext();
  const contextObject = kubeConfig.getContextObject(context);
  if (contextObject === null || kubeConfig.getCurrentCluster() === null) {
    throw new KubeconfigError(`${source} has no usable current context${context === '' ? '' : ` ("${context}" names no cluster)`}: give --context NAME`);
  }
  return { kubeConfig, namespace: contextObject.namespace || 'default', context, source };
}

function inClusterServer(env: Readonly<Record<string, string | undefined>>): string {
  const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  return `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** kubectl's merge: for clusters, users and contexts the first definition of a name wins; so does the first current-context. */
function mergeFiles(files: readonly string[]): KubeConfig {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const file of files) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (error) {
      throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(error as Error).message}`);
    }
    for (const cluster of one.clusters) if (!clusters.has(cluster.name)) clusters.set(cluster.name, cluster);
    for (const user of one.users) if (!users.has(user.name)) users.set(user.name, user);
    for (const context of one.contexts) if (!contexts.has(context.name)) contexts.set(context.name, context);
    if (currentContext === '') currentContext = one.currentContext ?? '';
  }
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], currentContext });
  return merged;
}
