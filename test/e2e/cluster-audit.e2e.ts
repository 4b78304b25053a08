// End-to-end checks of `pullguard audit --cluster` and `kubectl pullguard` (issue 17) on the real
// kube-apiserver: a namespace set with planted violations is found exactly; policy reports are
// written with --apply in both report APIs, each from its upstream CRD YAML fetched at test time
// through the Go module proxy (pins in versions.env), accepted by the API server, and updated by
// a second run after a fix; the plugin runs through the real kubectl with --context, -n and -A.
//   npx tap test/e2e/cluster-audit.e2e.ts
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startControlPlane } from './harness/control-plane.ts';
import { goModule, openReportsCrdFiles } from './harness/go-modules.ts';
import { readPins } from './harness/pins.ts';
import {
  ECR_REGISTRY,
  PRIVATE_REGISTRY,
  UNCOVERED_REGISTRY,
  configMap,
  deployment,
  ecrSecret,
  list,
  namespace,
  opaqueSecret,
  pod,
  registrySecret,
  serviceAccount,
  uniqueName,
  type KubeObject,
} from './fixtures/objects.ts';

t.setTimeout(8 * 60_000);
const root = fileURLToPath(new URL('../..', import.meta.url));
const mainScript = join(root, 'src', 'cli', 'main.ts');
const pluginScript = join(root, 'src', 'cli', 'kubectl-plugin.ts');

const ns = {
  missing: uniqueName('ca-missing'),
  opaque: uniqueName('ca-opaque'),
  expired: uniqueName('ca-expired'),
  shadowed: uniqueName('ca-shadowed'),
  uncovered: uniqueName('ca-uncovered'),
  latest: uniqueName('ca-latest'),
  excluded: uniqueName('ca-excluded'),
  dryRun: uniqueName('ca-dryrun'),
  clean: uniqueName('ca-clean'),
};
const POLICY_NAMESPACE = uniqueName('ca-pullguard');
const POLICY = `mode: enforce
defaultAccess: secret
injection: { enabled: false }
dockerHubAnonymous: ignore
`;
const privateImage = `${PRIVATE_REGISTRY}/team/app:1.0`;

const objects: KubeObject[] = [
  namespace(POLICY_NAMESPACE),
  {
    ...configMap(POLICY_NAMESPACE, 'pullguard-policy', { 'policy.yaml': POLICY }),
    metadata: { name: 'pullguard-policy', namespace: POLICY_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'pullguard', 'app.kubernetes.io/component': 'webhook' } },
  },
  ...Object.values(ns).flatMap((name) => [
    namespace(name, name === ns.excluded ? { 'pullguard.io/mode': 'off' } : name === ns.dryRun ? { 'pullguard.io/mode': 'dry-run' } : {}),
  ]),
  ...Object.values(ns).filter((name) => name !== ns.shadowed).map((name) => serviceAccount(name)),
  serviceAccount(ns.shadowed, 'default', ['sa-creds']),
  // missing secret
  deployment(ns.missing, 'web', { imagePullSecrets: ['nope'], containers: [{ image: privateImage }] }),
  // an Opaque secret with the right payload
  opaqueSecret(ns.opaque, 'creds', PRIVATE_REGISTRY),
  deployment(ns.opaque, 'web', { imagePullSecrets: ['creds'], containers: [{ image: privateImage }] }),
  // an ECR token that expired an hour ago
  ecrSecret(ns.expired, 'ecr', Date.now() - 3_600_000),
  deployment(ns.expired, 'web', { imagePullSecrets: ['ecr'], containers: [{ image: `${ECR_REGISTRY}/app:1.0` }] }),
  // the pod's own list hides the ServiceAccount's secret that would cover the image
  registrySecret(ns.shadowed, 'sa-creds', PRIVATE_REGISTRY),
  registrySecret(ns.shadowed, 'other', UNCOVERED_REGISTRY),
  deployment(ns.shadowed, 'web', { imagePullSecrets: ['other'], containers: [{ image: privateImage }] }),
  // a registry nothing covers
  deployment(ns.uncovered, 'web', { containers: [{ image: `${UNCOVERED_REGISTRY}/app:1.0` }] }),
  // latest with IfNotPresent (covered, so only the warning)
  registrySecret(ns.latest, 'creds', PRIVATE_REGISTRY),
  deployment(ns.latest, 'web', { imagePullSecrets: ['creds'], containers: [{ image: `${PRIVATE_REGISTRY}/team/app:latest`, imagePullPolicy: 'IfNotPresent' }] }),
  // excluded namespace: a violation nobody checks
  deployment(ns.excluded, 'web', { containers: [{ image: `${UNCOVERED_REGISTRY}/app:1.0` }] }),
  // dry-run namespace: still a denial in the audit, with the namespace's mode
  deployment(ns.dryRun, 'web', { containers: [{ image: `${UNCOVERED_REGISTRY}/app:1.0` }] }),
  // clean, with live pods under a ReplicaSet (added below, once the uids exist)
  registrySecret(ns.clean, 'creds', PRIVATE_REGISTRY),
  deployment(ns.clean, 'web', { imagePullSecrets: ['creds'], containers: [{ image: privateImage }] }),
];

