import t from 'tap';
import { applyReports, chooseReportApi, detectReportApi, FIELD_MANAGER } from '../../src/cluster/report-writer.ts';
import type { Finding } from '../../src/findings/catalogue.ts';
import type { ClusterAuditReport, ClusterAuditResult } from '../../src/report/cluster-audit.ts';
import {
  buildPolicyReports,
  NAMESPACE_POLICY,
  PASS_POLICY,
  REPORT_OMITTED_ANNOTATION,
  type PolicyReportObject,
  type ReportApi,
} from '../../src/report/policyreport.ts';
import { FakeKube } from '../helpers/fake-kube.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function finding(code: Finding['code'], severity: Finding['severity'], path: string): Finding {
  return { code, severity, path, message: `${code} at ${path}` };
}

function result(namespace: string, name: string, overrides: Partial<ClusterAuditResult> = {}): ClusterAuditResult {
  return {
    namespace,
    kind: 'Deployment',
    name,
    source: 'cluster:test',
    sources: ['cluster:test'],
    copiesDiffer: false,
    mode: 'dry-run',
    decision: 'allow',
    inject: [],
    containers: [],
    findings: [],
    uid: `uid-${name}`,
    ...overrides,
  };
}

function container(name: string, image: string, findings: Finding[]): ClusterAuditResult['containers'][number] {
  return {
    name,
    path: `spec.template.spec.containers[0]`,
    image,
    reference: { valid: true, normalized: image, registry: null, repository: null, tag: null, digest: null },
    access: 'secret',
    accessRule: null,
    credential: null,
    decision: findings.some((entry) => entry.severity === 'deny') ? 'deny' : 'allow',
    findings,
  };
}

const denied = result('team', 'web', {
  decision: 'deny',
  containers: [container('app', 'vault.example.com/app:1', [finding('NoMatchingCredential', 'deny', 'spec.template.spec.containers[0].image')])],
  pods: {
    total: 3,
    allow: 0,
    inject: 0,
    deny: 3,
    otherPods: 0,
    outcomes: [
      {
        decision: 'deny',
        count: 3,
        example: 'web-1',
        findings: [finding('NoMatchingCredential', 'deny', 'spec.containers[0].image'), finding('PullSecretNotFound', 'warn', 'spec.imagePullSecrets[0]')],
      },
    ],
  },
});
const warned = result('team', 'cache', { containers: [container('redis', 'redis', [finding('LatestWithIfNotPresent', 'warn', 'spec.template.spec.containers[0].imagePullPolicy'), finding('AnonymousPullRateLimited', 'info', 'spec.template.spec.containers[0].image')])] });
const clean = result('quiet', 'api', { containers: [container('app', 'registry.k8s.io/pause:3.10', [])] });
const skipped = result('kube-system', 'dns', { skipped: 'namespace kube-system is not checked' });
const report: ClusterAuditReport = {
  mode: 'dry-run',
  summary: { objects: 4, containers: 3, deny: 1, inject: 0, warn: 1, skipped: 0, notAudited: 0 },
  results: [skipped, clean, warned, denied],
  skipped: [],
  notAudited: [],
  rollup: { findings: [], registries: [], uncovered: [], suggestedPolicy: '' },
};

function summed(object: PolicyReportObject): number {
  return Object.values(object.summary).reduce((sum, count) => sum + count, 0);
}

t.test('one report per namespace with findings, results mapped from severities, pod findings the template already shows left out', async (t) => {
  const set = buildPolicyReports(report, { api: 'openreports.io/v1alpha1', includePass: false, now: NOW, clusterReport: true });
  t.same(set.namespaced.map((entry) => [entry.kind, entry.metadata.namespace]), [['Report', 'team']], 'namespaces with nothing to say get no report');
  const team = set.namespaced[0];
  t.same(
    team?.results.map((entry) => [entry.policy, entry.result, entry.severity, entry.resources[0]?.name, entry.properties['fieldPath']]),
    [
      ['NoMatchingCredential', 'fail', 'high', 'web', 'spec.template.spec.containers[0].image'],
      ['LatestWithIfNotPresent', 'warn', 'medium', 'cache', 'spec.template.spec.containers[0].imagePullPolicy'],
      ['PullSecretNotFound', 'warn', 'medium', 'web', 'spec.imagePullSecrets[0]'],
    ],
  );
  const podResult = team?.results.find((entry) => entry.policy === 'PullSecretNotFound');
  t.match(podResult?.message, /^all 3 live pods \(e\.g\. web-1\): /);
  t.same(team?.results[0]?.resources, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'team', uid: 'uid-web' }]);
  t.same(team?.results[0]?.properties, { container: 'app', image: 'vault.example.com/app:1', fieldPath: 'spec.template.spec.containers[0].image', mode: 'dry-run' });
  t.same(team?.summary, { pass: 0, fail: 1, warn: 2, error: 0, skip: 0 });
  t.equal(team?.source, 'pullguard');
  t.ok(team?.results.every((entry) => entry.source === 'pullguard' && entry.timestamp.seconds === NOW / 1000 && entry.timestamp.nanos === 0));
});

