import t from 'tap';
import {
  parseImageReference, parseImageReferenceUncached, REFERENCE_MEMO_ENTRIES, REFERENCE_MEMO_MAX_CHARS, referenceMemo,
} from '../../src/image/reference.ts';
import { Doorkeeper, StringMemo } from '../../src/image/string-memo.ts';

const SHA256 = `sha256:${'0123456789abcdef'.repeat(4)}`;

// Valid and invalid references: the memo must answer exactly what the parser answers, the
// second time as the first.
const inputs: Record<string, string> = {
  'a bare Docker Hub name': 'nginx',
  'a registry, a path and a tag': 'harbor.corp.example.com/team-1/api:2.3.1',
  'a digest next to a tag': `quay.io/corp/app:1.0@${SHA256}`,
  'a registry with a port': 'localhost:5000/app',
  'an upper-case repository (an error)': 'registry.example.com/Team/app',
  'a malformed reference (an error)': 'registry.example.com/app:',
  'an unsupported digest algorithm (an error)': `app@md5:${'0'.repeat(32)}`,
  'an empty string (an error)': '',
  [`a reference longer than ${REFERENCE_MEMO_MAX_CHARS} characters`]: `registry.example.com/${'a/'.repeat(REFERENCE_MEMO_MAX_CHARS)}app:1`,
};
for (const [what, input] of Object.entries(inputs)) {
  t.test(`returns what the parser returns for ${what}, on a miss and on a hit`, async (t) => {
    referenceMemo.clear();
    const expected = parseImageReferenceUncached(input);
    t.same(parseImageReference(input), expected);
    t.same(parseImageReference(input), expected);
  });
}

t.test('keeps a short reference from its second sighting and shares that frozen result with later callers', async (t) => {
  referenceMemo.clear();
  const first = parseImageReference('registry.example.com/app:1.0');
  t.equal(referenceMemo.size, 0, 'a reference seen once is not kept');
  const second = parseImageReference('registry.example.com/app:1.0');
  t.equal(referenceMemo.size, 1, 'kept when it comes round again');
  const third = parseImageReference('registry.example.com/app:1.0');
  t.equal(third, second);
  t.same(first, second);
  t.ok(Object.isFrozen(first) && Object.isFrozen(second));
  t.ok(second.ok && Object.isFrozen(second.reference));
});

t.test('shares the error result of an invalid reference from its second sighting, with the same message', async (t) => {
  referenceMemo.clear();
  parseImageReference('Registry.example.com/APP');
  const second = parseImageReference('Registry.example.com/APP');
  const third = parseImageReference('Registry.example.com/APP');
  t.equal(third, second);
  t.equal(second.ok, false);
  t.same(second, parseImageReferenceUncached('Registry.example.com/APP'));
});

t.test(`never keeps a reference longer than ${REFERENCE_MEMO_MAX_CHARS} characters`, async (t) => {
  referenceMemo.clear();
  const long = `registry.example.com/${'x'.repeat(REFERENCE_MEMO_MAX_CHARS)}:1`;
  parseImageReference(long);
  parseImageReference(long);
  parseImageReference(long);
  t.equal(referenceMemo.size, 0);
});

t.test(`holds at most ${REFERENCE_MEMO_ENTRIES} references however many distinct ones arrive twice`, async (t) => {
  referenceMemo.clear();
  for (let i = 0; i < REFERENCE_MEMO_ENTRIES + 100; i++) {
    parseImageReference(`registry.example.com/app-${i}:1`);
    parseImageReference(`registry.example.com/app-${i}:1`);
  }
  t.ok(referenceMemo.size <= REFERENCE_MEMO_ENTRIES, `size ${referenceMemo.size}`);
  t.ok(referenceMemo.size > 0);
  const late = parseImageReference('registry.example.com/app-1:1');
  t.same(late, parseImageReferenceUncached('registry.example.com/app-1:1'));
});

t.test('a flood of references each seen once keeps none of them', async (t) => {
  referenceMemo.clear();
  for (let i = 0; i < REFERENCE_MEMO_ENTRIES; i++) {
    const input = `registry.example.com/once-${i}:1`;
    t.same(parseImageReference(input), parseImageReferenceUncached(input), `once-${i}`);
  }
  t.ok(referenceMemo.size < REFERENCE_MEMO_ENTRIES / 100, `size ${referenceMemo.size} (only hash collisions of the doorkeeper admit any)`);
});

const memoCases: Record<string, { readonly keys: readonly string[]; readonly maxEntries: number; readonly maxKeyChars: number; readonly computed: number; readonly size: number }> = {
  'computes a repeated key once while it is kept': { keys: ['a', 'b', 'a', 'b', 'a'], maxEntries: 10, maxKeyChars: 10, computed: 2, size: 2 },
  'empties itself when full and computes again afterwards': { keys: ['a', 'b', 'c', 'a'], maxEntries: 2, maxKeyChars: 10, computed: 4, size: 2 },
  'computes a key over the length bound every time and keeps none': { keys: ['long-key', 'long-key', 'long-key'], maxEntries: 10, maxKeyChars: 4, computed: 3, size: 0 },
  'keeps a key exactly at the length bound': { keys: ['four', 'four'], maxEntries: 10, maxKeyChars: 4, computed: 1, size: 1 },
};
for (const [name, c] of Object.entries(memoCases)) {
  t.test(`StringMemo ${name}`, async (t) => {
    let computed = 0;
    const memo = new StringMemo((key: string) => {
      computed++;
      return { key };
    }, { maxEntries: c.maxEntries, maxKeyChars: c.maxKeyChars });
    for (const key of c.keys) t.same(memo.get(key), { key });
    t.equal(computed, c.computed);
    t.equal(memo.size, c.size);
  });
}

