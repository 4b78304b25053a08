/**
 * Memory of the live cluster state at scale: 50,000 pull secrets (3 registry keys each),
 * 100,000 ServiceAccounts and 10,000 namespaces go through the same path as in a cluster —
 * list pages of raw objects are projected page by page (raw data dropped), the compact records
 * are kept as client-node's informer caches keep them, and each complete list replaces its
 * scope of the snapshot. Prints heap used and RSS after a full GC. Goal: RSS <= 200 MiB.
 *
 *   npm run bench:memory
 *
 * The npm script compiles this file with the sources (tsconfig.bench.json) and runs the
 * JavaScript with the image's runtime settings (Dockerfile ENV: --max-semi-space-size=4,
 * MALLOC_ARENA_MAX=2, MALLOC_TRIM_THRESHOLD_=65536), because that is what a cluster runs:
 * Node's TypeScript loader alone would add ~17 MiB, an uncapped young generation up to ~120 MiB.
 * It runs twice, each in a fresh child process with the same settings: the projection alone (the
 * goal's figure), then as `pullguard serve` runs, with @kubernetes/client-node loaded first (its
 * generated API, every model class, costs ~60 MiB RSS before any object arrives).
 *
 * A third run ('review') keeps that state with its informer caches and sends the webhook app the
 * worst reviews the review limits allow (src/admission/review-limits.ts), one at a time, and
 * reports the peak RSS of each (the kernel's high-water mark, reset before each review through
 * /proc/self/clear_refs). The chart's memory limit is set from the highest peak.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import { LIST_PAGE_SIZE } from '../src/cluster/limits.ts';
import { applyEvent, emptyLiveSnapshot, projectNamespace, projectSecret, projectServiceAccount, replaceScope, type SnapshotRecord } from '../src/cluster/projection.ts';
import { DOCKER_CONFIG_JSON_TYPE } from '../src/credentials/types.ts';
import type { MemorySnapshot } from '../src/snapshot/memory.ts';
import { REVIEW_MAX_CONTAINERS, REVIEW_MAX_IMAGE_PULL_SECRETS, REVIEW_MAX_JSON_CONTAINERS, REVIEW_MAX_NAME_CHARS } from '../src/admission/review-limits.ts';
import { BODY_LIMIT_BYTES } from '../src/server/limits.ts';

const NAMESPACES = 10_000;
const SECRETS = 50_000;
const SERVICE_ACCOUNTS = 100_000;
const RSS_GOAL_MIB = 200;

const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with: npm run bench:memory (node --expose-gc)');
  process.exit(2);
}
const CHILD_FLAG = '--child';
const childMode = process.argv[process.argv.indexOf(CHILD_FLAG) + 1];
if (!process.argv.includes(CHILD_FLAG)) {
  // Parent: one fresh process per scenario, so neither inherits the other's heap.
  let failed = false;
  for (const mode of ['projection', 'serve', 'review']) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), CHILD_FLAG, mode], { stdio: 'inherit' });
    if (child.status !== 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
}
const reviewMode = childMode === 'review';
const withClientNode = childMode === 'serve' || reviewMode;
if (withClientNode) await import('@kubernetes/client-node');
const compiled = import.meta.url.endsWith('.js');
const settings = [
  compiled ? 'compiled JavaScript' : 'TypeScript via Node type stripping (run `npm run bench:memory` for the image figure)',
  process.execArgv.filter((arg) => arg.startsWith('--max-semi-space-size') || arg.startsWith('--heap-growing-percent')).join(' ') || 'no V8 memory flags',
  ...['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_'].map((name) => `${name}=${process.env[name] ?? '(unset)'}`),
].join(', ');

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

function namespaceName(index: number): string {
  return `team-${String(index % NAMESPACES).padStart(5, '0')}`;
}

function rawSecret(index: number): Record<string, unknown> {
  const auth = b64(`robot-${index}:${'p'.repeat(40)}${index}`);
  const auths = {
    [`registry-${index % 50}.example.com`]: { auth },
    [`quay.io/org-${index % 1000}`]: { auth },
    'https://index.docker.io/v1/': { auth, email: 'ci@example.com' },
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: DOCKER_CONFIG_JSON_TYPE,
    metadata: {
      name: `pull-${index}`,
      namespace: namespaceName(index),
      resourceVersion: String(1_000_000 + index),
      uid: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      creationTimestamp: '2030-01-01T00:00:00Z',
      labels: { app: 'registry-credentials' },
    },
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
  };
}

function rawServiceAccount(index: number): Record<string, unknown> {
  const namespace = namespaceName(index);
  const secretsInNamespace = SECRETS / NAMESPACES;
  const first = (index % NAMESPACES) + NAMESPACES * (index % secretsInNamespace);
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: `sa-${index}`, namespace, resourceVersion: String(2_000_000 + index), uid: `sa-uid-${index}` },
    ...(index % 3 === 0 ? {} : { imagePullSecrets: [{ name: `pull-${first}` }, ...(index % 3 === 2 ? [{ name: 'missing-secret' }] : [])] }),
  };
}

function rawNamespace(index: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceName(index),
      resourceVersion: String(3_000_000 + index),
      labels: { 'kubernetes.io/metadata.name': namespaceName(index), env: index % 2 === 0 ? 'prod' : 'dev' },
    },
  };
}

/** client-node ListWatch's cache layout: namespace → name → object (here the compact record). */
type InformerCache = Map<string, Map<string, SnapshotRecord>>;

