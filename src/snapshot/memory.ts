import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE, type PullSecretView } from '../credentials/types.ts';
import type { ClusterSnapshot, NamespaceResolver, NamespaceView, ServiceAccountPullSecrets } from './types.ts';

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
 * One namespace as a snapshot holds it: its view and its state, found with one lookup. Snapshots
 * share an entry while neither changes; the live cache builds a new one when either does.
 */
export class NamespaceEntry {
  /** Undefined while the Namespace object is unknown (its secrets or ServiceAccounts are known). */
  readonly view: NamespaceView | undefined;
  /** Undefined when the namespace holds nothing the snapshot keeps. */
  readonly state: NamespaceState | undefined;

  constructor(view: NamespaceView | undefined, state: NamespaceState | undefined) {
    this.view = view;
    this.state = state;
    // Shared by successive snapshots: nothing may be written on it.
    Object.freeze(this);
  }
}

/**
 * An immutable snapshot over one map of namespace entries. The offline loaders build one whole;
 * the informer cache builds a new one per change by reusing every untouched namespace's entry
 * (copy-on-write, in a persistent map), so a request always reads one consistent view without locks.
 */
export class MemorySnapshot implements ClusterSnapshot {
  readonly seesAllSecretTypes: boolean;
  /** True when every ServiceAccount of every namespace is held (the live cluster); see serviceAccountsComplete. */
  private readonly allServiceAccounts: boolean;
  private readonly entries: ReadonlyMap<string, NamespaceEntry>;
  /**
   * The last namespace looked up and its entry: one decision asks for the same namespace several
   * times (its view, its version, the ServiceAccount, each listed secret, injection candidates)
   * with the same string, so the comparison is usually decided by identity before any character is
   * read, and the map is searched once. Not observable: the map is immutable.
   */
  private lastNamespace: string | undefined;
  private lastEntry: NamespaceEntry | undefined;

  constructor(entries: ReadonlyMap<string, NamespaceEntry>, seesAllSecretTypes: boolean, allServiceAccounts = false) {
    this.entries = entries;
    this.seesAllSecretTypes = seesAllSecretTypes;
    this.allServiceAccounts = allServiceAccounts;
  }

  /** A snapshot of the namespaces' views and states (either may lack a namespace the other has). */
  static fromMaps(
    namespaces: ReadonlyMap<string, NamespaceView>,
    states: ReadonlyMap<string, NamespaceState>,
    seesAllSecretTypes: boolean,
    allServiceAccounts = false,
  ): MemorySnapshot {
    const entries = new Map<string, NamespaceEntry>();
    for (const [name, view] of namespaces) entries.set(name, new NamespaceEntry(view, states.get(name)));
    for (const [name, state] of states) if (!namespaces.has(name)) entries.set(name, new NamespaceEntry(undefined, state));
    return new MemorySnapshot(entries, seesAllSecretTypes, allServiceAccounts);
  }

  /** The same content, declared to hold every ServiceAccount of the cluster (the live snapshot). */
  get holdsAllServiceAccounts(): boolean {
    return this.allServiceAccounts;
  }

  namespace(name: string): NamespaceView | undefined {
    return this.entryOf(name)?.view;
  }

  resolveNamespace<T>(name: string, resolver: NamespaceResolver<T>): T {
    // The resolver remembers its answer per view (PolicyResolver: a WeakMap), not the entry: entries
    // outlive policy reloads (snapshots share them while a namespace is quiet), and an answer kept
    // on one would keep its resolver, with its memos, alive until the namespace was asked again.
    return resolver.forNamespace(name, this.entryOf(name)?.view);
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
    let namespaces = 0;
    let secrets = 0;
    let serviceAccounts = 0;
    for (const { view, state } of this.entries.values()) {
      if (view !== undefined) namespaces++;
      if (state === undefined) continue;
      secrets += state.secrets.size;
      serviceAccounts += state.serviceAccounts.size;
    }
    return { namespaces, secrets, serviceAccounts };
  }

  /** Every namespace entry by name (the live cache builds the next snapshot from them). */
  namespaceEntries(): ReadonlyMap<string, NamespaceEntry> {
    return this.entries;
  }

  /** The namespaces holding secrets or ServiceAccounts, by name (a new map: tests, audits). */
  namespaceStates(): ReadonlyMap<string, NamespaceState> {
    const states = new Map<string, NamespaceState>();
    for (const [name, { state }] of this.entries) if (state !== undefined) states.set(name, state);
    return states;
  }

  /** The known Namespace objects, by name (a new map: tests, audits). */
  namespaceViews(): ReadonlyMap<string, NamespaceView> {
    const views = new Map<string, NamespaceView>();
    for (const [name, { view }] of this.entries) if (view !== undefined) views.set(name, view);
    return views;
  }

  private entryOf(namespace: string): NamespaceEntry | undefined {
    if (namespace === this.lastNamespace) return this.lastEntry;
    const entry = this.entries.get(namespace);
    this.lastNamespace = namespace;
    this.lastEntry = entry;
    return entry;
  }

  private stateOf(namespace: string): NamespaceState {
    return this.entryOf(namespace)?.state ?? EMPTY_STATE;
  }
}

export const EMPTY_SNAPSHOT = new MemorySnapshot(new Map(), true);
