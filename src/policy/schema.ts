import { z } from 'zod';
import { unmatchablePatternReason } from './pattern-check.ts';
import { API_VERSION_PATTERN, FIELD_PATH_PATTERN } from '../workloads/pod-templates.ts';

/**
 * The policy: the text platform teams keep in the ConfigMap key `policy.yaml` (and in the chart's
 * `values.policy`). Field names are a public contract. Every field has a default, so `{}` is a valid
 * policy that does not break a cluster pulling only public images from well-known registries.
 */

import { MODES, type Mode } from './modes.ts';

export { MODES, type Mode };
/** `off` exists only after namespace resolution (excluded namespaces, or the mode label set to `off`). */
export type EffectiveMode = Mode | 'off';

export const ACCESS_KINDS = ['secret', 'node', 'public'] as const;
export type Access = (typeof ACCESS_KINDS)[number];

const levelDenyWarnIgnore = z.enum(['ignore', 'warn', 'deny']);
const levelWarnInfoIgnore = z.enum(['ignore', 'info', 'warn']);

/** Kubelet-style registry pattern: host glob per label, optional port, optional path prefix. */
const registryPattern = z
  .string()
  .min(1, 'must not be empty')
  .regex(/^[^\s/][^\s]*$/, 'must be a kubelet key pattern like "*.example.com", "host:5000" or "quay.io/team" (no spaces, no leading /)')
  .superRefine((pattern, context) => {
    const reason = unmatchablePatternReason(pattern);
    if (reason !== undefined) context.addIssue({ code: 'custom', message: `pattern "${pattern}" never matches: ${reason}` });
  });

const durationText = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'must be a duration like "30m", "12h" or "2d"');

export const registryRuleSchema = z.strictObject({
  /** Patterns in the kubelet's auths-key syntax; the first rule with a matching pattern wins. */
  hosts: z.array(registryPattern).min(1, 'a rule needs at least one host pattern'),
  /** secret: a pull secret must cover the image; node: the node's identity pulls; public: anonymous is fine. */
  access: z.enum(ACCESS_KINDS),
  /** Secret names to prefer when injecting for images of this rule (tried before other candidates). */
  preferredSecrets: z.array(z.string().min(1)).default([]),
});
export type RegistryRule = z.infer<typeof registryRuleSchema>;

const labelMap = z.record(z.string(), z.string());

/** Fields a namespace override may change; each is optional (absent = inherit). */
export const namespaceOverrideSchema = z
  .strictObject({
    /** Namespace names this override applies to. */
    names: z.array(z.string().min(1)).optional(),
    /** All of these labels must be present with these values. */
    matchLabels: labelMap.optional(),
    mode: z.enum([...MODES, 'off']).optional(),
    defaultAccess: z.enum(ACCESS_KINDS).optional(),
    latestWithIfNotPresent: levelDenyWarnIgnore.optional(),
    expiredCredentials: levelDenyWarnIgnore.optional(),
    injection: z.strictObject({ enabled: z.boolean() }).optional(),
  })
  .refine((o) => (o.names?.length ?? 0) > 0 || Object.keys(o.matchLabels ?? {}).length > 0, {
    message: 'an override needs `names` or `matchLabels`',
  });
export type NamespaceOverride = z.infer<typeof namespaceOverrideSchema>;

export const policySchema = z.strictObject({
  mode: z.enum(MODES).default('enforce'),
  defaultAccess: z.enum(ACCESS_KINDS).default('secret'),
  registries: z.array(registryRuleSchema).default([]),
  /** Append the built-in list of well-known public registries after `registries`. Those that host only public images (Docker Hub's official `library/` images, registry.k8s.io, k8s.gcr.io, mcr.microsoft.com, public.ecr.aws, docker.elastic.co) are always `public`; shared ones (docker.io, quay.io, ghcr.io, gcr.io, registry.gitlab.com, nvcr.io) are `public` unless a pull secret of the namespace has a key the kubelet would use for the image, which makes that image private. */
  builtinRegistries: z.boolean().default(true),
  injection: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Secret names tried first, in order, when several namespace secrets would cover an image. */
      preferredSecrets: z.array(z.string().min(1)).default([]),
      /** Also patch pod templates of workloads (Deployment, ...). Off by default: GitOps tools see drift. */
      templates: z.boolean().default(false),
    })
    .prefault({}),
  latestWithIfNotPresent: levelDenyWarnIgnore.default('warn'),
  /** What a credential whose token has provably expired means when nothing else covers the image. */
  expiredCredentials: levelDenyWarnIgnore.default('deny'),
  /** Short-lived tokens (ECR, oauth2accesstoken) in static secrets: they stop working within hours. */
  shortLivedCredentials: levelWarnInfoIgnore.default('warn'),
  /** Credential checks for images with `imagePullPolicy: Never`, which the kubelet never pulls: `ignore` (default: a missing credential fails nothing; the image must be preloaded), or `warn`/`deny` where KubeletEnsureSecretPulledImages (beta, on since 1.35) refuses a cached private image to a pod without matching credentials; then a covering secret is injected too. */
  neverPullCredentials: levelDenyWarnIgnore.default('ignore'),
  /** Docker Hub pulls without credentials: anonymous pulls are rate-limited per node IP. */
  dockerHubAnonymous: levelWarnInfoIgnore.default('info'),
  /** Images never checked; kubelet key syntax matched against the image name (`registry/path`). */
  exemptImages: z.array(registryPattern).default([]),
  namespaces: z
    .strictObject({
      exclude: z.array(z.string().min(1)).default(['kube-system']),
      /** A namespace label whose value (enforce | warn | dry-run | off) sets the namespace's mode. */
      modeLabel: z.string().min(1).default('pullguard.io/mode'),
      overrides: z.array(namespaceOverrideSchema).default([]),
    })
    .prefault({}),
  /** Custom resources that carry a pod template, checked like Deployments (audit and webhook). */
  workloads: z
    .strictObject({
      /** Where a custom resource kind keeps its pod spec: `{apiVersion: group/version or group/*, kind, path: spec.template.spec}`; first match wins. */
      podTemplates: z
        .array(
          z.strictObject({
            /** `group/version`, or `group/*` for every version. */
            apiVersion: z.string().regex(API_VERSION_PATTERN, 'must be group/version or group/* (custom resources have a group), like argoproj.io/v1alpha1'),
            /** The custom resource's kind. */
            kind: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be a kind like Rollout (starts with an upper-case letter)'),
            /** Dotted path of the pod spec in the object. */
            path: z.string().regex(FIELD_PATH_PATTERN, 'must be a dotted field path like spec.template.spec'),
          }),
        )
        .default([]),
      /** Append the built-in entries (Argo Rollouts, Knative, KEDA ScaledJob) after `podTemplates`. */
      builtinPodTemplates: z.boolean().default(true),
    })
    .prefault({}),
});

export type Policy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
