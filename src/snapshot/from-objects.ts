import { projectPullSecret } from '../credentials/dockerconfig.ts';
import type { PullSecretView } from '../credentials/types.ts';
import { ownCopy } from '../text/own-copy.ts';
import { isRecord } from '../workloads/extract.ts';
import { buildNamespaceState, MemorySnapshot, type NamespaceState } from './memory.ts';
import { ENFORCE_MOUNTABLE_SECRETS_ANNOTATION, type NamespaceView, type ServiceAccountPullSecrets } from './types.ts';

/** Namespace assumed for namespaced objects that name none (as `kubectl apply` without -n). */
export const DEFAULT_NAMESPACE = 'default';

/** The string members of a record, each an own copy (ownCopy: kept, they keep nothing of the file). */
function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(value)) for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[ownCopy(key)] = ownCopy(entry);
  return out;
}

/** ServiceAccount → its imagePullSecrets names (entries without a name are dropped, as the plugin copies them). */
export function serviceAccountPullSecretNames(serviceAccount: Record<string, unknown>): string[] {
  const list = serviceAccount['imagePullSecrets'];
  if (!Array.isArray(list)) return [];
  return list.map((entry: unknown) => (isRecord(entry) && typeof entry['name'] === 'string' ? entry['name'] : '')).filter((name) => name !== '');
}

/** True when the ServiceAccount carries `kubernetes.io/enforce-mountable-secrets: "true"`. */
export function enforcesMountableSecrets(serviceAccount: Record<string, unknown>): boolean {
  const metadata = serviceAccount['metadata'];
  const annotations = isRecord(metadata) ? metadata['annotations'] : undefined;
  return isRecord(annotations) && annotations[ENFORCE_MOUNTABLE_SECRETS_ANNOTATION] === 'true';
}

const NO_NAMES: ServiceAccountPullSecrets = Object.freeze([]);

/** The frozen list a snapshot keeps for a ServiceAccount, flagged when it enforces mountable secrets. */
export function serviceAccountPullSecrets(serviceAccount: Record<string, unknown>, share: (name: string) => string = (name) => name): ServiceAccountPullSecrets {
  const names = serviceAccountPullSecretNames(serviceAccount).map(share);
  if (!enforcesMountableSecrets(serviceAccount)) return names.length === 0 ? NO_NAMES : Object.freeze(names);
  return Object.freeze(Object.assign(names, { enforceMountableSecrets: true }));
}

/** Equal lists and equal enforcement: a ServiceAccount edit that changes neither changes no decision. */
export function sameServiceAccountPullSecrets(a: ServiceAccountPullSecrets, b: ServiceAccountPullSecrets): boolean {
  if (a === b) return true;
  if ((a.enforceMountableSecrets === true) !== (b.enforceMountableSecrets === true)) return false;
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

/**
 * Builds a snapshot from Kubernetes objects (state files, manifests): Secrets of every type,
 * ServiceAccounts and Namespaces; other kinds are ignored. Secrets are projected at once and the
 * raw objects are not kept. Namespaced objects that name no namespace are in `defaultNamespace`
 * (`audit --namespace`, as `kubectl apply -n`).
 */
export function snapshotFromObjects(objects: Iterable<unknown>, defaultNamespace: string = DEFAULT_NAMESPACE): MemorySnapshot {
  const builder = new SnapshotBuilder(defaultNamespace);
  for (const object of objects) builder.add(object);
  return builder.build();
}

/** A state object reduced to what the snapshot keeps of it (SnapshotBuilder.project). */
export type ProjectedState =
  | { readonly kind: 'Namespace'; readonly view: NamespaceView }
  | { readonly kind: 'Secret'; readonly namespace: string; readonly view: PullSecretView }
  | { readonly kind: 'ServiceAccount'; readonly namespace: string; readonly name: string; readonly pullSecrets: ServiceAccountPullSecrets };

/**
 * The same, one object at a time, so a reader can drop each object once added (`audit` of a large
 * repository keeps only the projections, never the raw Secrets).
 */
export class SnapshotBuilder {
  private readonly namespaces = new Map<string, NamespaceView>();
  private readonly secrets = new Map<string, PullSecretView[]>();
  private readonly serviceAccounts = new Map<string, Array<readonly [string, ServiceAccountPullSecrets]>>();
  private readonly defaultNamespace: string;

  constructor(defaultNamespace: string = DEFAULT_NAMESPACE) {
    this.defaultNamespace = defaultNamespace;
  }

  /** Adds a Namespace, Secret or ServiceAccount; anything else is ignored. */
  add(object: unknown): void {
    const entry = this.project(object);
    if (entry !== undefined) this.addProjected(entry);
  }

  /**
   * What `add` keeps of an object, computed now so the object can be dropped; added later with
   * addProjected (a reader projects each object as it is parsed and adds a file's objects once
   * the whole file parsed). Undefined for objects that are not state.
   */
  project(object: unknown): ProjectedState | undefined {
    if (!isRecord(object)) return undefined;
    const metadata = isRecord(object['metadata']) ? object['metadata'] : {};
    if (typeof metadata['name'] !== 'string') return undefined;
    // What a snapshot keeps are own copies: the strings of a parsed file are views of its text, and
    // a snapshot (serve --state) lives as long as the process, the file's Secrets must not.
    const name = ownCopy(metadata['name']);
    const namespace = typeof metadata['namespace'] === 'string' && metadata['namespace'] !== '' ? ownCopy(metadata['namespace']) : this.defaultNamespace;
    switch (object['kind']) {
      case 'Namespace':
        return { kind: 'Namespace', view: Object.freeze({ name, labels: Object.freeze(stringRecord(metadata['labels'])) }) };
      case 'Secret':
        return { kind: 'Secret', namespace, view: projectPullSecret(object) };
      case 'ServiceAccount':
        return { kind: 'ServiceAccount', namespace, name, pullSecrets: serviceAccountPullSecrets(object, ownCopy) };
      default:
        return undefined;
    }
  }

  addProjected(entry: ProjectedState): void {
    switch (entry.kind) {
      case 'Namespace':
        this.namespaces.set(entry.view.name, entry.view);
        break;
      case 'Secret':
        push(this.secrets, entry.namespace, entry.view);
        break;
      case 'ServiceAccount':
        push(this.serviceAccounts, entry.namespace, [entry.name, entry.pullSecrets] as const);
        break;
    }
  }

  build(): MemorySnapshot {
    const states = new Map<string, NamespaceState>();
    for (const namespace of new Set([...this.secrets.keys(), ...this.serviceAccounts.keys()])) {
      states.set(namespace, buildNamespaceState(this.secrets.get(namespace) ?? [], this.serviceAccounts.get(namespace) ?? []));
    }
    return MemorySnapshot.fromMaps(this.namespaces, states, true);
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