t.test('the cluster report has one result per namespace that would deny or warn', async (t) => {
  const set = buildPolicyReports(report, { api: 'openreports.io/v1alpha1', includePass: false, now: NOW, clusterReport: true });
  t.equal(set.cluster?.kind, 'ClusterReport');
  t.equal(set.cluster?.metadata.namespace, undefined);
  t.same(set.cluster?.results.map((entry) => [entry.policy, entry.resources[0]?.name, entry.result, entry.properties['deny']]), [[NAMESPACE_POLICY, 'team', 'fail', '1']]);
  t.equal(buildPolicyReports(report, { api: 'openreports.io/v1alpha1', includePass: false, now: NOW, clusterReport: false }).cluster, undefined, 'no cluster report for a partial audit');
});

t.test('the cluster report counts workloads in words that agree with the number', async (t) => {
  const messages = (results: ClusterAuditResult[]): (string | undefined)[] => {
    const set = buildPolicyReports({ ...report, results }, { api: 'openreports.io/v1alpha1', includePass: true, now: NOW, clusterReport: true });
    return (set.cluster?.results ?? []).map((entry) => entry.message.replace(/ \(mode now: .*\)$/, ''));
  };
  t.same(messages([denied]), ['enforcing here would deny 1 of 1 workload'], 'one workload');
  t.same(messages([denied, warned]), ['enforcing here would deny 1 of 2 workloads'], 'two workloads');
  t.same(messages([warned]), ['nothing would be denied; 1 of 1 workload has warnings']);
  t.same(messages([warned, result('team', 'other', { containers: warned.containers })]), ['nothing would be denied; 2 of 2 workloads have warnings']);
  t.same(messages([clean]), ['nothing would be denied in 1 workload']);
});

t.test('--report-pass adds pass results for clean workloads, info findings, and skip results, and the summary still adds up', async (t) => {
  const set = buildPolicyReports(report, { api: 'wgpolicyk8s.io/v1alpha2', includePass: true, now: NOW, clusterReport: true });
  t.same(set.namespaced.map((entry) => [entry.kind, entry.metadata.namespace]), [['PolicyReport', 'kube-system'], ['PolicyReport', 'quiet'], ['PolicyReport', 'team']]);
  t.same(set.namespaced[1]?.results.map((entry) => [entry.policy, entry.result]), [[PASS_POLICY, 'pass']]);
  t.same(set.namespaced[0]?.results.map((entry) => [entry.policy, entry.result]), [['NotChecked', 'skip']]);
  t.ok(set.namespaced[2]?.results.some((entry) => entry.policy === 'AnonymousPullRateLimited' && entry.result === 'pass' && entry.severity === 'info'));
  for (const object of [...set.namespaced, set.cluster]) {
    if (object === undefined) continue;
    t.equal(summed(object), object.results.length, `${object.kind} ${object.metadata.namespace ?? ''}: summary adds up`);
  }
  t.equal(set.cluster?.kind, 'ClusterPolicyReport');
  t.equal(set.namespaced[0]?.source, undefined, 'wgpolicyk8s reports carry no report-level source');
});

t.test('a report over the byte budget keeps its worst results, counts only those, and says how many it left out', async (t) => {
  const many = Array.from({ length: 50 }, (_, index) =>
    result('big', `w${String(index).padStart(2, '0')}`, {
      containers: [container('app', 'x', [finding(index < 5 ? 'NoMatchingCredential' : 'LatestWithIfNotPresent', index < 5 ? 'deny' : 'warn', 'spec.template.spec.containers[0].image')])],
    }),
  );
  const set = buildPolicyReports({ ...report, results: many }, { api: 'openreports.io/v1alpha1', includePass: false, now: NOW, clusterReport: false, maxBytes: 8 * 1024 });
  const big = set.namespaced[0];
  t.ok(big !== undefined && big.results.length < 50 && big.results.length > 5);
  t.equal(big?.summary.fail, 5, 'every failure kept');
  t.equal(big?.metadata.annotations?.[REPORT_OMITTED_ANNOTATION], String(50 - (big?.results.length ?? 0)));
  t.equal(big === undefined ? -1 : summed(big), big?.results.length);
});

