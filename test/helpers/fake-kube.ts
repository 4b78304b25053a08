import { KubeApiError, type KubeRequest, type KubeRest } from '../../src/cluster/rest.ts';

/**
 * An in-memory API server behind the KubeRest seam: collections with paging (limit/continue, in
 * namespace/name order as etcd returns them), equality field and label selectors, GET by name,
 * server-side apply (PATCH creates or replaces), DELETE and group discovery. Scripted 410s test
 * expired continue tokens. Every request is recorded.
 */

interface Stored {
  readonly namespace: string | undefined;
  readonly name: string;
  object: Record<string, unknown>;
}

const CORE_RESOURCES: Readonly<Record<string, string>> = {
  Namespace: 'namespaces',
  ServiceAccount: 'serviceaccounts',
  Secret: 'secrets',
  ConfigMap: 'configmaps',
  Pod: 'pods',
  ReplicationController: 'replicationcontrollers',
  PodTemplate: 'podtemplates',
  Deployment: 'deployments',
  ReplicaSet: 'replicasets',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
  CronJob: 'cronjobs',
  Lease: 'leases',
  Report: 'reports',
  ClusterReport: 'clusterreports',
  PolicyReport: 'policyreports',
  ClusterPolicyReport: 'clusterpolicyreports',
};

function groupVersionOf(apiVersion: string): string {
  return apiVersion.includes('/') ? `apis/${apiVersion}` : `api/${apiVersion}`;
}

export class FakeKube implements KubeRest {
  readonly requests: KubeRequest[] = [];
  /** resource key `api/v1/pods` → objects. */
  private readonly store = new Map<string, Stored[]>();
  /** Group versions served (discovery): `openreports.io/v1alpha1` → plural resource names. */
  readonly served = new Map<string, string[]>();
  /** Answer the next N requests carrying a continue token for this resource with 410. */
  expireContinue = new Map<string, number>();
  /** Status codes to answer for a path, once each. */
  failNext = new Map<string, number>();
  private version = 100;

  add(...objects: Record<string, unknown>[]): this {
    for (const object of objects) {
      const kind = String(object['kind']);
      const apiVersion = String(object['apiVersion'] ?? 'v1');
      const resource = CORE_RESOURCES[kind];
      if (resource === undefined) throw new Error(`fake: unknown kind ${kind}`);
      const metadata = object['metadata'] as { name: string; namespace?: string; resourceVersion?: string };
      this.version += 1;
      metadata.resourceVersion = String(this.version);
      const key = `${groupVersionOf(apiVersion)}/${resource}`;
      const list = this.store.get(key) ?? [];
      const index = list.findIndex((entry) => entry.name === metadata.name && entry.namespace === metadata.namespace);
      if (index >= 0) list.splice(index, 1);
      list.push({ namespace: metadata.namespace, name: metadata.name, object });
      list.sort((a, b) => `${a.namespace ?? ''}/${a.name}`.localeCompare(`${b.namespace ?? ''}/${b.name}`));
      this.store.set(key, list);
    }
    return this;
  }

  objects(key: string): Record<string, unknown>[] {
    return (this.store.get(key) ?? []).map((entry) => entry.object);
  }

