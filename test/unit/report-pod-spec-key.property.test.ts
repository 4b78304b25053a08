import fc from 'fast-check';
import t from 'tap';
import { MAX_INTERNED_SPECS, podSpecKey, prepareWorkload, SpecInterner } from '../../src/report/prepare-workload.ts';
import { extractPodSpec, type PodSpecRef } from '../../src/workloads/extract.ts';
import { PodTemplateKinds } from '../../src/workloads/pod-templates.ts';

// The audit shares one PodSpecRef and one decision between workloads whose pod spec keys are equal
// (the namespace and the mirror annotation are keyed apart). That is exact only if two specs get
// one key exactly when the whole extracted pod spec (PodSpecRef), whose JSON is the reference
// here, is equal. The key leaves out the fields derived from others (paths, pointers,
// isTemplate); this fails if one of them ever stops being derived.

const value = fc.constantFrom(undefined, '', 'app', 'a"b', '#0', 'nginx', 'nginx:1', 'IfNotPresent', 'Always', 'regcred', 7, null);
const container = fc.record({ name: value, image: value, imagePullPolicy: value }, { requiredKeys: [] });
const imageVolume = fc.oneof(fc.record({ name: value, image: fc.record({ reference: value, pullPolicy: value }, { requiredKeys: [] }) }, { requiredKeys: [] }), fc.record({ name: value, emptyDir: fc.constant({}) }));
const podSpec = fc.record(
  {
    serviceAccountName: value,
    serviceAccount: value,
    imagePullSecrets: fc.oneof(fc.array(fc.oneof(fc.record({ name: value }, { requiredKeys: [] }), value), { maxLength: 3 }), value),
    initContainers: fc.oneof(fc.array(container, { maxLength: 2 }), value),
    containers: fc.oneof(fc.array(container, { maxLength: 3 }), value),
    ephemeralContainers: fc.oneof(fc.array(container, { maxLength: 1 }), value),
    volumes: fc.oneof(fc.array(imageVolume, { maxLength: 2 }), value),
  },
  { requiredKeys: [] },
);
const workload = fc.record({
  kind: fc.constantFrom('Pod', 'Deployment', 'CronJob', 'Rollout'),
  spec: podSpec,
});

type Generated = { kind: string; spec: Record<string, unknown> };
const rollouts = new PodTemplateKinds([{ apiVersion: 'argoproj.io/*', kind: 'Rollout', path: 'spec.template.spec' }]);

function place(generated: Generated): Record<string, unknown> {
  const template = { spec: generated.spec };
  if (generated.kind === 'Pod') return { apiVersion: 'v1', kind: 'Pod', spec: generated.spec };
  if (generated.kind === 'CronJob') return { apiVersion: 'batch/v1', kind: 'CronJob', spec: { jobTemplate: { spec: { template } } } };
  return { apiVersion: generated.kind === 'Rollout' ? 'argoproj.io/v1alpha1' : 'apps/v1', kind: generated.kind, spec: { template } };
}

function keys(generated: Generated): { key: string; reference: string } {
  const object = place(generated);
  const spec = extractPodSpec(object) ?? rollouts.extract(object);
  if (spec === undefined) throw new Error('every generated workload has a pod spec');
  return { key: podSpecKey(spec), reference: JSON.stringify(spec) };
}

t.test('two workloads share a pod spec key exactly when their extracted pod specs are equal', async (t) => {
  let samePairs = 0;
  let differentPairs = 0;
  fc.assert(
    // Half the pairs are one workload twice over (a replica), rebuilt from scratch.
    fc.property(workload, workload, fc.boolean(), (a, other, replica) => {
      const b = replica ? (structuredClone(a) as Generated) : other;
      const first = keys(a);
      const second = keys(b);
      if (first.reference === second.reference) samePairs += 1;
      else differentPairs += 1;
      return (first.key === second.key) === (first.reference === second.reference);
    }),
    { numRuns: 20_000 },
  );
  t.ok(samePairs > 5_000 && differentPairs > 5_000, `both kinds of pair were generated (${samePairs} equal, ${differentPairs} different)`);
});

t.test('pod specs that differ in one field that decide() reads get different keys', async (t) => {
  const base: Generated = { kind: 'Deployment', spec: { imagePullSecrets: [{ name: 'regcred' }], containers: [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'IfNotPresent' }] } };
  const variants: [string, Generated][] = [
    ['another kind with the same spec path', { ...base, kind: 'Rollout' }],
    ['another service account', { ...base, spec: { ...base.spec, serviceAccountName: 'builder' } }],
    ['no imagePullSecrets field instead of an empty one', { ...base, spec: { ...base.spec, imagePullSecrets: undefined } }],
    ['another pull policy', { ...base, spec: { ...base.spec, containers: [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'Always' }] } }],
    ['the container as an init container', { ...base, spec: { ...base.spec, containers: [], initContainers: [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'IfNotPresent' }] } }],
  ];
  for (const [name, variant] of variants) t.not(keys(variant).key, keys(base).key, name);
});

t.test('workloads prepared with one interner share the pod spec object of an equal spec, and only then', async (t) => {
  const specs = new SpecInterner();
  const pod = (name: string, image: string): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'team' }, spec: { containers: [{ name: 'app', image }] } });
  const first = prepareWorkload(pod('api-1', 'nginx:1'), 'a.yaml:1', undefined, specs);
  const replica = prepareWorkload(pod('api-2', 'nginx:1'), 'a.yaml:9', undefined, specs);
  const other = prepareWorkload(pod('api-3', 'nginx:2'), 'a.yaml:17', undefined, specs);
  const alone = prepareWorkload(pod('api-4', 'nginx:1'), 'b.yaml:1');
  t.equal(replica?.spec, first?.spec, 'a replica holds the first one\'s spec');
  t.equal(replica?.specKey, first?.specKey);
  t.not(other?.spec, first?.spec, 'another image is another spec');
  t.not(alone?.spec, first?.spec, 'without the interner, a spec of its own');
  t.strictSame(alone?.spec, first?.spec, 'equal content all the same');
});

t.test('an interner that has seen its limit of distinct specs starts over and still answers equal specs with equal content', async (t) => {
  const specs = new SpecInterner();
  const spec = (image: string) => extractPodSpec({ apiVersion: 'v1', kind: 'Pod', spec: { containers: [{ name: 'app', image }] } });
  const first = specs.intern(spec('img:0') as PodSpecRef);
  for (let index = 1; index <= MAX_INTERNED_SPECS; index += 1) specs.intern(spec(`img:${index}`) as PodSpecRef);
  const again = specs.intern(spec('img:0') as PodSpecRef);
  t.not(again.spec, first.spec, 'the table was emptied');
  t.equal(again.key, first.key);
  t.equal(specs.intern(spec('img:0') as PodSpecRef).spec, again.spec, 'and fills again');
});
