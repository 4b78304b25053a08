import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { applyEvent, emptyLiveSnapshot, projectNamespace, projectSecret, projectServiceAccount, type SnapshotRecord } from '../../src/cluster/projection.ts';
import { imageTarget } from '../../src/credentials/keyring.ts';
import { decide } from '../../src/decide/decide.ts';
import { clearPodSecretsMemo, podSecrets, podSecretsMemoItems, podSecretsMemoSize, POD_SECRETS_MEMO_ITEMS, POD_SECRETS_MEMO_LISTS, POD_SECRETS_MEMO_NAMESPACES } from '../../src/decide/pod-secrets.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import type { MemorySnapshot } from '../../src/snapshot/memory.ts';
import type { ClusterSnapshot } from '../../src/snapshot/types.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec, type PodSpecRef } from '../../src/workloads/extract.ts';
import { deployment, namespaceObject, pod, pullSecret, secretOfType, serviceAccount } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// The pod's secrets are resolved once per namespace state and list, and remembered: these tests
// pin that a remembered resolution never outlives the state it was made from, and never answers
// for another list.

const NOW = Date.parse('2026-06-01T12:00:00Z');
const POLICY = policyResolver({ registries: [{ hosts: ['registry.example.com'], access: 'secret' }, { hosts: ['other.example.net'], access: 'public' }] });

function specOf(object: Record<string, unknown>): PodSpecRef {
  const spec = extractPodSpec(object);
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

function podListing(namespace: string, ...imagePullSecrets: string[]): PodSpecRef {
  return specOf(pod({ namespace, containers: [{ name: 'app', image: 'registry.example.com/team/app:1.0' }], imagePullSecrets }));
}

function decideIn(snapshot: ClusterSnapshot, spec: PodSpecRef, namespace: string, secretsFinal = true): PodDecision {
  return decide({ spec, namespace, snapshot, policy: POLICY, now: NOW, secretsFinal });
}

function record(built: SnapshotRecord | undefined): SnapshotRecord {
  if (built === undefined) throw new Error('test object has no name');
  return built;
}

t.beforeEach(() => clearPodSecretsMemo());

t.test('a secret created after a first decision covers the next pod with the same list (live snapshot, copy-on-write)', (t) => {
  let snapshot: MemorySnapshot = applyEvent(emptyLiveSnapshot(), 'ADDED', record(projectNamespace(namespaceObject('team'))));
  const spec = podListing('team', 'regcred');
  const before = decideIn(snapshot, spec, 'team');
  t.equal(before.decision, 'deny');
  t.equal(before.secrets[0]?.status, 'not-found');
  snapshot = applyEvent(snapshot, 'ADDED', record(projectSecret(pullSecret('team', 'regcred', 'registry.example.com'))));
  const after = decideIn(snapshot, spec, 'team');
  t.equal(after.decision, 'allow');
  t.equal(after.secrets[0]?.status, 'usable');
  t.same(after.containers[0]?.credential, { secret: 'regcred', key: 'registry.example.com', source: 'pod' });
  t.end();
});

t.test('a ServiceAccount whose list changes changes where the pod list comes from (copied from the SA or its own)', (t) => {
  const base = [namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com'), pullSecret('team', 'other', 'registry.example.com')];
  const spec = specOf(pod({ namespace: 'team', serviceAccountName: 'builder', containers: [{ name: 'app', image: 'registry.example.com/team/app:1.0' }], imagePullSecrets: ['regcred'] }));
  const copied = decideIn(snapshotFromObjects([...base, serviceAccount('team', 'builder', 'regcred')]), spec, 'team');
  t.equal(copied.secretsSource, 'serviceAccount');
  const own = decideIn(snapshotFromObjects([...base, serviceAccount('team', 'builder', 'other')]), spec, 'team');
  t.equal(own.secretsSource, 'pod');
  t.end();
});

t.test('a secret replaced by one of another type is reported as such at once', (t) => {
  const spec = podListing('team', 'regcred');
  const good = decideIn(snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com')]), spec, 'team');
  t.equal(good.decision, 'allow');
  const wrong = decideIn(snapshotFromObjects([namespaceObject('team'), secretOfType('team', 'regcred', 'Opaque', { x: 'eA==' })]), spec, 'team');
  t.equal(wrong.secrets[0]?.status, 'wrong-type');
  t.ok(wrong.containers[0]?.findings.some((finding) => finding.code === 'PullSecretWrongType'));
  t.end();
});

t.test('lists that only differ in how their names split are resolved separately', (t) => {
  const snapshot = snapshotFromObjects([
    namespaceObject('team'),
    pullSecret('team', 'a', 'registry.example.com'),
    pullSecret('team', '1:a', 'registry.example.com'),
  ]);
  // Names joined as they are would give ["ab"] and ["a", "b"] one key; joined with a separator, a
  // name holding the separator would imitate two names.
  const cases: readonly (readonly string[])[] = [['ab'], ['a', 'b'], ['a\u0000b'], ['a', 'b', ''], ['1:a'], ['1', 'a'], ['a'], ['a', 'a']];
  for (const names of cases) {
    const secrets = podSecrets(podListing('team', ...names), 'team', snapshot, true);
    t.same(secrets.resolved.map((entry) => entry.considered.name), [...new Set(names.filter((name) => name !== ''))], JSON.stringify(names));
  }
  t.end();
});

t.test('the same list in two namespaces resolves in each', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('a'), namespaceObject('b'), pullSecret('a', 'regcred', 'registry.example.com')]);
  t.equal(decideIn(snapshot, podListing('a', 'regcred'), 'a').decision, 'allow');
  t.equal(decideIn(snapshot, podListing('b', 'regcred'), 'b').secrets[0]?.status, 'not-found');
  t.end();
});