t.test('writing reports', async (t) => {
  const apis: Record<string, { served: ReportApi[]; expected: ReportApi | undefined }> = {
    'prefers OpenReports when both are served': { served: ['openreports.io/v1alpha1', 'wgpolicyk8s.io/v1alpha2'], expected: 'openreports.io/v1alpha1' },
    'falls back to wgpolicyk8s (Kyverno\'s default)': { served: ['wgpolicyk8s.io/v1alpha2'], expected: 'wgpolicyk8s.io/v1alpha2' },
    'finds none on a cluster without report CRDs': { served: [], expected: undefined },
  };
  for (const [name, { served, expected }] of Object.entries(apis)) {
    t.test(`detectReportApi ${name}`, async (t) => {
      const fake = new FakeKube();
      for (const api of served) fake.served.set(api, api.startsWith('openreports') ? ['reports', 'clusterreports'] : ['policyreports', 'clusterpolicyreports']);
      t.equal(await detectReportApi(fake), expected);
    });
  }

  t.test('--report-api naming an API the cluster does not serve is refused with the fix', async (t) => {
    await t.rejects(chooseReportApi(new FakeKube(), 'wgpolicyk8s.io/v1alpha2'), /does not serve wgpolicyk8s.io\/v1alpha2.*install its CRDs/);
    await t.rejects(chooseReportApi(new FakeKube(), undefined), /serves no policy report API/);
  });

  t.test('applies with server-side apply as field manager pullguard, and deletes reports of namespaces that no longer need one', async (t) => {
    const fake = new FakeKube();
    const first = buildPolicyReports(report, { api: 'openreports.io/v1alpha1', includePass: true, now: NOW, clusterReport: true });
    const outcome = await applyReports(fake, first, 'openreports.io/v1alpha1', { namespace: undefined });
    t.equal(outcome.applied, 4);
    const patch = fake.requests.find((entry) => entry.method === 'PATCH');
    t.equal(patch?.path, '/apis/openreports.io/v1alpha1/namespaces/kube-system/reports/pullguard');
    t.equal(patch?.contentType, 'application/apply-patch+yaml');
    t.same(patch?.query, { fieldManager: FIELD_MANAGER, force: true });
    t.ok(fake.requests.some((entry) => entry.method === 'PATCH' && entry.path === '/apis/openreports.io/v1alpha1/clusterreports/pullguard'));
    // A report another tool wrote in the same namespace is not ours to delete.
    fake.add({ apiVersion: 'openreports.io/v1alpha1', kind: 'Report', metadata: { name: 'kyverno-thing', namespace: 'quiet', labels: {} } });

    const fixed = buildPolicyReports({ ...report, results: [denied] }, { api: 'openreports.io/v1alpha1', includePass: false, now: NOW, clusterReport: true });
    const second = await applyReports(fake, fixed, 'openreports.io/v1alpha1', { namespace: undefined });
    t.same(second.deleted, ['kube-system', 'quiet']);
    t.same(fake.objects('apis/openreports.io/v1alpha1/reports').map((entry) => `${(entry['metadata'] as { namespace: string }).namespace}/${(entry['metadata'] as { name: string }).name}`), ['quiet/kyverno-thing', 'team/pullguard']);
    const team = fake.objects('apis/openreports.io/v1alpha1/reports').find((entry) => (entry['metadata'] as { namespace: string }).namespace === 'team') as unknown as PolicyReportObject;
    t.notOk(team.results.some((entry) => entry.resources[0]?.name === 'cache'), 'the stale results of the first run are gone');
  });

  t.test('with -n, only that namespace\'s reports are listed for deletion', async (t) => {
    const fake = new FakeKube();
    const set = buildPolicyReports({ ...report, results: [denied] }, { api: 'openreports.io/v1alpha1', includePass: false, now: NOW, clusterReport: false });
    await applyReports(fake, set, 'openreports.io/v1alpha1', { namespace: 'team' });
    t.ok(fake.requests.some((entry) => entry.method === 'GET' && entry.path === '/apis/openreports.io/v1alpha1/namespaces/team/reports'));
    t.notOk(fake.requests.some((entry) => entry.path.includes('clusterreports')), 'no cluster report written');
  });
});
