// `npm run bench:audit-offline`: the offline audit on 20,000 pods in 2,000 namespaces (5 pull
// secrets, 2 other secrets and 3 ServiceAccounts each), as one JSON List and as multi-document
// YAML. Each input is audited as a user runs it: the built CLI (`node dist/cli/main.js audit FILE
// -o json`, the package's bin; the npm script builds dist/ first) in a fresh process with Node's
// default flags (no V8 tuning: the container image's NODE_OPTIONS do not apply to an npm install;
// the bin itself runs the audit of files in its worker with a capped young generation),
// the report written to /dev/null. Wall time is spawn to exit; CPU time and peak RSS come from the
// CLI's own `--stats` line. Next to it, a bare JSON.parse + JSON.stringify of the same input,
// measured in the same run. Then the YAML parsers compared on the same real-shaped documents, with
// the correctness checks that matter for Kubernetes manifests (merge keys, empty documents).
// Goals (issue 16): >= 10,000 pods/s on the JSON List, >= 5,000 pods/s on YAML, peak RSS < 400 MiB.
// On a busy machine judge by the CPU column (pods per CPU second); the goals are for an idle one.
// BENCH_NODE_FLAGS (space-separated) adds Node flags to the audited process, to compare settings.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump, loadAll, CORE_SCHEMA, mergeTag } from 'js-yaml';
import { parseAllDocuments } from 'yaml';
import { parseManifestText } from '../src/manifests/parse.ts';
import { benchPod, namespaceObjects, type PodVariant } from './fixtures.ts';

const NAMESPACES = 2_000;
const PODS = 20_000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const VARIANTS: readonly PodVariant[] = ['pod-lists-secrets', 'copied-from-sa', 'needs-injection'];

function objects(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let index = 0; index < NAMESPACES; index += 1) out.push(...namespaceObjects(index));
  for (let index = 0; index < PODS; index += 1) {
    // Pods spread over the 2,000 namespaces (benchPod picks the namespace from its index).
    const pod = benchPod(index % NAMESPACES, VARIANTS[index % VARIANTS.length] as PodVariant);
    (pod['metadata'] as Record<string, unknown>)['name'] = `api-${index}`;
    out.push(pod);
  }
  return out;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const NODE_FLAGS = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');

interface ChildResult {
  readonly code: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly maxRssMiB: number;
}

/** One `pullguard audit FILE -o json --stats` in a fresh process, the report to /dev/null. */
function auditInChild(file: string): Promise<ChildResult> {
  const devNull = openSync('/dev/null', 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [...NODE_FLAGS, 'dist/cli/main.js', 'audit', file, '-o', 'json', '--stats', '--now', '2026-06-01T12:00:00Z'], { cwd: root, stdio: ['ignore', devNull, 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      closeSync(devNull);
      const stats = /CPU (\d+) ms; peak RSS (\d+) MiB/.exec(stderr);
      if (stats === null) reject(new Error(`audit printed no stats (exit ${code}):\n${stderr}`));
      else resolve({ code: code ?? 128, ms, cpuMs: Number(stats[1]), maxRssMiB: Number(stats[2]) });
    });
  });
}

function best(results: readonly ChildResult[]): ChildResult {
  return results.reduce((a, b) => (b.ms < a.ms ? b : a));
}

function timeBest(rounds: number, fn: () => unknown): number {
  let bestMs = Infinity;
  for (let round = 0; round < rounds; round += 1) {
    const start = performance.now();
    fn();
    bestMs = Math.min(bestMs, performance.now() - start);
  }
  return bestMs;
}