const controlPlane = await startControlPlane();
t.teardown(() => controlPlane.stop());
await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(list(objects)) });

// Live pods of the clean Deployment, owned through a ReplicaSet as the controllers would make them
// (there is no controller-manager here).
const deploymentUid = (await controlPlane.kubectl(['get', 'deployment', 'web', '-n', ns.clean, '-o', 'jsonpath={.metadata.uid}'])).stdout;
const replicaSet: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name: 'web-5d8f', namespace: ns.clean, labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deploymentUid, controller: true }] } as KubeObject['metadata'],
  spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: (deployment(ns.clean, 'web', { imagePullSecrets: ['creds'], containers: [{ image: privateImage }] })['spec'] as { template: unknown }).template },
};
await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(replicaSet) });
const replicaSetUid = (await controlPlane.kubectl(['get', 'replicaset', 'web-5d8f', '-n', ns.clean, '-o', 'jsonpath={.metadata.uid}'])).stdout;
const replicaPods = [0, 1].map((index) => {
  const object = pod(ns.clean, `web-5d8f-${index}`, { imagePullSecrets: ['creds'], containers: [{ image: privateImage }] });
  return { ...object, metadata: { ...object.metadata, labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f', uid: replicaSetUid, controller: true }] } };
});
await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(list(replicaPods as KubeObject[])) });

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnCollect(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
  });
}

const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env['KUBECONFIG'];
  return env;
};

function audit(args: readonly string[]): Promise<CliResult> {
  return spawnCollect(process.execPath, [mainScript, 'audit', '--cluster', '--kubeconfig', controlPlane.kubeconfigPath, ...args], cleanEnv());
}

interface ResultView {
  namespace: string;
  kind: string;
  name: string;
  mode: string;
  decision: string;
  skipped?: string;
  findings: { code: string; severity: string }[];
  containers: { findings: { code: string; severity: string }[] }[];
  pods?: { total: number; allow: number; deny: number };
}

function summarise(results: readonly ResultView[]): Record<string, string> {
  const ours = new Set(Object.values(ns));
  const out: Record<string, string> = {};
  for (const result of results) {
    if (!ours.has(result.namespace)) continue;
    const codes = [...result.findings, ...result.containers.flatMap((container) => container.findings)].map((finding) => `${finding.code}(${finding.severity})`);
    const pods = result.pods === undefined ? '' : ` pods ${result.pods.allow}/${result.pods.total} allow`;
    out[`${result.namespace}/${result.kind}/${result.name}`] = result.skipped !== undefined ? 'skipped' : [`${result.decision} [${result.mode}]`, ...codes].join(' ') + pods;
  }
  return out;
}

