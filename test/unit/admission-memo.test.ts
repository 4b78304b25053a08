import fc from 'fast-check';
import t from 'tap';
import { AdmissionMemo, MAX_ENTRY_BYTES, MAX_KEY_CHARS, memoKey } from '../../src/admission/admission-memo.ts';
import { admit, type AdmitContext, type Phase } from '../../src/admission/admit.ts';
import { decodeAdmissionReview, type AdmissionRequest } from '../../src/admission/review.ts';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { MemorySnapshot } from '../../src/snapshot/memory.ts';
import {
  admissionReview, deployment, ecrSecret, namespaceObject, pod, pullSecret, serviceAccount, type PodOptions,
} from '../helpers/objects.ts';
import { extractPodSpec, identify } from '../../src/workloads/extract.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const HARBOR = 'harbor.example.com';

function resolver(policy: unknown = {}): PolicyResolver {
  const loaded = parsePolicyObject(policy);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return new PolicyResolver(loaded.policy);
}

const CLUSTER = [
  namespaceObject('team'),
  pullSecret('team', 'harbor-pull', HARBOR),
  serviceAccount('team', 'default'),
  serviceAccount('team', 'builder', 'harbor-pull'),
];

function request(object: Record<string, unknown>, overrides: Record<string, unknown> = {}): AdmissionRequest {
  return decodeAdmissionReview(admissionReview(object, overrides));
}

function context(objects: readonly unknown[] = CLUSTER, policy: PolicyResolver = resolver(), now: number = NOW): AdmitContext {
  return { snapshot: snapshotFromObjects(objects), policy, now };
}

/** A replica of a ReplicaSet's pod: no name yet, a generateName, and its own uid. */
function replica(uid: string, options: PodOptions = {}): AdmissionRequest {
  const object = pod({ containers: [{ name: 'app', image: `${HARBOR}/team/app:1.0` }], imagePullSecrets: ['harbor-pull'], ...options });
  const metadata = object['metadata'] as Record<string, unknown>;
  delete metadata['name'];
  metadata['generateName'] = 'app-7d9f8-';
  metadata['uid'] = `pod-${uid}`;
  return request(object, { uid, name: '' });
}

t.test('answers a replica from the memo with its own uid, exactly as admit() answers it', async (t) => {
  const ctx = context();
  for (const phase of ['mutate', 'validate'] as const) {
    const memo = new AdmissionMemo(16);
    const first = memo.admit(replica('uid-1'), phase, ctx);
    const second = memo.admit(replica('uid-2'), phase, ctx);
    t.match(memo.stats(), { hits: 1, misses: 1, bypassed: 0, invalidations: 0, entries: 1 }, phase);
    t.equal(first.response.uid, 'uid-1', phase);
    t.equal(second.response.uid, 'uid-2', phase);
    t.same(second, admit(replica('uid-2'), phase, ctx), phase);
  }
});

t.test('an injection is answered from the memo; a denial, whose message names the pod, never is', async (t) => {
  const ctx = context();
  const memo = new AdmissionMemo(16);
  const named = (uid: string, name: string) => ({ ...replica(uid, { imagePullSecrets: [] }), name });
  for (const [uid, name] of [['a', 'app-7d9f8-aaaaa'], ['b', 'app-7d9f8-bbbbb']] as const) {
    const mutated = memo.admit(replica(uid, { imagePullSecrets: [] }), 'mutate', ctx);
    t.equal(mutated.action, 'patch', `mutate ${uid}`);
    t.equal(mutated.response.uid, uid);
    const validated = memo.admit(named(uid, name), 'validate', ctx);
    t.equal(validated.action, 'deny', `validate ${uid}`);
    t.match(validated.response.status?.message, new RegExp(`^pullguard denied Pod ${name}: `));
    t.same(validated, admit(named(uid, name), 'validate', ctx));
  }
  t.match(memo.stats(), { hits: 1, misses: 3, entries: 1 });
});

t.test('a replica at validation, its generated name filled in, is answered under its own name', async (t) => {
  const ctx = context();
  const memo = new AdmissionMemo(16);
  // What the API server sends to validating webhooks: metadata.name and request.name set from generateName.
  const validating = (uid: string, suffix: string): AdmissionRequest => {
    const object = pod({ name: `app-7d9f8-${suffix}`, imagePullSecrets: ['harbor-pull'], containers: [{ name: 'app', image: `${HARBOR}/team/app:1.0` }] });
    (object['metadata'] as Record<string, unknown>)['generateName'] = 'app-7d9f8-';
    return request(object, { uid, name: `app-7d9f8-${suffix}` });
  };
  memo.admit(validating('1', 'aaaaa'), 'validate', ctx);
  const second = memo.admit(validating('2', 'bbbbb'), 'validate', ctx);
  t.match(memo.stats(), { hits: 1, misses: 1 });
  t.same(second, admit(validating('2', 'bbbbb'), 'validate', ctx));
  t.equal(second.name, 'app-7d9f8-bbbbb');
});