t.test('the same list under another ServiceAccount or at another spec path is resolved for it', (t) => {
  const snapshot = snapshotFromObjects([
    namespaceObject('team'),
    pullSecret('team', 'regcred', 'registry.example.com'),
    serviceAccount('team', 'builder', 'regcred'),
    serviceAccount('team', 'runner'),
  ]);
  const containers = [{ name: 'app', image: 'registry.example.com/team/app:1.0' }];
  const asBuilder = specOf(pod({ namespace: 'team', serviceAccountName: 'builder', containers, imagePullSecrets: ['regcred'] }));
  const asRunner = specOf(pod({ namespace: 'team', serviceAccountName: 'runner', containers, imagePullSecrets: ['regcred'] }));
  t.equal(podSecrets(asBuilder, 'team', snapshot, true).nameSource, 'serviceAccount');
  t.equal(podSecrets(asRunner, 'team', snapshot, true).nameSource, 'pod');
  const template = specOf(deployment({ namespace: 'team', serviceAccountName: 'builder', containers, imagePullSecrets: ['regcred'] }));
  t.equal(podSecrets(template, 'team', snapshot, true).resolved[0]?.path, 'spec.template.spec.imagePullSecrets[0]');
  t.equal(podSecrets(asBuilder, 'team', snapshot, true).resolved[0]?.path, 'spec.imagePullSecrets[0]');
  t.end();
});

t.test('templates (list not final) and pods (final) with the same list are resolved separately', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), serviceAccount('team', 'default', 'regcred'), pullSecret('team', 'regcred', 'registry.example.com')]);
  const spec = podListing('team');
  t.same(podSecrets(spec, 'team', snapshot, true).names, []);
  t.same(podSecrets(spec, 'team', snapshot, false).names, ['regcred']);
  t.end();
});

t.test('a long list is resolved in full and not remembered', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com')]);
  const names = [...Array.from({ length: 2000 }, (_, index) => `missing-${index}`), 'regcred'];
  const decision = decideIn(snapshot, podListing('team', ...names), 'team');
  t.equal(decision.secrets.length, 2001);
  t.equal(decision.containers[0]?.credential?.secret, 'regcred');
  t.equal(podSecretsMemoSize(), 0);
  t.end();
});

