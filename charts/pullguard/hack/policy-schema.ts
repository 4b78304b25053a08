/**
 * The policy part of values.schema.json and of the README's policy reference, generated from the
 * zod schema the server itself parses the policy with (src/policy/schema.ts), so the chart can never
 * accept a policy the webhook rejects, or document a field the webhook does not know.
 * Field descriptions come from the JSDoc comments in schema.ts; POLICY_FIELD_NOTES below covers the
 * fields schema.ts leaves undocumented, and generation fails when a field is documented twice or
 * not at all.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { z } from 'zod';
import { namespaceOverrideSchema, policySchema } from '../../../src/policy/schema.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

const SCHEMA_SOURCE = new URL('../../../src/policy/schema.ts', import.meta.url);

/**
 * Descriptions of the policy fields src/policy/schema.ts has no JSDoc for, keyed by field path.
 * Move a note into schema.ts as a `/** ... *\/` comment and delete it here: generation refuses a
 * field described in both places.
 */
export const POLICY_FIELD_NOTES: Readonly<Record<string, string>> = {
  mode: 'What findings do: `enforce` injects pull secrets and rejects pods the node could not pull; `warn` injects and allows, with kubectl warnings; `dry-run` changes nothing and only reports (kubectl warnings, audit annotations, logs, metrics).',
  defaultAccess: 'How images of registries no rule (and no built-in entry) matches are pulled: `secret` (a pull secret must cover them), `node` (the node identity pulls) or `public` (anonymous).',
  registries: 'Registry rules, first match wins; checked before the built-in list of public registries.',
  injection: 'Injection of a namespace pull secret that covers an image the pod\'s own secrets do not.',
  'injection.enabled': 'Inject a covering pull secret into pods at CREATE instead of rejecting them.',
  latestWithIfNotPresent: '`latest` (or no tag) with an explicit `imagePullPolicy: IfNotPresent`: replicas silently run whatever each node cached first.',
  namespaces: 'Per-namespace behaviour.',
  'namespaces.exclude': 'Namespaces never checked (mode `off`).',
  'namespaces.overrides': 'Per-namespace settings, applied in order (later ones refine earlier ones); the mode label wins over them.',
  'namespaces.overrides[].mode': 'Mode in the matched namespaces (`off` disables pullguard there).',
  'namespaces.overrides[].defaultAccess': '`defaultAccess` in the matched namespaces.',
  'namespaces.overrides[].latestWithIfNotPresent': '`latestWithIfNotPresent` in the matched namespaces.',
  'namespaces.overrides[].expiredCredentials': '`expiredCredentials` in the matched namespaces.',
  'namespaces.overrides[].injection': 'Injection in the matched namespaces.',
  'namespaces.overrides[].injection.enabled': 'Inject covering pull secrets in the matched namespaces.',
};

/** JSDoc of each `z.object`/`z.strictObject` literal in schema.ts, keyed by its sorted property names. */
interface ObjectDocs {
  readonly description: string | undefined;
  readonly fields: ReadonlyMap<string, string>;
}

function jsDocText(node: ts.Node, source: ts.SourceFile): string | undefined {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const docs = ranges
    .map((range) => source.text.slice(range.pos, range.end))
    .filter((text) => text.startsWith('/**'))
    .map((text) => text.replace(/^\/\*\*|\*\/$/g, '').split('\n').map((line) => line.replace(/^\s*\*?\s?/, '').trim()).join(' ').trim());
  const last = docs.at(-1);
  return last === undefined || last === '' ? undefined : last.replace(/\s+/g, ' ');
}

function signature(keys: Iterable<string>): string {
  return [...keys].sort().join(',');
}

/** The JSDoc of the `const` whose initializer (through method chains like `.refine()`) is `node`. */
function declarationDoc(node: ts.Node, source: ts.SourceFile): string | undefined {
  let current: ts.Node = node;
  while (ts.isCallExpression(current.parent) || ts.isPropertyAccessExpression(current.parent)) current = current.parent;
  if (!ts.isVariableDeclaration(current.parent)) return undefined;
  const statement = current.parent.parent.parent;
  return ts.isVariableStatement(statement) ? jsDocText(statement, source) : undefined;
}

export function readObjectDocs(sourceText = readFileSync(SCHEMA_SOURCE, 'utf8')): Map<string, ObjectDocs> {
  const source = ts.createSourceFile('schema.ts', sourceText, ts.ScriptTarget.Latest, true);
  const result = new Map<string, ObjectDocs>();
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ['object', 'strictObject'].includes(node.expression.name.text) &&
      node.arguments[0] !== undefined &&
      ts.isObjectLiteralExpression(node.arguments[0])
    ) {
      const fields = new Map<string, string>();
      const keys: string[] = [];
      for (const property of node.arguments[0].properties) {
        if (!ts.isPropertyAssignment(property) || !(ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))) continue;
        keys.push(property.name.text);
        const doc = jsDocText(property, source);
        if (doc !== undefined) fields.set(property.name.text, doc);
      }
      const key = signature(keys);
      if (result.has(key)) throw new Error(`schema.ts: two objects with the fields ${key}; their comments cannot be told apart`);
      result.set(key, { description: declarationDoc(node, source), fields });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return result;
}

/** The zod internals the walk needs: every zod 4 schema carries its definition in `_zod.def`. */
interface ZodDefinition {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
}

function definitionOf(schema: z.ZodType): ZodDefinition {
  return (schema as unknown as { _zod: { def: ZodDefinition } })._zod.def;
}

