import type { RegistryRule } from './schema.ts';

/**
 * Registries that serve public images anonymously, appended after the policy's own rules while
 * `builtinRegistries` is true, so a policy of `{}` admits `nginx` or `registry.k8s.io/pause`.
 * A private repository on one of them needs a rule of its own placed before these
 * (for example `hosts: ["docker.io/acme"]`, `access: secret`).
 */
export const BUILTIN_PUBLIC_REGISTRIES: readonly RegistryRule[] = Object.freeze([
  {
    hosts: [
      'docker.io',
      'registry.k8s.io',
      'k8s.gcr.io',
      'quay.io',
      'ghcr.io',
      'gcr.io',
      'mcr.microsoft.com',
      'public.ecr.aws',
      'docker.elastic.co',
      'registry.gitlab.com',
      'nvcr.io',
    ],
    access: 'public' as const,
    preferredSecrets: [],
  },
]);
