import type { KeyMatchVerdict } from '../credentials/key-match-explain.ts';
import type { CredentialSource, CredentialUsed, ReferenceSummary, Verdict } from '../decide/types.ts';
import type { Finding } from '../findings/catalogue.ts';
import type { Access, EffectiveMode } from '../policy/schema.ts';
import type { PullEventCause } from '../pull-events/classify.ts';
import type { ProbeResult } from '../probe/registry-probe.ts';

/**
 * The JSON of `pullguard explain -o json`: a public contract (field names must not change).
 * `kubelet.events[].cause` takes the values of PULL_EVENT_CAUSES.
 */
export interface ExplainOutput {
  readonly explanations: readonly Explanation[];
}

export interface Explanation {
  readonly object: { readonly kind: string; readonly namespace: string; readonly name: string; readonly source: string };
  /** True for a pod template (Deployment, ...): no kubelet has seen it. */
  readonly template: boolean;
  /** What the webhook would do in this namespace: enforce | warn | dry-run | off. */
  readonly mode: EffectiveMode;
  /** Why the webhook would not check this object (excluded namespace, mirror pod); explained anyway. */
  readonly notChecked: string | null;
  /** pullguard's verdict as if enforced. */
  readonly decision: Verdict;
  readonly serviceAccount: string;
  /** Where the pull secrets come from: the pod's own list, the ServiceAccount's (copied at creation), or none. */
  readonly secretsSource: 'pod' | 'serviceAccount' | 'none';
  readonly secrets: readonly SecretExplanation[];
  readonly containers: readonly ContainerExplanation[];
  /** Findings about the pod as a whole. */
  readonly findings: readonly Finding[];
  /** Pull events of the pod that name no container (a pull secret the kubelet could not retrieve). */
  readonly podEvents: readonly ClassifiedEvent[];
  /** The pod's owner (`ReplicaSet/web-7d4f`), where fixes to imagePullSecrets must go. */
  readonly owner: string | null;
}

export interface SecretExplanation {
  readonly name: string;
  readonly source: CredentialSource;
  readonly status: 'usable' | 'not-found' | 'wrong-type' | 'malformed';
  /** Why the kubelet cannot use it (wrong type, which entry is malformed and why). */
  readonly detail: string | null;
  /** The secret's type as stored, when it exists. */
  readonly type: string | null;
  readonly keys: readonly SecretKeyExplanation[];
}

export interface SecretKeyExplanation {
  /** The auths key as written (redacted as everywhere). */
  readonly key: string;
  /** The key as the kubelet stores it. */
  readonly normalized: string;
  /** RFC 3339, when the credential carries a provable expiry (ECR). */
  readonly expiresAt: string | null;
  readonly expired: boolean;
  readonly shortLived: boolean;
  /** True when the entry has no username and password: the runtime then pulls anonymously. */
  readonly anonymous: boolean;
}

export interface KeyVerdict {
  readonly secret: string;
  readonly key: string;
  readonly normalized: string;
  readonly matches: boolean;
  readonly verdict: KeyMatchVerdict;
  readonly detail: string;
  readonly viaDockerHubFallback: boolean;
  /** A matching key whose credential cannot help: expired or anonymous. */
  readonly unusableBecause: 'expired' | 'anonymous' | null;
}

export interface ClassifiedEvent {
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly cause: PullEventCause;
  readonly count: number;
  /** RFC 3339 of the last occurrence, when known. */
  readonly lastSeen: string | null;
  /** Milliseconds between the last occurrence and now, when known. */
  readonly ageMs: number | null;
  readonly source: string;
}

export interface KubeletView {
  /** The container's state: `waiting`, `running`, `terminated`, or null when no status is known. */
  readonly state: string | null;
  readonly reason: string | null;
  readonly message: string | null;
  /** The cause of the waiting state, when it is about the image. */
  readonly stateCause: PullEventCause | null;
  /** The image ID the node resolved, when the container started. */
  readonly imageID: string | null;
  /** Pull events for this container, newest first. */
  readonly events: readonly ClassifiedEvent[];
  /** The kubelet's last word on this image: the newest failure cause behind any back-off, else pulled/pulling. */
  readonly cause: PullEventCause | null;
}

export interface Diagnosis {
  /** A stable code: a finding code, a kubelet cause, `credential-rejected`, or `ok`. */
  readonly code: string;
  /** What is wrong, in one sentence. */
  readonly summary: string;
  /** The fix: commands or a YAML snippet. Empty when nothing needs fixing. */
  readonly fix: string;
  /** pullguard's decision against the kubelet's last word. */
  readonly agreement: 'agree' | 'disagree' | 'no-kubelet-data';
  /** Further facts: other problems, why the sides disagree, what --probe would tell. */
  readonly notes: readonly string[];
}

export interface ContainerExplanation {
  readonly name: string;
  readonly group: string;
  readonly path: string;
  readonly image: string;
  readonly reference: ReferenceSummary;
  /** The pull policy as written, or as the API server defaults it. */
  readonly pullPolicy: string;
  readonly pullPolicyDefaulted: boolean;
  readonly access: Access | null;
  readonly accessRule: string | null;
  readonly credential: CredentialUsed | null;
  readonly decision: Verdict;
  readonly findings: readonly Finding[];
  /** Every auths key of the usable secrets, matched against this image. */
  readonly keys: readonly KeyVerdict[];
  readonly kubelet: KubeletView;
  readonly diagnosis: Diagnosis;
  /** With --probe: what the registry said (absent without --probe; null when not probed, e.g. node access). */
  readonly probe?: ProbeResult | null;
}
