import t from 'tap';
import { parseManifestText } from '../../src/manifests/parse.ts';

const POD = 'apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: web, image: "nginx:1.27"}]}\n';

interface Case {
  readonly text: string;
  readonly source?: string;
  /** kind/name@line of each object read. */
  readonly objects: readonly string[];
  /** line: reason pattern of the one skip entry, if any. */
  readonly skipped?: readonly [number, RegExp];
}

const cases: Record<string, Case> = {
  'reads each document of a multi-document file at the line of its first content': {
    text: `# leading comment\n${POD}---\n\n# a comment\n${POD.replace('web}', 'api}')}`,
    objects: ['Pod/web@2', 'Pod/api@9'],
  },
  'merges YAML anchors and merge keys the way kubectl does': {
    text: 'kind: List\napiVersion: v1\nitems:\n- &base {kind: Pod, apiVersion: v1, metadata: {name: base}}\n- <<: *base\n  metadata: {name: merged}\n',
    objects: ['Pod/base@1', 'Pod/merged@1'],
  },
  'reads JSON with JSON.parse and expands List items': {
    text: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' } }, { kind: 'Pod', metadata: { name: 'b' } }] }),
    source: 'list.json',
    objects: ['Pod/a@1', 'Pod/b@1'],
  },
  'names the line of a JSON syntax error': {
    text: '{\n  "kind": "Pod",\n  "metadata": {"name": "x"},\n}\n',
    source: 'bad.json',
    objects: [],
    skipped: [4, /^invalid JSON: /],
  },
  'reads YAML flow style that merely starts with a brace': {
    text: '{kind: Pod, apiVersion: v1, metadata: {name: flow}}\n',
    objects: ['Pod/flow@1'],
  },
  'skips a whole file with a YAML syntax error, naming the line': {
    text: `${POD}---\nkind: Pod\nmetadata: {name: bad\n`,
    objects: [],
    skipped: [8, /^invalid YAML: /],
  },
  'says a Helm template is a template and how to audit it': {
    text: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n',
    objects: [],
    skipped: [5, /looks like a Go\/Helm template .*audit the chart directory/],
  },
  'names a JSON patch file as such': {
    text: '[{"op": "replace", "path": "/spec/replicas", "value": 3}]',
    source: 'patch.json',
    objects: [],
    skipped: [1, /^a JSON patch \(a list of op\/path operations\), not a Kubernetes object$/],
  },
  'skips a data file (a mapping without kind) with one entry counting the other documents': {
    text: 'replicas: 3\n---\nimage: {tag: 1}\n---\n' + POD,
    objects: ['Pod/web@5'],
    skipped: [1, /^a mapping without kind, not a Kubernetes object \(and 1 more document\)$/],
  },
  'skips a binary file': { text: 'PK\u0003\u0004\u0000\u0000binary', objects: [], skipped: [0, /^a binary file/] },
  'ignores empty documents and a byte order mark': { text: `\ufeff---\n---\n${POD}---\n`, objects: ['Pod/web@3'] },
  'keeps a directive with the document that follows it': { text: `%YAML 1.2\n---\n${POD}`, objects: ['Pod/web@3'] },
  'does not split at a line that merely starts with three dashes, or at an indented marker': {
    text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---x: 1\ndata:\n  a: |\n    ---\n',
    objects: ['ConfigMap/c@1'],
  },
  'a scalar document is not an object': { text: 'just text\n', objects: [], skipped: [1, /^a string, not a Kubernetes object$/] },
  'names each item of a pretty-printed JSON List at the line it starts on (kubectl get -o json puts items before kind)': {
    text: '{\n  "apiVersion": "v1",\n  "items": [\n    {\n      "kind": "Pod",\n      "metadata": {"name": "a"}\n    },\n    {"kind": "Pod", "metadata": {"name": "b"}}\n  ],\n  "kind": "List",\n  "metadata": {"resourceVersion": ""}\n}\n',
    source: 'dump.json',
    objects: ['Pod/a@4', 'Pod/b@8'],
  },
  'expands a List nested in a JSON List, and keeps the last of duplicate items keys as JSON.parse does': {
    text: '{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "lost"}}], "items": [{"kind": "PodList", "items": [{"kind": "Pod", "metadata": {"name": "inner"}}]}, {"kind": "Pod", "metadata": {"name": "kept"}}]}',
    source: 'nested.json',
    objects: ['Pod/inner@1', 'Pod/kept@1'],
  },
  'reads strings holding quotes, backslashes and brackets in a JSON List without losing an item boundary': {
    text: '{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"q","annotations":{"a":"\\\\","b":"\\"]}[{","c":"x\\\\\\"y"}}},{"kind":"Pod","metadata":{"name":"r"}}]}',
    source: 'quotes.json',
    objects: ['Pod/q@1', 'Pod/r@1'],
  },
  'skips a JSON List whose item is not valid JSON, naming the line as JSON.parse does': {
    text: '{"kind": "List", "items": [\n{"kind": "Pod", "metadata": {"name": "a"}},\n{"kind": "Pod", "metadata": {"name": tru}}\n]}\n',
    source: 'bad-item.json',
    objects: [],
    skipped: [3, /^invalid JSON: /],
  },
  'skips a JSON List with a trailing comma after its last item': {
    text: '{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "a"}},\n]}',
    source: 'comma.json',
    objects: [],
    skipped: [2, /^invalid JSON: /],
  },
  'skips a JSON List whose other members are not valid JSON': {
    text: '{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "a"}}],\n "metadata": {"x": 01}}',
    source: 'member.json',
    objects: [],
    skipped: [2, /^invalid JSON: /],
  },
  'skips a JSON List with text after its closing brace': {
    text: '{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "a"}}]}\n{"kind": "Pod"}',
    source: 'two.json',
    objects: [],
    skipped: [2, /^invalid JSON: /],
  },
  'reads an object with items that is not a List as one object': {
    text: '{"kind": "ConfigMap", "metadata": {"name": "c"}, "items": [{"kind": "Pod", "metadata": {"name": "no"}}]}',
    source: 'cm.json',
    objects: ['ConfigMap/c@1'],
  },
  'skips the items of a JSON List that are not Kubernetes objects and keeps the rest': {
    text: '{"kind": "List", "items": [\n{"replicas": 3},\n{"kind": "Pod", "metadata": {"name": "a"}}, 7]}',
    source: 'mixed.json',
    objects: ['Pod/a@3'],
    skipped: [2, /^a mapping without kind, not a Kubernetes object \(and 1 more document\)$/],
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const parsed = parseManifestText(c.text, c.source ?? 'm.yaml');
    const objects = parsed.objects.map((entry) => {
      const metadata = entry.object['metadata'] as { name?: string } | undefined;
      return `${String(entry.object['kind'])}/${metadata?.name ?? ''}@${entry.line}`;
    });
    t.same(objects, c.objects);
    if (c.skipped === undefined) t.same(parsed.skipped, []);
    else {
      t.equal(parsed.skipped.length, 1, 'one entry for the file');
      t.equal(parsed.skipped[0]?.line, c.skipped[0]);
      t.match(parsed.skipped[0]?.reason, c.skipped[1]);
    }
  });
}

t.test('never prints a library warning, even for YAML the yaml package would warn about', async (t) => {
  const original = process.emitWarning;
  const originalWarn = console.warn;
  const seen: string[] = [];
  process.emitWarning = ((warning: string | Error) => void seen.push(String(warning))) as typeof process.emitWarning;
  console.warn = (...args: unknown[]) => void seen.push(args.join(' '));
  try {
    parseManifestText('? [a, b]\n: c\n---\n{a: 1}: 2\n', 'keys.yaml');
    parseManifestText('kind: Pod\nmetadata: {name: x}\nspec: {{ .Values.spec }}\n', 'tpl.yaml');
  } finally {
    process.emitWarning = original;
    console.warn = originalWarn;
  }
  t.same(seen, []);
});

t.test('a self-referencing alias does not hang or crash', async (t) => {
  const parsed = parseManifestText('kind: Pod\nmetadata: {name: loop}\nspec: &s {containers: [*s]}\n', 'loop.yaml');
  t.ok(parsed.objects.length + parsed.skipped.length >= 1);
});
