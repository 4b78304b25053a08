import fc from 'fast-check';
import t from 'tap';
import { decisionKey } from '../../src/report/audit.ts';
import { extractPodSpec } from '../../src/workloads/extract.ts';
import { PodTemplateKinds } from '../../src/workloads/pod-templates.ts';

// The audit's decision memo is exact only if two workloads get one key exactly when everything
// decide() reads of them is equal: the namespace, the mirror annotation and the whole extracted
// pod spec (PodSpecRef), whose JSON is the reference here. The key leaves out the fields derived
// from others (paths, pointers, isTemplate); this fails if one of them ever stops being derived.

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
  namespace: fc.constantFrom('team', 'other'),
  mirror: fc.boolean(),
  spec: podSpec,
});

type Generated = { kind: string; namespace: string; mirror: boolean; spec: Record<string, unknown> };
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
  const annotations: Record<string, string> = generated.mirror ? { 'kubernetes.io/config.mirror': 'x' } : {};
  return { key: decisionKey(generated.namespace, spec, annotations), reference: JSON.stringify([generated.namespace, generated.mirror, spec]) };
}

t.test('two workloads share a decision key exactly when their namespace, mirror annotation and extracted pod spec are equal', async (t) => {
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

t.test('workloads that differ in one field that decide() reads get different keys', async (t) => {
  const base: Generated = { kind: 'Deployment', namespace: 'team', mirror: false, spec: { imagePullSecrets: [{ name: 'regcred' }], containers: [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'IfNotPresent' }] } };
  const variants: [string, Generated][] = [
    ['another namespace', { ...base, namespace: 'other' }],
    ['a mirror pod', { ...base, mirror: true }],
    ['another kind with the same spec path', { ...base, kind: 'Rollout' }],
    ['another service account', { ...base, spec: { ...base.spec, serviceAccountName: 'builder' } }],
    ['no imagePullSecrets field instead of an empty one', { ...base, spec: { ...base.spec, imagePullSecrets: undefined } }],
    ['another pull policy', { ...base, spec: { ...base.spec, containers: [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'Always' }] } }],
    ['the container as an init container', { ...base, spec: { ...base.spec, containers: [], initContainers: [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'IfNotPresent' }] } }],
  ];
  for (const [name, variant] of variants) t.not(keys(variant).key, keys(base).key, name);
});
