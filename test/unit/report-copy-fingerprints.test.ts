import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import t from 'tap';
import type { SourcedObject } from '../../src/manifests/parse.ts';
import { readsOneText } from '../../src/manifests/read.ts';
import { CopyFingerprints } from '../../src/report/copy-fingerprints.ts';
import { objectFingerprint } from '../../src/report/object-fingerprint.ts';
import { prepareWorkload, type PreparedWorkload } from '../../src/report/prepare-workload.ts';
import { runCli } from '../helpers/cli.ts';
import { pod } from '../helpers/objects.ts';

// Fingerprints are filled in only for objects read more than once (copy-fingerprints.ts); the
// audit's answer about copies must be what it was when every object had one.

function prepared(object: Record<string, unknown>): PreparedWorkload {
  const workload = prepareWorkload(object, 'm.json:1', undefined, undefined, 'later');
  if (workload === undefined) throw new Error('not a workload');
  return workload;
}

const KEEP = { keepTexts: true };
const read = (object: Record<string, unknown>, itemText?: string, itemYaml?: boolean): SourcedObject => ({ object, source: 'm.json', line: 1, ...(itemText === undefined ? {} : { itemText }), ...(itemYaml === true ? { itemYaml } : {}) });

t.test('an object read once from a JSON List gets no fingerprint; a second copy fingerprints both, the first from its text', async (t) => {
  const copies = new CopyFingerprints('default', KEEP);
  const object = pod({ name: 'web' });
  const first = prepared(object);
  copies.add(first, read(object, JSON.stringify(object)));
  t.equal(first.fingerprint, undefined, 'nothing to compare it with yet');
  const again = JSON.parse(JSON.stringify(object)) as Record<string, unknown>;
  const second = prepared(again);
  copies.add(second, read(again));
  t.equal(first.fingerprint, objectFingerprint(object));
  t.equal(second.fingerprint, first.fingerprint);
});

t.test('a first copy from YAML is read again as YAML, even when it is written as JSON', async (t) => {
  const copies = new CopyFingerprints('default', KEEP);
  // js-yaml reads 1e400 as a string; JSON.parse would make it Infinity.
  const text = '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "team"}, "spec": {"priority": 1e400}}';
  const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'team' }, spec: { priority: '1e400' } };
  const first = prepared(object);
  copies.add(first, read(object, text, true));
  copies.add(prepared(object), read(object));
  t.equal(first.fingerprint, objectFingerprint(object));
});

t.test('an object without a text, or read when texts are not kept, is fingerprinted at once', async (t) => {
  const object = pod({ name: 'web' });
  const workload = prepared(object);
  new CopyFingerprints('default', KEEP).add(workload, read(object));
  t.equal(workload.fingerprint, objectFingerprint(object));
  const notKept = prepared(object);
  new CopyFingerprints('default', { keepTexts: false }).add(notKept, read(object, JSON.stringify(object)));
  t.equal(notKept.fingerprint, objectFingerprint(object));
});

t.test('copies in the default namespace written with and without it are copies; objects without a name never are', async (t) => {
  const copies = new CopyFingerprints('default', KEEP);
  const named = pod({ name: 'web', namespace: '' });
  const first = prepared(named);
  copies.add(first, read(named, JSON.stringify(named)));
  const explicit = pod({ name: 'web', namespace: 'default' });
  copies.add(prepared(explicit), read(explicit, JSON.stringify(explicit)));
  t.not(first.fingerprint, undefined, 'the second copy (namespace written out) resolved the first');
  const unnamed = { ...pod(), metadata: { generateName: 'web-', namespace: 'team' } };
  const once = prepared(unnamed);
  copies.add(once, read(unnamed, JSON.stringify(unnamed)));
  const twice = prepared(unnamed);
  copies.add(twice, read(unnamed, JSON.stringify(unnamed)));
  t.equal(twice.fingerprint, undefined);
});

const dir = mkdtempSync(join(tmpdir(), 'pullguard-copies-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const list = (items: readonly Record<string, unknown>[], indent?: number): string => JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, indent);
const web = pod({ name: 'web', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] });
const labelled = { ...web, metadata: { ...(web['metadata'] as object), labels: { tier: 'web' } } };
const api = pod({ name: 'api', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] });

interface Row {
  readonly name: string;
  readonly sources: string[];
  readonly copiesDiffer: boolean;
}

