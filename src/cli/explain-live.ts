import { apiGetter, apiGetterFromLight, type ApiGet } from '../cluster/api-get.ts';
import { ExplainReadError, KIND_ALIASES, readExplainTarget } from '../cluster/explain-reader.ts';
import { KubeconfigError } from '../cluster/kubeconfig-files.ts';
import { loadLightAccess } from '../cluster/kubeconfig-light.ts';
import { POLICY_CONFIGMAP_SELECTOR } from '../cluster/cluster-policy.ts';
import { POLICY_KEY } from '../cluster/projection.ts';
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
      options.readPolicy ? readPolicyText(get, options.policyConfigMap) : Promise.resolve({ text: undefined, note: undefined }),
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

/** The policy text of a ConfigMap object, if it holds one. */
function policyOf(configMap: unknown): string | undefined {
  return isRecord(configMap) && isRecord(configMap['data']) && typeof configMap['data'][POLICY_KEY] === 'string' ? configMap['data'][POLICY_KEY] : undefined;
}

/**
 * The policy the webhook runs: the ConfigMap named by the flags; without them, the default name
 * (pullguard/pullguard-policy, one GET), and when it is not there, the ConfigMap the chart installs
 * under any release name and namespace, found by its labels as `audit --cluster` finds it (one
 * list, only then). Whatever cannot be read is a note, and the built-in policy applies.
 */
export async function readPolicyText(get: ApiGet, configMap: PolicyConfigMapChoice): Promise<{ text: string | undefined; note: string | undefined }> {
  const { namespace, name } = configMap;
  const answer = await get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`);
  const text = answer.status === 200 ? policyOf(answer.body) : undefined;
  if (text !== undefined) return { text, note: undefined };
  const fix = 'using the built-in policy (give --policy-namespace and --policy-configmap, or --policy FILE)';
  if (answer.status === 200) return { text: undefined, note: `the ConfigMap ${namespace}/${name} has no ${POLICY_KEY} key: ${fix}` };
  if (configMap.explicit || (answer.status !== 404 && answer.status !== 403)) {
    return { text: undefined, note: answer.status === 404 ? `no policy ConfigMap ${namespace}/${name}: ${fix}` : `could not read the policy ConfigMap ${namespace}/${name} (HTTP ${answer.status}): ${fix}` };
  }
  const list = await get(`/api/v1/configmaps?labelSelector=${encodeURIComponent(POLICY_CONFIGMAP_SELECTOR)}`);
  if (list.status !== 200) {
    return { text: undefined, note: `no policy ConfigMap ${namespace}/${name}, and could not search ConfigMaps for the one the chart installs (HTTP ${list.status}): ${fix}` };
  }
  const items = isRecord(list.body) && Array.isArray(list.body['items']) ? (list.body['items'] as unknown[]) : [];
  const found = items.filter((item) => policyOf(item) !== undefined);
  const nameOf = (item: unknown): string => {
    const metadata = isRecord(item) && isRecord(item['metadata']) ? item['metadata'] : {};
    return `${String(metadata['namespace'])}/${String(metadata['name'])}`;
  };
  if (found.length === 1) return { text: policyOf(found[0]), note: undefined };
  if (found.length === 0) return { text: undefined, note: `no policy ConfigMap ${namespace}/${name}, and none labelled ${POLICY_CONFIGMAP_SELECTOR}: ${fix}` };
  return { text: undefined, note: `${found.length} pullguard policy ConfigMaps (${found.map(nameOf).join(', ')}): ${fix}` };
}

/** Where explain looks for the policy; `explicit` when a flag named it (then nothing else is searched). */
export interface PolicyConfigMapChoice {
  readonly namespace: string;
  readonly name: string;
  readonly explicit: boolean;
}