const expectedFindings = {
  [`${ns.clean}/Deployment/web`]: 'allow [enforce] pods 2/2 allow',
  [`${ns.dryRun}/Deployment/web`]: 'deny [dry-run] NoMatchingCredential(deny)',
  [`${ns.excluded}/Deployment/web`]: 'skipped',
  [`${ns.expired}/Deployment/web`]: 'deny [enforce] CredentialExpired(deny)',
  [`${ns.latest}/Deployment/web`]: 'allow [enforce] LatestWithIfNotPresent(warn)',
  [`${ns.missing}/Deployment/web`]: 'deny [enforce] PullSecretNotFound(deny)',
  [`${ns.opaque}/Deployment/web`]: 'deny [enforce] PullSecretNotFound(deny)',
  [`${ns.shadowed}/Deployment/web`]: 'deny [enforce] ServiceAccountSecretsIgnored(deny)',
  [`${ns.uncovered}/Deployment/web`]: 'deny [enforce] NoMatchingCredential(deny)',
};

t.test('audit --cluster finds exactly the planted violations, with the policy from the cluster\'s ConfigMap', async (t) => {
  const result = await audit(['-o', 'json']);
  t.equal(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as { results: ResultView[] };
  t.same(summarise(report.results), expectedFindings);
  t.match(result.stderr, new RegExp(`policy: ConfigMap ${POLICY_NAMESPACE}/pullguard-policy`));
  t.notOk(report.results.some((entry) => entry.kind === 'ReplicaSet' || entry.kind === 'Pod'), 'the ReplicaSet and its pods are under the Deployment');
});

t.test('-n audits one namespace; -l narrows the workloads', async (t) => {
  const one = await audit(['-n', ns.latest, '-o', 'json']);
  t.equal(one.code, 0, 'a warning only: exit 0');
  t.same(Object.keys(summarise((JSON.parse(one.stdout) as { results: ResultView[] }).results)), [`${ns.latest}/Deployment/web`]);
  const labelled = await audit(['-n', ns.clean, '-l', 'app=nothing', '-o', 'json']);
  t.same((JSON.parse(labelled.stdout) as { results: ResultView[] }).results, []);
});

interface ReportView {
  metadata: { name: string; namespace?: string };
  summary: Record<string, number>;
  results: { policy: string; result: string; source: string; resources: { name: string; kind: string }[]; properties: Record<string, string> }[];
}

async function reports(resource: string): Promise<ReportView[]> {
  const { stdout } = await controlPlane.kubectl(['get', resource, '-A', '-o', 'json']);
  return (JSON.parse(stdout) as { items: ReportView[] }).items.filter((item) => item.metadata.namespace === undefined || Object.values(ns).includes(item.metadata.namespace));
}

function failing(items: readonly ReportView[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of items) if (item.metadata.namespace !== undefined) out[item.metadata.namespace] = item.results.map((entry) => `${entry.policy}:${entry.result}`).sort();
  return out;
}

const expectedReports = {
  [ns.dryRun]: ['NoMatchingCredential:fail'],
  [ns.expired]: ['CredentialExpired:fail'],
  [ns.latest]: ['LatestWithIfNotPresent:warn'],
  [ns.missing]: ['PullSecretNotFound:fail'],
  [ns.opaque]: ['PullSecretNotFound:fail'],
  [ns.shadowed]: ['ServiceAccountSecretsIgnored:fail'],
  [ns.uncovered]: ['NoMatchingCredential:fail'],
};

async function installCrds(files: readonly string[], names: readonly string[]): Promise<void> {
  for (const file of files) await controlPlane.kubectl(['apply', '--server-side', '-f', file]);
  for (const name of names) await controlPlane.kubectl(['wait', '--for=condition=Established', `crd/${name}`, '--timeout=60s']);
}

const pin = readPins();

t.test('--apply writes wgpolicyk8s.io PolicyReports (Kyverno\'s CRDs) the API server accepts, and a second run after a fix updates them', async (t) => {
  const kyverno = await goModule('github.com/kyverno/kyverno', pin('KYVERNO_VERSION'));
  await installCrds(
    ['wgpolicyk8s.io_policyreports.yaml', 'wgpolicyk8s.io_clusterpolicyreports.yaml'].map((file) => join(kyverno, 'config', 'crds', 'policyreport', file)),
    ['policyreports.wgpolicyk8s.io', 'clusterpolicyreports.wgpolicyk8s.io'],
  );
  const first = await audit(['--apply', '-o', 'json']);
  t.equal(first.code, 1, first.stderr);
  t.match(first.stderr, /applied \d+ wgpolicyk8s\.io\/v1alpha2 reports/, 'detected: the only report API served');
  const written = await reports('policyreports.wgpolicyk8s.io');
  t.same(failing(written), expectedReports);
  for (const item of written) t.equal(Object.values(item.summary).reduce((a, b) => a + b, 0), item.results.length, `${item.metadata.namespace}: summary adds up`);
  const missing = written.find((item) => item.metadata.namespace === ns.missing);
  t.same(missing?.results[0]?.resources.map((resource) => `${resource.kind}/${resource.name}`), ['Deployment/web']);
  t.equal(missing?.results[0]?.source, 'pullguard');
  t.equal(missing?.results[0]?.properties['fieldPath'], 'spec.template.spec.containers[0].image');
  const cluster = (await reports('clusterpolicyreports.wgpolicyk8s.io')).find((item) => item.metadata.name === 'pullguard');
  t.ok(cluster?.results.some((entry) => entry.policy === 'EnforcementReadiness' && entry.resources[0]?.name === ns.missing && entry.result === 'fail'));

  // The fix: the missing secret is created.
  await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(registrySecret(ns.missing, 'nope', PRIVATE_REGISTRY)) });
  const second = await audit(['--apply', '--report-api', 'wgpolicyk8s.io/v1alpha2', '-o', 'json']);
  t.match(second.stderr, new RegExp(`deleted 1 no longer needed \\(${ns.missing}\\)`));
  const { [ns.missing]: _fixed, ...rest } = expectedReports;
  t.same(failing(await reports('policyreports.wgpolicyk8s.io')), rest, 'the fixed namespace\'s report is gone, the others unchanged');
  const clusterAfter = (await reports('clusterpolicyreports.wgpolicyk8s.io')).find((item) => item.metadata.name === 'pullguard');
  t.notOk(clusterAfter?.results.some((entry) => entry.resources[0]?.name === ns.missing), 'the cluster report no longer lists it');
  // Back to the planted state for the next test.
  await controlPlane.kubectl(['delete', 'secret', 'nope', '-n', ns.missing]);
});