t.test(`never keeps an outcome estimated above ${MAX_ENTRY_BYTES} bytes, and counts what it keeps`, async (t) => {
  const ctx = context();
  const memo = new AdmissionMemo(16);
  const many = Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, image: 'nginx:1' }));
  memo.admit(replica('1', { containers: many }), 'validate', ctx);
  t.match(memo.stats(), { misses: 1, entries: 0, bytes: 0 });
  memo.admit(replica('2'), 'validate', ctx);
  t.ok(memo.stats().bytes > 0 && memo.stats().bytes < MAX_ENTRY_BYTES, `a 1-container pod is estimated at ${memo.stats().bytes} bytes`);
});

// Reviews that differ from the replica in one input admit() reads: each must be decided on its own.
const differences: Record<string, AdmissionRequest> = {
  'another image': replica('x', { containers: [{ name: 'app', image: `${HARBOR}/team/app:2.0` }] }),
  'another pull policy': replica('x', { containers: [{ name: 'app', image: `${HARBOR}/team/app:1.0`, imagePullPolicy: 'Always' }] }),
  'another container name': replica('x', { containers: [{ name: 'web', image: `${HARBOR}/team/app:1.0` }] }),
  'the image as an init container': replica('x', { containers: [], initContainers: [{ name: 'app', image: `${HARBOR}/team/app:1.0` }] }),
  'another ServiceAccount': replica('x', { serviceAccountName: 'builder' }),
  'no imagePullSecrets field': replica('x', { imagePullSecrets: undefined }),
  'an empty imagePullSecrets list': replica('x', { imagePullSecrets: [] }),
  'another namespace': replica('x', { namespace: 'other' }),
  'a request namespace unlike the object\'s': decodeAdmissionReview(admissionReview(pod({ containers: [{ name: 'app', image: `${HARBOR}/team/app:1.0` }] }), { uid: 'x', namespace: 'other', name: '' })),
  'another request kind for the same object': { ...replica('x'), kind: { group: 'apps', version: 'v1', kind: 'ReplicaSet' } },
  'a Deployment with the same pod spec': request(deployment({ name: '', containers: [{ name: 'app', image: `${HARBOR}/team/app:1.0` }] }), { uid: 'x' }),
};
for (const [what, different] of Object.entries(differences)) {
  t.test(`decides afresh for ${what}`, async (t) => {
    const ctx = context();
    const memo = new AdmissionMemo(16);
    memo.admit(replica('first'), 'validate', ctx);
    const outcome = memo.admit(different, 'validate', ctx);
    t.equal(memo.stats().hits, 0);
    t.same(outcome, admit(different, 'validate', ctx));
  });
}

t.test('keys are encoded so that values holding a separator never share a key', async (t) => {
  const keyFor = (review: AdmissionRequest): string => {
    const key = memoKey(review, 'validate');
    if (key === undefined) throw new Error('no spec');
    return key;
  };
  // Joined with '|' alone, each pair would read the same.
  const pairs: Array<[string, AdmissionRequest, AdmissionRequest]> = [
    ['a container name holding the next field', replica('a', { containers: [{ name: 'x|nginx', image: 'y' }] }), replica('b', { containers: [{ name: 'x', image: 'nginx|y' }] })],
    ['a pull policy left out or empty', replica('a', { containers: [{ name: 'x', image: 'y' }] }), replica('b', { containers: [{ name: 'x', image: 'y', imagePullPolicy: '' }] })],
    ['a secret name holding a second entry', replica('a', { imagePullSecrets: ['a|b'] }), replica('b', { imagePullSecrets: ['a', 'b'] })],
  ];
  for (const [what, a, b] of pairs) t.not(keyFor(a), keyFor(b), what);
});

