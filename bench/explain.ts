/**
 * `pullguard explain pod NAME -n NS` against a live cluster of 10,000 namespaces (issue 15: "explain
 * of one pod answers in under a second against a live cluster of 10,000 namespaces; it reads only
 * the pod's namespace"). The real kube-apiserver of the e2e suite holds 10,000 namespaces, 2,000 of
 * them with a ServiceAccount, a pull secret and a pod, and one namespace with a failing pod
 * whose events are written as the kubelet writes them. Times the built CLI as a user runs it (a
 * fresh `node dist/cli/main.js` process, text output), wall clock and CPU (GNU time), beside a
 * fresh `main.js --version` (node start and the CLI's entry module: the part no cluster size
 * changes). The API server's audit log (GET/LIST of the bench's user) lists every request each
 * run made: the bench fails unless all of them stay in the pod's namespace (plus the policy
 * ConfigMap: one GET by name and, as the bench's cluster has none there, the search by the chart's
 * labels).
 * Goal: median wall clock under 1 s.
 *
 *   npm run bench:explain          (builds dist/ first; needs test/e2e/build-control-plane.sh's binaries)
 *
 * Creating the ~16,000 objects takes a minute or two on two cores (POSTs, 24 in flight); it is
 * not part of the timing. Every credential is fake.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRest } from '../src/cluster/rest-client-node.ts';
import type { KubeRest } from '../src/cluster/rest.ts';
import { startControlPlane } from '../test/e2e/harness/control-plane.ts';
import { create, pool } from './cluster-load.ts';

const NAMESPACES = 10_000;
/** Every POPULATED_EVERY-th namespace also gets a ServiceAccount, a pull secret and a pod. */
const POPULATED_EVERY = 5;
const RUNS = 5;
const GOAL_SECONDS = 1;
const TARGET_NAMESPACE = 'bench-explain-target';
const TARGET_POD = 'web-7d4f9c6b8-x2x7p';
const REGISTRY = 'registry.bench.pullguard.test';
/** The only object outside the pod's namespace explain may read: the policy ConfigMap, by name... */
const POLICY_CONFIGMAP_PATH = '/api/v1/namespaces/pullguard/configmaps/pullguard-policy';
/** ...or, when it is not there, searched by the chart's labels (one list, label-selected). */
const POLICY_SEARCH_PATH = '/api/v1/configmaps';

const root = fileURLToPath(new URL('..', import.meta.url));
const b64 = (text: string): string => Buffer.from(text).toString('base64');

function pullSecret(namespace: string, name: string): Record<string, unknown> {
  const auths = { [REGISTRY]: { auth: b64(`robot:not-a-real-password-${namespace}`) } };
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) } };
}

function pod(namespace: string, name: string, secret: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: 'web' } }, spec: { imagePullSecrets: [{ name: secret }], containers: [{ name: 'app', image: `${REGISTRY}/team/app:1.4.2` }] } };
}


