import type { RegistryRule } from './schema.ts';

/**
 * Registries that serve public images anonymously, appended after the policy's own rules while
 * `builtinRegistries` is true, so a policy of `{}` admits `nginx` or `registry.k8s.io/pause`.
 *
 * Two kinds:
 * - PUBLIC_ONLY_REGISTRIES host nothing private (Docker Hub's official `library/` images,
 *   registry.k8s.io, MCR, ECR Public, Elastic's registry): always `public`.
 * - SHARED_REGISTRIES host public and private repositories side by side (docker.io organisations,
 *   quay.io, ghcr.io, gcr.io, GitLab, NGC). An image there is public *unless the cluster says
 *   otherwise*: when a pull secret of the namespace (the pod's, its ServiceAccount's or any other)
 *   has a key the kubelet would use for the image, somebody set up credentials for it, so it is
 *   treated as private (`access: secret`) and the pod must carry them.
 * A rule of the policy's own placed before these always wins.
 */
export const PUBLIC_ONLY_REGISTRIES: readonly string[] = Object.freeze([
  'docker.io/library',
  'registry.k8s.io',
  'k8s.gcr.io',
  'mcr.microsoft.com',
  'public.ecr.aws',
  'docker.elastic.co',
]);

export const SHARED_REGISTRIES: readonly string[] = Object.freeze([
  'docker.io',
  'quay.io',
  'ghcr.io',
  'gcr.io',
  'registry.gitlab.com',
  'nvcr.io',
]);

export interface BuiltinRule extends RegistryRule {
  /** True for SHARED_REGISTRIES: private when a namespace key covers the image. */
  readonly privateWhenKeyed: boolean;
}

export const BUILTIN_PUBLIC_REGISTRIES: readonly BuiltinRule[] = Object.freeze([
  { hosts: [...PUBLIC_ONLY_REGISTRIES], access: 'public' as const, preferredSecrets: [], privateWhenKeyed: false },
  { hosts: [...SHARED_REGISTRIES], access: 'public' as const, preferredSecrets: [], privateWhenKeyed: true },
]);