t.test('the memo stays bounded however many distinct lists and namespaces arrive', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 's-0', 'registry.example.com')]);
  for (let index = 0; index < POD_SECRETS_MEMO_LISTS * 3; index++) podSecrets(podListing('team', `s-${index}`), 'team', snapshot, true);
  t.equal(podSecretsMemoSize(), POD_SECRETS_MEMO_LISTS, 'lists of one namespace');
  // The oldest list made room, and is resolved correctly again.
  t.equal(podSecrets(podListing('team', 's-0'), 'team', snapshot, true).usable.length, 1);
  clearPodSecretsMemo();
  for (let index = 0; index < POD_SECRETS_MEMO_NAMESPACES + 10; index++) podSecrets(podListing(`ns-${index}`, 'regcred'), `ns-${index}`, snapshot, true);
  t.ok(podSecretsMemoSize() <= POD_SECRETS_MEMO_NAMESPACES, `${podSecretsMemoSize()} lists held`);
  t.ok(podSecretsMemoSize() > 0);
  t.end();
});

t.test('lists and lookups over every namespace stay bounded together: the memo is emptied past POD_SECRETS_MEMO_ITEMS', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com')]);
  const namespaces = 400;
  const imagesEach = 50;
  t.ok(namespaces * (imagesEach + 1) > POD_SECRETS_MEMO_ITEMS, 'the run remembers more than the bound');
  let largest = 0;
  for (let n = 0; n < namespaces; n++) {
    const secrets = podSecrets(podListing(`ns-${n}`, 'regcred'), `ns-${n}`, snapshot, true);
    for (let i = 0; i < imagesEach; i++) {
      const image = `registry.example.com/app-${n}-${i}`;
      // Twice: a lookup is remembered from the image's second sighting.
      secrets.keyringMatches([], image, () => imageTarget(image), { spent: 0, limit: 1_000 });
      secrets.keyringMatches([], image, () => imageTarget(image), { spent: 0, limit: 1_000 });
      largest = Math.max(largest, podSecretsMemoItems());
    }
  }
  t.ok(largest <= POD_SECRETS_MEMO_ITEMS, `at most ${largest} items held`);
  t.ok(podSecretsMemoSize() < namespaces, `emptied along the way (${podSecretsMemoSize()} lists held at the end)`);
  t.end();
});

t.test('a keyring lookup is remembered from the image\'s second sighting: the first is answered and dropped', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com')]);
  const secrets = podSecrets(podListing('team', 'regcred'), 'team', snapshot, true);
  const image = 'registry.example.com/team/app';
  let compiled = 0;
  const target = () => {
    compiled++;
    return imageTarget(image);
  };
  const items = podSecretsMemoItems();
  const first = secrets.keyringMatches([], image, target, { spent: 0, limit: 1_000 });
  t.equal(podSecretsMemoItems(), items, 'seen once: not remembered');
  const second = secrets.keyringMatches([], image, target, { spent: 0, limit: 1_000 });
  t.equal(podSecretsMemoItems(), items + 1, 'seen twice: remembered');
  const third = secrets.keyringMatches([], image, target, { spent: 0, limit: 1_000 });
  t.equal(compiled, 2, 'the third lookup is answered from the memo');
  t.same(first, second);
  t.equal(third, second);
  t.equal(first[0]?.secret, 'regcred');
  t.end();
});

t.test('a repeated list in an unchanged namespace is answered from the memo', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com')]);
  const first = podSecrets(podListing('team', 'regcred'), 'team', snapshot, true);
  const second = podSecrets(podListing('team', 'regcred'), 'team', snapshot, true);
  t.equal(second, first);
  const rebuilt = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com')]);
  t.not(podSecrets(podListing('team', 'regcred'), 'team', rebuilt, true), first, 'a new namespace state resolves again');
  t.end();
});