const scratch = mkdtempSync(join(tmpdir(), 'pullguard-bench-audit-'));
try {
  const all = objects();
  const jsonFile = join(scratch, 'cluster.json');
  const yamlFile = join(scratch, 'cluster.yaml');
  writeFileSync(jsonFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: all }));
  writeFileSync(yamlFile, all.map((object) => dump(object, { lineWidth: -1, noRefs: true })).join('---\n'));
  const jsonText = readFileSync(jsonFile, 'utf8');
  const bareMs = timeBest(3, () => JSON.stringify(JSON.parse(jsonText)));
  console.log(`input: ${PODS.toLocaleString('en-US')} pods, ${all.length - PODS} state objects in ${NAMESPACES.toLocaleString('en-US')} namespaces; JSON ${(jsonText.length / 1048576).toFixed(1)} MiB, YAML ${(readFileSync(yamlFile).length / 1048576).toFixed(1)} MiB`);
  console.log('');
  console.log(`audited by: node ${[...NODE_FLAGS, 'dist/cli/main.js'].join(' ')} (best of ${ROUNDS} by wall time)`);
  console.log('');
  console.log('| input | wall time (s) | pods/s | CPU (s) | pods per CPU second | peak RSS (MiB) | × bare JSON.parse + stringify | goal |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const rows: Array<[string, string, number]> = [['JSON List', jsonFile, 10_000], ['multi-document YAML', yamlFile, 5_000]];
  let allMet = true;
  for (const [label, file, goal] of rows) {
    const results: ChildResult[] = [];
    for (let round = 0; round < ROUNDS; round += 1) results.push(await auditInChild(file));
    const fastest = best(results);
    const rss = Math.max(...results.map((result) => result.maxRssMiB));
    const podsPerSecond = PODS / (fastest.ms / 1000);
    const met = podsPerSecond >= goal && rss < 400;
    allMet &&= met;
    const perCpuSecond = Math.round(PODS / (fastest.cpuMs / 1000)).toLocaleString('en-US');
    console.log(`| ${label} | ${(fastest.ms / 1000).toFixed(2)} | ${Math.round(podsPerSecond).toLocaleString('en-US')} | ${(fastest.cpuMs / 1000).toFixed(2)} | ${perCpuSecond} | ${Math.round(rss)} | ${(fastest.ms / bareMs).toFixed(1)} | ≥ ${goal.toLocaleString('en-US')} pods/s, < 400 MiB: ${met ? 'met' : 'NOT met'} |`);
  }
  console.log(`| bare JSON.parse + JSON.stringify (baseline, in this process) | ${(bareMs / 1000).toFixed(2)} | ${Math.round(PODS / (bareMs / 1000)).toLocaleString('en-US')} | | | | 1.0 | |`);

  // YAML parsers on the same documents (one in twenty, in this process).
  const sample = all.filter((_, index) => index % 20 === 0);
  const sampleYaml = sample.map((object) => dump(object, { lineWidth: -1, noRefs: true })).join('---\n');
  const schema = CORE_SCHEMA.withTags(mergeTag);
  const parsers: Record<string, (text: string) => unknown[]> = {
    'yaml 2.9 (parseAllDocuments + toJS, merge keys on)': (text) => parseAllDocuments(text, { merge: true, uniqueKeys: false, logLevel: 'silent' }).map((document) => document.toJS({ maxAliasCount: 10_000 })),
    'js-yaml 5.5 (loadAll, core schema + merge keys)': (text) => loadAll(text, { schema, json: true }),
    'pullguard parseManifestText (line reader for block YAML, js-yaml for the rest; with lines)': (text) => parseManifestText(text, 'x.yaml').objects.map((entry) => entry.object),
  };
  const anchors = 'kind: List\napiVersion: v1\nitems:\n- &base {kind: Pod, apiVersion: v1, metadata: {name: a}, spec: {containers: [{name: c, image: "nginx:1"}]}}\n- <<: *base\n  metadata: {name: b}\n';
  const threeDocs = '---\nkind: Pod\nmetadata: {name: a}\n---\n# only a comment\n---\nkind: Pod\nmetadata: {name: b}\n...\n';
  console.log('');
  console.log(`YAML parsers on ${sample.length.toLocaleString('en-US')} documents (${(sampleYaml.length / 1048576).toFixed(1)} MiB), best of 3:`);
  console.log('');
  console.log('| parser | ms | documents/s | merge keys (`<<: *base`) | multi-document with empty documents |');
  console.log('| --- | ---: | ---: | --- | --- |');
  for (const [name, parse] of Object.entries(parsers)) {
    const ms = timeBest(3, () => parse(sampleYaml));
    const merged = (() => {
      try {
        const documents = parse(anchors);
        const list = documents[0] as { items?: { metadata?: { name?: string }; spec?: unknown }[] } | Record<string, unknown>;
        const items = 'items' in list && Array.isArray(list.items) ? list.items : (documents as { metadata?: { name?: string }; spec?: unknown }[]);
        const second = items[1];
        return second?.metadata?.name === 'b' && second.spec !== undefined ? 'merged' : 'NOT merged';
      } catch (error) {
        return `error: ${(error as Error).message.split('\n')[0]}`;
      }
    })();
    const documents = parse(threeDocs).filter((document) => document !== null && document !== undefined).length;
    console.log(`| ${name} | ${Math.round(ms)} | ${Math.round(sample.length / (ms / 1000)).toLocaleString('en-US')} | ${merged} | ${documents === 2 ? '2 objects (right)' : `${documents} objects`} |`);
  }
  process.exitCode = allMet ? 0 : 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
