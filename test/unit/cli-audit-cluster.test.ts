import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { parseKinds, progressLine, runClusterAudit } from '../../src/cli/audit-cluster.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { FakeKube } from '../helpers/fake-kube.ts';
import { deployment, namespaceObject, pullSecret, serviceAccount } from '../helpers/objects.ts';

const dir = mkdtempSync(join(tmpdir(), 'pullguard-cli-cluster-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
    contexts: [{ name: 'prod', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
    'current-context': 'prod',
  }),
);

function fakeCluster(): FakeKube {
  return new FakeKube().add(
    namespaceObject('team'),
    serviceAccount('team', 'default'),
    pullSecret('team', 'good', 'registry.example.com'),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'pullguard-policy', namespace: 'pullguard', labels: { 'app.kubernetes.io/part-of': 'pullguard', 'app.kubernetes.io/component': 'webhook' } },
      data: { 'policy.yaml': 'mode: dry-run\ninjection:\n  enabled: false\n' },
    },
    deployment({ namespace: 'team', name: 'web', containers: [{ name: 'app', image: 'vault.example.com/app:1' }] }),
  );
}

async function run(args: string[], fake: FakeKube, stderrIsTTY = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runClusterAudit(args, {
    stdin: Readable.from([]),
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: stderrIsTTY },
    env: {},
  }, { rest: () => fake });
  return { code, stdout, stderr };
}

t.test('-o json: the offline audit\'s report, the cluster\'s policy ConfigMap found by its labels, exit 1 on a denial', async (t) => {
  const { code, stdout, stderr } = await run(['--cluster', '--kubeconfig', kubeconfig, '-o', 'json'], fakeCluster());
  t.equal(code, 1);
  const report = JSON.parse(stdout) as { mode: string; summary: { deny: number }; results: { name: string; source: string; decision: string }[] };
  t.equal(report.mode, 'dry-run', 'the policy came from the ConfigMap');
  t.same(report.results.map((result) => [result.name, result.decision, result.source]), [['web', 'deny', 'cluster:prod']]);
  t.match(stderr, /policy: ConfigMap pullguard\/pullguard-policy/);
  t.notMatch(stderr, /\r/, 'no progress line when stderr is not a terminal');
});

