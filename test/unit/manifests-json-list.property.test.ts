import fc from 'fast-check';
import t from 'tap';
import { scanJsonList, scanJsonListExactly } from '../../src/manifests/json-list.ts';
import { parseManifestText } from '../../src/manifests/parse.ts';

// A JSON List is read item by item (src/manifests/json-list.ts) instead of with one JSON.parse of
// the whole text. These properties hold it to what JSON.parse of the whole text says: the same
// objects for valid JSON, and nothing but a skip for text JSON.parse rejects, however the text
// was damaged.

const RUNS = 400;

/** JSON values with the characters that matter to a scanner: quotes, backslashes, brackets. */
const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'a', 'é', '\u2028') });
const leaf = fc.oneof(tricky, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(tricky, tie('node'), { maxKeys: 4 })),
})).node;
const item = fc.record({ kind: fc.constantFrom('Pod', 'ConfigMap', 'PodList', ''), metadata: fc.record({ name: tricky }), extra: value }, { requiredKeys: ['kind'] });
const list = fc.record({
  apiVersion: fc.constant('v1'),
  kind: fc.constantFrom('List', 'PodList', 'Pod'),
  items: fc.array(fc.oneof(item, value), { maxLength: 5 }),
  metadata: fc.dictionary(tricky, value, { maxKeys: 2 }),
});
/** The list as text: compact or indented, with keys in a generated order. */
const listText = fc.tuple(list, fc.constantFrom(0, 1, 2), fc.boolean()).map(([object, indent, itemsFirst]) => {
  const { items, ...rest } = object;
  const ordered = itemsFirst ? { items, ...rest } : object;
  return JSON.stringify(ordered, null, indent);
});

/** What parseManifestText reports, as comparable data. */
function outcome(text: string): { objects: string[]; skipped: string[] } {
  const parsed = parseManifestText(text, 'list.json');
  return {
    objects: parsed.objects.map((entry) => JSON.stringify(entry.object)),
    skipped: parsed.skipped.map((entry) => entry.reason.replace(/ \(and \d+ more documents?\)$/, '')),
  };
}

/** The objects JSON.parse of the whole text yields (Lists expanded, as parseManifestText does). */
function expectedObjects(parsed: unknown): string[] {
  const out: string[] = [];
  const visit = (entry: unknown): void => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return;
    const record = entry as Record<string, unknown>;
    if (typeof record['kind'] !== 'string' || record['kind'] === '') return;
    if (record['kind'].endsWith('List') && Array.isArray(record['items'])) (record['items'] as unknown[]).forEach(visit);
    else out.push(JSON.stringify(record));
  };
  visit(parsed);
  return out;
}

t.test('a valid JSON List yields exactly the objects JSON.parse of the whole text holds', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(listText, (text) => {
        const got = outcome(text);
        const want = expectedObjects(JSON.parse(text));
        if (JSON.stringify(got.objects) !== JSON.stringify(want)) throw new Error(`objects differ: ${JSON.stringify(got.objects)} vs ${JSON.stringify(want)}`);
        if (got.skipped.some((reason) => reason.startsWith('invalid JSON'))) throw new Error('valid JSON reported invalid');
      }),
      { numRuns: RUNS },
    ),
  );
});

t.test('a JSON List damaged anywhere is read only when JSON.parse accepts the damaged text', async (t) => {
  const damage = fc.tuple(listText, fc.nat(), fc.constantFrom('delete', 'insert', 'replace'), fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'x', '0'));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(damage, ([text, position, how, character]) => {
        const at = position % (text.length + 1);
        const damaged = how === 'delete' ? text.slice(0, at) + text.slice(at + 1) : how === 'insert' ? text.slice(0, at) + character + text.slice(at) : text.slice(0, at) + character + text.slice(at + 1);
        // Text that does not start with a brace is read as YAML, whatever the file is called.
        fc.pre(/^\s*[[{]/.test(damaged));
        let parsed: unknown;
        let valid = true;
        try {
          parsed = JSON.parse(damaged);
        } catch {
          valid = false;
        }
        const got = outcome(damaged);
        if (!valid) {
          if (got.objects.length !== 0 || got.skipped.length !== 1 || !got.skipped[0]?.startsWith('invalid JSON')) throw new Error(`accepted invalid JSON: ${JSON.stringify(got)}`);
          return;
        }
        const want = expectedObjects(parsed);
        if (JSON.stringify(got.objects) !== JSON.stringify(want)) throw new Error(`objects differ: ${JSON.stringify(got.objects)} vs ${JSON.stringify(want)}`);
      }),
      { numRuns: RUNS * 5 },
    ),
  );
});

