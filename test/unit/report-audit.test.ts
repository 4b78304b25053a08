import t from 'tap';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { auditObjects, filterResults, type OnlyFilter } from '../../src/report/audit.ts';
import { buildRollup } from '../../src/report/rollup.ts';
import { renderTable } from '../../src/report/table.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { deployment, pod, pullSecret } from '../helpers/objects.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');

function policy(): PolicyResolver {
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy must load');
  return new PolicyResolver(loaded.policy);
}

function audit(objects: readonly Record<string, unknown>[]) {
  return auditObjects(objects.map((object, index) => ({ object, source: `m.yaml:${index + 1}` })), snapshotFromObjects([]), policy(), NOW);
}

t.test('an object whose namespace is the empty string is audited in the default namespace', async (t) => {
  const report = audit([pod({ namespace: '', containers: [{ name: 'web', image: 'nginx:1.27' }] })]);
  t.equal(report.results[0]?.namespace, 'default');
});

t.test('a workload without a pod spec is reported as not checked instead of dropped', async (t) => {
  const broken = deployment({ name: 'no-template' }) as { spec: Record<string, unknown> };
  delete broken.spec['template'];
  const report = audit([broken as unknown as Record<string, unknown>, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }]);
  t.equal(report.summary.objects, 1, 'the Deployment counts, the ConfigMap is not a workload');
  t.equal(report.results[0]?.name, 'no-template');
  t.match(report.results[0]?.skipped, /^spec\.template\.spec is missing or not an object: nothing was checked/);
  t.match(renderTable(report, { color: false }), /Deployment\/no-template[\s\S]*skipped: spec\.template\.spec is missing/);
});

t.test('the table shows control characters of names and images escaped, so a manifest cannot drive the terminal', async (t) => {
  const report = audit([pod({ name: 'evil\u001b[2J', containers: [{ name: 'app', image: 'nginx:1.27\u0007' }] })]);
  const table = renderTable(report, { color: false });
  t.notMatch(table, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'no control character but newlines');
  t.match(table, 'Pod/evil\\x1b[2J');
  t.match(table, 'nginx:1.27\\x07');
});

const LONG_IMAGE = `registry.example.com/${'very-long-team-name/'.repeat(8)}service:1.0.0-build.20261122`;

t.test('the table prints image names whole, however long', async (t) => {
  const report = audit([pod({ containers: [{ name: 'app', image: LONG_IMAGE }] })]);
  t.ok(LONG_IMAGE.length > 170);
  t.match(renderTable(report, { color: false }), `    app  ${LONG_IMAGE}  deny`);
});

t.test('plurals follow the counts in the summary line', async (t) => {
  t.match(renderTable(audit([pod({ containers: [{ name: 'a', image: 'registry.k8s.io/pause:3.10' }] })]), { color: false }), /^1 workload, 1 container: 0 would be denied/m);
  const two = audit([pod({ name: 'x', containers: [{ name: 'a', image: 'registry.k8s.io/pause:3.10' }, { name: 'b', image: 'registry.k8s.io/pause:3.10' }] }), pod({ name: 'y' })]);
  t.match(renderTable(two, { color: false }), /^2 workloads, 3 containers: /m);
});

