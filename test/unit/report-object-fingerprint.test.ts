import t from 'tap';
import { MAX_FINGERPRINT_NODES, objectFingerprint } from '../../src/report/object-fingerprint.ts';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { b: '2', a: '1' } }, spec: { containers: [{ name: 'app', image: 'nginx:1' }] } };

const equal: Record<string, readonly [unknown, unknown]> = {
  'the same object written with keys in another order at every level': [
    pod,
    { spec: { containers: [{ image: 'nginx:1', name: 'app' }] }, metadata: { labels: { a: '1', b: '2' }, name: 'web' }, kind: 'Pod', apiVersion: 'v1' },
  ],
  'objects with numeric-looking keys in another order': [{ '10': 'a', '9': 'b', x: 1 }, { x: 1, '9': 'b', '10': 'a' }],
  'objects whose __proto__ key is an ordinary key (as JSON.parse makes it)': [JSON.parse('{"__proto__": {"a": 1}, "b": 2}'), JSON.parse('{"b": 2, "__proto__": {"a": 1}}')],
};

const different: Record<string, readonly [unknown, unknown]> = {
  'a value that differs deep inside': [pod, { ...pod, spec: { containers: [{ name: 'app', image: 'nginx:2' }] } }],
  'array elements in another order (order matters in lists)': [{ a: [1, 2] }, { a: [2, 1] }],
  'a field only one copy has': [pod, { ...pod, status: {} }],
  'a string and the number it spells': [{ a: '1' }, { a: 1 }],
  'an empty namespace and no namespace': [{ metadata: { namespace: '' } }, { metadata: {} }],
  'a __proto__ key with another value': [JSON.parse('{"__proto__": {"a": 1}}'), JSON.parse('{"__proto__": {"a": 2}}')],
};

for (const [name, [a, b]] of Object.entries(equal)) {
  t.test(`equal fingerprints for ${name}`, async (t) => {
    t.type(objectFingerprint(a), 'string');
    t.equal(objectFingerprint(a), objectFingerprint(b));
  });
}

for (const [name, [a, b]] of Object.entries(different)) {
  t.test(`different fingerprints for ${name}`, async (t) => {
    t.not(objectFingerprint(a), objectFingerprint(b));
  });
}

t.test('leaves the object it fingerprints untouched', async (t) => {
  const object = { b: { d: 1, c: [{ f: 1, e: 2 }] }, a: 0 };
  const before = JSON.stringify(object);
  objectFingerprint(object);
  t.equal(JSON.stringify(object), before);
});

t.test('has no fingerprint for an alias cycle or an alias bomb, instead of hanging', async (t) => {
  const cycle: Record<string, unknown> = { kind: 'Pod' };
  cycle['self'] = cycle;
  t.equal(objectFingerprint(cycle), undefined);
  // 2^40 nodes when expanded, 80 objects in memory: what 40 lines of YAML aliases build.
  let bomb: unknown = ['lol'];
  for (let level = 0; level < 40; level += 1) bomb = [bomb, bomb];
  t.equal(objectFingerprint({ kind: 'Pod', bomb }), undefined);
  t.ok(MAX_FINGERPRINT_NODES < 2 ** 40);
});

t.test('keeps fingerprints equal across the emptying of its cache of member keys', async (t) => {
  const object = { kind: 'Pod', metadata: { name: 'a', labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };
  const before = objectFingerprint(object);
  // More distinct keys than the cache holds: it is emptied (maybe twice) on the way.
  objectFingerprint(Object.fromEntries(Array.from({ length: 10_000 }, (_, index) => [`key-${index}`, index])));
  t.equal(objectFingerprint(structuredClone(object)), before);
  t.not(objectFingerprint({ ...object, metadata: { name: 'b', labels: { app: 'x' } } }), before);
});