t.test('drops the entry when its namespace\'s secrets change, and answers from the new state', async (t) => {
  const policy = resolver();
  const before = context(CLUSTER, policy);
  // The namespace's only pull secret is deleted; the Namespace object itself (its view) is untouched.
  const without = snapshotFromObjects(CLUSTER.filter((object) => (object as { metadata: { name: string } }).metadata.name !== 'harbor-pull'));
  const shared = before.snapshot as MemorySnapshot;
  const after = { ...before, snapshot: MemorySnapshot.fromMaps(new Map(shared.namespaceViews()), without.namespaceStates(), shared.seesAllSecretTypes) };
  const memo = new AdmissionMemo(16);
  const covered = memo.admit(replica('1', { imagePullSecrets: ['harbor-pull'] }), 'validate', before);
  t.equal(covered.response.allowed, true);
  const uncovered = memo.admit(replica('2', { imagePullSecrets: ['harbor-pull'] }), 'validate', after);
  t.equal(uncovered.response.allowed, false);
  t.same(uncovered, admit(replica('2', { imagePullSecrets: ['harbor-pull'] }), 'validate', after));
  t.match(memo.stats(), { hits: 0, misses: 2, bypassed: 0, invalidations: 1, entries: 0 }, 'the denial is not kept');
});

t.test('keeps answering from the memo when only another namespace changed', async (t) => {
  const policy = resolver();
  const before = snapshotFromObjects([...CLUSTER, namespaceObject('other'), pullSecret('other', 'hub', 'docker.io')]);
  // As the live projection does: untouched namespaces keep their state and view objects.
  const changed = snapshotFromObjects([namespaceObject('other', { tier: 'b' }), pullSecret('other', 'hub2', 'docker.io')]);
  const states = new Map(before.namespaceStates());
  const views = new Map(before.namespaceViews());
  states.set('other', changed.namespaceStates().get('other')!);
  views.set('other', changed.namespaceViews().get('other')!);
  const after = MemorySnapshot.fromMaps(views, states, before.seesAllSecretTypes);
  const memo = new AdmissionMemo(16);
  memo.admit(replica('1'), 'validate', { snapshot: before, policy, now: NOW });
  const second = memo.admit(replica('2'), 'validate', { snapshot: after, policy, now: NOW });
  t.match(memo.stats(), { hits: 1, misses: 1, invalidations: 0 });
  t.same(second, admit(replica('2'), 'validate', { snapshot: after, policy, now: NOW }));
});

t.test('drops the entry when its namespace\'s labels change, even with the same secrets', async (t) => {
  const policy = resolver({ namespaces: { overrides: [{ matchLabels: { rollout: 'audit' }, mode: 'dry-run' }] } });
  const before = snapshotFromObjects(CLUSTER);
  const relabelled = snapshotFromObjects([namespaceObject('team', { rollout: 'audit' })]);
  const views = new Map(before.namespaceViews());
  views.set('team', relabelled.namespaceViews().get('team')!);
  const after = MemorySnapshot.fromMaps(views, new Map(before.namespaceStates()), before.seesAllSecretTypes);
  const memo = new AdmissionMemo(16);
  const review = (uid: string) => replica(uid, { imagePullSecrets: [] });
  t.equal(memo.admit(review('1'), 'mutate', { snapshot: before, policy, now: NOW }).action, 'patch');
  const second = memo.admit(review('2'), 'mutate', { snapshot: after, policy, now: NOW });
  t.equal(second.action, 'dry-run', 'the namespace is in dry-run now: nothing is patched');
  t.match(memo.stats(), { hits: 0, misses: 2, invalidations: 1 });
});

t.test('empties itself when the policy changes, and answers under the new one', async (t) => {
  const snapshot = snapshotFromObjects(CLUSTER);
  const memo = new AdmissionMemo(16);
  const checked = memo.admit(replica('1'), 'validate', { snapshot, policy: resolver(), now: NOW });
  const off = { snapshot, policy: resolver({ namespaces: { exclude: ['team'] } }), now: NOW };
  const skipped = memo.admit(replica('2'), 'validate', off);
  t.equal(checked.action, 'allow');
  t.equal(skipped.action, 'skip');
  t.same(skipped, admit(replica('2'), 'validate', off));
  t.equal(memo.stats().invalidations, 1);
});

