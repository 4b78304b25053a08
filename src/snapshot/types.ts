import type { PullSecretView } from '../credentials/types.ts';

/**
 * The ServiceAccount annotation that makes the ServiceAccount admission plugin reject a pod whose
 * imagePullSecrets name a secret the ServiceAccount's own list does not (limitSecretReferences).
 */
export const ENFORCE_MOUNTABLE_SECRETS_ANNOTATION = 'kubernetes.io/enforce-mountable-secrets';

/**
 * A ServiceAccount's imagePullSecrets names. `enforceMountableSecrets` is true only when the SA
 * carries ENFORCE_MOUNTABLE_SECRETS_ANNOTATION set to "true" (the rare case, so the flag rides on
 * the frozen list instead of costing every ServiceAccount an object).
 */
export type ServiceAccountPullSecrets = readonly string[] & { readonly enforceMountableSecrets?: boolean };

export interface NamespaceView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Something derived from a namespace's name and view alone (the policy resolver: its effective policy). */
export interface NamespaceResolver<T> {
  /** Answers the same (the same object) for the same name and view. */
  forNamespace(name: string, view: NamespaceView | undefined): T;
}

/**
 * The cluster state decide() reads: pure data, read synchronously, never mutated in place.
 * Implemented by manifests/state files (offline) and by the informer cache (live cluster).
 */
export interface ClusterSnapshot {
  /** The namespace, or undefined when unknown (callers assume it exists, unlabelled). */
  namespace(name: string): NamespaceView | undefined;
  /**
   * resolver.forNamespace(name, namespace(name)), with the namespace found by the same lookup as
   * its state. Nothing is remembered on the snapshot: the resolver remembers its answers per view,
   * so a policy reload (a new resolver) resolves afresh and the old resolver can be freed.
   */
  resolveNamespace<T>(name: string, resolver: NamespaceResolver<T>): T;
  /** A secret of the namespace by name (any type the source could see), or undefined. */
  secret(namespace: string, name: string): PullSecretView | undefined;
  /** Every usable-or-not pull secret of the namespace, sorted by name (injection candidates). */
  pullSecrets(namespace: string): readonly PullSecretView[];
  /** The ServiceAccount's imagePullSecrets names, or undefined when the SA is unknown. */
  serviceAccountPullSecrets(namespace: string, serviceAccount: string): ServiceAccountPullSecrets | undefined;
  /**
   * True when the snapshot holds every ServiceAccount of the namespace, so an unknown one does not
   * exist: always for the live cluster (informers list them all), offline only for a namespace
   * whose ServiceAccounts were given (in the manifests or --state).
   */
  serviceAccountsComplete(namespace: string): boolean;
  /**
   * An object whose identity changes whenever the namespace's secrets or ServiceAccounts change
   * (snapshots share it for untouched namespaces): what decisions read there is the same as long
   * as this object and namespace(name) are the same objects. Caches compare it by identity only.
   */
  namespaceVersion(namespace: string): object;
  /**
   * True when a secret of the namespace holds a credential with a provable expiry (an ECR token):
   * decisions there depend on the clock, so they are never memoised.
   */
  hasExpiringCredentials(namespace: string): boolean;
  /** True when the source can see secrets of every type (offline); false when only pull-secret types (informers). */
  readonly seesAllSecretTypes: boolean;
}
