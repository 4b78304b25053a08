import fc from 'fast-check';
import { CORE_SCHEMA, dump, FAILSAFE_SCHEMA, loadAll, mergeTag } from 'js-yaml';
import t from 'tap';
import { readBlockYaml, RememberedScalars } from '../../src/manifests/yaml-block.ts';

// The line reader for plain block YAML (src/manifests/yaml-block.ts) must read every document it
// accepts exactly as js-yaml does, and hand everything else to js-yaml (undefined).

const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

function jsYaml(text: string): unknown[] | Error {
  try {
    return loadAll(text, { schema: SCHEMA, json: true }).filter((document) => document !== null && document !== undefined);
  } catch (error) {
    return error as Error;
  }
}

/** Same documents, or the reader declined; never a different reading, never a reading of text js-yaml refuses. */
function agrees(text: string): string | undefined {
  const fast = readBlockYaml(text, SCHEMA);
  if (fast === undefined) return undefined;
  const reference = jsYaml(text);
  if (reference instanceof Error) return `read text js-yaml refuses (${reference.message.split('\n')[0]})`;
  const a = JSON.stringify(fast);
  const b = JSON.stringify(reference);
  return a === b ? undefined : `read ${a}, js-yaml ${b}`;
}

const read: Record<string, { readonly text: string; readonly value: unknown }> = {
  'a Deployment as kubectl writes it (sequences at their key column, quoted strings, comments)': {
    text: [
      '---',
      '# a comment',
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: web   # trailing comment',
      '  annotations:',
      "    note: 'it''s #1'",
      '    other: "tab\\there \\"quoted\\""',
      'spec:',
      '  replicas: 3',
      '  template:',
      '    spec:',
      '      containers:',
      '      - name: app',
      '        image: nginx:1.27',
      '        args: []',
      '        resources: {}',
      '        env:',
      '          - name: A',
      '            value: "1"',
      '      - name: sidecar',
      '        image: ghcr.io/x/y@sha256:abc',
      '      imagePullSecrets:',
      '      -',
      '        name: regcred',
      '      nodeSelector:',
      '      enabled: true',
      '      weight: -1.5',
      '      empty: ~',
      '',
    ].join('\n'),
    value: {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'web', annotations: { note: "it's #1", other: 'tab\there "quoted"' } },
      spec: {
        replicas: 3,
        template: {
          spec: {
            containers: [
              { name: 'app', image: 'nginx:1.27', args: [], resources: {}, env: [{ name: 'A', value: '1' }] },
              { name: 'sidecar', image: 'ghcr.io/x/y@sha256:abc' },
            ],
            imagePullSecrets: [{ name: 'regcred' }],
            nodeSelector: null,
            enabled: true,
            weight: -1.5,
            empty: null,
          },
        },
      },
    },
  },
  'a plain value holding colons, hashes without a space before them, commas and brackets': {
    text: 'kind: ConfigMap\ndata:\n  url: http://x:80/a#frag\n  list: a,b]c{d}\n  "quoted key": x\n',
    value: { kind: 'ConfigMap', data: { url: 'http://x:80/a#frag', list: 'a,b]c{d}', 'quoted key': 'x' } },
  },
};

for (const [name, c] of Object.entries(read)) {
  t.test(`reads ${name}`, async (t) => {
    t.same(readBlockYaml(c.text, SCHEMA), [c.value]);
    t.equal(agrees(c.text), undefined);
  });
}

const declined: Record<string, string> = {
  'anchors and aliases': 'a: &x 1\nb: *x\n',
  'merge keys': 'a: {b: 1}\nc:\n  <<: {d: 2}\n',
  'a flow mapping': 'a: {b: 1}\n',
  'a block scalar': 'a: |\n  line\n',
  'a plain scalar over two lines': 'a: one\n  two\n',
  'a double-quoted scalar over two lines': 'a: "one\n  two"\n',
  'a tag': 'a: !!str 1\n',
  'a duplicate key': 'a: 1\na: 2\n',
  'a key that is not a string': '1: a\n',
  'a tab': 'a:\tb\n',
  'a CRLF line end': 'a: b\r\n',
  'a directive': '%YAML 1.2\n---\na: b\n',
  'a value after the document marker': '--- a: b\n',
  'a top-level sequence': '- a\n- b\n',
  'a top-level scalar': 'just text\n',
  'an escape other than the common ones': 'a: "\\u00e9"\n',
  'a mapping value on the key line': 'a: b: c\n',
  'a line indented deeper than any block': 'a: b\n   c: d\n',
  'a nested sequence on one line': 'a:\n- - x\n',
  'a non-printable character': 'a: b\u0007\n',
};

for (const [name, text] of Object.entries(declined)) {
  t.test(`leaves ${name} to js-yaml`, async (t) => {
    t.equal(readBlockYaml(text, SCHEMA), undefined);
  });
}

t.test('reads a document of thousands of lines (more than its line buffers start with)', async (t) => {
  const data = Object.fromEntries(Array.from({ length: 3000 }, (_, index) => [`key-${index}`, index % 2 === 0 ? `value ${index}` : index]));
  const text = dump({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data });
  t.same(readBlockYaml(text, SCHEMA), [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data }]);
  t.same(readBlockYaml('kind: Pod\n', SCHEMA), [{ kind: 'Pod' }], 'and a small one after it');
});

