import { parseArgs } from 'node:util';
import { ManifestError, type SourcedObject } from '../manifests/parse.ts';
import { readInputs, readsOneText, type InputEvent } from '../manifests/read.ts';
import { Renderers } from '../manifests/render.ts';
import { buildReport, decideWorkloads, filterResults, ONLY_FILTERS, type NotAuditedEntry, type OnlyFilter, type SkippedEntry } from '../report/audit.ts';
import { CopyFingerprints } from '../report/copy-fingerprints.ts';
import { prepareWorkload, SpecInterner, type PreparedWorkload } from '../report/prepare-workload.ts';
import { AUDIT_EXIT, auditExitStatus } from '../report/exit-status.ts';
import { buildPolicyReports, parseReportApi, policyReportList } from '../report/policyreport.ts';
import { clean, plural, renderTable } from '../report/table.ts';
import { DEFAULT_NAMESPACE, SnapshotBuilder, type ProjectedState } from '../snapshot/from-objects.ts';
import { EXIT_USAGE, UsageError } from './errors.ts';
import { formatColumns } from './help.ts';
import { loadPolicyResolver } from './inputs.ts';
import { writeJsonLine, type CommandIo } from './io.ts';
import { ANONYMOUS_PROBE_CONCURRENCY, parseProbeFlags } from './probe-flags.ts';
import { AUDIT_OPTIONS } from './audit-options.ts';
import { ProgressLine } from './progress.ts';
import { parseNow } from './review.ts';

export const AUDIT_HELP = `Usage: pullguard audit [FILE|DIR|-]... [options]

Reports, for every workload in the manifests, what pullguard would decide for each container.
Secrets, ServiceAccounts and Namespaces among the manifests (and in --state files) are the cluster
state. Directories are read recursively (*.yaml, *.yml, *.json; symlinks followed; node_modules
and dot-directories skipped); a directory holding kustomization.yaml is rendered with 'kubectl
kustomize' (or 'kustomize build'), one holding Chart.yaml with 'helm template'. Files that are not
Kubernetes objects are skipped with a warning. '-' reads stdin (the default when stdin is a pipe).

${formatColumns([
  ['-o, --output FORMAT', 'table (default; colour when stdout is a terminal), json, or policyreport'],
  ['', '(the policy reports as a List to pipe into kubectl apply -f -)'],
  ['--report-api API', 'with -o policyreport: openreports.io/v1alpha1 (default: there is no'],
  ['', 'cluster to ask which one it serves) or wgpolicyk8s.io/v1alpha2'],
  ['--report-pass', 'with -o policyreport: also pass and skip results'],
  ['--only deny|warn|inject', 'list only these results (repeatable or comma-separated); the summary counts all'],
  ['-n, --namespace NS', 'namespace of objects that name none (default default), as kubectl apply -n'],
  ['--state FILE|DIR', 'extra cluster state; repeatable'],
  ['--policy FILE', 'policy.yaml (default: built-in policy)'],
  ['--helm-values FILE', "values file for every 'helm template'; repeatable"],
  ['--strict', 'exit 2 when any input was skipped'],
  ['--now RFC3339', 'evaluate token expiry at this time (default: now)'],
  ['--probe-anonymous', 'ask each registry no rule names and no secret covers if the image it is'],
  ['', 'used for may be pulled anonymously (GET /v2/, anonymous token, HEAD of the'],
  ['', 'manifest; never a credential); suggest access public or secret from that'],
  ['--ca-file FILE', 'with --probe-anonymous: also trust this CA (PEM) for registry TLS'],
  ['--probe-timeout MS', 'with --probe-anonymous: time-out of each registry request (default'],
  ['', `10000); ${ANONYMOUS_PROBE_CONCURRENCY} registries are probed at a time`],
  ['--probe-allow-realm HOST', 'with --probe-anonymous: a token server on another host that may be'],
  ['', 'asked for an anonymous token (besides the registry, auth.docker.io)'],
  ['--no-color', 'never colour the table'],
  ['--stats', 'print to stderr the time spent reading, deciding and writing, and the peak RSS'],
  ['-h, --help', 'show this help'],
  ['-v, --version', 'print the version'],
])}

With --cluster, reads a live cluster instead: see pullguard audit --cluster --help.

Exit status (the first that applies):
${formatColumns([
  [String(AUDIT_EXIT.usage), 'usage error or unreadable command-line input; with --strict, also any skipped input'],
  [String(AUDIT_EXIT.denied), 'something would be denied (in any namespace mode: the mode column says where the'],
  ['', 'webhook would only warn today)'],
  [String(AUDIT_EXIT.incomplete), 'incomplete: a chart or overlay was NOT AUDITED (its tool is missing or failed)'],
  [String(AUDIT_EXIT.ok), 'everything was audited and nothing would be denied'],
])}
`;

