/**
 * Regenerates the parts of the chart that are derived from a single source:
 *   - values.schema.json `properties.policy`   from src/policy/schema.ts (zod → JSON Schema);
 *   - values.schema.json `description`s          from the `# --` comments in values.yaml;
 *   - README.md's values table and policy reference, from the same two sources.
 * The rest of values.schema.json (the chart's own settings) is edited by hand.
 *
 *   node charts/pullguard/hack/sync.ts           # rewrite the files
 *   node charts/pullguard/hack/sync.ts --check   # exit 1 when they are out of date (what the test does)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { policyFieldRows, policyJsonSchema, type JsonObject, type JsonValue } from './policy-schema.ts';
import { readValuesDocs, type ValueDoc } from './values-docs.ts';

export const CHART_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface ChartFiles {
  readonly valuesYaml: string;
  readonly schemaJson: string;
  readonly readme: string;
}

export function readChartFiles(dir = CHART_DIR): ChartFiles {
  return {
    valuesYaml: readFileSync(`${dir}/values.yaml`, 'utf8'),
    schemaJson: readFileSync(`${dir}/values.schema.json`, 'utf8'),
    readme: readFileSync(`${dir}/README.md`, 'utf8'),
  };
}

function objectAt(value: JsonValue | undefined, where: string): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`values.schema.json has no object schema for ${where}`);
  }
  return value;
}

/** Sets `description` (first, for readability) on the schema node of each documented value. */
function describeValues(schema: JsonObject, docs: readonly ValueDoc[]): void {
  for (const doc of docs) {
    if (doc.path === 'policy') continue; // its description comes from the policy generator
    const parts = doc.path.split('.');
    let parent = schema;
    let node: JsonObject | undefined;
    for (const [index, part] of parts.entries()) {
      const properties = objectAt(parent['properties'], parts.slice(0, index).join('.') || '(root)');
      node = objectAt(properties[part], parts.slice(0, index + 1).join('.'));
      if (index < parts.length - 1) parent = node;
      else {
        const { description: _old, ...rest } = node;
        properties[part] = { description: doc.description, ...rest };
      }
    }
  }
}

const markdownCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function valueText(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? '' : `\`${markdownCell(text)}\``;
}

function valuesTable(docs: readonly ValueDoc[]): string {
  const rows = docs.map((doc) => `| \`${doc.path}\` | ${doc.path === 'policy' ? 'see below' : valueText(doc.defaultValue)} | ${markdownCell(doc.description)} |`);
  return ['| Key | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

function policyTable(policy: JsonObject): string {
  const rows = policyFieldRows(policy).map(
    (row) => `| \`${row.path}\` | ${row.type} | ${markdownCell(row.defaultValue)} | ${markdownCell(row.description)} |`,
  );
  return ['| Field | Type | Default (when absent) | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** Replaces the text between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`. */
export function replaceSection(text: string, name: string, content: string): string {
  const begin = `<!-- BEGIN GENERATED: ${name} (charts/pullguard/hack/sync.ts; do not edit) -->`;
  const end = `<!-- END GENERATED: ${name} -->`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`README.md lacks the markers of the generated section "${name}"`);
  return `${text.slice(0, start + begin.length)}\n${content}\n${text.slice(stop)}`;
}

export interface GeneratedFiles {
  readonly schemaJson: string;
  readonly readme: string;
}

export function generate(files: ChartFiles): GeneratedFiles {
  const values = readValuesDocs(files.valuesYaml);
  if (values.undocumented.length > 0) {
    throw new Error(`values.yaml: no "# --" comment on ${values.undocumented.join(', ')} (nor on a parent key)`);
  }
  const schema = JSON.parse(files.schemaJson) as JsonObject;
  const properties = objectAt(schema['properties'], '(root)');
  const policy = policyJsonSchema();
  properties['policy'] = policy;
  describeValues(schema, values.documented);
  let readme = replaceSection(files.readme, 'values', valuesTable(values.documented));
  readme = replaceSection(readme, 'policy', policyTable(policy));
  return { schemaJson: `${JSON.stringify(schema, null, 2)}\n`, readme };
}

function main(args: readonly string[]): number {
  const files = readChartFiles();
  const generated = generate(files);
  const stale = [
    ...(generated.schemaJson === files.schemaJson ? [] : ['values.schema.json']),
    ...(generated.readme === files.readme ? [] : ['README.md']),
  ];
  if (args.includes('--check')) {
    if (stale.length === 0) return 0;
    process.stderr.write(`out of date: ${stale.join(', ')}; run node charts/pullguard/hack/sync.ts\n`);
    return 1;
  }
  writeFileSync(`${CHART_DIR}/values.schema.json`, generated.schemaJson);
  writeFileSync(`${CHART_DIR}/README.md`, generated.readme);
  process.stdout.write(stale.length === 0 ? 'already up to date\n' : `updated ${stale.join(', ')}\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