t.test('--apply prefers OpenReports once its CRDs (from its own module) are served; --report-pass adds pass results', async (t) => {
  await installCrds(await openReportsCrdFiles(), ['reports.openreports.io', 'clusterreports.openreports.io']);
  const first = await audit(['--apply', '--report-pass']);
  t.equal(first.code, 1, first.stderr);
  t.match(first.stderr, /applied \d+ openreports\.io\/v1alpha1 reports/);
  const written = await reports('reports.openreports.io');
  t.same(failing(written)[ns.clean], ['ImagePullable:pass'], 'a pass result for the clean namespace');
  t.same(failing(written)[ns.excluded], ['NotChecked:skip']);
  t.same(failing(written)[ns.uncovered], ['NoMatchingCredential:fail']);

  await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(registrySecret(ns.uncovered, 'creds', UNCOVERED_REGISTRY)) });
  await controlPlane.kubectl(['patch', 'deployment', 'web', '-n', ns.uncovered, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/imagePullSecrets', value: [{ name: 'creds' }] }])]);
  await audit(['--apply', '--report-pass']);
  t.same(failing(await reports('reports.openreports.io'))[ns.uncovered], ['ImagePullable:pass'], 'the fixed workload\'s failure was replaced, not added to');
});

t.test('the offline audit\'s -o policyreport goes through kubectl apply -f - in both report APIs', async (t) => {
  // A namespace of its own: the offline reports are named pullguard too and would replace the cluster audit's.
  const offline = uniqueName('ca-offline');
  await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(namespace(offline)) });
  const manifests = join(controlPlane.tmpDir, 'offline-manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(join(manifests, 'app.yaml'), JSON.stringify(list([serviceAccount(offline), deployment(offline, 'web', { containers: [{ image: `${UNCOVERED_REGISTRY}/app:1.0` }] })])));
  const policyFile = join(controlPlane.tmpDir, 'offline-policy.yaml');
  writeFileSync(policyFile, POLICY);
  for (const [api, resource] of [['openreports.io/v1alpha1', 'reports.openreports.io'], ['wgpolicyk8s.io/v1alpha2', 'policyreports.wgpolicyk8s.io']] as const) {
    const printed = await spawnCollect(process.execPath, [mainScript, 'audit', manifests, '--policy', policyFile, '-o', 'policyreport', '--report-api', api], cleanEnv());
    t.equal(printed.code, 1, `${api}: exit 1, the denial: ${printed.stderr}`);
    const applied = await controlPlane.kubectl(['apply', '-f', '-'], { input: printed.stdout });
    t.match(applied.stdout, /pullguard (created|configured)/, `${api}: kubectl applied it`);
    const stored = JSON.parse((await controlPlane.kubectl(['get', resource, 'pullguard', '-n', offline, '-o', 'json'])).stdout) as ReportView | undefined;
    t.same(stored?.results.map((entry) => `${entry.policy}:${entry.result} ${entry.resources[0]?.kind}/${entry.resources[0]?.name}`), ['NoMatchingCredential:fail Deployment/web'], `${api}: the API server kept the result`);
    t.match(stored?.results[0]?.properties['manifest'], /app\.yaml/, `${api}: the result names its manifest`);
  }
});