async function populate(rest: KubeRest): Promise<number> {
  const names = Array.from({ length: NAMESPACES }, (_, index) => `bench-${String(index).padStart(5, '0')}`);
  await pool(names.map((name) => () => create(rest, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  process.stderr.write(`  ${NAMESPACES} namespaces\n`);
  const populated = names.filter((_, index) => index % POPULATED_EVERY === 0);
  await pool(
    populated.map((namespace) => async () => {
      // The ServiceAccount admission plugin refuses pods whose ServiceAccount does not exist (no controller-manager here).
      await create(rest, `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } });
      await create(rest, `/api/v1/namespaces/${namespace}/secrets`, pullSecret(namespace, 'regcred'));
      await create(rest, `/api/v1/namespaces/${namespace}/pods`, pod(namespace, TARGET_POD, 'regcrd'));
    }),
  );
  process.stderr.write(`  ${populated.length} ServiceAccounts, pull secrets and pods (same pod name as the target's, in other namespaces)\n`);
  return populated.length * 3 + NAMESPACES;
}

/** The failing pod: a typo in imagePullSecrets, its status and events as the kubelet writes them. */
async function plantTarget(rest: KubeRest): Promise<void> {
  const ns = TARGET_NAMESPACE;
  await create(rest, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await create(rest, `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
  await create(rest, `/api/v1/namespaces/${ns}/secrets`, pullSecret(ns, 'regcred'));
  const stored = (await create(rest, `/api/v1/namespaces/${ns}/pods`, pod(ns, TARGET_POD, 'regcrd'))) as { metadata: { uid: string } };
  const image = `${REGISTRY}/team/app:1.4.2`;
  await rest.request({
    method: 'PATCH',
    path: `/api/v1/namespaces/${ns}/pods/${TARGET_POD}/status`,
    contentType: 'application/merge-patch+json',
    body: { status: { phase: 'Pending', containerStatuses: [{ name: 'app', image, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } } }] } },
  });
  const now = Date.now();
  const at = (secondsAgo: number): string => new Date(now - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const failed = `Failed to pull image "${image}": failed to pull and unpack image "${image}": failed to resolve reference "${image}": pulling from host ${REGISTRY} failed with status code [manifests 1.4.2]: 401 Unauthorized`;
  const events: [string, string, string, string, number, number][] = [
    ['pulling', 'Pulling', 'Normal', `Pulling image "${image}"`, 4, 200],
    ['failed', 'Failed', 'Warning', failed, 4, 199],
    ['errimagepull', 'Failed', 'Warning', 'Error: ErrImagePull', 4, 199],
    ['backoff', 'BackOff', 'Normal', `Back-off pulling image "${image}"`, 30, 20],
  ];
  for (const [suffix, reason, type, message, count, secondsAgo] of events) {
    await create(rest, `/api/v1/namespaces/${ns}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${TARGET_POD}.${suffix}`, namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: TARGET_POD, namespace: ns, uid: stored.metadata.uid, fieldPath: 'spec.containers{app}' },
      reason,
      message,
      type,
      count,
      firstTimestamp: at(600),
      lastTimestamp: at(secondsAgo),
      source: { component: 'kubelet', host: 'node-1' },
      reportingComponent: 'kubelet',
      reportingInstance: 'node-1',
    });
  }
}

interface Run {
  readonly wallMs: number;
  readonly cpuSeconds: number | undefined;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const timed = existsSync('/usr/bin/time');

/** One fresh CLI process: wall clock here, CPU (user + system) from GNU time when installed. */
function runCli(args: readonly string[]): Promise<Run> {
  const cli = [process.execPath, 'dist/cli/main.js', ...args];
  const [command, commandArgs] = timed ? ['/usr/bin/time', ['-f', 'pullguard-bench-cpu %U %S', ...cli]] : [cli[0] as string, cli.slice(1)];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(command, commandArgs, { cwd: root, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const wallMs = performance.now() - started;
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1;
      if (code === -1) return reject(error ?? new Error('no exit code'));
      const cpu = /pullguard-bench-cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({ wallMs, cpuSeconds: cpu === null ? undefined : Number(cpu[1]) + Number(cpu[2]), code, stdout, stderr: stderr.replace(/pullguard-bench-cpu .*\n?/, '') });
    });
  });
}

interface AuditEvent {
  readonly stage?: string;
  readonly verb?: string;
  readonly requestURI?: string;
  readonly user?: { readonly username?: string };
  readonly requestReceivedTimestamp?: string;
}

/** The GET/LIST requests the bench's user made between `from` and `to`, from the API server's audit log. */
function requestsBetween(logPath: string, from: number, to: number): string[] {
  const uris: string[] = [];
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (line === '') continue;
    const event = JSON.parse(line) as AuditEvent;
    const at = Date.parse(event.requestReceivedTimestamp ?? '');
    if (event.stage !== 'ResponseComplete' || event.user?.username !== 'e2e-admin' || !(at >= from && at <= to)) continue;
    uris.push(`${event.verb} ${event.requestURI}`);
  }
  return uris;
}

/** A request explain may make: inside the pod's namespace (the namespace object included), or the policy ConfigMap by name or by the chart's labels. */
function allowed(request: string): boolean {
  const url = new URL(request.slice(request.indexOf(' ') + 1), 'https://x');
  const path = url.pathname;
  const policySearch = path === POLICY_SEARCH_PATH && url.searchParams.get('labelSelector') === 'app.kubernetes.io/part-of=pullguard,app.kubernetes.io/component=webhook';
  return path === `/api/v1/namespaces/${TARGET_NAMESPACE}` || path.startsWith(`/api/v1/namespaces/${TARGET_NAMESPACE}/`) || path === POLICY_CONFIGMAP_PATH || policySearch;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const auditDir = mkdtempSync(join(tmpdir(), 'pullguard-bench-explain-'));
const auditLog = join(auditDir, 'audit.log');
const auditPolicy = join(auditDir, 'audit-policy.yaml');
// Reads of the bench's user only: the POSTs that populate the cluster and the API server's own
// loopback requests would only make the log (and the API server) slower.
writeFileSync(
  auditPolicy,
  ['apiVersion: audit.k8s.io/v1', 'kind: Policy', 'omitStages: ["RequestReceived"]', 'rules:', '- level: Metadata', '  users: ["e2e-admin"]', '  verbs: ["get", "list", "watch"]', '- level: None', ''].join('\n'),
);

const controlPlane = await startControlPlane({
  startupTimeoutMs: 300_000,
  extraApiserverArgs: [`--audit-policy-file=${auditPolicy}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json', '--audit-log-mode=blocking'],
});
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(controlPlane.kubeconfigPath);
  const rest = kubeRest(kubeConfig);
  process.stderr.write('creating objects (not timed):\n');
  const populateStarted = performance.now();
  const objects = await populate(rest);
  await plantTarget(rest);
  process.stderr.write(`  took ${((performance.now() - populateStarted) / 1000).toFixed(0)} s\n`);

  const explainArgs = ['explain', 'pod', TARGET_POD, '-n', TARGET_NAMESPACE, '--kubeconfig', controlPlane.kubeconfigPath];
  // One untimed run: the page cache holds dist/ and node_modules the way a second command finds them.
  const warm = await runCli(explainArgs);
  if (warm.code !== 1 || !/did you mean regcred\?/.test(warm.stdout)) throw new Error(`explain did not diagnose the typo (exit ${warm.code}):\n${warm.stdout}\n${warm.stderr}`);

  const runs: (Run & { requests: string[] })[] = [];
  const baselines: Run[] = [];
  for (let attempt = 0; attempt < RUNS; attempt += 1) {
    baselines.push(await runCli(['--version']));
    const from = Date.now(); // the API server stamps requests with the same machine's clock
    const run = await runCli(explainArgs);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the last ResponseComplete line lands after the response
    runs.push({ ...run, requests: requestsBetween(auditLog, from - 5, Date.now()) });
  }

  const load = loadavg().map((value) => value.toFixed(2)).join(', ');
  console.log(`\nexplain pod ${TARGET_POD} -n ${TARGET_NAMESPACE}: ${NAMESPACES + 1} namespaces, ${objects} objects besides the target's (load average ${load})\n`);
  console.log('| run | explain wall (ms) | explain CPU (s) | `--version` wall (ms) | `--version` CPU (s) | API requests | exit |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const cpuText = (run: Run): string => (run.cpuSeconds === undefined ? 'n/a' : run.cpuSeconds.toFixed(2));
  runs.forEach((run, index) => {
    const base = baselines[index] as Run;
    console.log(`| ${index + 1} | ${run.wallMs.toFixed(0)} | ${cpuText(run)} | ${base.wallMs.toFixed(0)} | ${cpuText(base)} | ${run.requests.length} | ${run.code} |`);
  });
  const wall = median(runs.map((run) => run.wallMs));
  const baseWall = median(baselines.map((run) => run.wallMs));
  const cpus = runs.map((run) => run.cpuSeconds).filter((value): value is number => value !== undefined);
  console.log(`\nmedian: explain ${wall.toFixed(0)} ms wall${cpus.length > 0 ? `, ${median(cpus).toFixed(2)} s CPU` : ''}; of which node start and the CLI entry (--version) ${baseWall.toFixed(0)} ms`);
  console.log(`requests of one run: ${runs[0]?.requests.join(', ')}`);

  const outside = runs.flatMap((run) => run.requests.filter((request) => !allowed(request)));
  const counted = runs.every((run) => run.requests.length > 0);
  console.log(`\ngoal median wall < ${GOAL_SECONDS} s: ${wall < GOAL_SECONDS * 1000 ? 'met' : 'NOT met'} (${(wall / 1000).toFixed(2)} s)`);
  console.log(`goal reads only the pod's namespace: ${counted && outside.length === 0 ? 'met' : 'NOT met'}${outside.length > 0 ? ` (outside: ${[...new Set(outside)].join(', ')})` : counted ? '' : ' (the audit log recorded no request)'}`);
  if (!counted || outside.length > 0 || runs.some((run) => run.code !== 1)) process.exitCode = 1;
} finally {
  await controlPlane.stop();
  rmSync(auditDir, { recursive: true, force: true });
}
