import t from 'tap';
import { extractPodSpec } from '../../src/workloads/extract.ts';
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
