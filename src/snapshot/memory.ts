import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE, type PullSecretView } from '../credentials/types.ts';
import type { ClusterSnapshot, NamespaceView, ServiceAccountPullSecrets } from './types.ts';

/** Everything one namespace contributes to decisions. Frozen once built. */
export interface NamespaceState {
  readonly secrets: ReadonlyMap<string, PullSecretView>;
  /** Pull-secret-typed secrets sorted by name: injection candidates. */
  readonly pullSecrets: readonly PullSecretView[];
  readonly serviceAccounts: ReadonlyMap<string, ServiceAccountPullSecrets>;
  /** True when a secret holds a credential with a provable expiry: decisions here depend on the clock. */
  readonly hasExpiringCredentials: boolean;
}

const EMPTY_STATE: NamespaceState = Object.freeze({
  secrets: new Map<string, PullSecretView>(),
  pullSecrets: Object.freeze([]) as readonly PullSecretView[],
  serviceAccounts: new Map<string, ServiceAccountPullSecrets>(),
  hasExpiringCredentials: false,
});

export function isPullSecretType(type: string): boolean {
  return type === DOCKER_CONFIG_JSON_TYPE || type === DOCKER_CFG_TYPE;
}

export function buildNamespaceState(
  secrets: Iterable<PullSecretView>,
  serviceAccounts: Iterable<readonly [string, ServiceAccountPullSecrets]>,
): NamespaceState {
  const secretMap = new Map<string, PullSecretView>();
  for (const view of secrets) secretMap.set(view.name, view);
  let hasExpiringCredentials = false;
  for (const view of secretMap.values()) if (view.expiresAt !== undefined) hasExpiringCredentials = true;
  const pullSecrets = [...secretMap.values()]
    .filter((view) => isPullSecretType(view.type))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return Object.freeze({
    secrets: secretMap,
    pullSecrets: Object.freeze(pullSecrets),
    serviceAccounts: new Map(serviceAccounts),
    hasExpiringCredentials,
  });
}

/**
 * An immutable snapshot over plain maps. The offline loaders build one whole; the informer cache
 * builds a new one per change by reusing every untouched namespace's state (copy-on-write), so a
 * request always reads one consistent view without locks.
 */
export class MemorySnapshot implements ClusterSnapshot {
  readonly seesAllSecretTypes: boolean;
  /** True when every ServiceAccount of every namespace is held (the live cluster); see serviceAccountsComplete. */
  private readonly allServiceAccounts: boolean;
  private readonly namespaces: ReadonlyMap<string, NamespaceView>;
  private readonly states: ReadonlyMap<string, NamespaceState>;
  /**
   * The last namespace looked up and its state: one decision asks for the same namespace several
   * times (ServiceAccount, each listed secret, injection candidates) with the same string, so the
   * comparison is usually decided by identity before any character is read. Not observable: both
   * maps are immutable.
   */
  private lastNamespace: string | undefined;
  private lastState: NamespaceState = EMPTY_STATE;

  constructor(
    namespaces: ReadonlyMap<string, NamespaceView>,
    states: ReadonlyMap<string, NamespaceState>,
    seesAllSecretTypes: boolean,
    allServiceAccounts = false,
  ) {
    this.namespaces = namespaces;
    this.states = states;
    this.seesAllSecretTypes = seesAllSecretTypes;
    this.allServiceAccounts = allServiceAccounts;
  }

  /** The same content, declared to hold every ServiceAccount of the cluster (the live snapshot). */
  get holdsAllServiceAccounts(): boolean {
    return this.allServiceAccounts;
  }

  namespace(name: string): NamespaceView | undefined {
    return this.namespaces.get(name);
  }

  secret(namespace: string, name: string): PullSecretView | undefined {
    return this.stateOf(namespace).secrets.get(name);
  }

  pullSecrets(namespace: string): readonly PullSecretView[] {
    return this.stateOf(namespace).pullSecrets;
  }

  serviceAccountPullSecrets(namespace: string, serviceAccount: string): ServiceAccountPullSecrets | undefined {
    return this.stateOf(namespace).serviceAccounts.get(serviceAccount);
  }

  serviceAccountsComplete(namespace: string): boolean {
    return this.allServiceAccounts || this.stateOf(namespace).serviceAccounts.size > 0;
  }

  namespaceVersion(namespace: string): object {
    return this.stateOf(namespace);
  }

  hasExpiringCredentials(namespace: string): boolean {
    return this.stateOf(namespace).hasExpiringCredentials;
  }

  /** Counts for logs, readiness and the memory benchmark. */
  stats(): { namespaces: number; secrets: number; serviceAccounts: number } {
    let secrets = 0;
    let serviceAccounts = 0;
    for (const state of this.states.values()) {
      secrets += state.secrets.size;
      serviceAccounts += state.serviceAccounts.size;
    }
    return { namespaces: this.namespaces.size, secrets, serviceAccounts };
  }

  namespaceStates(): ReadonlyMap<string, NamespaceState> {
    return this.states;
  }

  namespaceViews(): ReadonlyMap<string, NamespaceView> {
    return this.namespaces;
  }

  private stateOf(namespace: string): NamespaceState {
    if (namespace === this.lastNamespace) return this.lastState;
    const state = this.states.get(namespace) ?? EMPTY_STATE;
    this.lastNamespace = namespace;
    this.lastState = state;
    return state;
  }
}

export const EMPTY_SNAPSHOT = new MemorySnapshot(new Map(), new Map(), true);
