import { decide } from '../decide/decide.ts';
import type { PodDecision, Verdict } from '../decide/types.ts';
import type { Finding } from '../findings/catalogue.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { extractPodSpec, identify, isWorkloadKind, WORKLOAD_SPEC_FIELDS, type WorkloadKind } from '../workloads/extract.ts';
import { resultOf, type AuditReport, type AuditResult } from './audit.ts';
import { buildRollup } from './rollup.ts';
import { controllerOf, isReportedWorkload, OwnerIndex, uidOf } from './owners.ts';

/**
 * The audit of live objects: the same decision and report as the offline audit, fed one list
 * page at a time. Workloads are decided as templates (the ServiceAccount plugin has not run for
 * their future pods); live pods are decided as admitted pods (their list is final). Pods are
 * filed under the reported workload that owns them, as a roll-up (how many pods, how many would
 * be denied, each distinct outcome once with a count and one pod's name), so 10,000 replicas make
 * one result, not 10,000. Standalone pods, and pods whose owner is not reported, get their own.
 */

/** Distinct pod outcomes kept per workload; the rest are counted. Replicas almost always share one. */
export const MAX_POD_OUTCOMES = 5;

/** One way a workload's pods are decided, with how many pods share it. */
export interface PodOutcome {
  readonly decision: Verdict;
  readonly count: number;
  /** One pod with this outcome. */
  readonly example: string;
  /** The pod's findings: its own and its containers' (paths are the pod's: `spec.containers[0].image`). */
  readonly findings: readonly Finding[];
}

export interface PodGroup {
  readonly total: number;
  readonly allow: number;
  readonly inject: number;
  readonly deny: number;
  /** Most frequent first. */
  readonly outcomes: readonly PodOutcome[];
  /** Pods whose outcome is not among `outcomes` (more than MAX_POD_OUTCOMES distinct ones). */
  readonly otherPods: number;
}

export interface ClusterAuditResult extends AuditResult {
  readonly uid?: string;
  /** The live pods of this workload, when any were listed. */
  readonly pods?: PodGroup;
}

export interface ClusterAuditReport extends AuditReport {
  readonly results: readonly ClusterAuditResult[];
}

interface PodGroupDraft {
  total: number;
  allow: number;
  inject: number;
  deny: number;
  readonly outcomes: Map<string, { decision: Verdict; count: number; example: string; findings: readonly Finding[] }>;
  otherPods: number;
}

function podFindings(decision: PodDecision): Finding[] {
  return [...decision.findings, ...decision.containers.flatMap((container) => container.findings)];
}

