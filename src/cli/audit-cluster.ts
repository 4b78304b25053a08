import { parseArgs } from 'node:util';
import { auditCluster, ClusterAuditError, type AuditProgress } from '../cluster/audit-cluster.ts';
import { ClusterPolicyError, parseObjectName, readClusterPolicy } from '../cluster/cluster-policy.ts';
import { connectCluster, type ClusterConnection } from '../cluster/connect.ts';
import { KubeconfigError } from '../cluster/kubeconfig-files.ts';
import { ListError } from '../cluster/paged-list.ts';
import { applyReports, chooseReportApi, ReportApiError } from '../cluster/report-writer.ts';
import { KubeApiError, type KubeRest } from '../cluster/rest.ts';
import { PolicyResolver } from '../policy/resolve.ts';
import { renderClusterTable } from '../report/cluster-table.ts';
import { plural } from '../report/table.ts';
import { buildPolicyReports, parseReportApi, policyReportList } from '../report/policyreport.ts';
import { WORKLOAD_KINDS, type WorkloadKind } from '../workloads/extract.ts';
import { EXIT_DENIED, EXIT_OK, UsageError } from './errors.ts';
import { loadPolicyFile } from './inputs.ts';
import { writeJsonLine, type CommandIo } from './io.ts';
import { probeUncoveredRegistries } from './audit-probe.ts';
import { PROBE_FLAG_OPTIONS, parseProbeFlags } from './probe-flags.ts';
import { parseNow } from './review.ts';

export const CLUSTER_AUDIT_HELP = `Usage: pullguard audit --cluster [-n NS | -A] [-l SELECTOR] [--kinds KIND,...] [-o table|json|policyreport] [--apply]

Reads the live cluster (kubeconfig as kubectl: --kubeconfig, KUBECONFIG, ~/.kube/config, in-cluster)
and reports what pullguard would decide for every Pod and workload (Deployment, ReplicaSet not owned
by a Deployment, StatefulSet, DaemonSet, Job not owned by a CronJob, CronJob, ReplicationController,
PodTemplate). The state is the cluster's Namespaces, ServiceAccounts and pull secrets; pods are grouped
under the workload that owns them.

  --kubeconfig FILE         kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster)
  --context NAME            kubeconfig context (default: current-context)
  -n, --namespace NS        audit one namespace (default: every namespace)
  -A, --all-namespaces      audit every namespace (the default; for kubectl muscle memory)
  -l, --selector SELECTOR   only workloads and pods with these labels (label selector syntax)
  --kinds KIND,...          only these kinds (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
                            CronJob, ReplicationController, PodTemplate; plural and short names work)
  --policy FILE             decide with this policy instead of the cluster's
  --policy-configmap NS/NAME
                            the policy ConfigMap (default: the one labelled part-of=pullguard,
                            component=webhook; the built-in default when there is none)
  -o, --output FORMAT       table (default), json, or policyreport (the reports, as a kubectl List)
  --apply                   write the reports to the cluster (server-side apply, field manager
                            pullguard) and delete pullguard's reports of namespaces that need none
  --report-api API          openreports.io/v1alpha1 or wgpolicyk8s.io/v1alpha2 (default: the one the
                            cluster serves, OpenReports first; openreports.io/v1alpha1 for -o alone)
  --report-pass             also write pass and skip results
  --chunk-size N            objects per list request (default 500)
  --stats                   print to stderr how long listing and deciding took and the peak memory
  --now RFC3339             evaluate token expiry at this time (default: now)
  --probe-anonymous         ask each registry that no rule names and no secret covers whether one of its
                            images may be pulled anonymously (no credential is ever sent), and suggest
                            access public or secret from the answer; with --ca-file FILE,
                            --probe-timeout MS and --probe-allow-realm HOST as in the offline audit
  --no-color                never colour the table
  -h, --help                show this help
  -v, --version             print the version

A progress line (objects read, namespaces done, ETA) goes to stderr when stderr is a terminal.
Exit status: 0 nothing would be denied, 1 something would be denied (a workload or one of its
pods), 2 usage error, unreadable kubeconfig or policy, or the cluster could not be read.
`;

