import { projectPullSecret } from '../credentials/dockerconfig.ts';
import type { PullSecretView } from '../credentials/types.ts';
import { isRecord } from '../workloads/extract.ts';
import { buildNamespaceState, MemorySnapshot, type NamespaceState } from './memory.ts';
import type { NamespaceView } from './types.ts';

/** Namespace assumed for namespaced objects that name none (as `kubectl apply` without -n). */
export const DEFAULT_NAMESPACE = 'default';

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(value)) for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}

/** ServiceAccount → its imagePullSecrets names (entries without a name are dropped, as the plugin copies them). */
export function serviceAccountPullSecretNames(serviceAccount: Record<string, unknown>): string[] {
  const list = serviceAccount['imagePullSecrets'];
  if (!Array.isArray(list)) return [];
  return list.map((entry: unknown) => (isRecord(entry) && typeof entry['name'] === 'string' ? entry['name'] : '')).filter((name) => name !== '');
}

/**
 * Builds a snapshot from Kubernetes objects (state files, manifests): Secrets of every type,
 * ServiceAccounts and Namespaces; other kinds are ignored. Secrets are projected at once and the
 * raw objects are not kept.
 */
export function snapshotFromObjects(objects: Iterable<unknown>): MemorySnapshot {
  const namespaces = new Map<string, NamespaceView>();
  const secrets = new Map<string, PullSecretView[]>();
  const serviceAccounts = new Map<string, Array<readonly [string, readonly string[]]>>();
  const push = <T>(map: Map<string, T[]>, key: string, value: T): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  for (const object of objects) {
    if (!isRecord(object)) continue;
    const metadata = isRecord(object['metadata']) ? object['metadata'] : {};
    const name = typeof metadata['name'] === 'string' ? metadata['name'] : undefined;
    if (name === undefined) continue;
    const namespace = typeof metadata['namespace'] === 'string' && metadata['namespace'] !== '' ? metadata['namespace'] : DEFAULT_NAMESPACE;
    switch (object['kind']) {
      case 'Namespace':
        namespaces.set(name, Object.freeze({ name, labels: Object.freeze(stringRecord(metadata['labels'])) }));
        break;
      case 'Secret':
        push(secrets, namespace, projectPullSecret(object));
        break;
      case 'ServiceAccount':
        push(serviceAccounts, namespace, [name, Object.freeze(serviceAccountPullSecretNames(object))] as const);
        break;
      default:
        break;
    }
  }
  const states = new Map<string, NamespaceState>();
  for (const namespace of new Set([...secrets.keys(), ...serviceAccounts.keys()])) {
    states.set(namespace, buildNamespaceState(secrets.get(namespace) ?? [], serviceAccounts.get(namespace) ?? []));
  }
  return new MemorySnapshot(namespaces, states, true);
}
