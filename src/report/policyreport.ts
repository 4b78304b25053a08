import type { Finding, Severity } from '../findings/catalogue.ts';
import type { EffectiveMode } from '../policy/schema.ts';
import type { WorkloadKind } from '../workloads/extract.ts';
import type { AuditReport, AuditResult } from './audit.ts';
import type { ClusterAuditResult, PodGroup } from './cluster-audit.ts';
import { plural } from './table.ts';

/**
 * Audit results as policy reports, the format Policy Reporter, Kyverno's tooling and many
 * dashboards read: one report per namespace (all of that namespace's results) plus one cluster
 * report (one result per namespace: would enforcing there deny anything?). Two APIs carry the same
 * shape: `openreports.io/v1alpha1` (Report, ClusterReport; where the working group moved) and
 * `wgpolicyk8s.io/v1alpha2` (PolicyReport, ClusterPolicyReport; what Kyverno still writes).
 *
 * Each finding is one result: `policy` is the finding code, `result` fail (deny), warn (warn),
 * pass or skip, with `severity`, the message, the workload as the resource and `properties`
 * naming the container, the image and the field path. Reports stay small, as etcd wants:
 * results are per finding, not per pod (pods are rolled up under their workload), `pass` and
 * `skip` results only on request, and a report is cut at REPORT_MAX_BYTES (worst results kept).
 */

export const REPORT_APIS = ['openreports.io/v1alpha1', 'wgpolicyk8s.io/v1alpha2'] as const;
export type ReportApi = (typeof REPORT_APIS)[number];

/** `--report-api TEXT`: undefined when not given; `usage` builds the error for anything else. */
export function parseReportApi(text: string | undefined, usage: (message: string) => Error): ReportApi | undefined {
  if (text === undefined) return undefined;
  if (!(REPORT_APIS as readonly string[]).includes(text)) throw usage(`--report-api must be ${REPORT_APIS.join(' or ')}, got ${text}`);
  return text as ReportApi;
}

export const REPORT_KINDS: Readonly<Record<ReportApi, { readonly namespaced: string; readonly cluster: string; readonly namespacedPlural: string; readonly clusterPlural: string }>> = {
  'openreports.io/v1alpha1': { namespaced: 'Report', cluster: 'ClusterReport', namespacedPlural: 'reports', clusterPlural: 'clusterreports' },
  'wgpolicyk8s.io/v1alpha2': { namespaced: 'PolicyReport', cluster: 'ClusterPolicyReport', namespacedPlural: 'policyreports', clusterPlural: 'clusterpolicyreports' },
};

/** The name of every report pullguard writes (one per namespace, one cluster-wide). */
export const REPORT_NAME = 'pullguard';
export const REPORT_SOURCE = 'pullguard';
/** Selects the reports pullguard owns, to find those of namespaces that no longer need one. */
export const REPORT_MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const REPORT_OMITTED_ANNOTATION = 'pullguard.io/omitted-results';
/**
 * 1 MiB: etcd refuses objects over 1.5 MiB (its default --max-request-bytes), and reports are the
 * first objects to bloat a cluster's etcd; a cut report keeps its worst results and says how many
 * were left out.
 */
export const REPORT_MAX_BYTES = 1024 * 1024;
/** The policy of a workload result whose every image can be pulled (only with pass results). */
export const PASS_POLICY = 'ImagePullable';
/** The policy of a workload that was not checked (only with pass results). */
export const SKIP_POLICY = 'NotChecked';
/** The policy of the cluster report's per-namespace results. */
export const NAMESPACE_POLICY = 'EnforcementReadiness';
const CATEGORY = 'Image pull';

export type ReportResultValue = 'pass' | 'fail' | 'warn' | 'error' | 'skip';
export type ReportSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface ResourceReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
}

export interface ReportResult {
  readonly source: string;
  readonly policy: string;
  readonly category: string;
  readonly result: ReportResultValue;
  readonly severity: ReportSeverity;
  readonly message: string;
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
  readonly resources: readonly ResourceReference[];
  readonly properties: Readonly<Record<string, string>>;
}

export interface ReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export interface PolicyReportObject {
  readonly apiVersion: ReportApi;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly source?: string;
  readonly summary: ReportSummary;
  readonly results: readonly ReportResult[];
}

export interface PolicyReportSet {
  /** One per namespace with at least one result, sorted by namespace. */
  readonly namespaced: readonly PolicyReportObject[];
  /** Undefined when the audit covered only some namespaces (-n): a partial cluster report would mislead. */
  readonly cluster: PolicyReportObject | undefined;
}

export interface PolicyReportOptions {
  readonly api: ReportApi;
  /** Also write pass and skip results (`--report-pass`). */
  readonly includePass: boolean;
  /** Epoch ms of the audit, stamped on every result. */
  readonly now: number;
  /** Write the cluster report (false when the audit saw only some namespaces). */
  readonly clusterReport: boolean;
  /** Results from manifests: each names the file and line it came from in `properties.manifest`. */
  readonly manifestSources?: boolean;
  readonly maxBytes?: number;
}