/** Kind names as users type them: kind, plural resource and kubectl short name, any case. */
const KIND_ALIASES: ReadonlyMap<string, WorkloadKind> = new Map(
  (
    [
      ['Pod', ['pods', 'po']],
      ['Deployment', ['deployments', 'deploy']],
      ['ReplicaSet', ['replicasets', 'rs']],
      ['StatefulSet', ['statefulsets', 'sts']],
      ['DaemonSet', ['daemonsets', 'ds']],
      ['Job', ['jobs']],
      ['CronJob', ['cronjobs', 'cj']],
      ['ReplicationController', ['replicationcontrollers', 'rc']],
      ['PodTemplate', ['podtemplates']],
    ] as const
  ).flatMap(([kind, aliases]) => [[kind.toLowerCase(), kind] as const, ...aliases.map((alias) => [alias, kind] as const)]),
);

export function parseKinds(text: string | undefined): WorkloadKind[] {
  if (text === undefined) return [...WORKLOAD_KINDS];
  const kinds = new Set<WorkloadKind>();
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '') continue;
    const kind = KIND_ALIASES.get(name);
    if (kind === undefined) throw new UsageError(`--kinds: unknown kind "${part.trim()}" (one of ${WORKLOAD_KINDS.join(', ')})`);
    kinds.add(kind);
  }
  if (kinds.size === 0) throw new UsageError('--kinds needs at least one kind');
  return [...kinds];
}

function parseChunkSize(text: string | undefined): number {
  if (text === undefined) return 500;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 10_000) throw new UsageError(`--chunk-size must be an integer from 1 to 10000, got ${text}`);
  return value;
}

/** Renders the progress line: redrawn in place, throttled, cleared at the end. */
export function progressLine(progress: AuditProgress, elapsedMs: number): string {
  const eta = progress.fraction > 0.02 && progress.fraction < 1 ? `, ETA ${Math.max(1, Math.round((elapsedMs * (1 - progress.fraction)) / progress.fraction / 1000))}s` : '';
  return `reading ${progress.list}: ${progress.objects.toLocaleString('en-US')} objects read, ${progress.namespacesDone}/${progress.namespacesTotal} namespaces done${eta}`;
}

const PROGRESS_INTERVAL_MS = 100;

/** Test seam: the API client for a loaded kubeconfig. */
export interface ClusterAuditDependencies {
  readonly rest?: (connection: ClusterConnection) => KubeRest;
}