function outcomeKey(decision: Verdict, findings: readonly Finding[]): string {
  return JSON.stringify([decision, findings.map((finding) => [finding.code, finding.severity, finding.path, finding.message])]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ClusterAuditOptions {
  readonly snapshot: ClusterSnapshot;
  readonly policy: PolicyResolver;
  readonly now: number;
  /** `source` of every result: `cluster:CONTEXT`. */
  readonly source: string;
}

export class ClusterAuditBuilder {
  private readonly options: ClusterAuditOptions;
  private readonly workloads = new Map<string, ClusterAuditResult[]>();
  private readonly owners = new OwnerIndex<ClusterAuditResult>();
  private readonly groups = new Map<ClusterAuditResult, PodGroupDraft>();
  private standalonePods: ClusterAuditResult[] = [];
  private podsStarted = false;
  /** Time spent deciding (ms), for the benchmark's listing/deciding split. */
  decideMs = 0;

  constructor(options: ClusterAuditOptions) {
    this.options = options;
  }

  /** A listed workload (any kind but Pod). Must come before every pod, so pods find their owners. */
  addWorkload(object: unknown): void {
    if (this.podsStarted) throw new Error('workloads must be added before pods: pods are filed under them');
    const identity = identify(object);
    if (identity === undefined || !isWorkloadKind(identity.kind) || identity.kind === 'Pod') return;
    const kind = identity.kind;
    const controller = controllerOf(object);
    const uid = uidOf(object);
    if (!isReportedWorkload(kind, controller)) {
      if (uid !== undefined && controller !== undefined) this.owners.addManaged(kind, uid, controller);
      return;
    }
    const result = this.decideObject(object, kind, false);
    let list = this.workloads.get(kind);
    if (list === undefined) this.workloads.set(kind, (list = []));
    list.push(result);
    if (uid !== undefined) this.owners.addReported(kind, uid, result);
  }

  /**
   * A ReplicaSet or Job listed only so that pods find their Deployment or CronJob (its own kind
   * was not asked for): never reported, only remembered when a reported kind manages it.
   */
  addOwnerOnly(object: unknown): void {
    if (this.podsStarted) throw new Error('owners must be added before pods');
    const identity = identify(object);
    if (identity === undefined || !isWorkloadKind(identity.kind)) return;
    const controller = controllerOf(object);
    const uid = uidOf(object);
    if (uid !== undefined && controller !== undefined && !isReportedWorkload(identity.kind, controller)) this.owners.addManaged(identity.kind, uid, controller);
  }

  /** A live pod: filed under its reported owner, or reported on its own. */
  addPod(object: unknown): void {
    this.podsStarted = true;
    const identity = identify(object);
    if (identity?.kind !== 'Pod') return;
    const owner = this.owners.ownerOf(controllerOf(object));
    if (owner === undefined) {
      this.standalonePods.push(this.decideObject(object, 'Pod', true));
      return;
    }
    const spec = extractPodSpec(object);
    let group = this.groups.get(owner);
    if (group === undefined) this.groups.set(owner, (group = { total: 0, allow: 0, inject: 0, deny: 0, outcomes: new Map(), otherPods: 0 }));
    group.total += 1;
    if (spec === undefined) {
      group.otherPods += 1;
      return;
    }
    const started = performance.now();
    const decision = decide({
      spec,
      namespace: owner.namespace,
      snapshot: this.options.snapshot,
      policy: this.options.policy,
      now: this.options.now,
      secretsFinal: true,
      annotations: identity.annotations,
    });
    this.decideMs += performance.now() - started;
    group[decision.decision] += 1;
    const findings = podFindings(decision);
    const key = outcomeKey(decision.decision, findings);
    const outcome = group.outcomes.get(key);
    if (outcome !== undefined) outcome.count += 1;
    else if (group.outcomes.size < MAX_POD_OUTCOMES) group.outcomes.set(key, { decision: decision.decision, count: 1, example: identity.name, findings });
    else group.otherPods += 1;
  }

  /** The list of `kind` starts over (its continue token expired): drop what it contributed. */
  restartKind(kind: WorkloadKind): void {
    if (kind === 'Pod') {
      this.standalonePods = [];
      this.groups.clear();
      return;
    }
    this.workloads.delete(kind);
    this.owners.forgetKind(kind);
  }

  report(): ClusterAuditReport {
    const results: ClusterAuditResult[] = [];
    for (const list of this.workloads.values()) {
      for (const result of list) {
        const group = this.groups.get(result);
        results.push(group === undefined ? result : { ...result, pods: finishGroup(group) });
      }
    }
    results.push(...this.standalonePods);
    results.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.kind, b.kind) || compare(a.name, b.name));
    return { mode: this.options.policy.policy.mode, summary: clusterSummary(results), results, skipped: [], notAudited: [], rollup: buildRollup(results) };
  }

  private decideObject(object: unknown, kind: WorkloadKind, secretsFinal: boolean): ClusterAuditResult {
    const identity = identify(object);
    const namespace = identity?.namespace || 'default';
    const name = identity?.name ?? '';
    const uid = uidOf(object);
    const spec = extractPodSpec(object);
    const base = { namespace, kind, name, source: this.options.source, sources: [this.options.source], copiesDiffer: false, ...(uid !== undefined ? { uid } : {}) };
    if (spec === undefined) {
      return {
        ...base,
        mode: this.options.snapshot.resolveNamespace(namespace, this.options.policy).mode,
        decision: 'allow',
        inject: [],
        containers: [],
        findings: [],
        skipped: `${WORKLOAD_SPEC_FIELDS[kind]} is missing or not an object: nothing was checked`,
      };
    }
    const started = performance.now();
    const decision = decide({
      spec,
      namespace,
      snapshot: this.options.snapshot,
      policy: this.options.policy,
      now: this.options.now,
      secretsFinal,
      annotations: identity?.annotations,
    });
    this.decideMs += performance.now() - started;
    return resultOf(base, decision);
  }
}

function finishGroup(draft: PodGroupDraft): PodGroup {
  const outcomes = [...draft.outcomes.values()].sort((a, b) => b.count - a.count || compare(a.example, b.example));
  return { total: draft.total, allow: draft.allow, inject: draft.inject, deny: draft.deny, outcomes, otherPods: draft.otherPods };
}

function hasWarning(findings: readonly Finding[]): boolean {
  return findings.some((finding) => finding.severity === 'warn');
}

/**
 * Counts workloads, as the offline audit does; a workload counts as denied (or injected, or
 * warned) when its template or any of its live pods is.
 */
export function clusterSummary(results: readonly ClusterAuditResult[]): AuditReport['summary'] {
  let containers = 0;
  let deny = 0;
  let inject = 0;
  let warn = 0;
  for (const result of results) {
    containers += result.containers.length;
    const pods = result.pods;
    if (result.decision === 'deny' || (pods !== undefined && pods.deny > 0)) deny += 1;
    if (result.decision === 'inject' || (pods !== undefined && pods.inject > 0)) inject += 1;
    const warned =
      hasWarning(result.findings) ||
      result.containers.some((container) => hasWarning(container.findings)) ||
      (pods?.outcomes.some((outcome) => hasWarning(outcome.findings)) ?? false);
    if (warned) warn += 1;
  }
  return { objects: results.length, containers, deny, inject, warn, skipped: 0, notAudited: 0 };
}
