import t from 'tap';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { namespaceObject, pullSecret, secretOfType, serviceAccount } from '../helpers/objects.ts';

// The snapshot remembers the last namespace it looked up; every answer must still be the one of
// the namespace asked about, whatever was asked before.
const snapshot = snapshotFromObjects([
  namespaceObject('a'),
  namespaceObject('b'),
  pullSecret('a', 'regcred', 'registry.a.example.com'),
  pullSecret('b', 'regcred', 'registry.b.example.com'),
  pullSecret('b', 'other', 'registry.other.example.com'),
  secretOfType('a', 'config', 'Opaque', {}),
  serviceAccount('a', 'builder', 'regcred'),
  serviceAccount('b', 'builder', 'regcred', 'other'),
]);

function describe(namespace: string): unknown {
  return {
    secret: snapshot.secret(namespace, 'regcred')?.keys.map((key) => key.key),
    other: snapshot.secret(namespace, 'other')?.name,
    pullSecrets: snapshot.pullSecrets(namespace).map((view) => view.name),
    serviceAccount: snapshot.serviceAccountPullSecrets(namespace, 'builder'),
  };
}

const expected: Record<string, unknown> = {
  a: { secret: ['registry.a.example.com'], other: undefined, pullSecrets: ['regcred'], serviceAccount: ['regcred'] },
  b: { secret: ['registry.b.example.com'], other: 'other', pullSecrets: ['other', 'regcred'], serviceAccount: ['regcred', 'other'] },
  missing: { secret: undefined, other: undefined, pullSecrets: [], serviceAccount: undefined },
};

const orders: Record<string, readonly string[]> = {
  'alternating namespaces': ['a', 'b', 'a', 'b'],
  'the same namespace twice, then another': ['b', 'b', 'a'],
  'an unknown namespace between two known ones': ['a', 'missing', 'a', 'missing', 'b'],
  // A namespace name built at run time is a different string object with the same text.
  'a name built at run time after the literal one': ['a', ['a'].join(''), 'b', `${'b'}`],
};
for (const [name, sequence] of Object.entries(orders)) {
  t.test(`answers each lookup for the namespace asked about: ${name}`, async (t) => {
    for (const namespace of sequence) t.same(describe(namespace), expected[namespace], namespace);
  });
}