t.test('the roll-up counts findings by code, images by registry, and lists registries no rule names and no secret covers', async (t) => {
  const report = audit([
    pod({ name: 'a', containers: [{ name: 'app', image: 'gitlab.internal.example:5050/team/app:1' }, { name: 'side', image: 'nginx:1.27' }] }),
    pod({ name: 'b', containers: [{ name: 'app', image: 'gitlab.internal.example:5050/team/worker:2' }] }),
    pod({ name: 'c', containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:3' }] }),
  ]);
  t.same(report.rollup.findings.map((entry) => [entry.code, entry.count, entry.deny]), [['NoMatchingCredential', 3, 3], ['AnonymousPullRateLimited', 1, 0]]);
  t.same(report.rollup.registries.map((entry) => [entry.registry, entry.images, entry.access, entry.rules]), [
    ['gitlab.internal.example:5050', 2, ['secret'], [null]],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', 1, ['secret'], [null]],
    ['docker.io', 1, ['public'], ['docker.io/library']],
  ]);
  t.same(report.rollup.uncovered.map((entry) => [entry.registry, entry.images, entry.workloads, entry.suggestedAccess]), [
    ['gitlab.internal.example:5050', 2, 2, 'public'],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', 1, 1, 'node'],
  ]);
  const table = renderTable(report, { color: false });
  t.match(table, /Registries that no rule names and no secret covers\n {2}gitlab\.internal\.example:5050 +2 images in 2 workloads, e\.g\. gitlab\.internal\.example:5050\/team\/app:1\n/);
  t.match(table, /Suggested policy block[^\n]*\n {2}registries:\n {4}# gitlab\.internal\.example:5050: 2 images in 2 workloads/);
});

t.test('pasting the suggested registries block into the policy clears the denials it is about', async (t) => {
  const objects = [pod({ name: 'a', containers: [{ name: 'app', image: 'gitlab.internal.example:5050/team/app:1' }] })];
  const before = audit(objects);
  t.equal(before.summary.deny, 1);
  const { loadPolicyText } = await import('../../src/policy/load.ts');
  const loaded = loadPolicyText(before.rollup.suggestedPolicy);
  if (!loaded.ok) throw new Error(`suggested block does not load: ${JSON.stringify(loaded.errors)}`);
  const after = auditObjects(objects.map((object) => ({ object, source: 'm.yaml:1' })), snapshotFromObjects([]), new PolicyResolver(loaded.policy), NOW);
  t.equal(after.summary.deny, 0);
  t.same(after.rollup.uncovered, []);
  t.equal(after.rollup.suggestedPolicy, '');
});

t.test('a denial for a registry no rule names offers both fixes: a pull secret, or a registries rule', async (t) => {
  const report = audit([pod({ containers: [{ name: 'app', image: 'gitlab.internal.example/team/app:1' }] })]);
  const message = report.results[0]?.containers[0]?.findings[0]?.message ?? '';
  // Without state, ServiceAccount default is unknown: a list written into the pod keeps its secrets.
  t.match(message, /create a docker-registry secret NEW-SECRET for gitlab\.internal\.example and add imagePullSecrets listing the pull secrets of ServiceAccount default \(not known to pullguard\), if any, then NEW-SECRET \(a list of its own stops the ServiceAccount's copy\), or add NEW-SECRET to ServiceAccount default's imagePullSecrets, or, if gitlab\.internal\.example needs no pull secret, add a policy registries rule for it \(access: public, or access: node/);
});

t.test('a denial for a registry a rule marks secret-only offers the pull secret alone', async (t) => {
  const loaded = parsePolicyObject({ registries: [{ hosts: ['gitlab.internal.example'], access: 'secret' }] });
  if (!loaded.ok) throw new Error('policy must load');
  const report = auditObjects([{ object: pod({ containers: [{ name: 'app', image: 'gitlab.internal.example/team/app:1' }] }), source: 'm.yaml:1' }], snapshotFromObjects([]), new PolicyResolver(loaded.policy), NOW);
  const message = report.results[0]?.containers[0]?.findings[0]?.message ?? '';
  t.match(message, /or add NEW-SECRET to ServiceAccount default's imagePullSecrets$/);
  t.same(report.rollup.uncovered, [], 'a rule names it');
});

t.test('the same object in several files is reported once with every source; differing copies are flagged and the worst is shown', async (t) => {
  const good = pod({ name: 'web', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] });
  const bad = pod({ name: 'web', containers: [{ name: 'app', image: 'private.example.net/app:1' }] });
  const copy = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
  const same = auditObjects([{ object: good, source: 'a.yaml:1' }, { object: copy, source: 'b.yaml:3' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(same.results.length, 1);
  t.same(same.results[0]?.sources, ['a.yaml:1', 'b.yaml:3']);
  t.equal(same.results[0]?.copiesDiffer, false, 'identical copies');
  const defaulted = pod({ name: 'web', namespace: '', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] });
  const explicit = pod({ name: 'web', namespace: 'default', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] });
  const namespaces = auditObjects([{ object: defaulted, source: 'a.yaml:1' }, { object: explicit, source: 'b.yaml:1' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(namespaces.results.length, 1, 'no namespace and the default namespace name the same object');
  t.equal(namespaces.results[0]?.copiesDiffer, true, 'but the copies are not written the same');
  const differ = auditObjects([{ object: good, source: 'a.yaml:1' }, { object: bad, source: 'b.yaml:3' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(differ.results.length, 1);
  t.equal(differ.results[0]?.decision, 'deny', 'the copy with the worst verdict is shown');
  t.same(differ.results[0]?.sources, ['b.yaml:3', 'a.yaml:1']);
  t.equal(differ.results[0]?.copiesDiffer, true);
  t.match(renderTable(differ, { color: false }), /copies differ; shown: the copy with the worst verdict; also in: a\.yaml:1/);
  const otherNamespace = auditObjects([{ object: good, source: 'a.yaml:1' }, { object: pod({ name: 'web', namespace: 'other' }), source: 'b.yaml:1' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(otherNamespace.results.length, 2, 'the same name in another namespace is another object');
});

t.test('copies written with keys in another order are the same copy; a copy that differs only where no decision looks is flagged', async (t) => {
  const written = pod({ name: 'web', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] });
  const reorder = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(reorder) : typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).reverse().map(([key, child]) => [key, reorder(child)])) : value;
  const reordered = reorder(written) as Record<string, unknown>;
  t.not(JSON.stringify(reordered), JSON.stringify(written), 'the copies are written differently');
  const same = auditObjects([{ object: written, source: 'a.yaml:1' }, { object: reordered, source: 'kustomize' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(same.results.length, 1);
  t.same(same.results[0]?.sources, ['a.yaml:1', 'kustomize']);
  t.equal(same.results[0]?.copiesDiffer, false);
  const labelled = JSON.parse(JSON.stringify(written)) as { metadata: Record<string, unknown> };
  labelled.metadata['labels'] = { tier: 'web' };
  const differ = auditObjects([{ object: written, source: 'a.yaml:1' }, { object: labelled, source: 'b.yaml:1' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(differ.results.length, 1);
  t.equal(differ.results[0]?.copiesDiffer, true);
});

t.test('copies of an object that has no fingerprint (an alias bomb) are never taken for one another', async (t) => {
  let bomb: unknown = ['lol'];
  for (let level = 0; level < 40; level += 1) bomb = [bomb, bomb];
  const bombed = { ...pod({ name: 'web', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] }), bomb };
  const report = auditObjects([{ object: bombed, source: 'a.yaml:1' }, { object: bombed, source: 'a.yaml:1' }], snapshotFromObjects([]), policy(), NOW);
  t.equal(report.results.length, 1);
  t.equal(report.results[0]?.copiesDiffer, true);
});

t.test('--only keeps the matching results and the summary still counts everything', async (t) => {
  const report = audit([
    pod({ name: 'denied', containers: [{ name: 'a', image: 'private.example.net/a:1' }] }),
    pod({ name: 'warned', containers: [{ name: 'a', image: 'quay.io/x/y', imagePullPolicy: 'IfNotPresent' }] }),
    pod({ name: 'fine', containers: [{ name: 'a', image: 'registry.k8s.io/pause:3.10' }] }),
  ]);
  const names = (only: readonly OnlyFilter[]): string[] => filterResults(report, new Set(only)).results.map((result) => result.name);
  t.same(names(['deny']), ['denied']);
  t.same(names(['warn']), ['warned']);
  t.same(names(['deny', 'warn']), ['denied', 'warned']);
  t.same(names([]), ['denied', 'fine', 'warned']);
  t.equal(filterResults(report, new Set(['deny'])).summary.objects, 3);
});

t.test('--namespace puts objects without a namespace, and the secrets they use, where kubectl apply -n would', async (t) => {
  const secret = pullSecret('team', 'regcred', 'private.example.net');
  delete (secret['metadata'] as Record<string, unknown>)['namespace'];
  const workload = pod({ containers: [{ name: 'a', image: 'private.example.net/a:1' }], imagePullSecrets: ['regcred'] });
  delete (workload['metadata'] as Record<string, unknown>)['namespace'];
  const report = auditObjects([{ object: workload, source: 'm.yaml:1' }], snapshotFromObjects([secret], 'team-a'), policy(), NOW, { defaultNamespace: 'team-a' });
  t.equal(report.results[0]?.namespace, 'team-a');
  t.equal(report.results[0]?.decision, 'allow', 'the secret was found in the same namespace');
});

t.test('replicas of one spec in one namespace share one decision, and nothing a decision reads is left out of the match', async (t) => {
  const image = 'registry.corp.example/team/api:1';
  const objects = [
    pod({ name: 'api-1', namespace: 'team-a', containers: [{ name: 'app', image }] }),
    pod({ name: 'api-2', namespace: 'team-a', containers: [{ name: 'app', image }] }),
    pod({ name: 'api-3', namespace: 'team-b', containers: [{ name: 'app', image }] }),
    pod({ name: 'api-4', namespace: 'team-a', containers: [{ name: 'app', image }], annotations: { 'kubernetes.io/config.mirror': 'x' } }),
    pod({ name: 'api-5', namespace: 'team-a', containers: [{ name: 'app', image: `${image}-other` }] }),
  ];
  const snapshot = snapshotFromObjects([pullSecret('team-a', 'corp-pull', 'registry.corp.example')]);
  const report = auditObjects(objects.map((object, index) => ({ object, source: `m.yaml:${index + 1}` })), snapshot, policy(), NOW);
  const byName = new Map(report.results.map((result) => [result.name, result]));
  t.equal(byName.get('api-1')?.containers, byName.get('api-2')?.containers, 'the second replica reuses the first decision');
  t.same([...report.results].map((result) => [result.name, result.decision, result.skipped !== undefined]), [
    ['api-1', 'inject', false],
    ['api-2', 'inject', false],
    ['api-4', 'allow', true],
    ['api-5', 'inject', false],
    ['api-3', 'deny', false],
  ]);
  t.same(byName.get('api-5')?.containers.map((container) => container.image), [`${image}-other`], 'another image is decided for itself');
});

t.test('the table names the secrets an injection adds once, after the verdict', async (t) => {
  const snapshot = snapshotFromObjects([pullSecret('team', 'regcred', 'registry.corp.example')]);
  const report = auditObjects([{ object: pod({ name: 'api', containers: [{ name: 'app', image: 'registry.corp.example/app:1' }] }), source: 'm.yaml:1' }], snapshot, policy(), NOW);
  const table = renderTable(report, { color: false });
  t.match(table, /^ {2}Pod\/api {2}INJECT \[regcred\] {2}m\.yaml:1$/m);
  t.notMatch(table, /INJECT inject/);
});

t.test('the roll-up of replicas that share a decision equals the roll-up of the same results copied apart', async (t) => {
  const images = ['registry.corp.example/team/api:1', 'quay.io/uncovered/tool:2', 'nginx', 'ghcr.io/other/x:latest', 'Bad Image'];
  const objects = Array.from({ length: 24 }, (_, index) =>
    pod({
      name: `p-${index}`,
      namespace: index % 3 === 0 ? 'team-a' : 'team-b',
      containers: [{ name: 'app', image: images[index % images.length] as string }, { name: 'side', image: images[(index * 7) % images.length] as string }],
    }),
  );
  const snapshot = snapshotFromObjects([pullSecret('team-a', 'corp-pull', 'registry.corp.example')]);
  const report = auditObjects(objects.map((object, index) => ({ object, source: `m.yaml:${index + 1}` })), snapshot, policy(), NOW);
  const shared = new Set(report.results.map((result) => result.containers)).size;
  t.ok(shared < report.results.length, `replicas share decisions (${shared} distinct for ${report.results.length} pods)`);
  const apart = report.results.map((result) => structuredClone({ containers: result.containers, findings: result.findings }));
  t.strictSame(report.rollup, buildRollup(apart), 'counts, registries, uncovered registries, examples and the suggested block');
  t.ok(report.rollup.uncovered.length > 0 && report.rollup.findings.length > 0, 'the case has findings and uncovered registries to count');
});