// Keys and plain values read before are remembered by their text (yaml-block.ts), across the
// chunks of one text: what only looks like one read before (longer, shorter, another character in
// the middle) is read afresh.
const lookalikes: readonly (readonly [string, unknown])[] = [
  ['a: true\nb: 1\nc: l\nname: web\n', { a: true, b: 1, c: 'l', name: 'web' }],
  ['a: trux\nb: 10\nc: ll\nname: wab\n', { a: 'trux', b: 10, c: 'll', name: 'wab' }],
  ['a: "true"\nb: 1.0\nc: lol\nnamx: web\n', { a: 'true', b: 1, c: 'lol', namx: 'web' }],
  ['a: true\nb: 1\nc: l\nname: web\n', { a: true, b: 1, c: 'l', name: 'web' }],
  ['a: ~\nb: 0x1\nc: null\nname: null\n', { a: null, b: 1, c: null, name: null }],
];

t.test('keys and values read before in the same text are read again the same, and text that only looks like them is read afresh', async (t) => {
  const remembered = new RememberedScalars(SCHEMA);
  for (const [text, value] of lookalikes) {
    t.same(readBlockYaml(text, SCHEMA, remembered), [value], text);
    t.equal(agrees(text), undefined);
  }
  t.ok(remembered.keys.some((key) => key === 'name'), 'keys were remembered');
});

t.test('what one text remembers is its own: another schema cannot use it, and a reader without one remembers nothing for later', async (t) => {
  const remembered = new RememberedScalars(SCHEMA);
  t.same(readBlockYaml('a: true\nb: 12\n', SCHEMA, remembered), [{ a: true, b: 12 }]);
  t.throws(() => readBlockYaml('a: true\n', FAILSAFE_SCHEMA, remembered), /another schema/);
  t.same(readBlockYaml('a: true\nb: 12\n', FAILSAFE_SCHEMA), [{ a: 'true', b: '12' }]);
  t.same(readBlockYaml('null: x\n', FAILSAFE_SCHEMA), [{ null: 'x' }], 'a key the failsafe schema reads as a string');
  t.equal(readBlockYaml('null: x\n', SCHEMA), undefined, 'is still left to js-yaml by the core schema');
});

t.test('an empty chunk or one of comments is no document', async (t) => {
  t.same(readBlockYaml('', SCHEMA), []);
  t.same(readBlockYaml('---\n# nothing\n\n', SCHEMA), []);
});

// Generated documents: any object dumped by js-yaml in several styles, and the same text damaged.
const key = fc.oneof(fc.constantFrom('name', 'image', 'a b', 'x#y', 'k: v', '__proto__', '1', 'true', '', '- x', "it's", '"q"', 'é'), fc.string({ maxLength: 6 }));
const scalar = fc.oneof(
  fc.constantFrom('', ' ', 'null', '~', 'True', 'yes', 'on', '0o17', '0x1F', '1e3', '.inf', '-.5', '+1', '007', 'a: b', 'a #b', '#x', '- x', '[]', '{}', "'", '"', '\\', 'tab\t', 'line\nbreak', 'é', '1_000'),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(key, tie('node'), { maxKeys: 4 })),
})).node;
const documentObject = fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 });
const style = fc.record({
  indent: fc.constantFrom(1, 2, 4),
  noArrayIndent: fc.boolean(),
  flowLevel: fc.constantFrom(-1, -1, 1, 2),
  quotingType: fc.constantFrom("'" as const, '"' as const),
  forceQuotes: fc.boolean(),
  lineWidth: fc.constantFrom(-1, 20, 80),
});

t.test('every generated document it reads, it reads as js-yaml does', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(documentObject, { minLength: 1, maxLength: 2 }), style, (documents, options) => {
        const text = documents.map((document) => dump(document, { ...options, noRefs: true })).join('---\n');
        const problem = agrees(text);
        if (problem !== undefined) throw new Error(`${problem}\n--- text:\n${text}`);
      }),
      { numRuns: 600 },
    ),
  );
});

t.test('a generated document damaged anywhere is read as js-yaml reads it, or left to js-yaml', async (t) => {
  const damage = fc.tuple(documentObject, style, fc.nat(), fc.constantFrom('delete', 'insert', 'replace'), fc.constantFrom(' ', '\n', ':', '-', '#', "'", '"', '\\', '[', '{', '&', '*', '|', 'x', '  '));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(damage, ([document, options, position, how, character]) => {
        const text = dump(document, { ...options, noRefs: true });
        const at = position % (text.length + 1);
        const damaged = how === 'delete' ? text.slice(0, at) + text.slice(at + 1) : how === 'insert' ? text.slice(0, at) + character + text.slice(at) : text.slice(0, at) + character + text.slice(at + 1);
        const problem = agrees(damaged);
        if (problem !== undefined) throw new Error(`${problem}\n--- text:\n${damaged}`);
      }),
      { numRuns: 3000 },
    ),
  );
});
