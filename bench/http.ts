/**
 * HTTP benchmark: the real webhook against a bare Fastify server, both over HTTPS on 127.0.0.1,
 * each in its own child process, loaded by autocannon from this process (keep-alive, 10
 * connections) with AdmissionReviews of the realistic 3-container pod.
 *
 *   node bench/http.ts [--duration 4] [--rounds 5] [--warmup 2] [--connections 10] [--only TEXT]
 *                      [--profile DIR] [--logs DIR] [--namespaces N] [--server-node-options="--max-semi-space-size=64"]
 *
 * The server children run with the container image's Node.js options (IMAGE_NODE_OPTIONS), so the
 * table is what the image does; --server-node-options replaces them ("" for Node's defaults).
 *
 * Targets: bare Fastify; the webhook at the default log level (info, to a file, as production logs:
 * decisions that do something are logged, plain allows at debug), with replica pods and with pods
 * never seen before; and, for comparison, with --log-allows (one line per review). The replica
 * reviews rotate through 32 pods, as replicas repeat in a cluster, so with the cache on (the
 * default) every review after the first pass is answered from it; the never-seen row sends each
 * connection 2,000 pods of its own, each with an image no other review names, to a server with
 * the decision cache off (see TARGETS). The
 * bench pods are allowed (covered, one Docker Hub image: an info finding), as most pods are, so at
 * the default level they write no line. All servers start first (idle
 * ones cost nothing), then the runs interleave, round by round, so that background load on a
 * shared machine hits every target alike. Prints a Markdown table to paste into the README.
 * Every run is bounded in time, and every child is killed at the end, on error and on Ctrl-C;
 * children also exit by themselves when this process goes away.
 *
 * Method. Each row's ratio is against the bare server fed the SAME bodies, in the same round: the
 * bare server with the 32 replicas for the replica rows, and a second bare server sent exactly the
 * never-seen rows' fresh bodies for those. The bare server does the same work for either body
 * (parse, answer), so what differs between its two rows is the load generator's: 20,000 distinct
 * 4 KiB requests instead of 32 (its memory and caches) and, against a slower server, fewer answers
 * per wake-up on both sides. The "load generator µs/req" column (this process's CPU per answered
 * request) shows that cost, and "ratio to bare replicas" keeps the comparison with the replica
 * baseline in view. Every request's bytes are built once per route before the runs (see
 * prebuiltRequests), and a run's rate is its answers over the time from the first connection
 * built to the last answer, measured here, not autocannon's duration (which starts before it
 * builds its connections). Before every run the never-seen pods get new numbers (uid and image
 * repository, rewritten in place: renumber), so no pod comes round again in a later run, warm-up
 * included. "GC pause µs/req" is the server's main thread paused for garbage collection.
 * A row's p99 is the median of its rounds' p99s, as its ratio is the median of its rounds' ratios:
 * on a shared machine a burst of other work stalls a round now and then, and pooled, the requests
 * of that one round set the row's p99 (the pooled p99 is shown too).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon, { type AutocannonClient, type AutocannonResult } from 'autocannon';
import { generateCertificates } from '../src/certs/generate.ts';
import { BENCH_HOST, type ChildMessage, type StartMessage, type Usage, type UsageQuery } from './child.ts';
import { benchReview, HTTP_BODY_POOL_SIZE, NAMESPACE_COUNT, poolIndexes } from './fixtures.ts';

/** The V8 options of the image (Dockerfile: NODE_OPTIONS and ENTRYPOINT); test/image/dockerfile-rehearsal.test.ts keeps them equal. */
export const IMAGE_NODE_OPTIONS = '--max-semi-space-size=4 --heap-growing-percent=20';
/** The goals at 10 connections, default log level: replica pods (decision-cache hits) and pods never seen before. */
export const GOAL_RATIO_TO_BARE = 0.85;
export const GOAL_RATIO_TO_BARE_UNCACHED = 0.75;
export const GOAL_P99_MS = 5;
/** A child that has not listened by then is broken (the webhook builds a 10,000-namespace snapshot first). */
const CHILD_START_TIMEOUT_MS = 120_000;
/** After SIGTERM, a child gets this long before SIGKILL. */
const CHILD_STOP_TIMEOUT_MS = 5_000;
/** Autocannon's per-request timeout, seconds: far above any expected latency, so a stuck server shows as timeouts. */
const REQUEST_TIMEOUT_S = 10;

