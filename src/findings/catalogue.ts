import { DECIDE_WORK_BUDGET } from '../decide/limits.ts';

/**
 * The finding catalogue: stable codes, their meaning and their default severity. Tests assert codes,
 * never prose; the README's table is generated from (and checked against) this list.
 */
export type Severity = 'deny' | 'warn' | 'info';

export const FINDING_CODES = [
  'InvalidImageReference',
  'NoMatchingCredential',
  'PullSecretNotFound',
  'PullSecretWrongType',
  'PullSecretMalformed',
  'CredentialExpired',
  'ShortLivedCredential',
  'ServiceAccountSecretsIgnored',
  'ServiceAccountNotFound',
  'PullSecretNotMountable',
  'LatestWithIfNotPresent',
  'InjectedPullSecret',
  'AnonymousPullRateLimited',
  'ExemptImage',
  'ImageNeverPulled',
  'DecisionBudgetExceeded',
] as const;

export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** Field path of the offending field: `spec.containers[0].image`, `spec.imagePullSecrets[1]`. */
  readonly path: string;
  /** One sentence: what is wrong, what was looked at, and the fix. */
  readonly message: string;
}

/** What each code means, for the README and `pullguard explain`. */
export const FINDING_DESCRIPTIONS: Readonly<Record<FindingCode, string>> = {
  InvalidImageReference: 'The image string does not parse as a reference; the kubelet reports InvalidImageName.',
  NoMatchingCredential: 'The registry needs a pull secret and no auths key of the pod\'s secrets matches the image.',
  PullSecretNotFound:
    'A secret named in imagePullSecrets does not exist; the kubelet pulls without it. A live webhook watches only pull-secret types, so there a listed Opaque secret shows up here, with a hint.',
  PullSecretWrongType:
    'A listed secret is not kubernetes.io/dockerconfigjson (or dockercfg) with its data key; the kubelet ignores it. Reported by audit/review, which see secrets of every type.',
  PullSecretMalformed: 'A listed pull secret cannot be decoded; the kubelet fails every pull of the pod.',
  CredentialExpired: 'The only credentials of the pod that match the image carry a token that has expired; the kubelet sends them and does not retry anonymously, so this holds for public registries too.',
  ShortLivedCredential: 'The credential used is a short-lived token (ECR, oauth2accesstoken) stored in a static secret.',
  ServiceAccountSecretsIgnored: 'The pod lists its own pull secrets, so its ServiceAccount\'s secrets (which would cover the image) are not copied.',
  ServiceAccountNotFound:
    'A pod template (or a pod manifest) names a ServiceAccount that does not exist, so the ServiceAccount admission plugin will reject every pod made from it; or, offline without that namespace\'s ServiceAccounts, one the snapshot does not know (its pull secrets could not be considered).',
  PullSecretNotMountable:
    'A pod template (or a pod manifest) lists a pull secret that its ServiceAccount, annotated kubernetes.io/enforce-mountable-secrets: "true", does not list in its imagePullSecrets, so the ServiceAccount admission plugin will reject every pod made from it.',
  LatestWithIfNotPresent: 'The image is `latest` or untagged with imagePullPolicy IfNotPresent: nodes keep whichever `latest` they pulled first.',
  InjectedPullSecret:
    'A namespace secret that covers the image was (or would be) added to imagePullSecrets. Never on a pod UPDATE, whose list cannot change: the covering secret is named in a NoMatchingCredential denial instead.',
  AnonymousPullRateLimited: 'The image comes from Docker Hub without credentials; anonymous pulls are rate-limited per node IP.',
  ExemptImage: 'The image matches the policy\'s exemptImages; no check was made.',
  ImageNeverPulled:
    'The container (or image volume) has imagePullPolicy Never: the kubelet never pulls it, so it must be preloaded on every node; credentials are checked only as `neverPullCredentials` asks.',
  DecisionBudgetExceeded:
    `Checking the pod would take more than the per-decision work budget (distinct images × auths keys compared, ${DECIDE_WORK_BUDGET.toLocaleString('en-US')} units); the rest of the pod was not checked and nothing is injected (\`/mutate\` answers as \`/validate\`, with no patch). No real pod comes near it.`,
};

/** Severity of each code and what sets it, for the README. */
export const FINDING_SEVERITIES: Readonly<Record<FindingCode, string>> = {
  InvalidImageReference: 'deny',
  NoMatchingCredential: 'deny',
  PullSecretNotFound: 'deny when it leaves an image uncovered, else warn',
  PullSecretWrongType: 'deny when it leaves an image uncovered, else warn',
  PullSecretMalformed: 'deny',
  CredentialExpired: '`expiredCredentials` (default deny); warn when a fresh secret is injected or the node identity pulls too',
  ShortLivedCredential: '`shortLivedCredentials` (default warn)',
  ServiceAccountSecretsIgnored: 'deny; warn when injection fixes it',
  ServiceAccountNotFound: 'warn when the ServiceAccounts of the namespace are known (the live webhook; offline when the manifests or --state hold some), else info',
  PullSecretNotMountable: 'warn (as ServiceAccountNotFound: the pods are rejected before any pull)',
  LatestWithIfNotPresent: '`latestWithIfNotPresent` (default warn)',
  InjectedPullSecret: 'warn',
  AnonymousPullRateLimited: '`dockerHubAnonymous` (default info)',
  ExemptImage: 'info',
  ImageNeverPulled: 'info',
  DecisionBudgetExceeded: 'deny',
};