/**
 * Projects `count` raw objects one list page at a time, as the informer's paged list does (each
 * page is serialised JSON parsed at once, as it arrives from the API server), and fills an
 * informer cache with the records.
 */
function listPaged(count: number, make: (index: number) => Record<string, unknown>, project: (raw: unknown) => SnapshotRecord | undefined): { records: SnapshotRecord[]; cache: InformerCache } {
  const records: SnapshotRecord[] = [];
  const cache: InformerCache = new Map();
  for (let start = 0; start < count; start += LIST_PAGE_SIZE) {
    const items: unknown[] = [];
    for (let index = start; index < Math.min(count, start + LIST_PAGE_SIZE); index++) items.push(make(index));
    const page = JSON.parse(JSON.stringify({ items })) as { items: unknown[] };
    for (const raw of page.items) {
      const record = project(raw);
      if (record === undefined) continue;
      records.push(record);
      const namespace = record.metadata.namespace ?? '';
      let names = cache.get(namespace);
      if (names === undefined) cache.set(namespace, (names = new Map()));
      names.set(record.metadata.name, record);
    }
  }
  return { records, cache };
}

function measure(): { heapMiB: number; rssMiB: number } {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return { heapMiB: usage.heapUsed / MiB, rssMiB: usage.rss / MiB };
}

function show(label: string, value: { heapMiB: number; rssMiB: number }): void {
  console.log(`${label.padEnd(44)} heap used ${value.heapMiB.toFixed(1).padStart(6)} MiB   rss ${value.rssMiB.toFixed(1).padStart(6)} MiB`);
}

const baseline = measure();
const started = performance.now();

const namespaces = listPaged(NAMESPACES, rawNamespace, projectNamespace);
const secrets = listPaged(SECRETS, rawSecret, projectSecret);
const accounts = listPaged(SERVICE_ACCOUNTS, rawServiceAccount, projectServiceAccount);

let snapshot: MemorySnapshot = emptyLiveSnapshot();
snapshot = replaceScope(snapshot, { kind: 'namespaces' }, namespaces.records);
snapshot = replaceScope(snapshot, { kind: 'secrets', secretType: DOCKER_CONFIG_JSON_TYPE }, secrets.records);
snapshot = replaceScope(snapshot, { kind: 'serviceaccounts' }, accounts.records);
// The lists themselves are transient; the informer caches stay.
const caches: InformerCache[] = [namespaces.cache, secrets.cache, accounts.cache];
const cachedRecords = namespaces.records.length + secrets.records.length + accounts.records.length;
namespaces.records.length = 0;
secrets.records.length = 0;
accounts.records.length = 0;
const listMs = performance.now() - started;