t.test('a remembered keyring lookup charges the work budget what a fresh one spends, at every budget', (t) => {
  const snapshot = snapshotFromObjects([
    namespaceObject('team'),
    pullSecret('team', 'globs', '*.example.com', 'r*.example.com', 'registry.example.com/team', 'mirror.example.org'),
    pullSecret('team', 'hub', 'https://index.docker.io/v1/', 'quay.io/corp'),
    pullSecret('team', 'spare', 'registry.example.com', 'docker.io/library'),
  ]);
  const containers = [
    { name: 'app', image: 'registry.example.com/team/app:1.0' },
    { name: 'hub', image: 'nginx:1.27' },
    { name: 'other', image: 'other.example.net/x:1' },
    { name: 'again', image: 'registry.example.com/team/app:1.0' },
    { name: 'quay', image: 'quay.io/corp/tool:2' },
  ];
  const cases = [
    { name: 'the pod lists covering secrets', imagePullSecrets: ['globs', 'hub'] },
    // app is not covered: a secret is injected, and the containers found pullable are checked again with it.
    { name: 'a secret is injected', imagePullSecrets: ['hub'] },
  ];
  for (const c of cases) {
    const spec = specOf(pod({ namespace: 'team', imagePullSecrets: c.imagePullSecrets, containers }));
    const run = (workBudget: number): PodDecision => decide({ spec, namespace: 'team', snapshot, policy: POLICY, now: NOW, secretsFinal: true, workBudget });
    const budgets = run(1_000_000);
    let cutShort = 0;
    let tried = 0;
    for (let budget = 0; budget <= 250; budget++, tried++) {
      clearPodSecretsMemo();
      const fresh = run(budget);
      run(1_000_000);
      run(1_000_000); // remembers every lookup of the pod (from each image's second sighting)
      const remembered = run(budget);
      t.same(remembered, fresh, `${c.name}: budget ${budget}`);
      if (fresh.findings.some((finding) => finding.code === 'DecisionBudgetExceeded')) cutShort++;
    }
    t.ok(cutShort > 0 && cutShort < tried, `${c.name}: the budgets tried cut some decisions short (${cutShort}) and not all`);
    t.equal(budgets.decision, c.imagePullSecrets.length === 1 ? 'inject' : 'allow', `${c.name}: decision`);
  }
  t.end();
});

t.test('a remembered list keeps neither the pod spec nor the snapshot it was resolved in', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const remember = (): { spec: WeakRef<object>; snapshot: WeakRef<object> } => {
    const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com'), serviceAccount('team', 'default', 'other')]);
    const spec = podListing('team', 'regcred');
    const secrets = podSecrets(spec, 'team', snapshot, true);
    secrets.keyringMatches([], 'registry.example.com/team/app', () => imageTarget('registry.example.com/team/app'), { spent: 0, limit: 1_000 });
    return { spec: new WeakRef(spec), snapshot: new WeakRef(snapshot) };
  };
  const refs = remember();
  t.equal(podSecretsMemoSize(), 1);
  // WeakRef targets stay alive until the job that made them ends.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  t.equal(refs.spec.deref(), undefined, 'the spec was collected');
  t.equal(refs.snapshot.deref(), undefined, 'the snapshot was collected');
  t.equal(podSecretsMemoSize(), 1, 'while the list is still remembered');
});