t.test('a progress line is drawn on a terminal and cleared before the report', async (t) => {
  const { stderr } = await run(['--cluster', '--kubeconfig', kubeconfig, '-o', 'json'], fakeCluster(), true);
  t.match(stderr, /\r\x1b\[Kreading .*objects read, \d+\/1 namespaces done/);
});

t.test('-o policyreport prints a List of reports in the requested API', async (t) => {
  const { stdout } = await run(['--cluster', '--kubeconfig', kubeconfig, '-o', 'policyreport', '--report-api', 'wgpolicyk8s.io/v1alpha2'], fakeCluster());
  const list = JSON.parse(stdout) as { kind: string; items: { kind: string; metadata: { namespace?: string } }[] };
  t.equal(list.kind, 'List');
  t.same(list.items.map((item) => [item.kind, item.metadata.namespace ?? '']), [['PolicyReport', 'team'], ['ClusterPolicyReport', '']]);
});

t.test('--apply writes to the API the cluster serves', async (t) => {
  const fake = fakeCluster();
  fake.served.set('wgpolicyk8s.io/v1alpha2', ['policyreports', 'clusterpolicyreports']);
  const { stderr } = await run(['--cluster', '--kubeconfig', kubeconfig, '--apply'], fake);
  t.match(stderr, /applied 2 wgpolicyk8s.io\/v1alpha2 reports/);
  t.equal(fake.objects('apis/wgpolicyk8s.io/v1alpha2/policyreports').length, 1);
});

const usage: Record<string, { args: string[]; message: RegExp }> = {
  'refuses --apply with -l, which would replace a namespace\'s report with a part of it': { args: ['--apply', '-l', 'app=web'], message: /cannot be combined with -l or --kinds/ },
  'refuses an unknown -o': { args: ['-o', 'yaml'], message: /-o must be table, json or policyreport/ },
  'refuses -n with -A': { args: ['-n', 'a', '-A'], message: /exclude each other/ },
  'refuses files with --cluster': { args: ['manifests/'], message: /not files/ },
  'refuses an unknown --report-api': { args: ['--report-api', 'v1'], message: /--report-api must be/ },
  'names a namespace that does not exist': { args: ['-n', 'ghost'], message: /prod: namespace ghost does not exist/ },
  'names a policy ConfigMap that does not exist': { args: ['--policy-configmap', 'a/b'], message: /ConfigMap a\/b does not exist/ },
  'refuses --apply when the cluster serves no report API': { args: ['--apply'], message: /serves no policy report API/ },
};
for (const [name, { args, message }] of Object.entries(usage)) {
  t.test(name, async (t) => {
    await t.rejects(run(['--cluster', '--kubeconfig', kubeconfig, ...args], fakeCluster()), { name: UsageError.name, message });
  });
}

t.test('--kinds accepts kinds, plural resources and kubectl short names in any case', async (t) => {
  t.same(parseKinds('deploy,Pods,STS,cronjob'), ['Deployment', 'Pod', 'StatefulSet', 'CronJob']);
  t.throws(() => parseKinds('ingress'), /unknown kind "ingress"/);
});

t.test('the progress line shows objects, namespaces and an ETA from the fraction done', async (t) => {
  t.equal(
    progressLine({ list: 'pods', listsDone: 5, listsTotal: 10, objects: 12345, namespacesDone: 40, namespacesTotal: 200, fraction: 0.5 }, 4000),
    'reading pods: 12,345 objects read, 40/200 namespaces done, ETA 4s',
  );
});

t.test('the table shows each workload\'s live pods under it, with the outcomes that differ', async (t) => {
  const fake = fakeCluster();
  const owner = fake.objects('apis/apps/v1/deployments')[0] as { metadata: { uid?: string } };
  owner.metadata.uid = 'd-web';
  for (const [name, image] of [['web-1', 'vault.example.com/app:1'], ['web-2', 'registry.k8s.io/pause:3.10']] as const) {
    fake.add({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'team', uid: `p-${name}`, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-web', controller: true }] },
      spec: { containers: [{ name: 'app', image }] },
    });
  }
  const { stdout } = await run(['--cluster', '--kubeconfig', kubeconfig, '--no-color'], fake);
  t.match(stdout, /Deployment\/web  DENY/);
  t.match(stdout, /live pods: 2 \(1 allow, 0 inject, 1 deny\)/);
  t.match(stdout, /1 pod deny \(e\.g\. web-1\)\n\s+deny NoMatchingCredential/);
  t.notMatch(stdout, /Pod\/web-1/, 'the pods are not results of their own');
});

t.test('--probe-anonymous probes the registries the cluster\'s roll-up finds uncovered, anonymously', async (t) => {
  const { default: https } = await import('node:https');
  const { generateCertificates } = await import('../../src/certs/generate.ts');
  const bundle = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
  const caFile = join(dir, 'probe-ca.crt');
  writeFileSync(caFile, bundle.caCert);
  const seen: string[] = [];
  const server = https.createServer({ cert: bundle.tlsCert, key: bundle.tlsKey }, (request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers.authorization ?? 'none'}`);
    response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const fake = fakeCluster().add(deployment({ namespace: 'team', name: 'private', containers: [{ name: 'app', image: `${host}/team/app:2` }] }));
  const { stdout } = await run(['--cluster', '--kubeconfig', kubeconfig, '-o', 'json', '--probe-anonymous', '--ca-file', caFile, '--probe-timeout', '2000'], fake);
  const report = JSON.parse(stdout) as { rollup: { uncovered: { registry: string; suggestedAccess: string | null; probe?: { verdict: string } }[]; suggestedPolicy: string } };
  const entry = report.rollup.uncovered.find((candidate) => candidate.registry === host);
  t.equal(entry?.suggestedAccess, 'secret');
  t.equal(entry?.probe?.verdict, 'unauthorized');
  t.match(report.rollup.suggestedPolicy, `- hosts: ["${host}"]\n    access: secret`);
  t.same(seen, ['GET /v2/ none', 'HEAD /v2/team/app/manifests/2 none'], 'anonymous: no credential sent, the manifest HEADed');
});
