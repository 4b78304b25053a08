// The chart's derived files stay derived: values.schema.json's policy part and the README's tables
// are what charts/pullguard/hack/sync.ts makes from src/policy/schema.ts and values.yaml, and the
// generator refuses a policy field documented twice or not at all. Needs no helm.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { policyJsonSchema, POLICY_FIELD_NOTES, type JsonObject } from '../../charts/pullguard/hack/policy-schema.ts';
import { generate, readChartFiles, replaceSection } from '../../charts/pullguard/hack/sync.ts';
import { readValuesDocs } from '../../charts/pullguard/hack/values-docs.ts';
import { policySchema } from '../../src/policy/schema.ts';

const schemaSource = readFileSync(new URL('../../src/policy/schema.ts', import.meta.url), 'utf8');

t.test('keeps the committed values.schema.json and README tables equal to what hack/sync.ts generates', async (t) => {
  const files = readChartFiles();
  const generated = generate(files);
  t.equal(files.schemaJson, generated.schemaJson, 'values.schema.json is current (run node charts/pullguard/hack/sync.ts)');
  t.equal(files.readme, generated.readme, 'README.md is current (run node charts/pullguard/hack/sync.ts)');
});

t.test('documents every field of the policy with a description and its default', async (t) => {
  const schema = policyJsonSchema();
  const properties = schema['properties'] as JsonObject;
  t.same(Object.keys(properties).sort(), Object.keys(policySchema.shape).sort(), 'one property per policy field');
  const missing: string[] = [];
  const walk = (node: JsonObject, path: string): void => {
    for (const [key, value] of Object.entries((node['properties'] ?? {}) as Record<string, JsonObject>)) {
      if (typeof value['description'] !== 'string' || value['description'] === '') missing.push(`${path}${key}`);
      walk(value['type'] === 'array' ? (value['items'] as JsonObject) : value, `${path}${key}.`);
    }
  };
  walk(schema, '');
  t.same(missing, []);
  t.match(properties['mode'], { default: 'enforce', enum: ['enforce', 'warn', 'dry-run'] }, 'defaults and enums come from zod');
});

/** The one-line JSDoc of `builtinRegistries` in schema.ts, as written there. */
const BUILTIN_DOC_LINE = schemaSource.split('\n').find((line) => line.startsWith('  /** Append the built-in list of well-known public registries')) + '\n';

t.test('takes descriptions from src/policy/schema.ts and refuses a field documented twice or not at all', async (t) => {
  const cases: { name: string; source: string; error: RegExp | undefined }[] = [
    { name: 'accepts the schema as it is', source: schemaSource, error: undefined },
    {
      name: 'refuses a field that schema.ts documents while POLICY_FIELD_NOTES still does',
      source: schemaSource.replace("  mode: z.enum(MODES).default('enforce'),", "  /** Documented here now. */\n  mode: z.enum(MODES).default('enforce'),"),
      error: /mode is documented in src\/policy\/schema.ts now: delete its entry in POLICY_FIELD_NOTES/,
    },
    {
      name: 'refuses a field nobody documents',
      source: schemaSource.replace(BUILTIN_DOC_LINE, ''),
      error: /builtinRegistries has no description/,
    },
  ];
  t.not(cases[1]?.source, schemaSource, 'the "documented twice" edit applies to the current schema.ts');
  t.not(cases[2]?.source, schemaSource, 'the "not documented" edit applies to the current schema.ts');
  for (const c of cases) {
    if (c.error === undefined) t.doesNotThrow(() => policyJsonSchema(c.source), c.name);
    else t.throws(() => policyJsonSchema(c.source), c.error, c.name);
  }
  const builtin = (policyJsonSchema()['properties'] as JsonObject)['builtinRegistries'] as JsonObject;
  t.equal(builtin['description'], BUILTIN_DOC_LINE.trim().slice(4, -3), 'the JSDoc text, verbatim');
  t.ok(Object.keys(POLICY_FIELD_NOTES).length > 0, 'notes exist only for fields schema.ts does not document yet');
});

t.test('mirrors the namespace-override refinement zod cannot export', async (t) => {
  const overrides = ((policyJsonSchema()['properties'] as JsonObject)['namespaces'] as JsonObject)['properties'] as JsonObject;
  const item = (overrides['overrides'] as JsonObject)['items'] as JsonObject;
  t.same(item['anyOf'], [
    { required: ['names'], properties: { names: { minItems: 1 } } },
    { required: ['matchLabels'], properties: { matchLabels: { minProperties: 1 } } },
  ]);
  t.match(item['description'], /an override needs `names` or `matchLabels`/, "zod's own message");
});

t.test('reads values.yaml `# --` comments', async (t) => {
  const cases: { name: string; yaml: string; documented: string[]; undocumented: string[] }[] = [
    {
      name: 'documents a key by the `# --` paragraph right above it, not by the file header',
      yaml: '# header text\n\n# -- The answer.\nanswer: 42\n',
      documented: ['answer'],
      undocumented: [],
    },
    {
      name: 'documents the first key of a nested map (the comment yaml stores on the map)',
      yaml: 'image:\n  # -- Repository.\n  repository: x\n  tag: ""\n',
      documented: ['image.repository'],
      undocumented: ['image.tag'],
    },
    {
      name: 'lets a documented parent cover its children',
      yaml: '# -- Resources.\nresources:\n  requests:\n    cpu: 1m\n',
      documented: ['resources'],
      undocumented: [],
    },
    {
      name: 'ignores plain comments without `--`',
      yaml: '# a note\nflag: true\n',
      documented: [],
      undocumented: ['flag'],
    },
  ];
  for (const c of cases) {
    const docs = readValuesDocs(c.yaml);
    t.same(docs.documented.map((doc) => doc.path), c.documented, c.name);
    t.same(docs.undocumented, c.undocumented, `${c.name} (undocumented)`);
  }
  t.same(readValuesDocs(readChartFiles().valuesYaml).undocumented, [], 'the chart documents every value');
});

t.test('replaces only the text between a generated section’s markers', async (t) => {
  const begin = '<!-- BEGIN GENERATED: values (charts/pullguard/hack/sync.ts; do not edit) -->';
  const end = '<!-- END GENERATED: values -->';
  t.equal(replaceSection(`a\n${begin}\nold\n${end}\nb`, 'values', 'new'), `a\n${begin}\nnew\n${end}\nb`);
  t.throws(() => replaceSection('no markers', 'values', 'new'), /lacks the markers/);
});
