import t from 'tap';
import { auditCluster, kindsToList, type ClusterAuditRequest } from '../../src/cluster/audit-cluster.ts';
import { listInPages, MAX_LIST_RESTARTS } from '../../src/cluster/paged-list.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { ClusterAuditBuilder, MAX_POD_OUTCOMES } from '../../src/report/cluster-audit.ts';
import { EMPTY_SNAPSHOT } from '../../src/snapshot/memory.ts';
import { WORKLOAD_KINDS } from '../../src/workloads/extract.ts';
import { FakeKube } from '../helpers/fake-kube.ts';
import { deployment, namespaceObject, pod, pullSecret, secretOfType, serviceAccount, type PodOptions } from '../helpers/objects.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const policy = new PolicyResolver({ ...DEFAULT_POLICY, registries: [{ hosts: ['registry.example.com'], access: 'secret', preferredSecrets: [] }] });

function owned(object: Record<string, unknown>, uid: string, owner?: { kind: string; name: string; uid: string }): Record<string, unknown> {
  const metadata = object['metadata'] as Record<string, unknown>;
  return { ...object, metadata: { ...metadata, uid, ...(owner !== undefined ? { ownerReferences: [{ apiVersion: 'apps/v1', ...owner, controller: true }] } : {}) } };
}

function workload(kind: string, apiVersion: string, options: PodOptions, uid: string, owner?: { kind: string; name: string; uid: string }): Record<string, unknown> {
  const base = deployment(options);
  const spec = kind === 'CronJob' ? { jobTemplate: { spec: (base['spec'] as Record<string, unknown>) } } : base['spec'];
  return owned({ ...base, kind, apiVersion, spec }, uid, owner);
}

const PRIVATE = 'registry.example.com/team/app:1.0';
/** A private registry no secret of the fake cluster covers. */
const VAULT = 'vault.example.com/app:1.0';

t.test('pods are filed under the workload that owns them, through a Deployment\'s ReplicaSet and a CronJob\'s Job', async (t) => {
  const builder = new ClusterAuditBuilder({ snapshot: EMPTY_SNAPSHOT, policy, now: NOW, source: 'cluster:test' });
  builder.addWorkload(workload('Deployment', 'apps/v1', { name: 'web', containers: [{ name: 'app', image: 'nginx:1.27' }] }, 'd1'));
  builder.addWorkload(workload('ReplicaSet', 'apps/v1', { name: 'web-abc' }, 'rs1', { kind: 'Deployment', name: 'web', uid: 'd1' }));
  builder.addWorkload(workload('ReplicaSet', 'apps/v1', { name: 'lonely' }, 'rs2'));
  builder.addWorkload(workload('CronJob', 'batch/v1', { name: 'nightly' }, 'cj1'));
  builder.addWorkload(workload('Job', 'batch/v1', { name: 'nightly-1' }, 'j1', { kind: 'CronJob', name: 'nightly', uid: 'cj1' }));
  for (let index = 0; index < 3; index += 1) builder.addPod(owned(pod({ name: `web-abc-${index}` }), `p${index}`, { kind: 'ReplicaSet', name: 'web-abc', uid: 'rs1' }));
  builder.addPod(owned(pod({ name: 'lonely-1' }), 'p10', { kind: 'ReplicaSet', name: 'lonely', uid: 'rs2' }));
  builder.addPod(owned(pod({ name: 'nightly-1-x' }), 'p20', { kind: 'Job', name: 'nightly-1', uid: 'j1' }));
  builder.addPod(owned(pod({ name: 'stray' }), 'p30', { kind: 'Rollout', name: 'custom', uid: 'unknown' }));
  builder.addPod(owned(pod({ name: 'bare' }), 'p40'));
  const report = builder.report();
  t.same(
    report.results.map((result) => [result.kind, result.name, result.pods?.total ?? null]),
    [
      ['CronJob', 'nightly', 1],
      ['Deployment', 'web', 3],
      ['Pod', 'bare', null],
      ['Pod', 'stray', null],
      ['ReplicaSet', 'lonely', 1],
    ],
    'the managed ReplicaSet and Job are not reported; unowned and foreign-owned pods are',
  );
  t.equal(report.summary.objects, 5);
});

