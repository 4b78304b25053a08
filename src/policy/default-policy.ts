import type { Policy } from './schema.ts';

/** Freezes a policy and everything in it: a policy in force is never changed in place. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * The built-in policy: what schema.ts makes of `{}`, written out so that a command run without a
 * policy file does not load zod and the schema (~100 ms of every `pullguard audit`'s start). A
 * test holds it equal to policySchema.parse({}), so a default changed in the schema fails there
 * until it is changed here too.
 */
export const DEFAULT_POLICY: Policy = deepFreeze({
  mode: 'enforce',
  defaultAccess: 'secret',
  registries: [],
  builtinRegistries: true,
  injection: { enabled: true, preferredSecrets: [], templates: false },
  latestWithIfNotPresent: 'warn',
  expiredCredentials: 'deny',
  shortLivedCredentials: 'warn',
  neverPullCredentials: 'ignore',
  dockerHubAnonymous: 'info',
  exemptImages: [],
  namespaces: { exclude: ['kube-system'], modeLabel: 'pullguard.io/mode', overrides: [] },
  workloads: { podTemplates: [], builtinPodTemplates: true },
});