t.test('never keeps an answer in a namespace holding an expiring token: the clock decides there', async (t) => {
  const expiresAt = (NOW + 30 * 60_000) / 1000;
  const objects = [namespaceObject('ecr'), ecrSecret('ecr', 'ecr-pull', HARBOR, expiresAt), serviceAccount('ecr', 'default')];
  const policy = resolver();
  const snapshot = snapshotFromObjects(objects);
  const memo = new AdmissionMemo(16);
  const review = (uid: string) => replica(uid, { namespace: 'ecr', imagePullSecrets: ['ecr-pull'] });
  const early = memo.admit(review('1'), 'validate', { snapshot, policy, now: NOW });
  const late = memo.admit(review('2'), 'validate', { snapshot, policy, now: NOW + 60 * 60_000 });
  t.equal(early.response.allowed, true);
  t.equal(late.response.allowed, false, 'the token has expired an hour later');
  t.same(late, admit(review('2'), 'validate', { snapshot, policy, now: NOW + 60 * 60_000 }));
  t.match(memo.stats(), { hits: 0, misses: 0, bypassed: 2, invalidations: 0, entries: 0 });
});

const bypassed: Record<string, AdmissionRequest> = {
  'an UPDATE': request(pod({ containers: [{ name: 'app', image: 'nginx:2' }] }), { operation: 'UPDATE', oldObject: pod() }),
  'a DELETE': request(pod(), { operation: 'DELETE' }),
  'a subresource': request(pod(), { subResource: 'status' }),
  'a pod sent by a kubelet (mirror pods)': request(pod({ annotations: { 'kubernetes.io/config.mirror': 'x' } }), { userInfo: { username: 'system:node:node-1' } }),
  'an object without a pod spec': request({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' } }),
  [`a pod whose key is longer than ${MAX_KEY_CHARS} characters`]: request(pod({ containers: Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, image: `${HARBOR}/${'x'.repeat(100)}:${i}` })) })),
};
for (const [what, review] of Object.entries(bypassed)) {
  t.test(`passes ${what} straight to admit() and keeps nothing`, async (t) => {
    const ctx = context();
    const memo = new AdmissionMemo(16);
    const first = memo.admit(review, 'validate', ctx);
    memo.admit(review, 'validate', ctx);
    t.same(first, admit(review, 'validate', ctx));
    t.match(memo.stats(), { hits: 0, misses: 0, bypassed: 2, invalidations: 0, entries: 0 });
  });
}

t.test('holds at most its entry count, emptying itself when full', async (t) => {
  const ctx = context();
  const memo = new AdmissionMemo(3);
  for (let i = 0; i < 3; i++) memo.admit(replica(`u${i}`, { containers: [{ name: 'app', image: `nginx:${i}` }] }), 'validate', ctx);
  t.equal(memo.stats().entries, 3);
  memo.admit(replica('u3', { containers: [{ name: 'app', image: 'nginx:3' }] }), 'validate', ctx);
  t.equal(memo.stats().entries, 1);
  memo.admit(replica('u4', { containers: [{ name: 'app', image: 'nginx:0' }] }), 'validate', ctx);
  t.equal(memo.stats().hits, 0, 'the emptied entries are decided again');
});

t.test('with 0 entries every review is decided afresh', async (t) => {
  const ctx = context();
  const memo = new AdmissionMemo(0);
  memo.admit(replica('1'), 'validate', ctx);
  memo.admit(replica('2'), 'validate', ctx);
  t.match(memo.stats(), { hits: 0, misses: 0, bypassed: 2, invalidations: 0, entries: 0 });
});

const badCounts: Record<string, number> = { 'a negative count': -1, 'a fraction': 1.5, 'not a number': Number.NaN };
for (const [what, count] of Object.entries(badCounts)) {
  t.test(`refuses ${what} as its entry count`, async (t) => {
    t.throws(() => new AdmissionMemo(count), /whole number/);
  });
}