const { values } = parseArgs({
  options: {
    /** Seconds per run; each target gets `rounds` runs per route, interleaved with the others. */
    duration: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    /** Only targets whose name contains one of these comma-separated texts (the bare baseline always runs). */
    only: { type: 'string', default: '' },
    /** Write a V8 CPU profile of each server child into DIR (node --cpu-prof). */
    profile: { type: 'string' },
    /** Keep the webhook children's stdout (their log lines, and --trace-gc output given in --server-node-options) in DIR. */
    logs: { type: 'string' },
    /** Snapshot size of the webhook children (to separate the snapshot's GC cost from the rest). */
    namespaces: { type: 'string', default: String(NAMESPACE_COUNT) },
    /** Node.js options of the server children, space-separated (default: the image's). */
    'server-node-options': { type: 'string', default: IMAGE_NODE_OPTIONS },
    /** Add diagnostic targets: the webhook with the bench namespaces excluded (everything but the decision), sent the replicas and the never-seen bodies. */
    'no-decision-target': { type: 'boolean', default: false },
    /** Add diagnostic targets: the bare server plus one piece of the webhook's setup each (server options and parser, metrics registry, snapshot). */
    'bare-variants': { type: 'boolean', default: false },
    /** Add calibration targets: the bare server doing 10 and 25 µs of busy work per review, sent the never-seen bodies (what a known cost does to the ratio). */
    calibration: { type: 'boolean', default: false },
    /** Add a diagnostic target: the webhook sent the replicas with the decision cache off (every review decided, its images known to the memos inside the decision): beside the never-seen row, it tells the decision's cost from a new image's. */
    'uncached-replicas-target': { type: 'boolean', default: false },
    /** Add a diagnostic target: the webhook with logging off. */
    'silent-target': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`Usage: node bench/http.ts [--duration 4] [--rounds 5] [--warmup 2] [--connections 10] [--only TEXT,...]
                         [--profile DIR] [--logs DIR] [--namespaces N] [--server-node-options="..."] [--no-decision-target] [--uncached-replicas-target] [--silent-target] [--bare-variants] [--calibration]
Loads the webhook and a bare Fastify server over HTTPS and prints a Markdown table (see the header of bench/http.ts).
`);
  process.exit(0);
}
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
for (const [name, value] of [['duration', durationS], ['warmup', warmupS], ['connections', connections], ['rounds', rounds]] as const) {
  if (!Number.isFinite(value) || value < 0 || (name !== 'warmup' && value <= 0)) throw new Error(`--${name} must be a positive number`);
}

const ROUTES = ['/validate', '/mutate'] as const;
type Route = (typeof ROUTES)[number];

interface Target {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  /** Send the child's stdout (its log) to a file instead of discarding it. */
  readonly logFile: boolean;
  /** Shown for comparison only; the goals do not apply to it. */
  readonly diagnostic?: boolean;
  /** The throughput ratio this target must reach (GOAL_RATIO_TO_BARE unless set). */
  readonly goalRatio?: number;
  /** Send pods the server has never seen (freshBodies) instead of the 32 rotating replicas. */
  readonly freshPods?: boolean;
  /** A bare server: the rows with the same bodies (freshPods alike) are compared with it. */
  readonly baseline?: boolean;
}

const TARGETS: readonly Target[] = [
  { name: 'bare Fastify (baseline)', script: 'bare-server.ts', args: [], logFile: false, baseline: true },
  // The bare server sent exactly the never-seen row's bodies: that row's baseline, so the load
  // generator's extra cost for 20,000 distinct bodies falls on both sides of its ratio.
  { name: 'bare Fastify, pods never seen (same bodies)', script: 'bare-server.ts', args: [], logFile: false, baseline: true, freshPods: true },
  // The bench's pods repeat (replicas), so this row answers from the decision cache; the next one
  // sends pods the server has never seen: every connection its own run of FRESH_PODS_PER_CONNECTION
  // pods, each with an app image no other review names (a repository of its own), in the same
  // namespaces, with the decision cache off. No cache can answer them: not the decision cache, not
  // the image-reference memo, not the keyring matches remembered per namespace (each far smaller
  // than the pods in flight); what is remembered per namespace state (its secrets resolved for the
  // pod's list) is what a cluster remembers too, where namespaces outlive their pods.
  { name: 'pullguard, default log (info)', script: 'webhook-server.ts', args: ['--logger', 'info', '--namespaces', values.namespaces], logFile: true },
  { name: 'pullguard, default log, pods never seen (new images, cache off)', script: 'webhook-server.ts', args: ['--logger', 'info', '--namespaces', values.namespaces, '--decision-cache-entries', '0'], logFile: true, goalRatio: GOAL_RATIO_TO_BARE_UNCACHED, freshPods: true },
  // What logging every review costs (the pre-issue-14 default): a diagnostic row.
  { name: 'pullguard, --log-allows (a line per review)', script: 'webhook-server.ts', args: ['--logger', 'info', '--log-allows', '--namespaces', values.namespaces], logFile: true, diagnostic: true },
  ...(values['uncached-replicas-target']
    ? [{ name: 'pullguard, default log, replicas decided afresh (cache off)', script: 'webhook-server.ts', args: ['--logger', 'info', '--namespaces', values.namespaces, '--decision-cache-entries', '0'], logFile: true, diagnostic: true }]
    : []),
  ...(values['silent-target']
    ? [{ name: 'pullguard, logger silent', script: 'webhook-server.ts', args: ['--logger', 'silent', '--namespaces', values.namespaces], logFile: false, diagnostic: true }]
    : []),
  ...(values['bare-variants']
    ? [
        { name: 'bare + webhook server options and JSON parser', script: 'bare-server.ts', args: ['--server-options'], logFile: false, diagnostic: true },
        { name: 'bare + metrics registry (default process metrics)', script: 'bare-server.ts', args: ['--metrics'], logFile: false, diagnostic: true },
        { name: 'bare + 10,000-namespace snapshot held in memory', script: 'bare-server.ts', args: ['--snapshot'], logFile: false, diagnostic: true },
      ]
    : []),
  // Calibration: what a fixed amount of work per review costs in the ratio on this machine. The busy
  // work touches no memory, so it is the cheapest possible form of that many microseconds.
  ...(values.calibration
    ? [10, 25].map((us) => ({ name: `bare + ${us} µs busy work per review, pods never seen`, script: 'bare-server.ts', args: ['--busy-us', String(us)], logFile: false, diagnostic: true, freshPods: true }))
    : []),
  ...(values['no-decision-target']
    ? [
        { name: 'pullguard, namespaces excluded (no decision)', script: 'webhook-server.ts', args: ['--logger', 'silent', '--namespaces', values.namespaces, '--exclude-bench-namespaces'], logFile: false, diagnostic: true },
        // The same, sent the never-seen bodies: what the server costs around the decision for them.
        { name: 'pullguard, namespaces excluded (no decision), pods never seen', script: 'webhook-server.ts', args: ['--logger', 'silent', '--namespaces', values.namespaces, '--exclude-bench-namespaces', '--decision-cache-entries', '0'], logFile: false, diagnostic: true, freshPods: true },
      ]
    : []),
];

const children = new Set<ChildProcess>();
const workDir = mkdtempSync(join(tmpdir(), 'pullguard-bench-'));

function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}
function cleanUpAndExit(code: number): never {
  killAll();
  rmSync(workDir, { recursive: true, force: true });
  process.exit(code);
}
process.once('SIGINT', () => cleanUpAndExit(130));
process.once('SIGTERM', () => cleanUpAndExit(143));

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly setupMs: number;
  readonly detail: string;
  readonly logPath: string | undefined;
}

