/**
 * `pullguard audit --cluster` at scale on the real kube-apiserver (the e2e control plane): 2,000
 * namespaces, each with 25 pull secrets (50,000), 5 ServiceAccounts (10,000), one Deployment with
 * its ReplicaSet and 5 pods owned by it (10,000 pods). Times `audit --cluster -o json` end to end
 * as a user runs it (a fresh `node dist/cli/main.js` process with Node's default flags, the report
 * written to a file), with the split the CLI measures itself (`--stats`: listing vs deciding) and
 * the process's peak RSS: GNU time's maximum resident set when /usr/bin/time exists (it includes
 * what happens after the stats line: the main thread writing the report the audit's worker
 * produced), else the CLI's own figure.
 * Goals: under 15 s end to end, peak RSS under 300 MiB.
 *
 *   npm run bench:audit            (builds dist/ first; needs test/e2e/build-control-plane.sh's binaries)
 *
 * Creating the 72,000 objects takes a few minutes on two cores (POSTs, 24 in flight); it is not
 * part of the timing. Every credential is fake.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRest } from '../src/cluster/rest-client-node.ts';
import type { KubeRest } from '../src/cluster/rest.ts';
import { startControlPlane } from '../test/e2e/harness/control-plane.ts';
import { create, pool } from './cluster-load.ts';

const NAMESPACES = 2_000;
const SECRETS_PER_NAMESPACE = 25;
const SERVICE_ACCOUNTS_PER_NAMESPACE = 5;
const PODS_PER_NAMESPACE = 5;
const GOAL_SECONDS = 15;
const RSS_GOAL_MIB = 300;

const root = fileURLToPath(new URL('..', import.meta.url));
const b64 = (text: string): string => Buffer.from(text).toString('base64');

function secret(namespace: string, index: number): Record<string, unknown> {
  const auths = { [`r${index}.bench.pullguard.test`]: { auth: b64(`robot${index}:not-a-real-password-${index}`) } };
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: `pull-${index}`, namespace }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) } };
}

function podSpec(): Record<string, unknown> {
  return {
    imagePullSecrets: [{ name: 'pull-0' }, { name: 'pull-1' }],
    containers: [
      { name: 'app', image: 'r0.bench.pullguard.test/team/app:1.4.2' },
      { name: 'sidecar', image: 'r1.bench.pullguard.test/team/proxy:2.0' },
    ],
  };
}


async function populate(rest: KubeRest): Promise<void> {
  const names = Array.from({ length: NAMESPACES }, (_, index) => `bench-${String(index).padStart(4, '0')}`);
  await pool(names.map((name) => () => create(rest, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  process.stderr.write(`  ${NAMESPACES} namespaces\n`);
  const accounts = names.flatMap((namespace) =>
    Array.from({ length: SERVICE_ACCOUNTS_PER_NAMESPACE }, (_, index) => () =>
      create(rest, `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: index === 0 ? 'default' : `sa-${index}`, namespace } }),
    ),
  );
  await pool(accounts);
  process.stderr.write(`  ${accounts.length} ServiceAccounts\n`);
  const secrets = names.flatMap((namespace) => Array.from({ length: SECRETS_PER_NAMESPACE }, (_, index) => () => create(rest, `/api/v1/namespaces/${namespace}/secrets`, secret(namespace, index))));
  await pool(secrets);
  process.stderr.write(`  ${secrets.length} pull secrets\n`);
  await pool(
    names.map((namespace) => async () => {
      const labels = { app: 'web' };
      const owner = (await create(rest, `/apis/apps/v1/namespaces/${namespace}/deployments`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace },
        spec: { replicas: PODS_PER_NAMESPACE, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec() } },
      })) as { metadata: { uid: string } };
      const replicaSet = (await create(rest, `/apis/apps/v1/namespaces/${namespace}/replicasets`, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'web-7c9d', namespace, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: owner.metadata.uid, controller: true }] },
        spec: { replicas: PODS_PER_NAMESPACE, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec() } },
      })) as { metadata: { uid: string } };
      for (let index = 0; index < PODS_PER_NAMESPACE; index += 1) {
        await create(rest, `/api/v1/namespaces/${namespace}/pods`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `web-7c9d-${index}`, namespace, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7c9d', uid: replicaSet.metadata.uid, controller: true }] },
          spec: podSpec(),
        });
      }
    }),
  );
  process.stderr.write(`  ${NAMESPACES} Deployments and ReplicaSets, ${NAMESPACES * PODS_PER_NAMESPACE} pods\n`);
}

interface Run {
  readonly seconds: number;
  readonly code: number;
  readonly stats: string;
  readonly reportBytes: number;
  /** The whole process's maximum RSS from GNU time, when it is installed. */
  readonly processPeakMiB: number | undefined;
}