t.test('a remembered lookup whose Docker Hub fallback overspends the budget answers as a fresh one does, at every budget', (t) => {
  // The recheck after injecting `spare` looks up nginx again through `hub`'s index.docker.io key
  // (the fallback), a lookup the harmless-choice check already remembered in the same decision.
  const policy = policyResolver({ registries: [{ hosts: ['docker.io', 'registry.example.com'], access: 'secret' }] });
  const objects = [
    namespaceObject('team'),
    pullSecret('team', 'hub', 'https://index.docker.io/v1/', 'a.example.org', 'b.example.org'),
    pullSecret('team', 'spare', 'registry.example.com', 'c.example.org'),
  ];
  // One state for every budget (its namespace-wide lookups remembered from the first), and a state
  // of its own for each (nothing remembered): both must answer alike.
  const shared = snapshotFromObjects(objects);
  const spec = specOf(pod({ namespace: 'team', imagePullSecrets: ['hub'], containers: [{ name: 'hub', image: 'nginx:1.27' }, { name: 'app', image: 'registry.example.com/team/app:1.0' }] }));
  const codes = (workBudget: number, snapshot: ClusterSnapshot): string => {
    clearPodSecretsMemo();
    const decision = decide({ spec, namespace: 'team', snapshot, policy, now: NOW, secretsFinal: true, workBudget });
    return [decision.findings.map((finding) => finding.code).join('+'), ...decision.containers.map((container) => `${container.name}:${container.findings.map((finding) => finding.code).join('+')}`)].join(' ');
  };
  // As decided cold before lookups were remembered (c93a69e9), budget by budget, except that a
  // decision cut by the budget injects nothing (app is denied, naming spare, instead of
  // InjectedPullSecret) and a recheck cut short denies nothing (hub was denied by lookups the
  // budget had emptied). At budgets 21 and 25 the shared state used to decide app as well (its
  // remembered namespace-wide lookup charged nothing), where a cold decision stops before app.
  const cut = 'DecisionBudgetExceeded';
  const expected: Record<number, string> = {
    20: `${cut} hub:`,
    21: `${cut} hub:`,
    25: `${cut} hub:`,
    26: `${cut} hub: app:NoMatchingCredential`,
    28: `${cut} hub: app:NoMatchingCredential`,
    30: `${cut} hub: app:NoMatchingCredential`,
    34: `${cut} hub: app:NoMatchingCredential`,
  };
  for (const [budget, want] of Object.entries(expected)) {
    t.equal(codes(Number(budget), snapshotFromObjects(objects)), want, `budget ${budget}, nothing remembered`);
    t.equal(codes(Number(budget), shared), want, `budget ${budget}, the state's lookups remembered`);
  }
  t.end();
});

t.test('a pod with more distinct images than the small per-decision table decides every container as a pod of that container alone, at every work budget', (t) => {
  const snapshot = snapshotFromObjects([namespaceObject('team'), pullSecret('team', 'regcred', 'registry.example.com', '*.example.org')]);
  // 14 distinct images (past the table's 8, so it switches to a map midway), each named twice, in an order that repeats early and late ones.
  const images = Array.from({ length: 14 }, (_, index) =>
    index % 3 === 0 ? `other.example.net/pub-${index}:1` : index % 3 === 1 ? `registry.example.com/team/app-${index}:1` : `mirror-${index}.example.org/app:1`);
  const order = [...images, ...images.slice().reverse()];
  const containers = order.map((image, index) => ({ name: `c${index}`, image }));
  const spec = specOf(pod({ namespace: 'team', imagePullSecrets: ['regcred'], containers }));
  const whole = decide({ spec, namespace: 'team', snapshot, policy: POLICY, now: NOW, secretsFinal: true });
  t.equal(whole.decision, 'allow');
  whole.containers.forEach((decided, index) => {
    const alone = decide({ spec: specOf(pod({ namespace: 'team', imagePullSecrets: ['regcred'], containers: [{ name: `c${index}`, image: order[index] as string }] })), namespace: 'team', snapshot, policy: POLICY, now: NOW, secretsFinal: true });
    const single = alone.containers[0];
    t.same({ ...decided, path: '' }, { ...single, path: '' }, `container ${index} (${order[index]})`);
  });
  // A repeated image is looked up once per decision: the budget a whole pod needs is what its distinct images need.
  let smallest = 0;
  while (decide({ spec, namespace: 'team', snapshot, policy: POLICY, now: NOW, secretsFinal: true, workBudget: smallest }).findings.some((finding) => finding.code === 'DecisionBudgetExceeded')) smallest++;
  clearPodSecretsMemo();
  const distinct = specOf(pod({ namespace: 'team', imagePullSecrets: ['regcred'], containers: images.map((image, index) => ({ name: `d${index}`, image })) }));
  let smallestDistinct = 0;
  while (decide({ spec: distinct, namespace: 'team', snapshot, policy: POLICY, now: NOW, secretsFinal: true, workBudget: smallestDistinct }).findings.some((finding) => finding.code === 'DecisionBudgetExceeded')) smallestDistinct++;
  t.equal(smallest, smallestDistinct, `budget ${smallest}: repeats cost nothing more`);
  t.end();
});
