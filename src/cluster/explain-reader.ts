import type { ApiGet } from './api-get.ts';
import { isRecord } from '../workloads/extract.ts';

/**
 * Reads what `explain` needs about one pod or workload from the API server, and nothing more:
 * the object, its newest pod (for a workload), the ServiceAccount, the pull secrets (the listed
 * ones by name, whatever their type, and the namespace's pull-secret types for fixes), the
 * namespace and the pod's events. Everything is in the object's namespace, so the cost does not
 * grow with the size of the cluster.
 */

export interface WorkloadKindInfo {
  readonly kind: string;
  readonly path: (namespace: string, name: string) => string;
}

const core = (resource: string) => (namespace: string, name: string) => `/api/v1/namespaces/${enc(namespace)}/${resource}/${enc(name)}`;
const group = (api: string, resource: string) => (namespace: string, name: string) => `/apis/${api}/namespaces/${enc(namespace)}/${resource}/${enc(name)}`;

/** `kubectl`-style names (singular, plural, short) of the kinds explain reads. */
export const KIND_ALIASES: Readonly<Record<string, WorkloadKindInfo>> = (() => {
  const table: Array<[string[], WorkloadKindInfo]> = [
    [['pod', 'pods', 'po'], { kind: 'Pod', path: core('pods') }],
    [['deployment', 'deployments', 'deploy'], { kind: 'Deployment', path: group('apps/v1', 'deployments') }],
    [['replicaset', 'replicasets', 'rs'], { kind: 'ReplicaSet', path: group('apps/v1', 'replicasets') }],
    [['statefulset', 'statefulsets', 'sts'], { kind: 'StatefulSet', path: group('apps/v1', 'statefulsets') }],
    [['daemonset', 'daemonsets', 'ds'], { kind: 'DaemonSet', path: group('apps/v1', 'daemonsets') }],
    [['job', 'jobs'], { kind: 'Job', path: group('batch/v1', 'jobs') }],
    [['cronjob', 'cronjobs', 'cj'], { kind: 'CronJob', path: group('batch/v1', 'cronjobs') }],
    [['replicationcontroller', 'replicationcontrollers', 'rc'], { kind: 'ReplicationController', path: core('replicationcontrollers') }],
  ];
  const out: Record<string, WorkloadKindInfo> = {};
  for (const [names, info] of table) for (const name of names) out[name] = info;
  return out;
})();

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

export interface ExplainTarget {
  readonly kind: WorkloadKindInfo;
  readonly name: string;
  readonly namespace: string;
}

export interface ExplainReading {
  /** The object asked for, then (for a workload) its newest pod. */
  readonly objects: readonly Record<string, unknown>[];
  /** Namespace, ServiceAccounts and Secrets as cluster state (secrets are projected by the caller at once). */
  readonly state: readonly Record<string, unknown>[];
  /** Events of the pods read (v1 API, kubelet's view). */
  readonly events: readonly Record<string, unknown>[];
  /** What could not be read and why (RBAC): explain works with less and says so. */
  readonly notes: readonly string[];
  /** GET requests made: explain reads one namespace, a handful of objects. */
  readonly requests: number;
}

export class ExplainReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplainReadError';
  }
}

const PULL_SECRET_TYPES = ['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg'];

