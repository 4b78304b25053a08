import { decide } from '../decide/decide.ts';
import type { ContainerDecision, PodDecision, Verdict } from '../decide/types.ts';
import type { Finding } from '../findings/catalogue.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import type { Mode, EffectiveMode } from '../policy/schema.ts';
import { DEFAULT_NAMESPACE } from '../snapshot/from-objects.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { extractPodSpec, identify, isWorkloadKind, WORKLOAD_SPEC_FIELDS, type PodSpecRef } from '../workloads/extract.ts';
import type { PodTemplateKinds } from '../workloads/pod-templates.ts';
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

export interface DecideObjectsOptions {
  /** Namespace of namespaced objects that name none (`--namespace`, as `kubectl apply -n`). */
  readonly defaultNamespace?: string | undefined;
  /** Custom resources carrying pod templates (the policy's `workloads`), besides the built-in kinds. */
  readonly podTemplates?: PodTemplateKinds | undefined;
}

/** Distinct copies of one object compared against each new copy. */
const MAX_COMPARED_COPIES = 8;

const VERDICT_RANK: Readonly<Record<Verdict, number>> = { allow: 0, inject: 1, deny: 2 };

interface Variant {
  readonly object: Record<string, unknown>;
  readonly sources: string[];
}

/**
 * Decides every workload among `inputs`. The same object (API group, kind, namespace, name) read
 * from several places is decided once per distinct copy and reported once with all its sources.
 */
export function decideObjects(
  inputs: Iterable<AuditInput>,
  snapshot: ClusterSnapshot,
  policy: PolicyResolver,
  now: number,
  options: DecideObjectsOptions = {},
): AuditResult[] {
  const defaultNamespace = options.defaultNamespace ?? DEFAULT_NAMESPACE;
  const custom = options.podTemplates;
  const extract = (object: Record<string, unknown>): PodSpecRef | undefined => extractPodSpec(object) ?? custom?.extract(object);
  const specField = (object: Record<string, unknown>): string | undefined => builtinSpecField(object) ?? custom?.specField(object);
  const groups = new Map<string, Variant[]>();
  let unnamed = 0;
  for (const { object, source } of inputs) {
    const identity = identify(object);
    if (identity === undefined) continue;
    if (specField(object) === undefined) continue; // not a workload
    const namespace = identity.namespace || defaultNamespace;
    const group = identity.apiVersion.includes('/') ? identity.apiVersion.slice(0, identity.apiVersion.indexOf('/')) : '';
    const named = typeof (object['metadata'] as Record<string, unknown> | undefined)?.['name'] === 'string';
    // generateName objects are distinct on every create: never merged.
    const key = named ? `${group}\u0000${identity.kind}\u0000${namespace}\u0000${identity.name}` : `\u0001${(unnamed += 1)}`;
    const variants = groups.get(key);
    if (variants === undefined) {
      groups.set(key, [{ object, sources: [source] }]);
      continue;
    }
    // Compared with a bounded number of copies, so a file holding thousands of versions of one
    // object stays linear (the extra copies are reported as differing).
    const same = variants.slice(0, MAX_COMPARED_COPIES).find((variant) => sameObject(variant.object, object));
    if (same !== undefined) same.sources.push(source);
    else variants.push({ object, sources: [source] });
  }
  const results: AuditResult[] = [];
  for (const variants of groups.values()) {
    let shown: AuditResult | undefined;
    for (const variant of variants) {
      const result = decideOne(variant.object, variant.sources[0] as string, snapshot, policy, now, defaultNamespace, extract, specField);
      if (shown === undefined || VERDICT_RANK[result.decision] > VERDICT_RANK[shown.decision]) shown = result;
    }
    if (shown === undefined) continue;
    const sources = variants.flatMap((variant) => variant.sources);
    results.push({ ...shown, source: shown.source, sources: [shown.source, ...sources.filter((source) => source !== shown.source)], copiesDiffer: variants.length > 1 });
  }
  return results;
}

function builtinSpecField(object: Record<string, unknown>): string | undefined {
  const kind = object['kind'];
  return isWorkloadKind(kind) ? WORKLOAD_SPEC_FIELDS[kind] : undefined;
}

function decideOne(
  object: Record<string, unknown>,
  source: string,
  snapshot: ClusterSnapshot,
  policy: PolicyResolver,
  now: number,
  defaultNamespace: string,
  extract: (object: Record<string, unknown>) => PodSpecRef | undefined,
  specField: (object: Record<string, unknown>) => string | undefined,
): AuditResult {
  const identity = identify(object);
  const kind = identity?.kind ?? '';
  const name = identity?.name ?? '';
  // An empty namespace is the default namespace, as kubectl applies it.
  const namespace = identity?.namespace || defaultNamespace;
  const base = { namespace, kind, name, source, sources: [source], copiesDiffer: false };
  const spec = extract(object);
  if (spec === undefined) {
    // A workload without a pod spec is not silently dropped: the report says it was not checked.
    return {
      ...base,
      mode: policy.forNamespace(namespace, snapshot.namespace(namespace)).mode,
      decision: 'allow',
      inject: [],
      containers: [],
      findings: [],
      skipped: `${specField(object) ?? 'spec'} is missing or not an object: nothing was checked (the API server would reject this ${kind})`,
    };
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

/** Deep equality of two parsed objects (key order ignored); cycles (YAML aliases) compare unequal. */
function sameObject(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > 200 || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => sameObject(item, other[index], depth + 1));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameObject(left[key], right[key], depth + 1));
}

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
  return {
    mode: parts.mode,
    summary: {
      objects: results.length,
      containers: results.reduce((sum, result) => sum + result.containers.length, 0),
      deny: results.filter((result) => result.decision === 'deny').length,
      inject: results.filter((result) => result.decision === 'inject').length,
      warn: results.filter(hasWarning).length,
      skipped: skipped.length,
      notAudited: notAudited.length,
    },
    results,
    skipped,
    notAudited,
    rollup: buildRollup(results),
  };
}

export function hasWarning(result: AuditResult): boolean {
  return [...result.findings, ...result.containers.flatMap((container) => container.findings)].some((finding) => finding.severity === 'warn');
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
