import fc from 'fast-check';
import t from 'tap';
import { hashString, PersistentMap } from '../../src/cluster/persistent-map.ts';

/** Two different keys with the same 32-bit hash, found by a birthday search (exercises collision leaves). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let index = 0; ; index++) {
    const key = `ns-${index}`;
    const hash = hashString(key);
    const other = seen.get(hash);
    if (other !== undefined) return [other, key];
    seen.set(hash, key);
  }
}

t.test('PersistentMap', async (t) => {
  const [a, b] = collidingPair();
  const cases: Record<string, () => void> = {
    'returns the same instance when a key is set to the value it already has': () => {
      const map = PersistentMap.empty<number>().set('x', 1);
      t.equal(map.set('x', 1), map);
    },
    'returns the same instance when deleting an absent key': () => {
      const map = PersistentMap.empty<number>().set('x', 1);
      t.equal(map.delete('y'), map);
    },
    'leaves the original map unchanged after set and delete': () => {
      const original = PersistentMap.from([['x', 1], ['y', 2]]);
      const changed = original.set('x', 10).delete('y').set('z', 3);
      t.same([...original].sort(), [['x', 1], ['y', 2]]);
      t.same([...changed].sort(), [['x', 10], ['z', 3]]);
      t.equal(original.size, 2);
    },
    'keeps both keys of a full hash collision and deletes each on its own': () => {
      t.not(a, b);
      t.equal(hashString(a), hashString(b));
      const both = PersistentMap.empty<string>().set(a, 'first').set(b, 'second');
      t.equal(both.get(a), 'first');
      t.equal(both.get(b), 'second');
      t.equal(both.size, 2);
      const onlyB = both.delete(a);
      t.equal(onlyB.get(a), undefined);
      t.equal(onlyB.get(b), 'second');
      t.equal(onlyB.size, 1);
      t.equal(onlyB.has(a), false);
    },
    'serves as the ReadonlyMap of a Map constructor and of forEach': () => {
      const map = PersistentMap.from([['k1', 1], ['k2', 2]]);
      const copy = new Map(map);
      t.same([...copy.entries()].sort(), [['k1', 1], ['k2', 2]]);
      const seen: string[] = [];
      map.forEach((value, key, self) => {
        seen.push(`${key}=${value}`);
        t.equal(self, map);
      });
      t.same(seen.sort(), ['k1=1', 'k2=2']);
    },
  };
  for (const [name, run] of Object.entries(cases)) t.test(name, async () => run());

  t.test('agrees with Map on any sequence of sets and deletes', async (t) => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.string({ maxLength: 3 }), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.string({ maxLength: 3 }) }),
    );
    const details = fc.check(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        let persistent = PersistentMap.empty<number>();
        const reference = new Map<string, number>();
        for (const op of operations) {
          if (op.kind === 'set') {
            persistent = persistent.set(op.key, op.value);
            reference.set(op.key, op.value);
          } else {
            persistent = persistent.delete(op.key);
            reference.delete(op.key);
          }
        }
        if (persistent.size !== reference.size) return false;
        for (const [key, value] of reference) if (persistent.get(key) !== value || !persistent.has(key)) return false;
        const keys = [...persistent.keys()].sort();
        return JSON.stringify(keys) === JSON.stringify([...reference.keys()].sort());
      }),
    );
    t.notOk(details.failed, fc.defaultReportMessage(details) ?? 'no counterexample');
  });

  t.test('holds 20,000 keys and drops to empty when all are deleted', async (t) => {
    let map = PersistentMap.empty<number>();
    for (let index = 0; index < 20_000; index++) map = map.set(`key-${index}`, index);
    t.equal(map.size, 20_000);
    t.equal(map.get('key-12345'), 12345);
    for (let index = 0; index < 20_000; index++) map = map.delete(`key-${index}`);
    t.equal(map.size, 0);
    t.same([...map], []);
  });
});
