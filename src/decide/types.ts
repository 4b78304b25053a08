import type { Finding, Severity } from '../findings/catalogue.ts';
import type { Access, EffectiveMode } from '../policy/schema.ts';

export type Verdict = 'allow' | 'inject' | 'deny';
export type CredentialSource = 'pod' | 'serviceAccount' | 'injected';

export interface ReferenceSummary {
  readonly valid: boolean;
  readonly normalized: string | null;
  readonly registry: string | null;
  readonly repository: string | null;
  readonly tag: string | null;
  readonly digest: string | null;
}

export interface CredentialUsed {
  readonly secret: string;
  /** The auths key as written in the secret. */
  readonly key: string;
  readonly source: CredentialSource;
}

/** One secret the decision looked at, with its verdict: enough for `explain` to show its work. */
export interface SecretConsidered {
  readonly name: string;
  readonly source: CredentialSource;
  readonly status: 'usable' | 'not-found' | 'wrong-type' | 'malformed';
  readonly detail: string | undefined;
  /** Normalised keyring keys the secret holds (no credentials). */
  readonly keys: readonly string[];
}

export interface ContainerDecision {
  readonly name: string;
  readonly path: string;
  readonly image: string;
  readonly reference: ReferenceSummary;
  readonly access: Access | null;
  /** The registry rule pattern that set `access`, or null when `defaultAccess` applied. */
  readonly accessRule: string | null;
  readonly credential: CredentialUsed | null;
  readonly decision: Verdict;
  readonly findings: readonly Finding[];
}

export interface PodDecision {
  /** A built-in workload kind, or a custom resource kind (workloads.podTemplates). */
  readonly kind: string;
  readonly namespace: string;
  readonly mode: EffectiveMode;
  readonly modeSource: string;
  /** The policy's verdict as if enforced (the webhook's action depends on `mode`). */
  readonly decision: Verdict;
  /** Secrets chosen for injection (new names only). */
  readonly inject: readonly string[];
  /**
   * Names to add to the spec's imagePullSecrets for the injection to work: `inject`, preceded by the
   * ServiceAccount's secrets when the spec lists none (adding any name stops the ServiceAccount copy).
   */
  readonly patchNames: readonly string[];
  /**
   * True when a container's advice names NEW-SECRET, a secret to create: the list advice of the
   * decision names it after `inject`, and so does any other advice on the same list (admit()).
   */
  readonly advisesNewSecret: boolean;
  readonly secretsSource: 'pod' | 'serviceAccount' | 'none';
  readonly secrets: readonly SecretConsidered[];
  readonly containers: readonly ContainerDecision[];
  /** Findings about the pod as a whole (a listed secret that is missing but not needed, ...). */
  readonly findings: readonly Finding[];
  /** Why nothing was checked (excluded namespace, mirror pod), or undefined. */
  readonly skipped: string | undefined;
}

export function worstSeverity(findings: readonly Finding[]): Severity | undefined {
  let worst: Severity | undefined;
  for (const finding of findings) {
    if (finding.severity === 'deny') return 'deny';
    if (finding.severity === 'warn') worst = 'warn';
    else if (worst === undefined) worst = 'info';
  }
  return worst;
}