export async function readExplainTarget(get: ApiGet, target: ExplainTarget): Promise<ExplainReading> {
  const notes: string[] = [];
  let requests = 0;
  const fetchJson = async (path: string, what: string, optional: boolean): Promise<Record<string, unknown> | undefined> => {
    requests += 1;
    const answer = await get(path);
    if (answer.status === 200 && isRecord(answer.body)) return answer.body;
    if (answer.status === 404) {
      if (optional) return undefined;
      throw new ExplainReadError(`${what} not found`);
    }
    const reason = isRecord(answer.body) && typeof answer.body['message'] === 'string' ? answer.body['message'] : `HTTP ${answer.status}`;
    if (optional && (answer.status === 403 || answer.status === 401)) {
      notes.push(`could not read ${what}: ${reason}`);
      return undefined;
    }
    throw new ExplainReadError(`reading ${what}: ${reason}`);
  };
  const list = async (path: string, what: string, kind: string, apiVersion: string): Promise<Record<string, unknown>[]> => {
    const body = await fetchJson(path, what, true);
    const items = body?.['items'];
    if (!Array.isArray(items)) return [];
    // The API server leaves kind and apiVersion out of list items.
    return items.filter(isRecord).map((item) => ({ apiVersion, kind, ...item }));
  };

  const ns = target.namespace;
  const primary = await fetchJson(target.kind.path(ns, target.name), `${target.kind.kind} ${ns}/${target.name}`, false);
  if (primary === undefined) throw new ExplainReadError(`${target.kind.kind} ${ns}/${target.name} not found`);
  const objects: Record<string, unknown>[] = [{ kind: target.kind.kind, ...primary }];
  if (target.kind.kind !== 'Pod') {
    const pod = await newestPod(list, primary, ns);
    if (pod !== undefined) objects.push(pod);
  }

  const specs = objects.map(podSpecOf);
  const serviceAccounts = [...new Set(specs.map((spec) => serviceAccountOf(spec)))];
  const pods = objects.filter((object) => object['kind'] === 'Pod');
  const [namespaceObject, accounts, typed, events] = await Promise.all([
    fetchJson(`/api/v1/namespaces/${enc(ns)}`, `namespace ${ns}`, true),
    Promise.all(serviceAccounts.map((sa) => fetchJson(core('serviceaccounts')(ns, sa), `ServiceAccount ${ns}/${sa}`, true))),
    Promise.all(
      PULL_SECRET_TYPES.map((type) =>
        list(`/api/v1/namespaces/${enc(ns)}/secrets?fieldSelector=${enc(`type=${type}`)}`, `the ${type} secrets of ${ns}`, 'Secret', 'v1'),
      ),
    ),
    Promise.all(
      pods.map((pod) => {
        const name = isRecord(pod['metadata']) ? String(pod['metadata']['name'] ?? '') : '';
        const selector = enc(`involvedObject.kind=Pod,involvedObject.name=${name}`);
        return list(`/api/v1/namespaces/${enc(ns)}/events?fieldSelector=${selector}`, `the events of pod ${ns}/${name}`, 'Event', 'v1');
      }),
    ),
  ]);
  const secrets = typed.flat();
  const known = new Set(secrets.map((secret) => (isRecord(secret['metadata']) ? secret['metadata']['name'] : undefined)));
  const named = new Set<string>();
  for (const spec of specs) for (const name of namesOf(spec['imagePullSecrets'])) named.add(name);
  for (const account of accounts) if (account !== undefined) for (const name of namesOf(account['imagePullSecrets'])) named.add(name);
  // Listed secrets of another type (Opaque) are read by name, so explain can say what they are.
  const others = await Promise.all(
    [...named].filter((name) => !known.has(name)).map((name) => fetchJson(core('secrets')(ns, name), `secret ${ns}/${name}`, true)),
  );
  const state: Record<string, unknown>[] = [];
  if (namespaceObject !== undefined) state.push({ kind: 'Namespace', ...namespaceObject });
  for (const account of accounts) if (account !== undefined) state.push({ kind: 'ServiceAccount', ...account });
  for (const secret of [...secrets, ...others]) if (secret !== undefined) state.push({ kind: 'Secret', ...secret });
  return { objects, state, events: events.flat(), notes, requests };
}

async function newestPod(
  list: (path: string, what: string, kind: string, apiVersion: string) => Promise<Record<string, unknown>[]>,
  workload: Record<string, unknown>,
  namespace: string,
): Promise<Record<string, unknown> | undefined> {
  const spec = isRecord(workload['spec']) ? workload['spec'] : {};
  const selector = isRecord(spec['selector']) ? spec['selector'] : {};
  // Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs use matchLabels; a ReplicationController's selector is the map itself.
  const labels = isRecord(selector['matchLabels']) ? selector['matchLabels'] : workload['kind'] === 'ReplicationController' ? selector : undefined;
  if (labels === undefined || Object.keys(labels).length === 0) return undefined;
  const text = Object.entries(labels)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(',');
  const pods = await list(`/api/v1/namespaces/${enc(namespace)}/pods?labelSelector=${enc(text)}`, `the pods of ${namespace} matching ${text}`, 'Pod', 'v1');
  let newest: Record<string, unknown> | undefined;
  let newestAt = -Infinity;
  for (const pod of pods) {
    const created = isRecord(pod['metadata']) ? Date.parse(String(pod['metadata']['creationTimestamp'] ?? '')) : Number.NaN;
    const at = Number.isFinite(created) ? created : -Infinity;
    if (newest === undefined || at > newestAt) {
      newest = pod;
      newestAt = at;
    }
  }
  return newest;
}

function podSpecOf(object: Record<string, unknown>): Record<string, unknown> {
  let cursor: unknown = object['spec'];
  const kind = object['kind'];
  if (kind === 'CronJob') cursor = isRecord(cursor) && isRecord(cursor['jobTemplate']) ? cursor['jobTemplate']['spec'] : undefined;
  if (kind !== 'Pod') cursor = isRecord(cursor) && isRecord(cursor['template']) ? cursor['template']['spec'] : undefined;
  return isRecord(cursor) ? cursor : {};
}

function serviceAccountOf(spec: Record<string, unknown>): string {
  const name = spec['serviceAccountName'] ?? spec['serviceAccount'];
  return typeof name === 'string' && name !== '' ? name : 'default';
}

function namesOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((entry: unknown) => (isRecord(entry) && typeof entry['name'] === 'string' ? entry['name'] : '')).filter((name) => name !== '');
}