// Indented Lists have their item ends found from the layout (IndentedItems in json-list.ts);
// whatever the layout, every span the scan returns must be exactly one item.
const layoutItem = fc.tuple(item, fc.constantFrom(0, 2, 4), fc.boolean()).map(([entry, indent, crlf]) => {
  const text = JSON.stringify(entry, null, indent);
  return crlf ? text.replaceAll('\n', '\r\n') : text;
});
/** Items indented by `pad`, some laid out over lines, some on one line. */
const mixedList = fc.tuple(fc.array(layoutItem, { minLength: 1, maxLength: 6 }), fc.constantFrom('', '  ', '    ', '\t')).map(
  ([items, pad]) => `{"kind": "List", "items": [\n${items.map((text) => pad + text.replaceAll('\n', `\n${pad}`)).join(',\n')}\n]}`,
);
/** The same with the closing bracket of a nested value pulled back to the items' own indentation. */
const oddList = fc.tuple(fc.array(layoutItem, { minLength: 1, maxLength: 6 }), fc.constantFrom('', '  ')).map(
  ([items, pad]) => `{"kind": "List", "items": [\n${items.map((text) => pad + text.replace(/\n(\s*)([}\]])/, `\n${pad}$2`)).join(',\n')}\n]}`,
);

t.test('a List laid out by its items, with a nested bracket at the items\' indentation, still yields what JSON.parse holds', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(oddList, (text) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return outcome(text).objects.length === 0;
        }
        return JSON.stringify(outcome(text).objects) === JSON.stringify(expectedObjects(parsed));
      }),
      { numRuns: 2_000 },
    ),
  );
});

t.test('every item span of a List, however its items are laid out, is exactly one item', async (t) => {
  let scanned = 0;
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(mixedList, (text) => {
        let whole: { items: unknown[] };
        try {
          whole = JSON.parse(text) as { items: unknown[] };
        } catch {
          return true; // a pulled-back bracket can break the text: JSON.parse decides, as tested above
        }
        const spans = scanJsonList(text);
        if (spans === undefined || 'invalidAt' in spans) return false;
        scanned += 1;
        return spans.starts.length === whole.items.length && spans.starts.every((start, index) => JSON.stringify(JSON.parse(text.slice(start, spans.ends[index]))) === JSON.stringify(whole.items[index]));
      }),
      { numRuns: 2_000 },
    ),
  );
  t.ok(scanned > 1_000, `most generated texts were valid Lists (${scanned})`);
});