// A change after the initial lists: one event costs one namespace plus a trie path.
const EVENTS = 2_000;
const eventStarted = performance.now();
for (let index = 0; index < EVENTS; index++) {
  const record = projectSecret(rawSecret(SECRETS + index));
  if (record !== undefined) snapshot = applyEvent(snapshot, 'ADDED', record);
}
const perEventUs = ((performance.now() - eventStarted) * 1000) / EVENTS;

const withCaches = measure();
if (reviewMode) {
  await measureWorstReviews(snapshot, withCaches);
  // Keep the caches reachable until the reviews are measured, as a running webhook does.
  if (caches.length !== 3) process.exitCode = 1;
  process.exit();
}
const youngGenerationMiB = (getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0) / MiB;
const stats = snapshot.stats();
// Drop the informer caches to see what the snapshot alone holds.
for (const cache of caches) cache.clear();
const snapshotOnly = measure();

if (!withClientNode) {
  console.log(`snapshot: ${stats.namespaces} namespaces, ${stats.secrets} pull secrets, ${stats.serviceAccounts} service accounts`);
  console.log(`initial lists projected in ${listMs.toFixed(0)} ms; ${EVENTS} watch events applied at ${perEventUs.toFixed(1)} µs each`);
  console.log(`runtime: node ${process.version}, ${settings}; V8 young generation: ${youngGenerationMiB.toFixed(0)} MiB`);
}
console.log(withClientNode ? '\nas `pullguard serve` runs (@kubernetes/client-node loaded first):' : '\nthe projection alone:');
show('  baseline (modules loaded, no data)', baseline);
show(`  snapshot + informer caches (${cachedRecords} records)`, withCaches);
show('  snapshot alone (informer caches dropped)', snapshotOnly);
const growth = `the cluster state adds ${(withCaches.rssMiB - baseline.rssMiB).toFixed(0)} MiB RSS to a ${baseline.rssMiB.toFixed(0)} MiB process`;
const verdict = withCaches.rssMiB <= RSS_GOAL_MIB ? 'within' : 'OVER';
console.log(`  RSS ${withCaches.rssMiB.toFixed(1)} MiB: ${verdict} the ${RSS_GOAL_MIB} MiB goal; ${growth}`);
// The goal is the projection's; the serve figure adds the client library's fixed cost and is shown.
if (!withClientNode && withCaches.rssMiB > RSS_GOAL_MIB) process.exitCode = 1;
// Keep the snapshot reachable until the measurements are printed.
if (snapshot.secret(namespaceName(0), 'pull-0') === undefined) process.exitCode = 1;