const STATE_KINDS: ReadonlySet<string> = new Set(['Secret', 'ServiceAccount', 'Namespace']);

function parseOnly(values: readonly string[]): Set<OnlyFilter> {
  const only = new Set<OnlyFilter>();
  for (const value of values.flatMap((text) => text.split(','))) {
    const filter = value.trim();
    if (!(ONLY_FILTERS as readonly string[]).includes(filter)) throw new UsageError(`--only must be ${ONLY_FILTERS.join(', ')} (or several, comma-separated), got ${value}`);
    only.add(filter as OnlyFilter);
  }
  return only;
}

function formatSource(entry: { readonly source: string; readonly line: number }): string {
  return entry.line > 0 ? `${entry.source}:${entry.line}` : entry.source;
}

export async function runAudit(args: readonly string[], io: CommandIo): Promise<number> {
  // The live cluster is its own front door (src/cli/audit-cluster.ts): same decision, report and exit codes.
  if (args.includes('--cluster')) return (await import('./audit-cluster.ts')).runClusterAudit(args, io);
  const { values, positionals } = parseArgs({
    args: [...args],
    options: AUDIT_OPTIONS,
    allowPositionals: true,
  });
  if (values.help === true) {
    io.stdout.write(AUDIT_HELP);
    return AUDIT_EXIT.ok;
  }
  // With nothing to read and a person at the keyboard, waiting on stdin would look like a hang.
  if (positionals.length === 0 && io.stdin.isTTY === true) {
    io.stderr.write(AUDIT_HELP);
    return EXIT_USAGE;
  }
  const output = values.output;
  if (output !== 'table' && output !== 'json' && output !== 'policyreport') throw new UsageError(`-o must be table, json or policyreport, got ${output}`);
  if (values.apply === true) {
    throw new UsageError('--apply writes reports to a cluster and needs --cluster; for manifests, print them and apply them yourself: pullguard audit DIR -o policyreport | kubectl apply -f -');
  }
  const reportApi = parseReportApi(values['report-api'], (message) => new UsageError(message)) ?? 'openreports.io/v1alpha1';
  if (output !== 'policyreport' && (values['report-api'] !== undefined || values['report-pass'] === true)) {
    throw new UsageError(`${values['report-api'] !== undefined ? '--report-api' : '--report-pass'} shapes policy reports: use it with -o policyreport`);
  }
  const only = parseOnly(values.only);
  if (output === 'policyreport' && only.size > 0) throw new UsageError('--only filters the listing; a policy report holds all of a namespace\'s results: leave out --only with -o policyreport');
  if (values.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.namespace)) {
    throw new UsageError(`--namespace must be a namespace name (lower-case letters, digits and '-'), got ${values.namespace}`);
  }
  if (values.state.includes('-')) throw new UsageError('--state - is not supported: stdin carries the manifests; give a file or directory');
  const now = parseNow(values.now);
  const probeFlags = parseProbeFlags(values['probe-anonymous'] === true, '--probe-anonymous', values);
  const policy = await loadPolicyResolver(values.policy);
  const defaultNamespace = values.namespace ?? DEFAULT_NAMESPACE;

  const started = performance.now();
  const progress = new ProgressLine(io.stderr, io.stderr.isTTY === true);
  const state = new SnapshotBuilder(defaultNamespace);
  const workloads: PreparedWorkload[] = [];
  // Replicas share one pod spec object (fewer survivors for the collector to copy while reading).
  const specs = new SpecInterner();
  // Fingerprints only for objects read more than once; the first copies' texts are kept only when
  // one file (or stdin) is read, whose text is in memory while it is read anyway.
  const copies = new CopyFingerprints(defaultNamespace, { keepTexts: await readsOneText(positionals) });
  const skipped: SkippedEntry[] = [];
  const notAudited: NotAuditedEntry[] = [];
  let files = 0;
  let objects = 0;
  // What is kept of each object as it is parsed: state objects projected (added to the snapshot
  // once their file parsed), workloads as identity, pod spec and fingerprint; the rest is dropped.
  type Kept = { readonly state: ProjectedState } | { readonly workload: PreparedWorkload };
  const keeper = (asState: boolean) => (entry: SourcedObject): Kept | undefined => {
    objects += 1;
    const kind = entry.object['kind'];
    if (typeof kind === 'string' && STATE_KINDS.has(kind)) {
      const projected = state.project(entry.object);
      return projected === undefined ? undefined : { state: projected };
    }
    if (asState) return undefined;
    const workload = prepareWorkload(entry.object, formatSource(entry), policy.podTemplates, specs, 'later');
    if (workload === undefined) return undefined;
    copies.add(workload, entry);
    return { workload };
  };
  const readOptions = {
    stdin: io.stdin,
    renderers: new Renderers(io.env['PATH']),
    env: io.env,
    helmValues: values['helm-values'],
    namespace: values.namespace,
  };
  const take = (event: InputEvent<Kept>): void => {
    if (event.kind === 'objects') {
      files += 1;
      for (const kept of event.objects) {
        if ('state' in kept) state.addProjected(kept.state);
        else workloads.push(kept.workload);
      }
    } else if (event.kind === 'skipped') {
      skipped.push(event.entry);
      progress.clear();
      io.stderr.write(`pullguard audit: skipped ${clean(formatSource(event.entry))}: ${clean(event.entry.reason)}\n`);
    } else {
      notAudited.push(event.entry);
      progress.clear();
      io.stderr.write(`pullguard audit: NOT AUDITED ${clean(event.entry.source)}: ${clean(event.entry.reason)}; run: ${clean(event.entry.command)}\n`);
    }
    progress.update(() => `reading: ${plural(files, 'source')}, ${plural(objects, 'object')}, ${plural(workloads.length, 'workload')}`);
  };
  try {
    for await (const event of readInputs(values.state, { ...readOptions, keep: keeper(true) })) take(event);
    for await (const event of readInputs(positionals.length === 0 ? ['-'] : positionals, { ...readOptions, keep: keeper(false) })) take(event);
  } catch (error) {
    progress.clear();
    if (error instanceof ManifestError) throw new UsageError(error.message);
    throw error;
  }
  copies.clear(); // and with it the texts the first copies kept
  const read = performance.now();
  progress.update(() => `deciding ${plural(workloads.length, 'workload')}`);
  const snapshot = state.build();
  const results = decideWorkloads(workloads, snapshot, policy, now, { defaultNamespace });
  const workloadCount = workloads.length;
  workloads.length = 0; // the results hold what the report needs
  progress.clear();
  const decided = buildReport({ mode: policy.policy.mode, results, skipped, notAudited });
  // Loaded only to probe: node:http and node:https take ~70 ms to load, on every audit otherwise.
  const report = probeFlags === undefined ? decided : await (await import('./audit-probe.ts')).probeUncoveredRegistries(decided, probeFlags, io);
  const decidedAt = performance.now();
  const shown = filterResults(report, only);
  if (output === 'json') writeJsonLine(shown, io);
  else if (output === 'policyreport') {
    // Manifests are not the whole cluster: no cluster report, as with audit --cluster -n.
    const reports = buildPolicyReports(report, { api: reportApi, includePass: values['report-pass'] === true, now, clusterReport: false, manifestSources: true });
    io.stdout.write(JSON.stringify(policyReportList(reports), null, 2) + '\n');
  } else {
    const color = values['no-color'] !== true && io.stdout.isTTY === true && io.env['NO_COLOR'] === undefined;
    io.stdout.write(renderTable(shown, { color }));
  }
  if (values.stats === true) {
    const cpu = process.cpuUsage();
    io.stderr.write(
      `stats: ${plural(objects, 'object')} in ${plural(files, 'source')}, ${plural(workloadCount, 'workload')}; reading ${Math.round(read - started)} ms, deciding ${Math.round(decidedAt - read)} ms, writing ${Math.round(performance.now() - decidedAt)} ms; CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`,
    );
  }
  return auditExitStatus(report, { strict: values.strict === true });
}
