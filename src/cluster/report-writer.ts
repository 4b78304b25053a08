import {
  REPORT_APIS,
  REPORT_KINDS,
  REPORT_MANAGED_BY_LABEL,
  REPORT_NAME,
  REPORT_SOURCE,
  type PolicyReportObject,
  type PolicyReportSet,
  type ReportApi,
} from '../report/policyreport.ts';
import { isRecord } from '../workloads/extract.ts';
import { isApiStatus, type KubeRest } from './rest.ts';

/**
 * Writes policy reports to the cluster: server-side apply with field manager `pullguard` (each
 * report's `results` list is atomic in both CRDs, so an apply replaces the previous run's results
 * whole), then deletes pullguard's reports in namespaces that no longer need one.
 */

export const FIELD_MANAGER = 'pullguard';

export class ReportApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportApiError';
  }
}

/** True when the API server serves the group/version with the namespaced report resource. */
async function serves(rest: KubeRest, api: ReportApi): Promise<boolean> {
  try {
    const body = await rest.request({ method: 'GET', path: `/apis/${api}` });
    const resources = isRecord(body) && Array.isArray(body['resources']) ? (body['resources'] as unknown[]) : [];
    return resources.some((resource) => isRecord(resource) && resource['name'] === REPORT_KINDS[api].namespacedPlural);
  } catch (error) {
    if (isApiStatus(error, 404) || isApiStatus(error, 403)) return false;
    throw error;
  }
}

/** OpenReports when the cluster serves it, else wgpolicyk8s, else undefined. */
export async function detectReportApi(rest: KubeRest): Promise<ReportApi | undefined> {
  for (const api of REPORT_APIS) if (await serves(rest, api)) return api;
  return undefined;
}

/** The API to write: `--report-api` when given (checked to be served), else the detected one. */
export async function chooseReportApi(rest: KubeRest, requested: ReportApi | undefined): Promise<ReportApi> {
  if (requested !== undefined) {
    if (!(await serves(rest, requested))) throw new ReportApiError(`the cluster does not serve ${requested} (${REPORT_KINDS[requested].namespaced}): install its CRDs first`);
    return requested;
  }
  const detected = await detectReportApi(rest);
  if (detected === undefined) {
    throw new ReportApiError(
      'the cluster serves no policy report API: install the OpenReports CRDs (openreports.io, reports and clusterreports) or the wgpolicyk8s.io PolicyReport CRDs (Kyverno installs them), or print the reports with -o policyreport instead of --apply',
    );
  }
  return detected;
}

function reportPath(report: PolicyReportObject): string {
  const kinds = REPORT_KINDS[report.apiVersion];
  const namespace = report.metadata.namespace;
  return namespace === undefined
    ? `/apis/${report.apiVersion}/${kinds.clusterPlural}/${encodeURIComponent(report.metadata.name)}`
    : `/apis/${report.apiVersion}/namespaces/${encodeURIComponent(namespace)}/${kinds.namespacedPlural}/${encodeURIComponent(report.metadata.name)}`;
}

export async function applyReport(rest: KubeRest, report: PolicyReportObject): Promise<void> {
  await rest.request({
    method: 'PATCH',
    path: reportPath(report),
    query: { fieldManager: FIELD_MANAGER, force: true },
    body: report,
    // JSON is YAML: the apply patch type takes either.
    contentType: 'application/apply-patch+yaml',
  });
}

export interface ApplyOutcome {
  readonly applied: number;
  readonly deleted: readonly string[];
}

/**
 * Applies every report of the set, then deletes pullguard's namespaced reports (in `scope`: one
 * namespace, or all) that the set no longer has. The cluster report is left alone when the set
 * has none (a partial audit).
 */
export async function applyReports(rest: KubeRest, set: PolicyReportSet, api: ReportApi, scope: { namespace: string | undefined }): Promise<ApplyOutcome> {
  let applied = 0;
  for (const report of set.namespaced) {
    await applyReport(rest, report);
    applied += 1;
  }
  if (set.cluster !== undefined) {
    await applyReport(rest, set.cluster);
    applied += 1;
  }
  const keep = new Set(set.namespaced.map((report) => report.metadata.namespace));
  const kinds = REPORT_KINDS[api];
  const listPath = scope.namespace === undefined ? `/apis/${api}/${kinds.namespacedPlural}` : `/apis/${api}/namespaces/${encodeURIComponent(scope.namespace)}/${kinds.namespacedPlural}`;
  const existing = await rest.request({ method: 'GET', path: listPath, query: { labelSelector: `${REPORT_MANAGED_BY_LABEL}=${REPORT_SOURCE}` } });
  const items = isRecord(existing) && Array.isArray(existing['items']) ? (existing['items'] as unknown[]) : [];
  const deleted: string[] = [];
  for (const item of items) {
    const metadata = isRecord(item) && isRecord(item['metadata']) ? item['metadata'] : {};
    const namespace = metadata['namespace'];
    if (typeof namespace !== 'string' || metadata['name'] !== REPORT_NAME || keep.has(namespace)) continue;
    try {
      await rest.request({ method: 'DELETE', path: `/apis/${api}/namespaces/${encodeURIComponent(namespace)}/${kinds.namespacedPlural}/${REPORT_NAME}` });
    } catch (error) {
      if (!isApiStatus(error, 404)) throw error;
    }
    deleted.push(namespace);
  }
  return { applied, deleted };
}
