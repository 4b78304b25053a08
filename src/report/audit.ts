import { decide, MIRROR_POD_ANNOTATION } from '../decide/decide.ts';
import type { ContainerDecision, PodDecision, Verdict } from '../decide/types.ts';
import type { Finding } from '../findings/catalogue.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import type { Mode, EffectiveMode } from '../policy/schema.ts';
import { DEFAULT_NAMESPACE } from '../snapshot/from-objects.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import type { PodSpecRef } from '../workloads/extract.ts';
import type { PodTemplateKinds } from '../workloads/pod-templates.ts';
import { podSpecKey, prepareWorkload, SpecInterner, type PreparedWorkload } from './prepare-workload.ts';
import { buildRollup, type Rollup } from './rollup.ts';

/**
 * The audit report, whatever the workloads came from (files, a cluster): `buildReport` takes
 * decided workloads and what could not be read, and adds the summary and the roll-up. The JSON
 * form (`pullguard audit -o json`) is a public contract: fields are only ever added.
 */
export interface AuditReport {
  readonly mode: Mode;
  readonly summary: AuditSummary;
  readonly results: readonly AuditResult[];
  /** Inputs that are not Kubernetes objects, each with why. */
  readonly skipped: readonly SkippedEntry[];
  /** Inputs that could not be audited at all (a chart without helm): the audit is incomplete. */
  readonly notAudited: readonly NotAuditedEntry[];
  readonly rollup: Rollup;
}

export interface AuditSummary {
  /** Workloads reported (an object read from several files counts once). */
  readonly objects: number;
  readonly containers: number;
  readonly deny: number;
  readonly inject: number;
  readonly warn: number;
  readonly skipped: number;
  readonly notAudited: number;
}

export interface SkippedEntry {
  readonly source: string;
  /** 1-based, or 0 for the whole source. */
  readonly line: number;
  readonly reason: string;
}

export interface NotAuditedEntry {
  readonly source: string;
  readonly reason: string;
  /** What to run to audit it by hand, when there is such a command. */
  readonly command?: string | undefined;
}