async function startChild(target: Target, start: StartMessage): Promise<Started> {
  const logPath = target.logFile ? join(values.logs ?? workDir, `${target.name.replace(/[^a-z0-9]+/gi, '-')}.log`) : undefined;
  const stdout = logPath !== undefined ? openSync(logPath, 'w') : 'ignore';
  const execArgv = [
    ...values['server-node-options'].split(' ').filter((option) => option !== ''),
    ...(values.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []),
  ];
  const child = fork(new URL(target.script, import.meta.url), [...target.args], { stdio: ['ignore', stdout, 'inherit', 'ipc'], execArgv });
  if (typeof stdout === 'number') closeSync(stdout); // the child holds its own copy
  children.add(child);
  const message = await new Promise<ChildMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target.name} did not start within ${CHILD_START_TIMEOUT_MS} ms`)), CHILD_START_TIMEOUT_MS);
    child.once('message', (answer: ChildMessage) => {
      clearTimeout(timer);
      resolve(answer);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${target.name} exited before listening (code ${code}, signal ${signal})`));
    });
    child.send(start);
  });
  if (message.type === 'failed') throw new Error(`${target.name} failed to start: ${message.message}`);
  if (message.type !== 'listening') throw new Error(`${target.name} sent ${message.type} before listening`);
  return { child, port: message.port, setupMs: message.setupMs, detail: message.detail, logPath };
}