/** The kernel's peak RSS of this process (VmHWM), in MiB, or NaN where /proc does not have it. */
function peakRssMiB(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

/** Resets the peak (VmHWM) to the current RSS (Linux: "5" > /proc/PID/clear_refs). */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * The worst reviews the limits allow, each at most BODY_LIMIT_BYTES: REVIEW_MAX_CONTAINERS
 * containers with names and images of REVIEW_MAX_NAME_CHARS (or the longest valid images, where a
 * decision has to match and inject them), REVIEW_MAX_IMAGE_PULL_SECRETS listed secrets that do not
 * exist, as a Pod, a Deployment and an Argo Rollout (a custom kind the default policy decides,
 * bounded by the same limits), CREATE and UPDATE.
 */
function worstReviews(): { name: string; route: '/mutate' | '/validate'; body: () => string }[] {
  const namespace = namespaceName(0);
  const pad = (prefix: string, index: number, length: number): string => {
    const head = `${prefix}${index}-`;
    return head + 'x'.repeat(Math.max(0, length - head.length));
  };
  const room = (count: number) => Math.floor((BODY_LIMIT_BYTES - 64 * 1024) / count);
  // Uncovered images with the longest hosts the limits allow: every container is denied.
  const uncoveredSpec = (nameChars: number, imageChars: number, secretChars: number) => ({
    imagePullSecrets: Array.from({ length: REVIEW_MAX_IMAGE_PULL_SECRETS }, (_, index) => ({ name: pad('s', index, secretChars) })),
    containers: Array.from({ length: REVIEW_MAX_CONTAINERS }, (_, index) => ({
      name: pad('c', index, nameChars),
      image: `${pad('h', index, imageChars - 12)}.io/app:1`,
      imagePullPolicy: 'IfNotPresent',
    })),
  });
  // Images a namespace secret covers (registry-0.example.com), with the longest valid paths: every
  // container gets the secret injected.
  const injectedSpec = (nameChars: number) => ({
    containers: Array.from({ length: REVIEW_MAX_CONTAINERS }, (_, index) => ({
      name: pad('c', index, nameChars),
      image: `registry-0.example.com/${pad('p', index, 250)}:latest`,
      imagePullPolicy: 'IfNotPresent',
    })),
  });
  const thirds = Math.min(REVIEW_MAX_NAME_CHARS, Math.floor(room(REVIEW_MAX_CONTAINERS) / 3) - 40);
  const halves = Math.min(REVIEW_MAX_NAME_CHARS, Math.floor(room(2 * REVIEW_MAX_CONTAINERS) / 3) - 40);
  const podOf = (spec: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'worst', namespace }, spec });
  const deploymentOf = (spec: object) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'worst', namespace }, spec: { template: { spec } } });
  const rolloutOf = (spec: object) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'worst', namespace }, spec: { template: { spec } } });
  const review = (object: object, kind: string, resource: string, operation: string, oldObject?: object) =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'worst', kind: { group: '', version: 'v1', kind }, resource: { group: '', version: 'v1', resource }, name: 'worst', namespace, operation,
        userInfo: { username: 'bench' }, object, ...(oldObject === undefined ? {} : { oldObject }),
      },
    });
  const uncovered = uncoveredSpec(thirds, thirds, thirds);
  const oldSpec = uncoveredSpec(halves, halves, halves);
  const newSpec = uncoveredSpec(halves, halves + 1, halves);
  const injected = injectedSpec(Math.min(REVIEW_MAX_NAME_CHARS, room(REVIEW_MAX_CONTAINERS) - 400));
  // JSON the decision never reads, at REVIEW_MAX_JSON_CONTAINERS: the costliest shapes per byte
  // once parsed (objects with keys of their own, one object of many keys, distinct strings), each
  // filling the body limit.
  /** Distinct texts as short as `count` of them allow, padded to fill what each may take of the body. */
  const distinct = (index: number, count: number, overhead: number) => index.toString(36).padStart(Math.floor(room(count)) - overhead, 'k');
  // As many objects with a key of their own as fit in the body (each `{"key":""}` takes 12 characters).
  const objectCount = Math.min(REVIEW_MAX_JSON_CONTAINERS - 64, 560_000);
  const emptyArrays = () => Array.from({ length: REVIEW_MAX_JSON_CONTAINERS - 64 }, () => '[]').join(',');
  const objectsWithOwnKeys = () => Array.from({ length: objectCount }, (_, index) => `{"${distinct(index, objectCount, 8)}":""}`).join(',');
  const keyCount = 700_000;
  const manyKeys = () => `{${Array.from({ length: keyCount }, (_, index) => `"${distinct(index, keyCount, 6)}":0`).join(',')}}`;
  const stringCount = 900_000;
  const manyStrings = () => Array.from({ length: stringCount }, (_, index) => `"${distinct(index, stringCount, 4)}"`).join(',');
  const small = { containers: [{ name: 'app', image: 'registry-0.example.com/app:1' }] };
  const unread = (field: string, json: string) => review(podOf(small), 'Pod', 'pods', 'CREATE').replace('"spec":{', `"spec":{"${field}":${json},`);
  return [
    { name: 'Pod CREATE, uncovered images, missing secrets', route: '/validate', body: () => review(podOf(uncovered), 'Pod', 'pods', 'CREATE') },
    { name: 'Pod CREATE, uncovered images, missing secrets', route: '/mutate', body: () => review(podOf(uncovered), 'Pod', 'pods', 'CREATE') },
    { name: 'Pod CREATE, every container injected', route: '/mutate', body: () => review(podOf(injected), 'Pod', 'pods', 'CREATE') },
    { name: 'Pod CREATE, every container injected', route: '/validate', body: () => review(podOf(injected), 'Pod', 'pods', 'CREATE') },
    { name: 'Deployment CREATE, uncovered images', route: '/validate', body: () => review(deploymentOf(uncovered), 'Deployment', 'deployments', 'CREATE') },
    { name: 'Argo Rollout CREATE, uncovered images', route: '/validate', body: () => review(rolloutOf(uncovered), 'Rollout', 'rollouts', 'CREATE') },
    { name: 'Pod UPDATE, every image changed', route: '/validate', body: () => review(podOf(newSpec), 'Pod', 'pods', 'UPDATE', podOf(oldSpec)) },
    { name: `Pod CREATE, ${REVIEW_MAX_JSON_CONTAINERS - 64} empty arrays (unread)`, route: '/validate', body: () => unread('volumes', `[${emptyArrays()}]`) },
    { name: `Pod CREATE, ${objectCount} objects with keys of their own (unread)`, route: '/validate', body: () => unread('volumes', `[${objectsWithOwnKeys()}]`) },
    { name: `Pod CREATE, one object of ${keyCount} keys (unread)`, route: '/validate', body: () => unread('nodeSelector', manyKeys()) },
    { name: `Pod CREATE, ${stringCount} distinct strings (unread)`, route: '/validate', body: () => unread('hostAliases', `[${manyStrings()}]`) },
  ];
}