t.test('a kubectl-style indented dump has its items found from the layout, each at its own span', async (t) => {
  const items = Array.from({ length: 50 }, (_, index) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${index}`, labels: { a: '}' } }, spec: { containers: [{ name: 'c', image: 'x', args: ['\n    }', '{'] }] } }));
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 4);
  const spans = scanJsonList(text);
  t.ok(spans !== undefined && !('invalidAt' in spans));
  if (spans === undefined || 'invalidAt' in spans) return;
  t.same(spans.starts.map((start, index) => JSON.parse(text.slice(start, spans.ends[index]))), items);
});

// Compact Lists (JSON.stringify without indentation, `jq -c`, the API server's answers) have their
// item ends guessed from the next `},{"firstKey"` (json-list.ts). Nested lists of objects that
// start with the same key as the items (managedFields, ownerReferences) make that guess wrong; the
// reader must then still yield exactly what JSON.parse of the whole text holds.
const sameKeyEntry = fc.record({ apiVersion: tricky, rest: value }, { requiredKeys: ['apiVersion'] });
const compactItem = fc.record(
  {
    apiVersion: fc.constantFrom('v1', 'apps/v1'),
    kind: fc.constantFrom('Pod', 'ConfigMap', 'Deployment'),
    metadata: fc.record({ name: tricky, managedFields: fc.array(sameKeyEntry, { maxLength: 3 }), ownerReferences: fc.array(sameKeyEntry, { maxLength: 2 }) }),
    extra: value,
  },
  { requiredKeys: ['apiVersion', 'kind'] },
);
const compactList = fc.tuple(fc.array(fc.oneof({ weight: 4, arbitrary: compactItem }, { weight: 1, arbitrary: item }), { minLength: 1, maxLength: 6 }), fc.boolean()).map(([items, itemsLast]) =>
  JSON.stringify(itemsLast ? { apiVersion: 'v1', kind: 'List', metadata: {}, items } : { items, apiVersion: 'v1', kind: 'List' }),
);

t.test('a compact List whose items nest objects starting with the items\' first key yields what JSON.parse holds', async (t) => {
  let guessedWrong = 0;
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(compactList, (text) => {
        const spans = scanJsonList(text);
        if (spans !== undefined && !('invalidAt' in spans) && spans.starts.some((start, index) => !parses(text.slice(start, spans.ends[index])))) guessedWrong += 1;
        return JSON.stringify(outcome(text).objects) === JSON.stringify(expectedObjects(JSON.parse(text)));
      }),
      { numRuns: 2_000 },
    ),
  );
  t.ok(guessedWrong > 100, `the generated Lists made the guess wrong often enough to test the recovery (${guessedWrong})`);
});

t.test('item ends of a compact List are guessed, and an exact scan finds the same items', async (t) => {
  const items = Array.from({ length: 5 }, (_, index) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${index}`, ownerReferences: index === 2 ? [{ apiVersion: 'apps/v1', name: 'a' }, { apiVersion: 'apps/v1', name: 'b' }] : [] } }));
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  const guessed = scanJsonList(text);
  const exact = scanJsonListExactly(text);
  if (guessed === undefined || 'invalidAt' in guessed || exact === undefined || 'invalidAt' in exact) throw new Error('not scanned as a List');
  t.equal(guessed.guessed, true);
  t.equal(exact.guessed, false);
  t.same(exact.starts.map((start, index) => JSON.parse(text.slice(start, exact.ends[index]))), items);
  t.same(outcome(text).objects, items.map((entry) => JSON.stringify(entry)));
});

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// A guess that runs past its item's end to a `},{"firstKey"` in a later top-level member hides the
// members in between from the scan with guesses (a second `kind`, an invalid value): what the text
// is must then come from an exact scan or from JSON.parse of the whole text, never from that scan.
const hidden: Record<string, string> = {
  'a second kind (JSON keeps the last: a Pod) after a one-item items list': `{"kind":"PodList","items":[{"K":1}],"kind":"Pod","apiVersion":"v1","metadata":{"name":"hidden","namespace":"default"},"spec":{"containers":[{"name":"c","image":"evil.example.com/x:latest"}]},"z":[{"K":1},{"K":2}]}`,
  'the same, indented': JSON.stringify({ kind: 'PodList', items: [{ K: 1 }] }, null, 2).replace(/\n}$/, `,\n  "kind": "Pod",\n  "apiVersion": "v1",\n  "metadata": {"name": "hidden"},\n  "z": [\n  {\n "K": 1\n  },\n  {"K": 2}]\n}`),
  'the kind List after the items, then a member with objects like the items': `{"items":[{"K":1,"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}],"kind":"List","z":[{"K":1},{"K":2}]}`,
};

for (const [name, text] of Object.entries(hidden)) {
  t.test(`a text whose members a wrong guess would hide is read as JSON.parse reads it: ${name}`, async (t) => {
    t.same(outcome(text).objects, expectedObjects(JSON.parse(text)));
  });
}

t.test('invalid JSON in a member that a wrong guess would skip is not read as a List', async (t) => {
  const text = `{"kind":"List","items":[{"K":1,"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}],"bad":[1,,2,tru],"z":[{"K":1},{"K":2}]}`;
  t.throws(() => JSON.parse(text));
  const got = outcome(text);
  t.same(got.objects, []);
  t.match(got.skipped[0] ?? '', /^invalid JSON/);
});

/** Lists with a stray top-level member holding objects that start like the items, and duplicated or invalid members. */
const strayList = fc
  .tuple(fc.array(compactItem, { minLength: 1, maxLength: 3 }), fc.array(sameKeyEntry, { minLength: 2, maxLength: 3 }), fc.constantFrom('List', 'Pod', 'PodList'), fc.constantFrom('', ',"bad":[1,,2]', ',"kind":"Pod"', ',"kind":"ConfigMapList"'), fc.boolean())
  .map(([items, stray, kind, extra, indent]) => {
    const strayItems = stray.map((entry) => ({ ...entry, apiVersion: 'v1' }));
    const body = JSON.stringify({ kind, items }, null, indent ? 2 : undefined);
    return `${body.slice(0, -1)}${extra},"z":${JSON.stringify(strayItems)}}`;
  });

t.test('Lists followed by members that start like their items, with duplicated kinds or invalid values, read as JSON.parse reads them', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(strayList, (text) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          const got = outcome(text);
          return got.objects.length === 0 && got.skipped.length === 1 && (got.skipped[0] ?? '').startsWith('invalid JSON');
        }
        return JSON.stringify(outcome(text).objects) === JSON.stringify(expectedObjects(parsed));
      }),
      { numRuns: 2_000 },
    ),
  );
});