/** The child's CPU time and memory now (answered over IPC between runs, so it costs the server nothing during one). */
function usageOf(child: ChildProcess): Promise<Usage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not report its usage')), 10_000);
    const onMessage = (message: ChildMessage): void => {
      if (message.type !== 'usage') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    const query: UsageQuery = { type: 'usage' };
    child.send(query);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  children.delete(child);
}

/** One request with full TLS verification against the bench CA: checks the answer before timing anything. */
function checkOnce(port: number, route: Route, body: string, ca: string, uid: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: BENCH_HOST, port, path: route, method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const answer = JSON.parse(text) as { response?: { uid?: string; allowed?: boolean } };
          if (res.statusCode !== 200 || answer.response?.uid !== uid || answer.response.allowed !== true) {
            reject(new Error(`${route} answered ${res.statusCode}: ${text.slice(0, 300)}`));
          } else resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${route} check timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Pods never seen, per connection: more than any of the server's memos holds, so a pod comes round again only after they all moved on. */
const FRESH_PODS_PER_CONNECTION = 2_000;

/** Digits of a never-seen pod's number, in its uid and its image repository (fixed, so a pod is renumbered in place). */
const POD_NUMBER_DIGITS = 12;
const FRESH_UID_PREFIX = 'f7e5a0de-0000-4000-8000-';
const FRESH_IMAGE_PREFIX = '/api-fresh-';

function podNumber(n: number): string {
  return String(n).padStart(POD_NUMBER_DIGITS, '0');
}

/**
 * `count` pods the server has never seen, in the same namespaces as the replicas: the app image of
 * each is a repository of its own (`harbor.corp.example.com/team-N/api-fresh-<n>:2.M.1`), each
 * review has its own uid. Numbered from `first`, so the lists of different connections share none;
 * renumber() gives them new numbers before each run.
 */
function freshBodies(first: number, count: number): string[] {
  const indexes = poolIndexes(HTTP_BODY_POOL_SIZE);
  return Array.from({ length: count }, (_, offset) => {
    const n = first + offset;
    const review = benchReview(indexes[n % indexes.length] as number, 'pod-lists-secrets');
    const request = review['request'] as { uid: string; object: { spec: { containers: { image: string }[] } } };
    request.uid = `${FRESH_UID_PREFIX}${podNumber(n)}`;
    const app = request.object.spec.containers[0] as { image: string };
    app.image = app.image.replace('/api:', `${FRESH_IMAGE_PREFIX}${podNumber(n)}:`);
    return JSON.stringify(review);
  });
}

/** A request as autocannon's connection writes it: the whole HTTP/1.1 message, built by prebuiltRequests. */
interface PrebuiltRequest {
  readonly requestBuffer: Buffer;
  /** Where the pod's number is written in requestBuffer (uid and image), for a never-seen pod. */
  readonly numberAt?: readonly number[];
}

/**
 * Gives every never-seen pod of `requests` a number no run has sent before (connection c's i-th
 * pod is `first + c * FRESH_PODS_PER_CONNECTION + i`), written over the old one in place: the
 * same bytes but the digits, so no image and no uid comes round again in a later run (warm-up
 * included) and no memo of the server can have kept it. Runs before the run's clock starts.
 */
function renumber(requests: Requests, first: number): void {
  requests.forEach((list, connection) => {
    list.forEach((request, index) => {
      const digits = podNumber(first + connection * FRESH_PODS_PER_CONNECTION + index);
      for (const at of request.numberAt ?? []) request.requestBuffer.write(digits, at, 'latin1');
    });
  });
}

/** Where a never-seen pod's number is in its request: after the uid's prefix and after the image's. */
function numberOffsets(request: Buffer): number[] {
  const offsets = [FRESH_UID_PREFIX, FRESH_IMAGE_PREFIX].map((prefix) => {
    const at = request.indexOf(prefix);
    if (at < 0 || request.indexOf(prefix, at + 1) >= 0) throw new Error(`a never-seen pod must name ${prefix} exactly once`);
    return at + prefix.length;
  });
  return offsets;
}

/** What a run sends, per connection (several connections may share one list; each starts at its first request). */
type Requests = readonly (readonly PrebuiltRequest[])[];

/**
 * The bytes of every request, built once per route and reused by every run. autocannon 8 rebuilds
 * each request of a list (headers joined, body encoded and copied) for every connection at the
 * start of every run, after its clock started: for the never-seen lists 2 x 2,000 builds per
 * connection, ~0.4 s of this process's CPU per run, during which nothing was sent but the run's
 * duration counted. The message is what autocannon writes (request line, Host, keep-alive,
 * content type and length, body), each list in one allocation.
 */
function prebuiltRequests(route: Route, bodies: readonly string[], numbered = false): PrebuiltRequest[] {
  const messages = bodies.map(
    (body) => `POST ${route} HTTP/1.1\r\nHost: ${BENCH_HOST}\r\nConnection: keep-alive\r\ncontent-type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const all = Buffer.from(messages.join(''), 'utf8');
  let offset = 0;
  return messages.map((message) => {
    const length = Buffer.byteLength(message);
    const requestBuffer = all.subarray(offset, offset + length);
    offset += length;
    return numbered ? { requestBuffer, numberAt: numberOffsets(requestBuffer) } : { requestBuffer };
  });
}

/** The fields of autocannon 8's per-connection RequestIterator that it reads for every request (lib/requestIterator.js). */
interface RequestIteratorFields {
  requests: readonly PrebuiltRequest[];
  currentRequest: PrebuiltRequest | undefined;
  currentRequestIndex: number;
}

/** Hands a connection its prebuilt list, past autocannon's setRequests (which would rebuild every request). */
function useRequests(client: AutocannonClient, list: readonly PrebuiltRequest[]): void {
  const iterator = (client as unknown as { requestIterator?: Partial<RequestIteratorFields> }).requestIterator;
  if (iterator === undefined || !Array.isArray(iterator.requests) || typeof iterator.currentRequestIndex !== 'number') {
    throw new Error('autocannon no longer has the RequestIterator fields bench/http.ts sets (requests, currentRequest, currentRequestIndex)');
  }
  iterator.requests = list;
  iterator.currentRequestIndex = 0;
  iterator.currentRequest = list[0];
}

interface RunResult {
  readonly requestsPerSecond: number;
  readonly latencies: Float64Array;
  readonly problems: readonly string[];
  /** This process's CPU time (user + system) during the run: the load generator's cost. */
  readonly loadCpuMicros: number;
}

/**
 * One autocannon run; latencies are recorded here at full resolution (autocannon's histogram keeps
 * whole milliseconds). The clock and the CPU count start once autocannon has built its
 * connections (synchronously, in autocannon()) and stop at its callback.
 */
function load(port: number, route: Route, requests: Requests, seconds: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let nextConnection = 0;
    const instance = autocannon(
      {
        url: `https://${BENCH_HOST}:${port}${route}`,
        servername: 'localhost',
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: REQUEST_TIMEOUT_S,
        // Built for each connection and replaced at once by useRequests (below): one small request.
        method: 'POST',
        setupClient: (client) => useRequests(client, requests[nextConnection++ % requests.length] ?? []),
      },
      (error: Error | null, result: AutocannonResult) => {
        const elapsedS = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuBefore);
        if (error !== null) return reject(error);
        const problems = [
          result.errors > 0 ? `${result.errors} errors` : '',
          result.timeouts > 0 ? `${result.timeouts} timeouts` : '',
          result.non2xx > 0 ? `${result.non2xx} non-2xx` : '',
        ].filter((text) => text !== '');
        resolve({ requestsPerSecond: latencies.length / elapsedS, latencies: Float64Array.from(latencies), problems, loadCpuMicros: cpu.user + cpu.system });
      },
    );
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/** Every round of one target on one route. */
interface Cell {
  readonly rates: number[];
  readonly latencies: Float64Array[];
  readonly problems: string[];
  cpuMicros: number;
  mainThreadCpuMicros: number;
  systemCpuMicros: number;
  gcPauseMicros: number;
  scavengeMicros: number;
  /** This process's CPU during the runs (autocannon's work). */
  loadCpuMicros: number;
  requests: number;
}