async function measureWorstReviews(snapshot: MemorySnapshot, before: { heapMiB: number; rssMiB: number }): Promise<void> {
  const { buildWebhookApp } = await import('../src/server/app.ts');
  const { createMetrics } = await import('../src/server/metrics.ts');
  const { StaticDecisionState } = await import('../src/server/state.ts');
  const { PolicyResolver } = await import('../src/policy/resolve.ts');
  const { parsePolicyObject } = await import('../src/policy/load.ts');
  const { pino } = await import('pino');
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy');
  // The log at info, as serve runs it, into a sink that drops the lines (their cost is not memory).
  const logger = pino({ level: 'info' }, { write: () => true });
  const app = buildWebhookApp({ state: new StaticDecisionState(snapshot, new PolicyResolver(loaded.policy)), metrics: createMetrics(), logger });
  await app.ready();
  const reviews = worstReviews();
  console.log(`\nthe worst reviews the limits allow (${REVIEW_MAX_CONTAINERS} containers, ${REVIEW_MAX_IMAGE_PULL_SECRETS} pull secrets, names up to ${REVIEW_MAX_NAME_CHARS} characters), one at a time, on this state:`);
  show('  state + informer caches, before', before);
  let worst = 0;
  for (const { name, route, body: make } of reviews) {
    // Made one at a time: only the review being sent is in memory.
    const body = make();
    gc?.();
    if (!resetPeakRss()) {
      console.log('  /proc/self/clear_refs is not writable here: peaks cannot be measured');
      process.exitCode = 1;
      return;
    }
    const reply = await app.inject({ method: 'POST', url: route, payload: body, headers: { 'content-type': 'application/json' } });
    const peak = peakRssMiB();
    worst = Math.max(worst, peak);
    const answer = reply.statusCode === 200 ? (JSON.parse(reply.body) as { response: { allowed: boolean } }).response.allowed ? 'allowed' : 'denied' : `HTTP ${reply.statusCode}`;
    console.log(`  ${`${name} ${route}`.padEnd(60)} body ${(body.length / MiB).toFixed(1)} MiB, ${answer.padEnd(8)} peak rss ${peak.toFixed(1).padStart(6)} MiB`);
    // At the limits every review is decided: a 400 here means the bench measured a refusal.
    if (reply.statusCode !== 200 || body.length > BODY_LIMIT_BYTES) process.exitCode = 1;
  }
  console.log(`  highest peak: ${worst.toFixed(0)} MiB RSS (${(worst - before.rssMiB).toFixed(0)} MiB over the state); the chart's memory limit is set from it`);
  await app.close();
}