const secondSightingCases: Record<string, { readonly keys: readonly string[]; readonly maxEntries: number; readonly computed: number; readonly size: number }> = {
  'keeps nothing seen once': { keys: ['a', 'b', 'c'], maxEntries: 10, computed: 3, size: 0 },
  'keeps a key on its second sighting and answers the third from the memo': { keys: ['a', 'a', 'a'], maxEntries: 10, computed: 2, size: 1 },
  'keeps keys that come round again after others, then answers them': { keys: ['a', 'b', 'a', 'b', 'a', 'b'], maxEntries: 10, computed: 4, size: 2 },
  'empties itself when full, and a kept key is then kept again on its next sighting': { keys: ['a', 'a', 'b', 'b', 'c', 'c', 'a', 'a'], maxEntries: 2, computed: 7, size: 2 },
};
for (const [name, c] of Object.entries(secondSightingCases)) {
  t.test(`StringMemo with secondSighting ${name}`, async (t) => {
    let computed = 0;
    const memo = new StringMemo((key: string) => {
      computed++;
      return { key };
    }, { maxEntries: c.maxEntries, maxKeyChars: 10, secondSighting: true });
    for (const key of c.keys) t.same(memo.get(key), { key });
    t.equal(computed, c.computed);
    t.equal(memo.size, c.size);
  });
}

t.test('StringMemo with secondSighting: remember() keeps a value only on the second sighting, peek() never records one', async (t) => {
  const memo = new StringMemo((key: string) => key.length, { maxEntries: 10, maxKeyChars: 10, secondSighting: true });
  t.equal(memo.peek('abc'), undefined);
  memo.remember('abc', 3);
  t.equal(memo.peek('abc'), undefined, 'first sighting: not kept');
  memo.remember('abc', 3);
  t.equal(memo.peek('abc'), 3, 'second sighting: kept');
});

t.test('StringMemo get() with a compute of its own uses it on a miss only', async (t) => {
  const memo = new StringMemo((key: string) => `default ${key}`, { maxEntries: 10, maxKeyChars: 10 });
  t.equal(memo.get('a', (key) => `given ${key}`), 'given a');
  t.equal(memo.get('a', () => 'never asked'), 'given a');
  t.equal(memo.get('b'), 'default b');
});

t.test('Doorkeeper tells a key seen before from new ones, and forgets everything on clear()', async (t) => {
  const doorkeeper = new Doorkeeper(64);
  t.equal(doorkeeper.seenBefore('registry.example.com/app'), false);
  t.equal(doorkeeper.seenBefore('registry.example.com/app'), true);
  t.equal(doorkeeper.seenBefore('registry.example.com/other'), false);
  t.equal(doorkeeper.seenBefore(''), false, 'the empty string is a key like any other');
  t.equal(doorkeeper.seenBefore(''), true);
  doorkeeper.clear();
  t.equal(doorkeeper.seenBefore('registry.example.com/app'), false);
});

t.test('Doorkeeper holds a fixed table: 100,000 distinct keys later, a recent key is still told apart', async (t) => {
  const doorkeeper = new Doorkeeper(4096);
  let falsePositives = 0;
  for (let i = 0; i < 100_000; i++) if (doorkeeper.seenBefore(`registry.example.com/app-${i}:1`)) falsePositives++;
  t.ok(falsePositives < 100, `${falsePositives} distinct keys taken for seen (hash collisions only)`);
  t.equal(doorkeeper.seenBefore('registry.example.com/app-99999:1'), true);
});

t.test('Doorkeepers asked about the same names in turn each keep their own record', async (t) => {
  const first = new Doorkeeper(64);
  const second = new Doorkeeper(64);
  t.equal(first.seenBefore('registry.example.com/app'), false);
  t.equal(second.seenBefore('registry.example.com/app'), false, 'the other doorkeeper has not seen it');
  t.equal(first.seenBefore('registry.example.com/app'), true);
  t.equal(second.seenBefore('registry.example.com/other'), false);
  t.equal(second.seenBefore('registry.example.com/app'), true);
  t.equal(first.seenBefore('registry.example.com/other'), false);
  t.equal(first.seenBefore(`registry.example.com/${'app'}`), true, 'an equal string built elsewhere is the same name');
});

t.test('every name of a working set cycled in turn is kept by its second round (names never push each other out of the doorkeeper)', async (t) => {
  let computed = 0;
  const memo = new StringMemo((key: string) => {
    computed++;
    return key.length;
  }, { maxEntries: 4096, maxKeyChars: 256, secondSighting: true });
  const names = Array.from({ length: 3000 }, (_, index) => `harbor.corp.example.com/team-${index % 1000}/api:2.${index % 30}.${index}`);
  let wrong = 0;
  for (let round = 0; round < 3; round++) for (const name of names) if (memo.get(name) !== name.length) wrong++;
  t.equal(wrong, 0, 'every answer is what compute gives');
  t.equal(memo.size, names.length, 'all kept after the second round');
  t.equal(computed, 2 * names.length, 'computed twice each, then answered from the memo');
});
