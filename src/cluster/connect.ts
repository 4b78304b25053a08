import type { ClusterAccessOptions } from './kubeconfig-files.ts';
import { loadLightAccess } from './kubeconfig-light.ts';
import { httpsKubeRest } from './rest-https.ts';
import type { KubeRest } from './rest.ts';

/**
 * The API client of a command-line run, from the kubeconfig as kubectl finds it. The kubeconfig is
 * read directly and requests go over node:https (rest-https.ts); only what that reader does not
 * support (a legacy auth-provider, a proxy-url) loads @kubernetes/client-node.
 */

export interface ClusterConnection {
  readonly rest: KubeRest;
  /** The context's namespace, or `default`. */
  readonly namespace: string;
  readonly context: string;
  /** Where the configuration came from, for messages: a file list or `in-cluster`. */
  readonly source: string;
}

/** Throws KubeconfigError when no usable kubeconfig is found. */
export async function connectCluster(options: ClusterAccessOptions): Promise<ClusterConnection> {
  const light = await loadLightAccess(options);
  if (light !== undefined) return { rest: httpsKubeRest(light), namespace: light.namespace, context: light.context, source: light.source };
  const [{ loadClusterAccess }, { kubeRest }] = await Promise.all([import('./kubeconfig.ts'), import('./rest-client-node.ts')]);
  const access = loadClusterAccess(options);
  return { rest: kubeRest(access.kubeConfig), namespace: access.namespace, context: access.context, source: access.source };
}