/** Looks through wrappers (default, prefault, optional, ...) to the schema that has a shape. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const definition = definitionOf(current);
    if (definition.innerType !== undefined) current = definition.innerType;
    else if (definition.type === 'pipe' && definition.in !== undefined) current = definition.in;
    else return current;
  }
}

function asObject(value: JsonValue | undefined, where: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a JSON Schema object`);
  return value;
}

/**
 * Walks the zod schema and its JSON Schema side by side, writing each field's description, and
 * the `names`-or-`matchLabels` rule of namespace overrides that zod expresses as a refinement
 * (z.toJSONSchema leaves refinements out).
 */
function describe(schema: z.ZodType, json: JsonObject, path: string, docs: Map<string, ObjectDocs>, used: Set<string>): void {
  const inner = unwrap(schema);
  const definition = definitionOf(inner);
  if (definition.type === 'array' && definition.element !== undefined) {
    describe(definition.element, asObject(json['items'], path), `${path}[]`, docs, used);
    return;
  }
  if (definition.type !== 'object' || definition.shape === undefined) return;
  const objectDocs = docs.get(signature(Object.keys(definition.shape)));
  if (objectDocs === undefined) throw new Error(`${path || '(policy)'}: no object literal with these fields in schema.ts`);
  if (objectDocs.description !== undefined && path !== '') json['description'] = objectDocs.description;
  if (inner === (namespaceOverrideSchema as z.ZodType)) {
    const message = namespaceOverrideSchema.safeParse({}).error?.issues[0]?.message;
    if (message === undefined) throw new Error('namespaceOverrideSchema accepts {}: the refinement this schema mirrors is gone');
    json['anyOf'] = [
      { required: ['names'], properties: { names: { minItems: 1 } } },
      { required: ['matchLabels'], properties: { matchLabels: { minProperties: 1 } } },
    ];
    json['description'] = `${objectDocs.description ?? ''} Rule: ${message}.`.trim();
  }
  const properties = asObject(json['properties'], path);
  for (const [key, field] of Object.entries(definition.shape)) {
    const fieldPath = path === '' ? key : `${path}.${key}`;
    const fieldJson = asObject(properties[key], fieldPath);
    const fromSource = objectDocs.fields.get(key);
    const note = POLICY_FIELD_NOTES[fieldPath];
    if (fromSource !== undefined && note !== undefined) {
      throw new Error(`${fieldPath} is documented in src/policy/schema.ts now: delete its entry in POLICY_FIELD_NOTES`);
    }
    const description = fromSource ?? note;
    if (description === undefined) throw new Error(`${fieldPath} has no description: add a JSDoc comment in src/policy/schema.ts`);
    if (note !== undefined) used.add(fieldPath);
    // `description` first, so the committed file reads well.
    const { description: _previous, ...rest } = fieldJson;
    properties[key] = { description, ...rest };
    describe(field, asObject(properties[key], fieldPath), fieldPath, docs, used);
  }
}

/** The JSON Schema (draft-07, what Helm 3 and 4 both validate) of `values.policy`. */
export function policyJsonSchema(sourceText?: string): JsonObject {
  const generated = z.toJSONSchema(policySchema, { target: 'draft-07', io: 'input' }) as JsonObject;
  const { $schema: _draft, ...schema } = generated;
  const used = new Set<string>();
  describe(policySchema, schema, '', readObjectDocs(sourceText), used);
  const stale = Object.keys(POLICY_FIELD_NOTES).filter((path) => !used.has(path));
  if (stale.length > 0) throw new Error(`POLICY_FIELD_NOTES names fields the policy does not have: ${stale.join(', ')}`);
  return {
    description: 'The pullguard policy, rendered verbatim into the ConfigMap key policy.yaml. Generated from src/policy/schema.ts by charts/pullguard/hack/sync.ts.',
    ...schema,
  };
}

export interface PolicyFieldRow {
  readonly path: string;
  readonly type: string;
  readonly defaultValue: string;
  readonly description: string;
}

function typeText(json: JsonObject): string {
  const values = json['enum'];
  if (Array.isArray(values)) return values.map((value) => `\`${String(value)}\``).join(' \\| ');
  const type = json['type'];
  if (type === 'array') {
    const items = json['items'];
    const itemType = items !== undefined && items !== null && typeof items === 'object' && !Array.isArray(items) ? typeText(items) : 'any';
    return `list of ${itemType}`;
  }
  if (type === 'object' && json['additionalProperties'] !== undefined && typeof json['additionalProperties'] === 'object') return 'map of string';
  return typeof type === 'string' ? type : 'any';
}

/** One row per policy field, in schema order, for the README's policy reference. */
export function policyFieldRows(schema: JsonObject): PolicyFieldRow[] {
  const rows: PolicyFieldRow[] = [];
  const walk = (json: JsonObject, prefix: string): void => {
    const properties = json['properties'];
    if (properties === undefined || properties === null || typeof properties !== 'object' || Array.isArray(properties)) return;
    for (const [key, value] of Object.entries(properties)) {
      const field = asObject(value, key);
      const path = `${prefix}${key}`;
      const defaultValue = field['default'];
      const items = field['type'] === 'array' && field['items'] !== undefined ? asObject(field['items'], path) : undefined;
      const itemText = typeof items?.['description'] === 'string' ? ` Each item: ${items['description']}` : '';
      rows.push({
        path,
        type: typeText(field),
        defaultValue: defaultValue === undefined ? '' : `\`${JSON.stringify(defaultValue)}\``,
        description: `${typeof field['description'] === 'string' ? field['description'] : ''}${itemText}`,
      });
      if (items !== undefined) walk(items, `${path}[].`);
      else walk(field, `${path}.`);
    }
  };
  walk(schema, '');
  return rows;
}
