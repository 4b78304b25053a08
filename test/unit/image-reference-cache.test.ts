import t from 'tap';
import {
  parseImageReference, parseImageReferenceUncached, REFERENCE_MEMO_ENTRIES, REFERENCE_MEMO_MAX_CHARS, referenceMemo,
} from '../../src/image/reference.ts';
import { StringMemo } from '../../src/image/string-memo.ts';

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

t.test('shares one frozen result between callers of the same short reference', async (t) => {
  referenceMemo.clear();
  const first = parseImageReference('registry.example.com/app:1.0');
  const second = parseImageReference('registry.example.com/app:1.0');
  t.equal(second, first);
  t.ok(Object.isFrozen(first));
  t.ok(first.ok && Object.isFrozen(first.reference));
});

t.test('shares the error result of an invalid reference, with the same message', async (t) => {
  referenceMemo.clear();
  const first = parseImageReference('Registry.example.com/APP');
  const second = parseImageReference('Registry.example.com/APP');
  t.equal(second, first);
  t.equal(first.ok, false);
  t.same(first, parseImageReferenceUncached('Registry.example.com/APP'));
});

t.test(`never keeps a reference longer than ${REFERENCE_MEMO_MAX_CHARS} characters`, async (t) => {
  referenceMemo.clear();
  const long = `registry.example.com/${'x'.repeat(REFERENCE_MEMO_MAX_CHARS)}:1`;
  parseImageReference(long);
  parseImageReference(long);
  t.equal(referenceMemo.size, 0);
});

t.test(`holds at most ${REFERENCE_MEMO_ENTRIES} references however many distinct ones arrive`, async (t) => {
  referenceMemo.clear();
  for (let i = 0; i < REFERENCE_MEMO_ENTRIES + 100; i++) parseImageReference(`registry.example.com/app-${i}:1`);
  t.ok(referenceMemo.size <= REFERENCE_MEMO_ENTRIES, `size ${referenceMemo.size}`);
  t.ok(referenceMemo.size > 0);
  const late = parseImageReference('registry.example.com/app-1:1');
  t.same(late, parseImageReferenceUncached('registry.example.com/app-1:1'));
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