  async request(request: KubeRequest): Promise<unknown> {
    this.requests.push(request);
    const failure = this.failNext.get(request.path);
    if (failure !== undefined) {
      this.failNext.delete(request.path);
      throw new KubeApiError(failure, `${request.method} ${request.path}: ${failure}`, 'Scripted');
    }
    const parsed = this.parse(request.path);
    if (parsed === undefined) throw new KubeApiError(404, `${request.path}: 404 NotFound`, 'NotFound');
    if (parsed.discovery !== undefined) {
      const resources = this.served.get(parsed.discovery);
      if (resources === undefined) throw new KubeApiError(404, `${request.path}: 404 NotFound`, 'NotFound');
      return { kind: 'APIResourceList', groupVersion: parsed.discovery, resources: resources.map((name) => ({ name })) };
    }
    const { key, namespace, name } = parsed;
    const list = this.store.get(key) ?? [];
    switch (request.method) {
      case 'GET':
        if (name !== undefined) {
          const found = list.find((entry) => entry.name === name && entry.namespace === namespace);
          if (found === undefined) throw new KubeApiError(404, `${request.path}: 404 NotFound`, 'NotFound');
          return found.object;
        }
        return this.list(key, list, namespace, request.query ?? {});
      case 'PATCH': {
        if (name === undefined) throw new KubeApiError(405, 'PATCH of a collection', 'MethodNotAllowed');
        const body = request.body as Record<string, unknown>;
        this.add(structuredClone(body));
        return body;
      }
      case 'POST': {
        const body = structuredClone(request.body) as Record<string, unknown>;
        const metadata = body['metadata'] as { name: string; namespace?: string };
        if (list.some((entry) => entry.name === metadata.name && entry.namespace === (namespace ?? metadata.namespace))) throw new KubeApiError(409, 'AlreadyExists', 'AlreadyExists');
        this.add(body);
        return body;
      }
      case 'PUT': {
        const body = structuredClone(request.body) as Record<string, unknown>;
        const found = list.find((entry) => entry.name === name && entry.namespace === namespace);
        if (found === undefined) throw new KubeApiError(404, `${request.path}: 404 NotFound`, 'NotFound');
        const sent = (body['metadata'] as { resourceVersion?: string }).resourceVersion;
        if (sent !== (found.object['metadata'] as { resourceVersion?: string }).resourceVersion) throw new KubeApiError(409, 'Conflict', 'Conflict');
        this.add(body);
        return body;
      }
      case 'DELETE': {
        const index = list.findIndex((entry) => entry.name === name && entry.namespace === namespace);
        if (index < 0) throw new KubeApiError(404, `${request.path}: 404 NotFound`, 'NotFound');
        list.splice(index, 1);
        return { kind: 'Status', status: 'Success' };
      }
      default:
        throw new KubeApiError(405, `${request.method} not supported by the fake`, 'MethodNotAllowed');
    }
  }

  private list(key: string, all: readonly Stored[], namespace: string | undefined, query: Readonly<Record<string, string | number | boolean | undefined>>): unknown {
    const continueToken = typeof query['continue'] === 'string' ? query['continue'] : undefined;
    if (continueToken !== undefined) {
      const left = this.expireContinue.get(key) ?? 0;
      if (left > 0) {
        this.expireContinue.set(key, left - 1);
        throw new KubeApiError(410, 'The provided continue parameter is too old', 'Expired');
      }
    }
    const matching = all.filter((entry) => (namespace === undefined || entry.namespace === namespace) && matches(entry.object, query));
    const start = continueToken === undefined ? 0 : Number(continueToken);
    const limit = typeof query['limit'] === 'number' ? query['limit'] : matching.length;
    // As the API server does: list items carry no kind or apiVersion (the list does).
    const items = matching.slice(start, start + limit).map((entry) => {
      const { kind: _kind, apiVersion: _apiVersion, ...rest } = entry.object;
      return structuredClone(rest);
    });
    const next = start + limit < matching.length ? String(start + limit) : undefined;
    return {
      kind: 'List',
      metadata: { resourceVersion: '100', ...(next !== undefined ? { continue: next, remainingItemCount: matching.length - start - limit } : {}) },
      items,
    };
  }

  private parse(path: string): { key: string; namespace: string | undefined; name: string | undefined; discovery?: undefined } | { discovery: string } | undefined {
    const parts = path.split('/').filter((part) => part !== '').map(decodeURIComponent);
    let groupVersion: string[];
    let rest: string[];
    if (parts[0] === 'api') {
      groupVersion = parts.slice(0, 2);
      rest = parts.slice(2);
    } else if (parts[0] === 'apis') {
      groupVersion = parts.slice(0, 3);
      rest = parts.slice(3);
      if (rest.length === 0) return { discovery: `${parts[1]}/${parts[2]}` };
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [resource, name] = rest;
    if (resource === undefined) return undefined;
    if (resource === 'namespaces' && name !== undefined) return { key: `${groupVersion.join('/')}/namespaces`, namespace: undefined, name };
    return { key: `${groupVersion.join('/')}/${resource}`, namespace, name };
  }
}

function matches(object: Record<string, unknown>, query: Readonly<Record<string, unknown>>): boolean {
  const field = query['fieldSelector'];
  if (typeof field === 'string') {
    for (const term of field.split(',')) {
      const [path, value] = term.split('=');
      if (path === 'type' && object['type'] !== value) return false;
      if (path === 'metadata.name' && (object['metadata'] as { name?: string }).name !== value) return false;
    }
  }
  const label = query['labelSelector'];
  if (typeof label === 'string') {
    const labels = ((object['metadata'] as { labels?: Record<string, string> }).labels ?? {}) as Record<string, string>;
    for (const term of label.split(',')) {
      const [key, value] = term.split('=');
      if (key === undefined || labels[key] !== value) return false;
    }
  }
  return true;
}
