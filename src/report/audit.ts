import { decide } from '../decide/decide.ts';
import type { ContainerDecision, PodDecision, Verdict } from '../decide/types.ts';
import type { Finding } from '../findings/catalogue.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import type { Mode, EffectiveMode } from '../policy/schema.ts';
import { DEFAULT_NAMESPACE } from '../snapshot/from-objects.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { extractPodSpec, identify, isWorkloadKind, WORKLOAD_SPEC_FIELDS } from '../workloads/extract.ts';

/** The JSON report of `pullguard audit -o json`: a public contract (field names must not change). */
export interface AuditReport {
  readonly mode: Mode;
  readonly summary: { objects: number; containers: number; deny: number; inject: number; warn: number };
  readonly results: readonly AuditResult[];
}

export interface AuditResult {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** Where the object was read from (`file:line`). */
  readonly source: string;
  /** What the webhook would do in this namespace: enforce | warn | dry-run | off. */
  readonly mode: EffectiveMode;
  readonly decision: Verdict;
  readonly inject: readonly string[];
  readonly containers: readonly ContainerDecision[];
  /** Findings about the object as a whole (a listed secret that does not exist, ...). */
  readonly findings: readonly Finding[];
  readonly skipped?: string;
}

export interface AuditInput {
  readonly object: Record<string, unknown>;
  readonly source: string;
}

/** Decides every workload among `objects`, in input order, sorted by namespace/kind/name for output. */
export function auditObjects(objects: readonly AuditInput[], snapshot: ClusterSnapshot, policy: PolicyResolver, now: number): AuditReport {
  const results: AuditResult[] = [];
  for (const { object, source } of objects) {
    const identity = identify(object);
    // An empty namespace is the default namespace, as kubectl applies it.
    const namespace = identity?.namespace || DEFAULT_NAMESPACE;
    const spec = extractPodSpec(object);
    if (spec === undefined) {
      // A workload without a pod spec is not silently dropped: the report says it was not checked.
      if (identity !== undefined && isWorkloadKind(identity.kind)) results.push(unchecked(identity.kind, identity.name, namespace, source, policy, snapshot));
      continue;
    }
    const decision: PodDecision = decide({
      spec,
      namespace,
      snapshot,
      policy,
      now,
      secretsFinal: false, // manifests: the ServiceAccount plugin has not run yet
      annotations: identity?.annotations,
    });
    results.push({
      namespace,
      kind: spec.kind,
      name: identity?.name ?? '',
      source,
      mode: decision.mode,
      decision: decision.decision,
      inject: decision.inject,
      containers: decision.containers,
      findings: decision.findings,
      ...(decision.skipped !== undefined ? { skipped: decision.skipped } : {}),
    });
  }
  results.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.kind, b.kind) || compare(a.name, b.name));
  const hasWarning = (result: AuditResult): boolean =>
    [...result.findings, ...result.containers.flatMap((container) => container.findings)].some((finding) => finding.severity === 'warn');
  return {
    mode: policy.policy.mode,
    summary: {
      objects: results.length,
      containers: results.reduce((sum, result) => sum + result.containers.length, 0),
      deny: results.filter((result) => result.decision === 'deny').length,
      inject: results.filter((result) => result.decision === 'inject').length,
      warn: results.filter(hasWarning).length,
    },
    results,
  };
}

function unchecked(kind: string, name: string, namespace: string, source: string, policy: PolicyResolver, snapshot: ClusterSnapshot): AuditResult {
  const field = isWorkloadKind(kind) ? WORKLOAD_SPEC_FIELDS[kind] : 'spec';
  return {
    namespace,
    kind,
    name,
    source,
    mode: policy.forNamespace(namespace, snapshot.namespace(namespace)).mode,
    decision: 'allow',
    inject: [],
    containers: [],
    findings: [],
    skipped: `${field} is missing or not an object: nothing was checked (the API server would reject this ${kind})`,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