t.test('distinct pod outcomes are kept once each with a count, a pod denial counts the workload as denied', async (t) => {
  const builder = new ClusterAuditBuilder({ snapshot: EMPTY_SNAPSHOT, policy, now: NOW, source: 'cluster:test' });
  const PUBLIC = [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }];
  builder.addWorkload(workload('StatefulSet', 'apps/v1', { name: 'db', containers: PUBLIC }, 's1'));
  const owner = { kind: 'StatefulSet', name: 'db', uid: 's1' };
  for (let index = 0; index < 4; index += 1) builder.addPod(owned(pod({ name: `db-${index}`, containers: PUBLIC }), `p${index}`, owner));
  builder.addPod(owned(pod({ name: 'db-9', containers: [{ name: 'app', image: PRIVATE }] }), 'p9', owner));
  // More distinct outcomes than are kept: each a different uncovered private image.
  for (let index = 0; index < MAX_POD_OUTCOMES + 2; index += 1) builder.addPod(owned(pod({ name: `db-x${index}`, containers: [{ name: 'app', image: `r${index}.example.org/app:1` }] }), `px${index}`, owner));
  const [result] = builder.report().results;
  const pods = result?.pods;
  t.equal(result?.decision, 'allow', 'the template itself is fine');
  t.equal(pods?.total, 4 + 1 + MAX_POD_OUTCOMES + 2);
  t.equal(pods?.allow, 4);
  t.equal(pods?.deny, 1 + MAX_POD_OUTCOMES + 2);
  t.equal(pods?.outcomes.length, MAX_POD_OUTCOMES);
  t.same(pods?.outcomes[0], { decision: 'allow', count: 4, example: 'db-0', findings: [] }, 'the most frequent outcome comes first');
  t.equal(pods?.outcomes[1]?.findings[0]?.code, 'NoMatchingCredential');
  t.equal(pods?.otherPods, 4, 'outcomes beyond the cap are counted, not dropped');
  t.equal(builder.report().summary.deny, 1);
});

t.test('a workload added after the first pod is a programming error, not a silent miss', async (t) => {
  const builder = new ClusterAuditBuilder({ snapshot: EMPTY_SNAPSHOT, policy, now: NOW, source: 'cluster:test' });
  builder.addPod(pod());
  t.throws(() => builder.addWorkload(deployment()), /before pods/);
});

t.test('kindsToList lists ReplicaSets and Jobs for ownership when pods and their top owners are asked for', async (t) => {
  t.same(kindsToList(['Pod', 'Deployment', 'CronJob']), [
    { kind: 'Deployment', report: true },
    { kind: 'ReplicaSet', report: false },
    { kind: 'CronJob', report: true },
    { kind: 'Job', report: false },
    { kind: 'Pod', report: true },
  ]);
  t.same(kindsToList(['Deployment']), [{ kind: 'Deployment', report: true }], 'no pods: no intermediaries');
  t.equal(kindsToList([...WORKLOAD_KINDS]).at(-1)?.kind, 'Pod', 'pods come last');
});

t.test('listInPages', async (t) => {
  const fake = new FakeKube();
  for (let index = 0; index < 7; index += 1) fake.add(pod({ name: `p${index}`, namespace: 'a' }));

  t.test('reads every page with limit and continue, handing each page over before the next request', async (t) => {
    const seen: number[] = [];
    const outcome = await listInPages(fake, '/api/v1/pods', {}, { page: (items) => seen.push(items.length), restart: () => t.fail('no restart') }, 3);
    t.same(seen, [3, 3, 1]);
    t.same(outcome, { resourceVersion: '100', objects: 7, restarts: 0, pages: 3 });
    t.same(fake.requests.slice(-3).map((request) => request.query?.['continue']), [undefined, '3', '6']);
  });

  t.test('starts over from the first page when the continue token expires (410), telling the consumer to forget', async (t) => {
    fake.expireContinue.set('api/v1/pods', 1);
    let gathered: unknown[] = [];
    let restarts = 0;
    const outcome = await listInPages(fake, '/api/v1/pods', {}, {
      page: (items) => gathered.push(...items),
      restart: () => {
        restarts += 1;
        gathered = [];
      },
    }, 3);
    t.equal(restarts, 1);
    t.equal(gathered.length, 7, 'nothing twice, nothing missing');
    t.equal(outcome.restarts, 1);
  });

  t.test('gives up with a clear error when the list keeps expiring', async (t) => {
    fake.expireContinue.set('api/v1/pods', MAX_LIST_RESTARTS + 1);
    await t.rejects(listInPages(fake, '/api/v1/pods', {}, { page: () => undefined, restart: () => undefined }, 3), /expired \(410 Gone\) 4 times/);
  });

  t.test('a 410 on the first page is not a paging problem and is passed on', async (t) => {
    fake.failNext.set('/api/v1/pods', 410);
    await t.rejects(listInPages(fake, '/api/v1/pods', {}, { page: () => undefined, restart: () => t.fail('no restart') }, 3), /: 410/);
  });
});

function cluster(): FakeKube {
  return new FakeKube().add(
    namespaceObject('team'),
    namespaceObject('other'),
    namespaceObject('excluded', { 'pullguard.io/mode': 'off' }),
    serviceAccount('team', 'default'),
    serviceAccount('other', 'default'),
    pullSecret('team', 'good', 'registry.example.com'),
    secretOfType('team', 'opaque', 'Opaque', { '.dockerconfigjson': 'e30=' }),
    owned(deployment({ namespace: 'team', name: 'ok', imagePullSecrets: ['good'], containers: [{ name: 'app', image: PRIVATE }] }), 'd-ok'),
    owned(deployment({ namespace: 'team', name: 'missing', imagePullSecrets: ['nope'], containers: [{ name: 'app', image: VAULT }] }), 'd-missing'),
    owned(deployment({ namespace: 'team', name: 'wrongtype', imagePullSecrets: ['opaque'], containers: [{ name: 'app', image: VAULT }] }), 'd-opaque'),
    owned(deployment({ namespace: 'other', name: 'latest', containers: [{ name: 'app', image: 'nginx', imagePullPolicy: 'IfNotPresent' }] }), 'd-latest'),
    owned(deployment({ namespace: 'excluded', name: 'whatever', containers: [{ name: 'app', image: PRIVATE }] }), 'd-excluded'),
  );
}