export interface AuditResult {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** Where the object was read from (`file:line`); the first of `sources`. */
  readonly source: string;
  /** Every place the same object (kind, namespace, name) was read from. */
  readonly sources: readonly string[];
  /** True when the copies in `sources` are not identical; the copy shown is the one with the worst verdict. */
  readonly copiesDiffer: boolean;
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


/** Distinct copies of one object compared against each new copy. */
const MAX_COMPARED_COPIES = 8;

const VERDICT_RANK: Readonly<Record<Verdict, number>> = { allow: 0, inject: 1, deny: 2 };

/**
 * Two copies of one object (same key) are one copy when their fingerprints are equal and so is
 * everything a decision reads. The fingerprint is a fast non-cryptographic hash (object-
 * fingerprint.ts); the exact comparison means a collision can never leave a copy undecided.
 */
function sameCopy(a: PreparedWorkload, b: PreparedWorkload): boolean {
  if (a.fingerprint === undefined || a.fingerprint !== b.fingerprint) return false;
  return a.namespace === b.namespace && a.specField === b.specField && sameStrings(a.annotations, b.annotations) && sameSpec(a, b);
}

function sameSpec(a: PreparedWorkload, b: PreparedWorkload): boolean {
  if (a.spec === undefined || b.spec === undefined) return a.spec === b.spec;
  return (a.specKey ?? podSpecKey(a.spec)) === (b.specKey ?? podSpecKey(b.spec));
}

function sameStrings(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/**
 * What makes two workloads copies of one object: API group, kind, name and namespace (an empty
 * namespace is the default namespace, as kubectl applies it). Undefined for objects without a
 * name (generateName): those are never copies.
 */
export function copyKey(workload: Pick<PreparedWorkload, 'key' | 'namespace'>, defaultNamespace: string): string | undefined {
  return workload.key === undefined ? undefined : `${workload.key}\u0000${workload.namespace || defaultNamespace}`;
}

interface Variant {
  readonly workload: PreparedWorkload;
  readonly sources: string[];
}

/**
 * Decides prepared workloads. The same object (API group, kind, namespace, name) read from several
 * places is decided once per distinct copy and reported once with all its sources.
 */
export function decideWorkloads(
  workloads: Iterable<PreparedWorkload>,
  snapshot: ClusterSnapshot,
  policy: PolicyResolver,
  now: number,
  options: { readonly defaultNamespace?: string | undefined } = {},
): AuditResult[] {
  const defaultNamespace = options.defaultNamespace ?? DEFAULT_NAMESPACE;
  const groups = new Map<string, Variant[]>();
  const unnamed: Variant[][] = [];
  for (const workload of workloads) {
    const key = copyKey(workload, defaultNamespace);
    const variants = key === undefined ? undefined : groups.get(key);
    if (variants === undefined) {
      const fresh = [{ workload, sources: [workload.source] }];
      if (key === undefined) unnamed.push(fresh);
      else groups.set(key, fresh);
      continue;
    }
    // Compared with a bounded number of copies, so a file holding thousands of versions of one
    // object stays linear (the extra copies are reported as differing).
    const same = variants.slice(0, MAX_COMPARED_COPIES).find((variant) => sameCopy(variant.workload, workload));
    if (same !== undefined) same.sources.push(workload.source);
    else variants.push({ workload, sources: [workload.source] });
  }
  const results: AuditResult[] = [];
  const decisions: DecisionMemo = new Map();
  for (const variants of [...groups.values(), ...unnamed]) {
    let shown: AuditResult | undefined;
    for (const variant of variants) {
      const result = decideOne(variant.workload, snapshot, policy, now, defaultNamespace, decisions);
      if (shown === undefined || VERDICT_RANK[result.decision] > VERDICT_RANK[shown.decision]) shown = result;
    }
    if (shown === undefined) continue;
    // One copy from one place (nearly every workload): its result already says so.
    if (variants.length === 1 && variants[0]?.sources.length === 1) {
      results.push(shown);
      continue;
    }
    const first = shown.source;
    const sources = variants.flatMap((variant) => variant.sources);
    results.push({ ...shown, sources: [first, ...sources.filter((source) => source !== first)], copiesDiffer: variants.length > 1 });
  }
  return results;
}

export interface DecideObjectsOptions {
  /** Namespace of namespaced objects that name none (`--namespace`, as `kubectl apply -n`). */
  readonly defaultNamespace?: string | undefined;
  /** Custom resources carrying pod templates (the policy's `workloads`), besides the built-in kinds. */
  readonly podTemplates?: PodTemplateKinds | undefined;
}

/** Decides every workload among already-parsed objects (see decideWorkloads). */
export function decideObjects(
  inputs: Iterable<AuditInput>,
  snapshot: ClusterSnapshot,
  policy: PolicyResolver,
  now: number,
  options: DecideObjectsOptions = {},
): AuditResult[] {
  const prepared: PreparedWorkload[] = [];
  const specs = new SpecInterner();
  for (const { object, source } of inputs) {
    const workload = prepareWorkload(object, source, options.podTemplates, specs);
    if (workload !== undefined) prepared.push(workload);
  }
  return decideWorkloads(prepared, snapshot, policy, now, options);
}

/**
 * Decisions already made in this run, by everything decide() reads from a workload: its pod spec
 * as extracted (by podSpecKey, the same string for interned replicas, whose hash V8 then keeps), then
 * its namespace and whether it is a mirror pod (the only annotation decide() reads). The replicas of one template (a cluster dump's pods, one Deployment in several overlays)
 * then cost one decision. The snapshot, policy and clock are those of the run. Holds nothing the
 * results do not already hold but the keys: results share the decision's (read-only) parts.
 */
type DecisionMemo = Map<string, Map<string, PodDecision>>;

function decideOne(workload: PreparedWorkload, snapshot: ClusterSnapshot, policy: PolicyResolver, now: number, defaultNamespace: string, decisions: DecisionMemo): AuditResult {
  const { kind, spec } = workload;
  const namespace = workload.namespace || defaultNamespace;
  if (spec === undefined) {
    // A workload without a pod spec is not silently dropped: the report says it was not checked.
    return resultRow(workload, namespace, {
      mode: snapshot.resolveNamespace(namespace, policy).mode,
      decision: 'allow',
      inject: [],
      containers: [],
      findings: [],
      skipped: `${workload.specField} is missing or not an object: nothing was checked (the API server would reject this ${kind})`,
    });
  }
  const specKey = workload.specKey ?? podSpecKey(spec);
  let bySpec = decisions.get(specKey);
  if (bySpec === undefined) {
    bySpec = new Map();
    decisions.set(specKey, bySpec);
  }
  const key = `${workload.annotations[MIRROR_POD_ANNOTATION] === undefined ? 'n' : 'm'}${namespace}`;
  let decision = bySpec.get(key);
  if (decision === undefined) {
    decision = decide({
      spec,
      namespace,
      snapshot,
      policy,
      now,
      secretsFinal: false, // manifests: the ServiceAccount plugin has not run yet
      annotations: workload.annotations,
    });
    bySpec.set(key, decision);
  }
  return resultRow(workload, namespace, decision);
}

/**
 * A workload's row, written out rather than resultOf(base, ...): one object per workload instead of
 * two spreads (the same fields in the same order, so the report is the same).
 */
function resultRow(workload: PreparedWorkload, namespace: string, decided: Pick<AuditResult, DecidedField>): AuditResult {
  const { kind, name, source } = workload;
  const result: Mutable<AuditResult> = {
    namespace,
    kind,
    name,
    source,
    sources: [source],
    copiesDiffer: false,
    mode: decided.mode,
    decision: decided.decision,
    inject: decided.inject,
    containers: decided.containers,
    findings: decided.findings,
  };
  if (decided.skipped !== undefined) result.skipped = decided.skipped;
  return result;
}

/** One report row: where the workload came from (`base`) and what decide() said about it. */
export function resultOf<Base extends Omit<AuditResult, DecidedField>>(base: Base, decision: PodDecision): Base & Pick<AuditResult, DecidedField> {
  return {
    ...base,
    mode: decision.mode,
    decision: decision.decision,
    inject: decision.inject,
    containers: decision.containers,
    findings: decision.findings,
    ...(decision.skipped !== undefined ? { skipped: decision.skipped } : {}),
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type DecidedField = 'mode' | 'decision' | 'inject' | 'containers' | 'findings' | 'skipped';

export interface ReportParts {
  readonly mode: Mode;
  readonly results: readonly AuditResult[];
  readonly skipped?: readonly SkippedEntry[];
  readonly notAudited?: readonly NotAuditedEntry[];
}

/** Sorts the results (namespace, kind, name) and adds the summary and the roll-up. */
export function buildReport(parts: ReportParts): AuditReport {
  const results = [...parts.results].sort((a, b) => compare(a.namespace, b.namespace) || compare(a.kind, b.kind) || compare(a.name, b.name));
  const skipped = parts.skipped ?? [];
  const notAudited = parts.notAudited ?? [];
  let containers = 0;
  let deny = 0;
  let inject = 0;
  let warn = 0;
  for (const result of results) {
    containers += result.containers.length;
    if (result.decision === 'deny') deny += 1;
    else if (result.decision === 'inject') inject += 1;
    if (hasWarning(result)) warn += 1;
  }
  return {
    mode: parts.mode,
    summary: { objects: results.length, containers, deny, inject, warn, skipped: skipped.length, notAudited: notAudited.length },
    results,
    skipped,
    notAudited,
    rollup: buildRollup(results),
  };
}

export function hasWarning(result: AuditResult): boolean {
  const warns = (finding: Finding): boolean => finding.severity === 'warn';
  return result.findings.some(warns) || result.containers.some((container) => container.findings.some(warns));
}

export const ONLY_FILTERS = ['deny', 'warn', 'inject'] as const;
export type OnlyFilter = (typeof ONLY_FILTERS)[number];

/** `--only deny,warn`: the results that match any filter; the summary and roll-up still cover everything. */
export function filterResults(report: AuditReport, only: ReadonlySet<OnlyFilter>): AuditReport {
  if (only.size === 0) return report;
  const keep = (result: AuditResult): boolean =>
    (only.has('deny') && result.decision === 'deny') || (only.has('inject') && result.decision === 'inject') || (only.has('warn') && hasWarning(result));
  return { ...report, results: report.results.filter(keep) };
}

/** Decides `objects` and builds the report: the whole offline audit of already-read objects. */
export function auditObjects(objects: readonly AuditInput[], snapshot: ClusterSnapshot, policy: PolicyResolver, now: number, options: DecideObjectsOptions = {}): AuditReport {
  return buildReport({ mode: policy.policy.mode, results: decideObjects(objects, snapshot, policy, now, { podTemplates: policy.podTemplates, ...options }) });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