t.test('kubectl pullguard through the real kubectl: --context, -n and -A, a multi-file KUBECONFIG read as kubectl reads it', async (t) => {
  const binDir = join(controlPlane.tmpDir, 'plugin-bin');
  mkdirSync(binDir, { recursive: true });
  const shim = join(binDir, 'kubectl-pullguard');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${pluginScript}" "$@"\n`);
  chmodSync(shim, 0o755);
  // A second kubeconfig file listed first: its current context points at the same cluster with a namespace.
  const base = JSON.parse(readFileSync(controlPlane.kubeconfigPath, 'utf8')) as { clusters: unknown[]; users: unknown[] };
  const first = join(controlPlane.tmpDir, 'kubeconfig-first');
  writeFileSync(first, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: base.clusters,
    users: base.users,
    contexts: [{ name: 'team-latest', context: { cluster: 'e2e', user: 'e2e-admin', namespace: ns.latest } }],
    'current-context': 'team-latest',
  }));
  const env = { ...cleanEnv(), PATH: [binDir, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter), KUBECONFIG: [first, controlPlane.kubeconfigPath].join(delimiter) };
  const kubectl = join(controlPlane.binDir, 'kubectl');
  const names = (result: CliResult): string[] => Object.keys(summarise((JSON.parse(result.stdout) as { results: ResultView[] }).results));

  const listed = await spawnCollect(kubectl, ['plugin', 'list'], env);
  t.match(listed.stdout, /kubectl-pullguard/, 'kubectl finds the plugin on PATH');

  const byFirstFile = await spawnCollect(kubectl, ['pullguard', 'audit', '-o', 'json'], env);
  t.equal(byFirstFile.code, 0, byFirstFile.stderr);
  t.same(names(byFirstFile), [`${ns.latest}/Deployment/web`], 'the first file\'s current context and its namespace');

  const byContext = await spawnCollect(kubectl, ['pullguard', 'audit', '--context', 'e2e', '-n', ns.missing, '-o', 'json'], env);
  t.equal(byContext.code, 1);
  t.same(names(byContext), [`${ns.missing}/Deployment/web`]);

  const everywhere = await spawnCollect(kubectl, ['pullguard', 'audit', '-A', '-ojson'], env);
  t.equal(everywhere.code, 1);
  t.same(names(everywhere).sort(), Object.keys(expectedFindings).sort());
});