export async function runClusterAudit(args: readonly string[], io: CommandIo, dependencies: ClusterAuditDependencies = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      cluster: { type: 'boolean' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      selector: { type: 'string', short: 'l' },
      kinds: { type: 'string' },
      policy: { type: 'string' },
      'policy-configmap': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      apply: { type: 'boolean' },
      'report-api': { type: 'string' },
      'report-pass': { type: 'boolean' },
      'chunk-size': { type: 'string' },
      stats: { type: 'boolean' },
      now: { type: 'string' },
      'probe-anonymous': { type: 'boolean' },
      ...PROBE_FLAG_OPTIONS,
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help === true) {
    io.stdout.write(CLUSTER_AUDIT_HELP);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError(`--cluster reads the cluster, not files: remove ${positionals.join(' ')}`);
  const output = values.output;
  if (output !== 'table' && output !== 'json' && output !== 'policyreport') throw new UsageError(`-o must be table, json or policyreport, got ${output}`);
  if (values.namespace !== undefined && values['all-namespaces'] === true) throw new UsageError('-n and -A exclude each other');
  if (values.policy !== undefined && values['policy-configmap'] !== undefined) throw new UsageError('--policy and --policy-configmap exclude each other');
  const kinds = parseKinds(values.kinds);
  const requestedApi = parseReportApi(values['report-api'], (message) => new UsageError(message));
  const pageSize = parseChunkSize(values['chunk-size']);
  if (values.apply === true && (values.selector !== undefined || values.kinds !== undefined)) {
    throw new UsageError('--apply writes whole-namespace reports: it cannot be combined with -l or --kinds (they would replace a namespace\'s report with a part of it)');
  }
  const now = parseNow(values.now);
  const probeFlags = parseProbeFlags(values['probe-anonymous'] === true, '--probe-anonymous', values);
  const namespace = values.namespace;

  let kubeconfig: ClusterConnection;
  try {
    kubeconfig = await connectCluster({ kubeconfig: values.kubeconfig, context: values.context, env: io.env });
  } catch (error) {
    if (error instanceof KubeconfigError) throw new UsageError(error.message);
    throw error;
  }
  const rest = dependencies.rest?.(kubeconfig) ?? kubeconfig.rest;

  try {
    const policy = values.policy !== undefined
      ? { policy: await loadPolicyFile(values.policy), source: values.policy }
      : await readClusterPolicy(rest, values['policy-configmap'] === undefined ? undefined : parseObjectName(values['policy-configmap'], '--policy-configmap'));
    const reportApi = values.apply === true ? await chooseReportApi(rest, requestedApi) : requestedApi ?? 'openreports.io/v1alpha1';

    const showProgress = io.stderr.isTTY === true;
    const started = performance.now();
    let lastDraw = 0;
    const outcome = await auditCluster({
      rest,
      namespace,
      labelSelector: values.selector,
      kinds,
      policy: new PolicyResolver(policy.policy),
      now,
      source: `cluster:${kubeconfig.context}`,
      pageSize,
      ...(showProgress
        ? {
            onProgress: (progress: AuditProgress) => {
              const at = performance.now();
              if (at - lastDraw < PROGRESS_INTERVAL_MS && progress.list !== 'done') return;
              lastDraw = at;
              io.stderr.write(`\r\x1b[K${progressLine(progress, at - started)}`);
            },
          }
        : {}),
    });
    if (showProgress) io.stderr.write('\r\x1b[K');
    const report = probeFlags === undefined ? outcome.report : await probeUncoveredRegistries(outcome.report, probeFlags, io);
    const needReports = output === 'policyreport' || values.apply === true;
    const reports = needReports
      ? buildPolicyReports(report, { api: reportApi, includePass: values['report-pass'] === true, now, clusterReport: namespace === undefined })
      : undefined;

    if (output === 'json') writeJsonLine(report, io);
    else if (output === 'policyreport' && reports !== undefined) {
      io.stdout.write(JSON.stringify(policyReportList(reports), null, 2) + '\n');
    } else {
      const color = values['no-color'] !== true && io.stdout.isTTY === true && io.env['NO_COLOR'] === undefined;
      io.stdout.write(renderClusterTable(report, { color }));
    }
    io.stderr.write(`policy: ${policy.source}\n`);
    if (values.stats === true) {
      const peakMiB = process.resourceUsage().maxRSS / 1024;
      io.stderr.write(
        `stats: ${plural(outcome.objects, 'object')} in ${plural(outcome.namespaces.length, 'namespace')}; listing ${Math.round(outcome.listMs)} ms, deciding ${Math.round(outcome.decideMs)} ms, peak RSS ${peakMiB.toFixed(0)} MiB\n`,
      );
    }
    if (values.apply === true && reports !== undefined) {
      const applied = await applyReports(rest, reports, reportApi, { namespace });
      io.stderr.write(`applied ${plural(applied.applied, `${reportApi} report`)}${applied.deleted.length > 0 ? `, deleted ${applied.deleted.length} no longer needed (${applied.deleted.join(', ')})` : ''}\n`);
    }
    return report.summary.deny > 0 ? EXIT_DENIED : EXIT_OK;
  } catch (error) {
    if (error instanceof ClusterPolicyError || error instanceof ClusterAuditError || error instanceof ReportApiError || error instanceof ListError || error instanceof KubeApiError) {
      throw new UsageError(`${kubeconfig.context}: ${error.message}`);
    }
    throw error;
  }
}