const cases: readonly { readonly name: string; readonly files: Record<string, string>; readonly want: Record<string, { sources: number; copiesDiffer: boolean }> }[] = [
  { name: 'the same object in two compact Lists', files: { 'a.json': list([web, api]), 'b.json': list([web]) }, want: { web: { sources: 2, copiesDiffer: false }, api: { sources: 1, copiesDiffer: false } } },
  { name: 'a copy that differs only in a label, in two indented Lists', files: { 'a.json': list([web], 2), 'b.json': list([labelled], 2) }, want: { web: { sources: 2, copiesDiffer: true } } },
  { name: 'three copies in one List, the last one different', files: { 'a.json': list([web, web, labelled], 2) }, want: { web: { sources: 3, copiesDiffer: true } } },
  { name: 'a first copy from a List and a second from YAML, the same', files: { 'a.json': list([web]), 'b.yaml': JSON.stringify(web) }, want: { web: { sources: 2, copiesDiffer: false } } },
  { name: 'a first copy from YAML and a second from a List, different', files: { 'a.yaml': JSON.stringify(web), 'b.json': list([labelled]) }, want: { web: { sources: 2, copiesDiffer: true } } },
  { name: 'copies in two multi-document YAML files, the same', files: { 'a.yaml': [api, web].map((object) => dump(object)).join('---\n'), 'b.yaml': `# copy\n---\n${dump(web)}` }, want: { web: { sources: 2, copiesDiffer: false }, api: { sources: 1, copiesDiffer: false } } },
  { name: 'copies in two multi-document YAML files, one labelled', files: { 'a.yaml': [api, web].map((object) => dump(object)).join('---\n'), 'b.yaml': dump(labelled) }, want: { web: { sources: 2, copiesDiffer: true }, api: { sources: 1, copiesDiffer: false } } },
  { name: 'a first copy among the items of a YAML List document and a second in its own document, the same', files: { 'a.yaml': dump({ apiVersion: 'v1', kind: 'List', items: [api, web] }), 'b.yaml': dump(web) }, want: { web: { sources: 2, copiesDiffer: false }, api: { sources: 1, copiesDiffer: false } } },
];

// One file is read keeping the first copies' texts; a directory of several, fingerprinting each copy as it is read.
const oneFile: readonly { readonly name: string; readonly file: string; readonly text: string; readonly want: Record<string, { sources: number; copiesDiffer: boolean }> }[] = [
  { name: 'an indented List holding the same object twice and a third copy that differs', file: 'a.json', text: list([web, api, web, labelled], 2), want: { web: { sources: 3, copiesDiffer: true }, api: { sources: 1, copiesDiffer: false } } },
  { name: 'an indented List holding the same object twice', file: 'a.json', text: list([web, api, web], 2), want: { web: { sources: 2, copiesDiffer: false }, api: { sources: 1, copiesDiffer: false } } },
  { name: 'multi-document YAML holding the same object twice', file: 'a.yaml', text: [web, api, web].map((object) => dump(object)).join('---\n'), want: { web: { sources: 2, copiesDiffer: false }, api: { sources: 1, copiesDiffer: false } } },
  { name: 'multi-document YAML with a labelled copy', file: 'a.yaml', text: [web, labelled].map((object) => dump(object)).join('---\n'), want: { web: { sources: 2, copiesDiffer: true } } },
  { name: 'YAML documents written as JSON, with a number only YAML reads as a string', file: 'a.yaml', text: `${JSON.stringify({ ...web, spec: { ...(web['spec'] as object), priority: 1 } }).replace('"priority":1', '"priority":1e400')}\n---\n${JSON.stringify({ ...web, spec: { ...(web['spec'] as object), priority: 1 } }).replace('"priority":1', '"priority":1e400')}\n`, want: { web: { sources: 2, copiesDiffer: false } } },
];

async function rowsOf(path: string): Promise<Record<string, { sources: number; copiesDiffer: boolean }>> {
  const { stdout } = await runCli(['audit', path, '-o', 'json', '--now', '2026-06-01T12:00:00Z']);
  const rows = (JSON.parse(stdout) as { results: Row[] }).results;
  return Object.fromEntries(rows.map((row) => [row.name, { sources: row.sources.length, copiesDiffer: row.copiesDiffer }]));
}

for (const entry of cases) {
  t.test(`the audit reports copies as before for ${entry.name}`, async (t) => {
    const folder = mkdtempSync(join(dir, 'case-'));
    for (const [file, text] of Object.entries(entry.files)) writeFileSync(join(folder, file), text);
    t.same(await rowsOf(folder), entry.want);
  });
}

for (const entry of oneFile) {
  t.test(`the audit of one file reports copies as before for ${entry.name}`, async (t) => {
    const folder = mkdtempSync(join(dir, 'one-'));
    writeFileSync(join(folder, entry.file), entry.text);
    t.same(await rowsOf(join(folder, entry.file)), entry.want);
  });
}

t.test('the audit keeps first copies\' texts only when it reads one text: stdin or one file', async (t) => {
  const folder = mkdtempSync(join(dir, 'which-'));
  const file = join(folder, 'a.yaml');
  writeFileSync(file, dump(web));
  writeFileSync(join(folder, 'kustomization.yaml'), 'resources: [a.yaml]\n');
  const table: readonly (readonly [string, readonly string[], boolean])[] = [
    ['stdin (no path)', [], true],
    ['stdin (-)', ['-'], true],
    ['one file', [file], true],
    ['a directory', [folder], false],
    ['two files', [file, file], false],
    ['a kustomization, which stands for its directory', [join(folder, 'kustomization.yaml')], false],
    ['a path that does not exist', [join(folder, 'missing.yaml')], false],
  ];
  for (const [name, paths, want] of table) t.equal(await readsOneText(paths), want, name);
});
