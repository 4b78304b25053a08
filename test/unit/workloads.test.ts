import t from 'tap';
import fc from 'fast-check';
import { annotationsOf, extractPodSpec, identify, identifyBriefly } from '../../src/workloads/extract.ts';
import { imagePullSecretsPatch } from '../../src/admission/patch.ts';

const spec = { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'a' }], initContainers: [{ name: 'i', image: 'x' }], containers: [{ name: 'c', image: 'y', imagePullPolicy: 'Always' }], ephemeralContainers: [{ name: 'e', image: 'z' }] };
const kinds: Record<string, { object: Record<string, unknown>; specPath: string; pointer: string }> = {
  Pod: { object: { kind: 'Pod', spec }, specPath: 'spec', pointer: '/spec' },
  Deployment: { object: { kind: 'Deployment', spec: { template: { spec } } }, specPath: 'spec.template.spec', pointer: '/spec/template/spec' },
  ReplicaSet: { object: { kind: 'ReplicaSet', spec: { template: { spec } } }, specPath: 'spec.template.spec', pointer: '/spec/template/spec' },
  StatefulSet: { object: { kind: 'StatefulSet', spec: { template: { spec } } }, specPath: 'spec.template.spec', pointer: '/spec/template/spec' },
  DaemonSet: { object: { kind: 'DaemonSet', spec: { template: { spec } } }, specPath: 'spec.template.spec', pointer: '/spec/template/spec' },
  Job: { object: { kind: 'Job', spec: { template: { spec } } }, specPath: 'spec.template.spec', pointer: '/spec/template/spec' },
  CronJob: { object: { kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec } } } } }, specPath: 'spec.jobTemplate.spec.template.spec', pointer: '/spec/jobTemplate/spec/template/spec' },
  ReplicationController: { object: { kind: 'ReplicationController', spec: { template: { spec } } }, specPath: 'spec.template.spec', pointer: '/spec/template/spec' },
  PodTemplate: { object: { kind: 'PodTemplate', template: { spec } }, specPath: 'template.spec', pointer: '/template/spec' },
};
for (const [kind, c] of Object.entries(kinds)) {
  t.test(`finds the pod spec of a ${kind} with init, regular and ephemeral containers and their paths`, async (t) => {
    const found = extractPodSpec(c.object);
    t.ok(found);
    if (found === undefined) return;
    t.equal(found.specPath, c.specPath);
    t.equal(found.specPointer, c.pointer);
    t.equal(found.isTemplate, kind !== 'Pod');
    t.equal(found.serviceAccountName, 'builder');
    t.same(found.imagePullSecrets, ['a']);
    t.same(found.containers.map((container) => container.path), [`${c.specPath}.initContainers[0]`, `${c.specPath}.containers[0]`, `${c.specPath}.ephemeralContainers[0]`]);
    t.equal(found.containers[1]?.imagePullPolicy, 'Always');
  });
}

const shapes: Record<string, unknown> = {
  'a ConfigMap': { kind: 'ConfigMap', data: {} },
  'a Deployment without a template': { kind: 'Deployment', spec: {} },
  'a string': 'Pod',
  'null': null,
  'a Pod whose spec is an array': { kind: 'Pod', spec: [] },
};
for (const [name, object] of Object.entries(shapes)) {
  t.test(`returns no pod spec for ${name} without throwing`, async (t) => {
    t.equal(extractPodSpec(object), undefined);
  });
}

t.test('tolerates malformed containers and secrets: wrong types become placeholders, never exceptions', async (t) => {
  const found = extractPodSpec({ kind: 'Pod', spec: { containers: [null, { name: 3, image: 4 }], imagePullSecrets: [{}, 'x'] } });
  t.same(found?.containers.map((container) => [container.name, container.image]), [['#0', undefined], ['#1', undefined]]);
  t.same(found?.imagePullSecrets, ['', '']);
});