const GNU_TIME = '/usr/bin/time';

function auditOnce(kubeconfig: string, output: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const timer = existsSync(GNU_TIME) ? `${GNU_TIME} -f "process peak RSS %M KiB" ` : '';
    const child = spawn('sh', ['-c', `exec ${timer}"${process.execPath}" dist/cli/main.js audit --cluster --kubeconfig "${kubeconfig}" -o json --stats > "${output}"`], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const stats = /stats: (.*)/.exec(stderr)?.[1];
      const processPeak = /process peak RSS (\d+) KiB/.exec(stderr)?.[1];
      if (stats === undefined) reject(new Error(`audit printed no stats (exit ${code}):\n${stderr}`));
      else resolve({ seconds, code: code ?? 128, stats, reportBytes: statSync(output).size, processPeakMiB: processPeak === undefined ? undefined : Number(processPeak) / 1024 });
    });
  });
}

const controlPlane = await startControlPlane({ startupTimeoutMs: 300_000 });
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(controlPlane.kubeconfigPath);
  const rest = kubeRest(kubeConfig);
  process.stderr.write('creating objects (not timed):\n');
  const populateStarted = performance.now();
  await populate(rest);
  process.stderr.write(`  took ${((performance.now() - populateStarted) / 1000).toFixed(0)} s\n`);
  const output = join(controlPlane.tmpDir, 'report.json');
  // Two runs: the first warms kube-apiserver's watch cache the way a second audit finds it.
  const runs: Run[] = [];
  for (let attempt = 0; attempt < 2; attempt += 1) runs.push(await auditOnce(controlPlane.kubeconfigPath, output));
  console.log(`\naudit --cluster -o json: ${NAMESPACES} namespaces, ${NAMESPACES * SECRETS_PER_NAMESPACE} pull secrets, ${NAMESPACES * SERVICE_ACCOUNTS_PER_NAMESPACE} ServiceAccounts, ${NAMESPACES * PODS_PER_NAMESPACE} pods\n`);
  console.log('| run | end to end (s) | exit | CLI stats | process peak RSS | report |');
  console.log('| --- | ---: | ---: | --- | ---: | ---: |');
  runs.forEach((run, index) =>
    console.log(`| ${index + 1} | ${run.seconds.toFixed(2)} | ${run.code} | ${run.stats} | ${run.processPeakMiB === undefined ? 'n/a' : `${run.processPeakMiB.toFixed(0)} MiB`} | ${(run.reportBytes / 1024).toFixed(0)} KiB |`),
  );
  const worst = Math.max(...runs.map((run) => run.seconds));
  const peak = Math.max(...runs.map((run) => Math.max(Number(/peak RSS (\d+) MiB/.exec(run.stats)?.[1] ?? Infinity), run.processPeakMiB ?? 0)));
  console.log(`\ngoal end to end < ${GOAL_SECONDS} s: ${worst < GOAL_SECONDS ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)} s)`);
  console.log(`goal peak RSS < ${RSS_GOAL_MIB} MiB: ${peak < RSS_GOAL_MIB ? 'met' : 'NOT met'} (worst ${peak.toFixed(0)} MiB)`);
  console.log(`load average at the end (1, 5, 15 min): ${loadavg().map((value) => value.toFixed(2)).join(', ')}`);
  if (runs.some((run) => run.code !== 0)) process.exitCode = 1;
} finally {
  await controlPlane.stop();
}
