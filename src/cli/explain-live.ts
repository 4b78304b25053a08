import { apiGetter, apiGetterFromLight, type ApiGet } from '../cluster/api-get.ts';
import { ExplainReadError, KIND_ALIASES, readExplainTarget } from '../cluster/explain-reader.ts';
import { KubeconfigError } from '../cluster/kubeconfig-files.ts';
import { loadLightAccess } from '../cluster/kubeconfig-light.ts';
import { isRecord } from '../workloads/extract.ts';
import { UsageError } from './errors.ts';
import type { LiveOptions, LiveResult } from './explain.ts';

/** `explain pod NAME` against the cluster: kubeconfig, then the reads of one namespace. */
export async function readLive(options: LiveOptions): Promise<LiveResult> {
  const kind = KIND_ALIASES[options.kind];
  if (kind === undefined) throw new UsageError(`cannot explain a ${options.kind}: give a pod or a workload (deployment, replicaset, statefulset, daemonset, job, cronjob, replicationcontroller)`);
  let access: { namespace: string; context: string; get: ApiGet };
  try {
    access = await connect(options);
  } catch (error) {
    if (error instanceof KubeconfigError) throw new UsageError(error.message);
    throw error;
  }
  const namespace = options.namespace ?? access.namespace;
  const get = access.get;
  try {
    const [reading, policyText] = await Promise.all([
      readExplainTarget(get, { kind, name: options.name, namespace }),
      options.readPolicy ? readPolicyText(get, options.policyNamespace, options.policyConfigMap) : Promise.resolve({ text: undefined, note: undefined }),
    ]);
    const notes = [...reading.notes, ...(policyText.note !== undefined ? [policyText.note] : [])];
    return { namespace, objects: reading.objects, state: reading.state, events: reading.events, policyText: policyText.text, notes };
  } catch (error) {
    if (error instanceof ExplainReadError) throw new UsageError(`${error.message} (${access.context}, namespace ${namespace})`);
    if (error instanceof Error && 'code' in error) throw new UsageError(`cannot reach the API server of context ${access.context}: ${error.message}`);
    throw error;
  }
}

/**
 * The kubeconfig read directly (fast: no client-node), or through client-node for what the direct
 * reader does not support (legacy auth-provider, proxy-url).
 */
async function connect(options: LiveOptions): Promise<{ namespace: string; context: string; get: ApiGet }> {
  const settings = { kubeconfig: options.kubeconfig, context: options.context, env: options.env };
  const light = await loadLightAccess(settings);
  if (light !== undefined) return { namespace: light.namespace, context: light.context, get: apiGetterFromLight(light) };
  const { loadClusterAccess } = await import('../cluster/kubeconfig.ts');
  const access = loadClusterAccess(settings);
  return { namespace: access.namespace, context: access.context, get: await apiGetter(access.kubeConfig) };
}

async function readPolicyText(get: ApiGet, namespace: string, name: string): Promise<{ text: string | undefined; note: string | undefined }> {
  const answer = await get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`);
  if (answer.status === 200 && isRecord(answer.body) && isRecord(answer.body['data']) && typeof answer.body['data']['policy.yaml'] === 'string') {
    return { text: answer.body['data']['policy.yaml'], note: undefined };
  }
  if (answer.status === 404) return { text: undefined, note: `no policy ConfigMap ${namespace}/${name}: using the built-in policy (give --policy FILE)` };
  return { text: undefined, note: `could not read the policy ConfigMap ${namespace}/${name} (HTTP ${answer.status}): using the built-in policy (give --policy FILE)` };
}