t.test('property: through a small memo, every answer equals admit() on the same review and state', async (t) => {
  const policies = [resolver(), resolver({ mode: 'warn' })];
  const snapshots = [
    snapshotFromObjects(CLUSTER),
    snapshotFromObjects([...CLUSTER, namespaceObject('other'), pullSecret('other', 'hub', 'docker.io'), serviceAccount('other', 'builder', 'hub')]),
  ];
  const container = fc.record({
    name: fc.constantFrom('app', 'web', 'a|b', ''),
    image: fc.constantFrom(`${HARBOR}/team/app:1.0`, 'nginx', 'nginx:latest', 'docker.io/library/redis:7', 'Bad Image', ''),
    imagePullPolicy: fc.constantFrom(undefined, 'IfNotPresent', 'Always'),
  }).map((c) => (c.imagePullPolicy === undefined ? { name: c.name, image: c.image } : c));
  const template = fc.record({
    kind: fc.constantFrom('Pod', 'Deployment'),
    namespace: fc.constantFrom('team', 'other', 'missing'),
    name: fc.constantFrom('', 'app-1', 'generated'),
    serviceAccountName: fc.constantFrom(undefined, 'builder', 'ghost'),
    imagePullSecrets: fc.option(fc.array(fc.constantFrom('harbor-pull', 'hub', 'nope', ''), { maxLength: 2 }), { nil: undefined }),
    containers: fc.array(container, { minLength: 1, maxLength: 2 }),
  });
  // Replicas: a pool of templates, each sent many times with its own uid, in either phase, while
  // the state (snapshot x policy) changes every 250 reviews.
  const templates = fc.sample(template, { numRuns: 24, seed: 20261130 });
  const memo = new AdmissionMemo(32);
  let uid = 0;
  fc.assert(
    fc.property(fc.nat(templates.length - 1), fc.constantFrom<Phase>('mutate', 'validate'), (index, phase) => {
      const r = templates[index]!;
      // 'generated': each replica gets its own name from a generateName, as at validation.
      const name = r.name === 'generated' ? `app-${uid % 7}` : r.name;
      const options: PodOptions = { namespace: r.namespace, name, containers: r.containers, serviceAccountName: r.serviceAccountName, imagePullSecrets: r.imagePullSecrets };
      const object = r.kind === 'Pod' ? pod(options) : deployment(options);
      if (r.name === 'generated') (object['metadata'] as Record<string, unknown>)['generateName'] = 'app-';
      const state = Math.floor(uid / 250) % 4;
      const req = request(object, { uid: `uid-${uid++}`, name: uid % 3 === 0 ? '' : name });
      const ctx = { snapshot: snapshots[state % 2]!, policy: policies[state >> 1]!, now: NOW };
      const expected = admit(req, phase, ctx);
      const actual = memo.admit(req, phase, ctx);
      t.same(actual, expected);
      return true;
    }),
    { numRuns: 3000, seed: 20261130 },
  );
  t.ok(memo.stats().hits > 1000, `the generator repeats reviews, so the memo is exercised (${memo.stats().hits} hits)`);
});

/** What admit() reads from a CREATE's object, through the functions admit() itself uses: the reference memoKey must agree with. */
function admitInputs(review: AdmissionRequest): string | undefined {
  const spec = extractPodSpec(review.object);
  if (spec === undefined) return undefined;
  const identity = identify(review.object);
  const { specPath, specPointer, isTemplate, ...rest } = spec;
  void specPath; void specPointer; void isTemplate; // follow from the kind
  return JSON.stringify([review.kind.kind, review.subResource, review.namespace, identity?.kind, identity?.namespace, rest]);
}

t.test('two reviews share a memo key exactly when admit() reads the same inputs from them (generated pods)', async (t) => {
  const text = fc.constantFrom('', 'a', 'b', '#0', '1:a|', '-|');
  const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
  const oddValue = fc.constantFrom<unknown>(undefined, null, 3, ['x'], {});
  const container = fc.record({ name: fc.oneof(text, oddValue), image: fc.oneof(text, oddValue), imagePullPolicy: fc.oneof(text, oddValue) }, { requiredKeys: [] });
  const volume = fc.oneof(fc.record({ name: maybe(text), image: fc.oneof(fc.record({ reference: maybe(text), pullPolicy: maybe(text) }, { requiredKeys: [] }), oddValue) }, { requiredKeys: [] }), oddValue);
  const spec = fc.record(
    {
      serviceAccountName: fc.oneof(text, oddValue),
      serviceAccount: fc.oneof(text, oddValue),
      imagePullSecrets: fc.oneof(fc.array(fc.oneof(fc.record({ name: fc.oneof(text, oddValue) }, { requiredKeys: [] }), oddValue), { maxLength: 2 }), oddValue),
      initContainers: fc.oneof(fc.array(fc.oneof(container, oddValue), { maxLength: 2 }), oddValue),
      containers: fc.oneof(fc.array(fc.oneof(container, oddValue), { maxLength: 2 }), oddValue),
      ephemeralContainers: fc.oneof(fc.array(container, { maxLength: 1 }), oddValue),
      volumes: fc.oneof(fc.array(volume, { maxLength: 2 }), oddValue),
    },
    { requiredKeys: [] },
  );
  const review = fc.record({
    kind: fc.constantFrom('Pod', 'Deployment', 'ConfigMap'),
    namespace: maybe(fc.constantFrom('team', 'other', '')),
    requestNamespace: fc.constantFrom('team', 'other', ''),
    requestKind: fc.constantFrom('Pod', 'Deployment'),
    spec,
  }).map(({ kind, namespace, requestNamespace, requestKind, spec }): AdmissionRequest => {
    const object: Record<string, unknown> = { apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1', kind, metadata: { name: 'x', ...(namespace === undefined ? {} : { namespace }) } };
    object['spec'] = kind === 'Deployment' ? { template: { spec } } : spec;
    return { ...replica('x'), object, namespace: requestNamespace, kind: { group: '', version: 'v1', kind: requestKind } };
  });
  fc.assert(
    fc.property(review, review, (a, b) => {
      const sameInputs = admitInputs(a) === admitInputs(b);
      const keyA = memoKey(a, 'validate');
      t.equal(keyA === undefined, admitInputs(a) === undefined, 'a key exactly when there is a pod spec');
      return (keyA === memoKey(b, 'validate')) === sameInputs;
    }),
    { numRuns: 3000 },
  );
});

t.test('a missing container list and an empty one share a key, as admit() sees no container in either', async (t) => {
  const withSpec = (spec: Record<string, unknown>): AdmissionRequest => ({ ...replica('x'), object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'team' }, spec } });
  t.equal(memoKey(withSpec({}), 'validate'), memoKey(withSpec({ ephemeralContainers: [] }), 'validate'));
  t.equal(memoKey(withSpec({ containers: [] }), 'validate'), memoKey(withSpec({ initContainers: [], volumes: [] }), 'validate'));
  t.not(memoKey(withSpec({ containers: [{ name: 'a' }] }), 'validate'), memoKey(withSpec({ initContainers: [{ name: 'a' }] }), 'validate'));
});