t.test('defaults the ServiceAccount to default, honouring the deprecated serviceAccount field', async (t) => {
  t.equal(extractPodSpec({ kind: 'Pod', spec: { containers: [] } })?.serviceAccountName, 'default');
  t.equal(extractPodSpec({ kind: 'Pod', spec: { serviceAccount: 'old', containers: [] } })?.serviceAccountName, 'old');
});

const patches: Record<string, { spec: Record<string, unknown>; names: string[]; patch: unknown[] }> = {
  'adds the whole array when the field is absent': { spec: { containers: [] }, names: ['a', 'b'], patch: [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'a' }, { name: 'b' }] }] },
  'appends one entry per name when the field exists': {
    spec: { imagePullSecrets: [{ name: 'x' }], containers: [] },
    names: ['a'],
    patch: [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'a' } }],
  },
  'appends to an existing empty array': { spec: { imagePullSecrets: [], containers: [] }, names: ['a'], patch: [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'a' } }] },
  'skips names already listed, so a second pass is empty': { spec: { imagePullSecrets: [{ name: 'a' }], containers: [] }, names: ['a'], patch: [] },
  'never adds a name twice': { spec: { containers: [] }, names: ['a', 'a'], patch: [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'a' }] }] },
};
for (const [name, c] of Object.entries(patches)) {
  t.test(`JSON Patch ${name}`, async (t) => {
    const found = extractPodSpec({ kind: 'Pod', spec: c.spec });
    if (found === undefined) throw new Error('no spec');
    t.same(imagePullSecretsPatch(found, c.names), c.patch);
  });
}

t.test('identifyBriefly and annotationsOf read what identify reads, for any object', async (t) => {
  const metadata = fc.oneof(
    fc.anything(),
    fc.record({
      namespace: fc.oneof(fc.string(), fc.anything()),
      name: fc.oneof(fc.string(), fc.anything()),
      generateName: fc.oneof(fc.string(), fc.anything()),
      annotations: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.anything())), fc.anything()),
    }, { requiredKeys: [] }),
  );
  const object = fc.oneof(fc.anything(), fc.record({ apiVersion: fc.oneof(fc.string(), fc.anything()), kind: fc.oneof(fc.constantFrom('Pod', 'Deployment'), fc.anything()), metadata }, { requiredKeys: [] }));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(object, (value) => {
        const full = identify(value);
        const brief = identifyBriefly(value);
        if (full === undefined) {
          if (brief !== undefined) throw new Error('brief identity where identify gives none');
          return;
        }
        const { apiVersion, annotations, ...rest } = full;
        t.same(brief, rest);
        t.same(annotationsOf(value), annotations);
        t.equal(typeof apiVersion, 'string');
      }),
      { numRuns: 1000 },
    ),
  );
});

t.test('container field paths are the same strings however many containers and specs are described', async (t) => {
  for (const kind of ['Pod', 'Deployment', 'CronJob'] as const) {
    const containers = Array.from({ length: 40 }, (_, index) => ({ name: `c${index}`, image: 'nginx' }));
    const specOf = (object: Record<string, unknown>) => extractPodSpec(object) as NonNullable<ReturnType<typeof extractPodSpec>>;
    const make = (): Record<string, unknown> => {
      const spec = { containers, initContainers: containers.slice(0, 2) };
      if (kind === 'Pod') return { kind, spec };
      if (kind === 'Deployment') return { kind, spec: { template: { spec } } };
      return { kind, spec: { jobTemplate: { spec: { template: { spec } } } } };
    };
    const first = specOf(make());
    const second = specOf(make());
    t.equal(first.containers.length, 42);
    first.containers.forEach((container, at) => {
      const expected = `${first.specPath}.${container.group}[${container.index}]`;
      t.equal(container.path, expected, `${kind} ${expected}`);
      t.equal(container.pullPolicyPath, `${expected}.imagePullPolicy`);
      t.equal(second.containers[at]?.path, expected);
    });
  }
});