const API_VERSION_OF_KIND: Readonly<Record<WorkloadKind, string>> = {
  Pod: 'v1',
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  ReplicationController: 'v1',
  PodTemplate: 'v1',
};

const RESULT_OF_SEVERITY: Readonly<Record<Severity, { result: ReportResultValue; severity: ReportSeverity }>> = {
  deny: { result: 'fail', severity: 'high' },
  warn: { result: 'warn', severity: 'medium' },
  info: { result: 'pass', severity: 'info' },
};

const RESULT_ORDER: Readonly<Record<ReportResultValue, number>> = { fail: 0, error: 1, warn: 2, skip: 3, pass: 4 };

function emptySummary(): ReportSummary {
  return { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
}

function resourceOf(result: AuditResult & { uid?: string }): ResourceReference {
  return {
    apiVersion: (API_VERSION_OF_KIND as Readonly<Record<string, string>>)[result.kind] ?? 'v1',
    kind: result.kind,
    name: result.name,
    namespace: result.namespace,
    ...(result.uid !== undefined ? { uid: result.uid } : {}),
  };
}

/** `spec.template.spec.containers[1].image` → `containers[1].image`: the same container in a template and in its pods. */
function containerSubpath(path: string): string {
  const index = path.search(/(initContainers|containers|ephemeralContainers)\[/);
  return index < 0 ? path : path.slice(index);
}

function podsLabel(group: PodGroup, count: number, example: string): string {
  return count === group.total ? `all ${group.total} live pods (e.g. ${example})` : `${count} of ${group.total} live pods (e.g. ${example})`;
}

/** The results of one audited workload. */
export function resultsOfWorkload(result: ClusterAuditResult, options: Pick<PolicyReportOptions, 'includePass' | 'now' | 'manifestSources'>): ReportResult[] {
  const timestamp = { seconds: Math.floor(options.now / 1000), nanos: 0 };
  const resources = [resourceOf(result)];
  const out: ReportResult[] = [];
  const base = { source: REPORT_SOURCE, category: CATEGORY, timestamp, resources };
  const where: Record<string, string> = options.manifestSources === true ? { manifest: result.source } : {};
  const push = (finding: Finding, properties: Record<string, string>, prefix = ''): void => {
    const mapped = finding.code === 'ExemptImage' ? { result: 'skip' as const, severity: 'info' as const } : RESULT_OF_SEVERITY[finding.severity];
    if (!options.includePass && (mapped.result === 'pass' || mapped.result === 'skip')) return;
    out.push({ ...base, policy: finding.code, ...mapped, message: prefix + finding.message, properties: { ...properties, fieldPath: finding.path, mode: result.mode, ...where } });
  };
  if (result.skipped !== undefined) {
    if (options.includePass) out.push({ ...base, policy: SKIP_POLICY, result: 'skip', severity: 'info', message: result.skipped, properties: { mode: result.mode, ...where } });
    return out;
  }
  for (const finding of result.findings) push(finding, {});
  const seen = new Set<string>();
  for (const container of result.containers) {
    for (const finding of container.findings) {
      seen.add(`${finding.code} ${containerSubpath(finding.path)}`);
      push(finding, { container: container.name, image: container.image });
    }
  }
  const pods = result.pods;
  if (pods !== undefined) {
    for (const outcome of pods.outcomes) {
      for (const finding of outcome.findings) {
        // The template already says it: the pods add nothing but a count.
        if (seen.has(`${finding.code} ${containerSubpath(finding.path)}`)) continue;
        push(finding, { pods: String(outcome.count), pod: outcome.example }, `${podsLabel(pods, outcome.count, outcome.example)}: `);
      }
    }
  }
  if (options.includePass && !out.some((entry) => entry.result === 'fail' || entry.result === 'warn')) {
    const images = result.containers.length;
    out.push({
      ...base,
      policy: PASS_POLICY,
      result: 'pass',
      severity: 'info',
      message: `${images === 1 ? 'the image' : `all ${images} images`} can be pulled with the credentials the pods will have${pods !== undefined ? ` (${pods.total} live pods)` : ''}`,
      properties: { mode: result.mode, ...where },
    });
  }
  return out;
}

function sortResults(results: ReportResult[]): void {
  const key = (entry: ReportResult): string => `${entry.resources[0]?.kind ?? ''}/${entry.resources[0]?.name ?? ''} ${entry.properties['fieldPath'] ?? ''} ${entry.policy}`;
  results.sort((a, b) => RESULT_ORDER[a.result] - RESULT_ORDER[b.result] || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function reportObject(api: ReportApi, kind: string, namespace: string | undefined, sorted: readonly ReportResult[], maxBytes: number): PolicyReportObject {
  const results: ReportResult[] = [];
  const summary = emptySummary();
  let bytes = 1024; // metadata, summary and the envelope
  let omitted = 0;
  for (const entry of sorted) {
    const size = JSON.stringify(entry).length + 1;
    if (bytes + size > maxBytes) {
      omitted += 1;
      continue;
    }
    bytes += size;
    results.push(entry);
    summary[entry.result] += 1;
  }
  return {
    apiVersion: api,
    kind,
    metadata: {
      name: REPORT_NAME,
      ...(namespace !== undefined ? { namespace } : {}),
      labels: { [REPORT_MANAGED_BY_LABEL]: REPORT_SOURCE },
      ...(omitted > 0 ? { annotations: { [REPORT_OMITTED_ANNOTATION]: String(omitted) } } : {}),
    },
    // Only OpenReports has a report-level source; wgpolicyk8s reports would reject the unknown field.
    ...(api === 'openreports.io/v1alpha1' ? { source: REPORT_SOURCE } : {}),
    summary,
    results,
  };
}

interface NamespaceTally {
  mode: EffectiveMode;
  workloads: number;
  deny: number;
  warn: number;
  inject: number;
}

function namespaceResult(namespace: string, tally: NamespaceTally, timestamp: ReportResult['timestamp']): ReportResult {
  const verdict: ReportResultValue = tally.deny > 0 ? 'fail' : tally.warn > 0 ? 'warn' : 'pass';
  const severity: ReportSeverity = verdict === 'fail' ? 'high' : verdict === 'warn' ? 'medium' : 'info';
  const message =
    tally.deny > 0
      ? `enforcing here would deny ${tally.deny} of ${plural(tally.workloads, 'workload')} (mode now: ${tally.mode})`
      : tally.warn > 0
        ? `nothing would be denied; ${tally.warn} of ${plural(tally.workloads, 'workload')} ${tally.warn === 1 ? 'has' : 'have'} warnings (mode now: ${tally.mode})`
        : `nothing would be denied in ${plural(tally.workloads, 'workload')} (mode now: ${tally.mode})`;
  return {
    source: REPORT_SOURCE,
    policy: NAMESPACE_POLICY,
    category: CATEGORY,
    result: verdict,
    severity,
    message,
    timestamp,
    resources: [{ apiVersion: 'v1', kind: 'Namespace', name: namespace }],
    properties: { mode: tally.mode, workloads: String(tally.workloads), deny: String(tally.deny), warn: String(tally.warn), inject: String(tally.inject) },
  };
}

/** The reports as one kubectl `List` (namespaced reports, then the cluster report): what `-o policyreport` prints. */
export function policyReportList(reports: PolicyReportSet): { apiVersion: 'v1'; kind: 'List'; items: PolicyReportObject[] } {
  return { apiVersion: 'v1', kind: 'List', items: [...reports.namespaced, ...(reports.cluster !== undefined ? [reports.cluster] : [])] };
}

/** The reports of one audit. Pure: the same audit and options always give the same objects. */
export function buildPolicyReports(report: AuditReport & { readonly results: readonly ClusterAuditResult[] }, options: PolicyReportOptions): PolicyReportSet {
  const kinds = REPORT_KINDS[options.api];
  const maxBytes = options.maxBytes ?? REPORT_MAX_BYTES;
  const byNamespace = new Map<string, ReportResult[]>();
  const tallies = new Map<string, NamespaceTally>();
  for (const result of report.results) {
    const results = resultsOfWorkload(result, options);
    if (results.length > 0) {
      let list = byNamespace.get(result.namespace);
      if (list === undefined) byNamespace.set(result.namespace, (list = []));
      list.push(...results);
    }
    let tally = tallies.get(result.namespace);
    if (tally === undefined) tallies.set(result.namespace, (tally = { mode: result.mode, workloads: 0, deny: 0, warn: 0, inject: 0 }));
    if (result.skipped !== undefined) continue;
    tally.workloads += 1;
    if (result.decision === 'deny' || (result.pods?.deny ?? 0) > 0) tally.deny += 1;
    if (result.decision === 'inject' || (result.pods?.inject ?? 0) > 0) tally.inject += 1;
    if (results.some((entry) => entry.result === 'warn')) tally.warn += 1;
  }
  const namespaced = [...byNamespace.keys()].sort().map((namespace) => {
    const results = byNamespace.get(namespace) ?? [];
    sortResults(results);
    return reportObject(options.api, kinds.namespaced, namespace, results, maxBytes);
  });
  let cluster: PolicyReportObject | undefined;
  if (options.clusterReport) {
    const timestamp = { seconds: Math.floor(options.now / 1000), nanos: 0 };
    const results = [...tallies.keys()]
      .sort()
      .flatMap((namespace) => {
        const tally = tallies.get(namespace);
        if (tally === undefined || tally.workloads === 0) return [];
        const entry = namespaceResult(namespace, tally, timestamp);
        return entry.result === 'pass' && !options.includePass ? [] : [entry];
      });
    sortResults(results);
    cluster = reportObject(options.api, kinds.cluster, undefined, results, maxBytes);
  }
  return { namespaced, cluster };
}