interface Server {
  readonly target: Target;
  readonly started: Started;
  readonly cells: Map<Route, Cell>;
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const certificates = generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 1 });
  const start: StartMessage = { type: 'start', cert: certificates.tlsCert, key: certificates.tlsKey };
  const reviews = poolIndexes(HTTP_BODY_POOL_SIZE).map((index) => benchReview(index, 'pod-lists-secrets'));
  const bodies = reviews.map((review) => JSON.stringify(review));
  const firstUid = (reviews[0]?.['request'] as { uid: string }).uid;
  const notes: string[] = [];

  // Every server is up before the first run, and the runs interleave (each round visits every
  // target in turn, in a rotating order), so a change in background load hits all targets alike.
  const servers: Server[] = [];
  const wanted = values.only.split(',');
  const chosen = TARGETS.filter((candidate) => candidate.baseline !== true && wanted.some((text) => candidate.name.includes(text)));
  // The replica baseline always runs; the never-seen one when a chosen row sends those bodies.
  const baselines = TARGETS.filter((candidate) => candidate.baseline === true && (candidate.freshPods !== true || chosen.some((row) => row.freshPods === true)));
  for (const target of [...baselines, ...chosen]) {
    const started = await startChild(target, start);
    servers.push({
      target,
      started,
      cells: new Map(ROUTES.map((route) => [route, { rates: [], latencies: [], problems: [], cpuMicros: 0, mainThreadCpuMicros: 0, systemCpuMicros: 0, gcPauseMicros: 0, scavengeMicros: 0, loadCpuMicros: 0, requests: 0 }])),
    });
    notes.push(`${target.name}: ready in ${started.setupMs} ms (${started.detail})`);
  }
  const usesFresh = servers.some((server) => server.target.freshPods === true);
  // The next number a never-seen pod gets: every run (of any target, warm-up included) sends new ones.
  let freshNumbers = 0;
  for (const route of ROUTES) {
    // Built once per route, before any run (prebuiltRequests); one list shared by every connection
    // for the replicas, a list of its own per connection for the pods never seen.
    const replicas: Requests = [prebuiltRequests(route, bodies)];
    const fresh: Requests = usesFresh
      ? Array.from({ length: connections }, (_, connection) => prebuiltRequests(route, freshBodies(connection * FRESH_PODS_PER_CONNECTION, FRESH_PODS_PER_CONNECTION), true))
      : [];
    const requestsOf = (target: Target): Requests => {
      if (target.freshPods !== true) return replicas;
      renumber(fresh, freshNumbers);
      freshNumbers += connections * FRESH_PODS_PER_CONNECTION;
      return fresh;
    };
    for (const server of servers) {
      await checkOnce(server.started.port, route, bodies[0] as string, certificates.caCert, firstUid);
      if (warmupS > 0) await load(server.started.port, route, requestsOf(server.target), warmupS);
    }
    for (let round = 0; round < rounds; round++) {
      for (let turn = 0; turn < servers.length; turn++) {
        const server = servers[(round + turn) % servers.length] as Server;
        const cell = server.cells.get(route) as Cell;
        const before = await usageOf(server.started.child);
        const run = await load(server.started.port, route, requestsOf(server.target), durationS);
        const after = await usageOf(server.started.child);
        cell.rates.push(run.requestsPerSecond);
        cell.latencies.push(run.latencies);
        cell.problems.push(...run.problems);
        cell.cpuMicros += after.cpuMicros - before.cpuMicros;
        cell.mainThreadCpuMicros += after.mainThreadCpuMicros - before.mainThreadCpuMicros;
        cell.systemCpuMicros += after.systemCpuMicros - before.systemCpuMicros;
        cell.gcPauseMicros += after.gcPauseMicros - before.gcPauseMicros;
        cell.scavengeMicros += after.scavengeMicros - before.scavengeMicros;
        cell.loadCpuMicros += run.loadCpuMicros;
        cell.requests += run.latencies.length;
        process.stderr.write(`  round ${round + 1}/${rounds} ${route} ${server.target.name}: ${Math.round(run.requestsPerSecond)} req/s\n`);
      }
    }
  }
  for (const server of servers) {
    const usage = await usageOf(server.started.child);
    if (server.target.script !== 'bare-server.ts') {
      notes.push(`${server.target.name}: RSS ${(usage.rssBytes / 2 ** 20).toFixed(0)} MiB, heap used ${(usage.heapUsedBytes / 2 ** 20).toFixed(0)} MiB after the runs`);
    }
    await stopChild(server.started.child);
    if (server.started.logPath !== undefined) {
      const text = readFileSync(server.started.logPath, 'utf8');
      const decisions = text.split('\n').filter((line) => line.includes('"admission decision"')).length;
      notes.push(`${server.target.name}: ${decisions} decision log lines, ${(statSync(server.started.logPath).size / 2 ** 20).toFixed(1)} MiB (warm-up included)`);
    }
  }

  // A row's baseline is the bare server sent the same bodies (replicas or pods never seen).
  const baselineFor = (target: Target): Server | undefined =>
    servers.find((server) => server.target.baseline === true && (server.target.freshPods === true) === (target.freshPods === true));
  const replicaBaseline = baselineFor({ name: '', script: '', args: [], logFile: false });
  const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const bodyKiB = bodies.reduce((total, body) => total + body.length, 0) / bodies.length / 1024;
  const lines = [
    '',
    `HTTPS on ${BENCH_HOST}, keep-alive, ${connections} connections; ${rounds} interleaved rounds of ${durationS} s per row ` +
      `(after ${warmupS} s warm-up); AdmissionReview of a 3-container pod (${fixed(bodyKiB, 1)} KiB, ${HTTP_BODY_POOL_SIZE} variants); ` +
      `node ${process.version}; ${availableParallelism()} cores (${cpuModel}), nothing pinned: the server under load and autocannon share them` +
      `${values['server-node-options'] !== '' ? `; server options: ${values['server-node-options']}` : ''}; ` +
      `1-min load average at the end: ${(loadavg()[0] ?? 0).toFixed(2)}.`,
    '',
    '| target | route | requests/s | p50 (ms) | p99 (ms): median of rounds (range) | p99 pooled (ms) | ratio to bare | ratio to bare replicas | server CPU µs/req | CPU ratio | main thread µs/req | kernel µs/req | GC pause µs/req | load generator µs/req |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  // Each goal judged on its own, over every webhook row (worst row shown).
  const ratioVerdicts: string[] = [];
  let ratiosMet = true;
  let worstP99 = 0;
  let problemCount = 0;
  for (const route of ROUTES) {
    const replicaBareCell = replicaBaseline?.cells.get(route);
    for (const server of servers) {
      const bareCell = baselineFor(server.target)?.cells.get(route);
      const bareCpu = bareCell === undefined ? Number.NaN : bareCell.cpuMicros / bareCell.requests;
      const cell = server.cells.get(route) as Cell;
      const pooled = new Float64Array(cell.latencies.reduce((total, part) => total + part.length, 0));
      let offset = 0;
      for (const part of cell.latencies) {
        pooled.set(part, offset);
        offset += part.length;
      }
      pooled.sort();
      // Each round's rate against the bare server's rate of the same round: neighbours in time.
      const ratioTo = (baseline: Cell | undefined): number => median(cell.rates.map((rate, round) => rate / (baseline?.rates[round] ?? Number.NaN)));
      const ratio = ratioTo(bareCell);
      const cpuPerRequest = cell.cpuMicros / cell.requests;
      // The goal's p99 is the median of the rounds' p99s, as the ratio is the median of the rounds'
      // ratios: a burst on the machine (another process, the hypervisor taking the vCPU) that
      // stalls one round moves its p99 by milliseconds and, pooled, the row's; the pooled p99 is
      // shown next to it.
      const roundP99s = cell.latencies.map((part) => percentile(Float64Array.from(part).sort(), 0.99));
      const p99 = median(roundP99s);
      const p99Range = `${fixed(Math.min(...roundP99s), 2)}-${fixed(Math.max(...roundP99s), 2)}`;
      const isWebhook = server.target.baseline !== true;
      if (isWebhook && server.target.diagnostic !== true) {
        // NaN (no bare figure, no requests) counts as missing the goal.
        const goal = server.target.goalRatio ?? GOAL_RATIO_TO_BARE;
        const met = ratio >= goal;
        ratiosMet &&= met;
        ratioVerdicts.push(`${server.target.name} ${route} ${fixed(ratio, 2)} (>= ${goal}: ${met ? 'met' : 'NOT met'})`);
        worstP99 = Number.isNaN(p99) || Number.isNaN(worstP99) ? Number.NaN : Math.max(worstP99, p99);
      }
      problemCount += cell.problems.length;
      const problems = cell.problems.length === 0 ? '' : ` (${cell.problems.join(', ')})`;
      lines.push(
        `| ${server.target.name} | ${route} | ${Math.round(median(cell.rates)).toLocaleString('en-US')}${problems} | ` +
          `${fixed(percentile(pooled, 0.5), 2)} | ${fixed(p99, 2)} (${p99Range}) | ${fixed(percentile(pooled, 0.99), 2)} | ${fixed(ratio, 2)} | ${fixed(ratioTo(replicaBareCell), 2)} | ` +
          `${fixed(cpuPerRequest, 0)} | ${fixed(bareCpu / cpuPerRequest, 2)} | ${fixed(cell.mainThreadCpuMicros / cell.requests, 0)} | ` +
          `${fixed(cell.systemCpuMicros / cell.requests, 0)} | ${fixed(cell.gcPauseMicros / cell.requests, 1)} (${fixed(cell.scavengeMicros / cell.requests, 1)}) | ` +
          `${fixed(cell.loadCpuMicros / cell.requests, 0)} |`,
      );
    }
  }
  lines.push(
    '',
    '- requests/s: median over rounds, each round\'s answers over the time from its connections built to its last answer; ' +
      'p50 and p99 pooled: over every request of every round; p99: the median of the rounds\' p99s (the goal), in brackets the lowest and highest round.',
    '- ratio to bare: median of the per-round ratios to the bare server sent the same bodies (the replicas, or exactly the pods never seen), ' +
      'the ratio the goals judge; ratio to bare replicas: the same against the bare server sent the replicas. The two bare rows differ ' +
      'only in what the load generator sends, so their ratio is the load generator\'s share of the difference.',
    '- GC pause µs/req: the server\'s main thread paused for garbage collection (V8\'s gc performance entries) per answered request; ' +
      'in brackets the scavenges\' share (the young generation; the rest is the old generation\'s mark-compact). Part of main thread µs/req.',
    '- load generator µs/req: CPU time of this process (autocannon: TLS, HTTP parsing, latency records) per answered request.',
    '- server CPU µs/req: the server process\'s CPU time (all threads) per answered request; CPU ratio = bare / this, the throughput ratio ' +
      'a server-bound run on dedicated cores would show. It is the steadier figure when other work shares the machine. ' +
      'main thread µs/req: the JavaScript thread\'s share of it (the rest is GC helper threads and libuv); kernel µs/req: the system-time ' +
      'share (socket writes, waking the load generator), which grows when the server, not the client, is the bottleneck.',
    ...notes.map((note) => `- ${note}`),
    `- Goals (default log level): ratio to bare: ${ratiosMet ? 'met' : 'NOT met'}: ${ratioVerdicts.join('; ')}; ` +
      `p99 (median of rounds) <= ${GOAL_P99_MS} ms: ${worstP99 <= GOAL_P99_MS ? 'met' : 'NOT met'} (worst row ${fixed(worstP99, 2)} ms)` +
      `${problemCount > 0 ? `; ${problemCount} errors or timeouts: the run is NOT valid` : ''}.`,
    `- Bench wall time: ${Math.round((performance.now() - benchStarted) / 1000)} s.`,
    '',
  );
  process.stdout.write(lines.join('\n'));
}

main().then(
  () => cleanUpAndExit(0),
  (error: unknown) => {
    process.stderr.write(`bench/http: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    cleanUpAndExit(1);
  },
);