function request(fake: FakeKube, overrides: Partial<ClusterAuditRequest> = {}): ClusterAuditRequest {
  return { rest: fake, namespace: undefined, labelSelector: undefined, kinds: [...WORKLOAD_KINDS], policy, now: NOW, source: 'cluster:test', pageSize: 2, ...overrides };
}

t.test('auditCluster finds each planted violation with its code, and only those', async (t) => {
  const fake = cluster();
  const outcome = await auditCluster(request(fake));
  const codes = outcome.report.results.map((result) => [
    result.namespace,
    result.name,
    result.decision,
    [...result.findings, ...result.containers.flatMap((container) => container.findings)].map((finding) => finding.code),
    result.skipped !== undefined,
  ]);
  t.same(codes, [
    ['excluded', 'whatever', 'allow', [], true],
    ['other', 'latest', 'allow', ['LatestWithIfNotPresent', 'AnonymousPullRateLimited'], false],
    ['team', 'missing', 'deny', ['PullSecretNotFound'], false],
    ['team', 'ok', 'allow', [], false],
    ['team', 'wrongtype', 'deny', ['PullSecretNotFound'], false],
  ]);
  t.same(outcome.namespaces, ['excluded', 'other', 'team']);
  t.equal(outcome.report.summary.deny, 2);
});

t.test('auditCluster reads secrets of the two pull-secret types only, field-selected, never Opaque ones', async (t) => {
  const fake = cluster();
  await auditCluster(request(fake));
  const secretLists = fake.requests.filter((entry) => entry.path === '/api/v1/secrets');
  t.same([...new Set(secretLists.map((entry) => entry.query?.['fieldSelector']))], ['type=kubernetes.io/dockerconfigjson', 'type=kubernetes.io/dockercfg']);
  t.ok(secretLists.every((entry) => entry.query?.['limit'] === 2), 'paged');
});

t.test('auditCluster with -n reads that namespace only, and says so when it does not exist', async (t) => {
  const fake = cluster();
  const outcome = await auditCluster(request(fake, { namespace: 'team' }));
  t.same([...new Set(outcome.report.results.map((result) => result.namespace))], ['team']);
  t.ok(fake.requests.every((entry) => entry.path.includes('/namespaces/team')), 'no cluster-wide request');
  await t.rejects(auditCluster(request(cluster(), { namespace: 'ghost' })), { name: 'ClusterAuditError', message: 'namespace ghost does not exist' });
});

t.test('auditCluster passes -l to workload lists and not to the state lists', async (t) => {
  const fake = cluster();
  await auditCluster(request(fake, { labelSelector: 'app=demo' }));
  t.ok(fake.requests.filter((entry) => entry.path.includes('deployments')).every((entry) => entry.query?.['labelSelector'] === 'app=demo'));
  t.ok(fake.requests.filter((entry) => entry.path.includes('secrets') || entry.path.includes('serviceaccounts')).every((entry) => entry.query?.['labelSelector'] === undefined));
});

t.test('auditCluster survives an expired continue token in the middle of the pods without counting a pod twice', async (t) => {
  const fake = cluster();
  const owner = { kind: 'Deployment', name: 'ok', uid: 'd-ok' };
  fake.add(owned(deployment({ namespace: 'team', name: 'ok-rs', imagePullSecrets: ['good'] }), 'rs-ok'));
  for (let index = 0; index < 5; index += 1) {
    fake.add(owned({ ...pod({ namespace: 'team', name: `ok-${index}`, imagePullSecrets: ['good'], containers: [{ name: 'app', image: PRIVATE }] }) }, `pod-${index}`, owner));
  }
  fake.expireContinue.set('api/v1/pods', 1);
  const outcome = await auditCluster(request(fake));
  const ok = outcome.report.results.find((result) => result.name === 'ok' && result.kind === 'Deployment');
  t.equal(ok?.pods?.total, 5);
  t.equal(ok?.pods?.allow, 5);
});

t.test('auditCluster reports progress with a fraction that only grows and ends at every namespace done', async (t) => {
  const seen: { fraction: number; done: number; total: number }[] = [];
  await auditCluster(request(cluster(), { onProgress: (progress) => seen.push({ fraction: progress.fraction, done: progress.namespacesDone, total: progress.namespacesTotal }) }));
  t.ok(seen.length > 5);
  t.ok(seen.every((entry, index) => index === 0 || entry.fraction >= (seen[index - 1]?.fraction ?? 0)), 'monotonic');
  t.same(seen.at(-1), { fraction: 1, done: 3, total: 3 });
});