t.test('a hit under the same snapshot skips the namespace lookups; a new snapshot checks them again, and a stale entry is never answered', async (t) => {
  const policy = resolver();
  const base = snapshotFromObjects(CLUSTER);
  let lookups = 0;
  // Counts what the memo asks the snapshot about the namespace (its version and view).
  const counted = (snapshot: MemorySnapshot): MemorySnapshot =>
    new Proxy(snapshot, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property !== 'namespaceVersion' && property !== 'namespace') return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        return (...args: unknown[]) => {
          lookups++;
          return (value as (...args: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const first = counted(base);
  const memo = new AdmissionMemo(16);
  memo.admit(replica('1'), 'validate', { snapshot: first, policy, now: NOW });
  lookups = 0;
  for (const uid of ['2', '3', '4']) memo.admit(replica(uid), 'validate', { snapshot: first, policy, now: NOW });
  t.equal(lookups, 0, 'hits under the snapshot the entry was checked in');
  t.match(memo.stats(), { hits: 3, misses: 1 });

  // Another snapshot object with the same namespace state: checked once, then current again.
  const same = counted(MemorySnapshot.fromMaps(new Map(base.namespaceViews()), new Map(base.namespaceStates()), base.seesAllSecretTypes));
  memo.admit(replica('5'), 'validate', { snapshot: same, policy, now: NOW });
  t.ok(lookups > 0, 'a new snapshot is checked');
  lookups = 0;
  memo.admit(replica('6'), 'validate', { snapshot: same, policy, now: NOW });
  t.equal(lookups, 0, 'and then trusted until the next one');
  t.match(memo.stats(), { hits: 5, misses: 1, invalidations: 0 });

  // Back to the first snapshot after the namespace changed in between: the entry is not answered
  // from the epoch it was last checked in, since that epoch has passed.
  const without = snapshotFromObjects(CLUSTER.filter((object) => (object as { metadata: { name: string } }).metadata.name !== 'harbor-pull'));
  const changed = MemorySnapshot.fromMaps(new Map(base.namespaceViews()), without.namespaceStates(), base.seesAllSecretTypes);
  const denied = memo.admit(replica('7'), 'validate', { snapshot: changed, policy, now: NOW });
  t.equal(denied.response.allowed, false);
  t.same(denied, admit(replica('7'), 'validate', { snapshot: changed, policy, now: NOW }));
  t.match(memo.stats(), { hits: 5, misses: 2, invalidations: 1 });
  const again = memo.admit(replica('8'), 'validate', { snapshot: first, policy, now: NOW });
  t.equal(again.response.allowed, true);
  t.match(memo.stats(), { hits: 5, misses: 3 }, 'decided again under the first snapshot');
});
