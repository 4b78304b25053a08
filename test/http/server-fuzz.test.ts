/**
 * Robustness of the webhook's HTTP surface under random input, through fastify.inject():
 * valid reviews of pods and workloads, then mutated (fields deleted, types swapped, huge strings,
 * deep nesting, random unicode images, random operations and subresources), non-object bodies,
 * text that is not JSON and wrong content types. Whatever arrives, the server answers 200 with
 * the request's uid or a 4xx, never a 5xx, never logs an internal error, never echoes credentials,
 * and every patch it sends applies to the object and is idempotent.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { WARNING_MAX_LENGTH, WARNINGS_MAX_TOTAL } from '../../src/admission/warnings.ts';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { buildWebhookApp } from '../../src/server/app.ts';
import { BODY_LIMIT_BYTES } from '../../src/server/limits.ts';
import { REVIEW_MAX_CONTAINERS, REVIEW_MAX_IMAGE_PULL_SECRETS, REVIEW_MAX_NAME_CHARS } from '../../src/admission/review-limits.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { StaticDecisionState } from '../../src/server/state.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import {
  admissionReview, b64, deployment, dockerConfigJsonSecret, namespaceObject, pod, pullSecret, secretOfType, serviceAccount,
  type ContainerSpec, type PodOptions,
} from '../helpers/objects.ts';

/** Runs per property; the whole file stays well under 30 s on the 2-core CI machine. */
const RUNS = { mutated: 1500, envelope: 400, notReviews: 300, notJson: 300, contentTypes: 200 } as const;
/** About 35 s on two idle cores; 60-75 s when other work shares them, past tap's default 60 s per file. */
t.setTimeout(180_000);
/** Longest audit annotation value the webhook sends (admit.ts AUDIT_VALUE_MAX). */
const AUDIT_VALUE_MAX = 2000;
/** Credential material of the fixtures: must never appear in an answer. */
const FAKE_PASSWORD = 'not-a-real-password';
const FAKE_AUTH = b64(`user:${FAKE_PASSWORD}`);

const STATE = [
  namespaceObject('team'),
  namespaceObject('audit', { 'pullguard.io/mode': 'dry-run' }),
  namespaceObject('relaxed', { 'pullguard.io/mode': 'warn' }),
  pullSecret('team', 'regcred', 'registry.example.com', 'registry.example.com:5000'),
  pullSecret('team', 'hubcred', 'https://index.docker.io/v1/', 'docker.io/acme'),
  dockerConfigJsonSecret('team', 'broken', { 'registry.example.com': { auth: '!!!not base64' } }),
  secretOfType('team', 'config', 'Opaque', { 'config.yaml': b64('a: 1') }),
  serviceAccount('team', 'builder', 'regcred'),
  pullSecret('audit', 'regcred', 'registry.example.com'),
  pullSecret('relaxed', 'regcred', 'registry.example.com'),
];

function policyResolver(): PolicyResolver {
  const loaded = parsePolicyObject({ registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return new PolicyResolver(loaded.policy);
}

/** Log lines at error level or above: an input problem must never be logged as an internal error. */
const internalErrors: string[] = [];
const logger = pino({ level: 'info' }, {
  write(line: string) {
    const entry = JSON.parse(line) as { level: number; msg: string };
    if (entry.level >= 50) internalErrors.push(line.slice(0, 500));
  },
});
const app = buildWebhookApp({
  state: new StaticDecisionState(snapshotFromObjects(STATE), policyResolver()),
  metrics: createMetrics({ defaultMetrics: false }),
  logger,
  now: () => Date.parse('2026-06-01T12:00:00Z'),
});
t.teardown(() => app.close());

type Route = '/mutate' | '/validate';
const ROUTES: readonly Route[] = ['/mutate', '/validate'];

interface Answer {
  readonly status: number;
  readonly text: string;
}

async function send(route: Route, payload: string | Buffer, contentType: string | undefined = 'application/json'): Promise<Answer> {
  const reply = await app.inject({
    method: 'POST',
    url: route,
    payload,
    headers: contentType === undefined ? {} : { 'content-type': contentType },
  });
  return { status: reply.statusCode, text: reply.body };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A sufficient condition for a well-formed review, written from the AdmissionReview v1 contract
 * (not from the decoder): the server must answer such a review with 200.
 */
function isWellFormedReview(body: unknown): boolean {
  if (!isRecord(body) || body['kind'] !== 'AdmissionReview' || body['apiVersion'] !== 'admission.k8s.io/v1') return false;
  const request = body['request'];
  if (!isRecord(request)) return false;
  if (typeof request['uid'] !== 'string' || request['uid'] === '') return false;
  if (!['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(request['operation'] as string)) return false;
  if (request['dryRun'] !== undefined && typeof request['dryRun'] !== 'boolean') return false;
  for (const field of ['name', 'namespace', 'subResource']) {
    if (request[field] !== undefined && typeof request[field] !== 'string') return false;
  }
  for (const field of ['kind', 'resource']) {
    const value = request[field];
    if (value !== undefined && !(isRecord(value) && Object.values(value).every((part) => typeof part === 'string'))) return false;
  }
  return !mayExceedReviewLimits(request['object']) && !mayExceedReviewLimits(request['oldObject']) && !hasPrototypeKey(body);
}

/**
 * A `__proto__` key anywhere in the body is refused with 400 on purpose (the JSON parser's
 * prototype-pollution guard; see the edge case below), however well-formed the rest is.
 */
function hasPrototypeKey(body: unknown): boolean {
  const pending: unknown[] = [body];
  while (pending.length > 0) {
    const value = pending.pop();
    if (Array.isArray(value)) pending.push(...value);
    else if (isRecord(value)) {
      if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return true;
      pending.push(...Object.values(value));
    }
  }
  return false;
}

/**
 * The README's review limits, over-approximated without knowing where a pod spec sits: a string
 * longer than REVIEW_MAX_NAME_CHARS or more than REVIEW_MAX_CONTAINERS array elements anywhere in
 * the object may be over a limit, and such a review may be refused with 400.
 */
function mayExceedReviewLimits(object: unknown): boolean {
  const pending: unknown[] = [object];
  let elements = 0;
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string' && value.length > REVIEW_MAX_NAME_CHARS) return true;
    if (Array.isArray(value)) {
      elements += value.length;
      if (elements > Math.min(REVIEW_MAX_CONTAINERS, REVIEW_MAX_IMAGE_PULL_SECRETS)) return true;
      pending.push(...value);
    } else if (isRecord(value)) pending.push(...Object.values(value));
  }
  return false;
}

/** RFC 6902 `add` (the only operation the webhook emits), strict: a patch the API server would reject throws. */
function applyAdd(document: unknown, path: string, value: unknown): void {
  const tokens = path.split('/').slice(1).map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (path[0] !== '/' || tokens.length === 0) throw new Error(`bad pointer ${path}`);
  let parent: unknown = document;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(parent) && /^(0|[1-9]\d*)$/.test(token) && Number(token) < parent.length) parent = parent[Number(token)];
    else if (isRecord(parent) && Object.hasOwn(parent, token)) parent = parent[token];
    else throw new Error(`pointer ${path} does not resolve at ${token}`);
  }
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) {
    if (last === '-') parent.push(value);
    else if (/^(0|[1-9]\d*)$/.test(last) && Number(last) <= parent.length) parent.splice(Number(last), 0, value);
    else throw new Error(`bad array index in ${path}`);
  } else if (isRecord(parent)) parent[last] = value;
  else throw new Error(`pointer ${path} ends in a scalar`);
}

interface ReviewAnswer {
  readonly apiVersion: unknown;
  readonly kind: unknown;
  readonly response: {
    readonly uid: unknown;
    readonly allowed: unknown;
    readonly status?: { readonly code?: unknown; readonly message?: unknown };
    readonly patch?: unknown;
    readonly patchType?: unknown;
    readonly warnings?: unknown;
    readonly auditAnnotations?: unknown;
  };
}

interface Exchange {
  readonly route: Route;
  /** The parsed body, or undefined when it was not JSON. */
  readonly sent: unknown;
  readonly answer: Answer;
  /** Sent as JSON and within the body limit: a well-formed review must then be answered with 200. */
  readonly answerable: boolean;
}

/**
 * Everything that must hold for one answer; returns the first violation, or undefined. A 200 with
 * a patch is re-checked: the patch must apply, and sending the patched object again must produce
 * no further patch.
 */
async function violation(exchange: Exchange): Promise<string | undefined> {
  const { route, sent, answer } = exchange;
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status !== 200 && (answer.status < 400 || answer.status >= 500)) return `unexpected status ${answer.status}`;
  if (answer.text.includes(FAKE_PASSWORD) || answer.text.includes(FAKE_AUTH)) return 'the answer contains credential material';
  const request = isRecord(sent) && isRecord(sent['request']) ? sent['request'] : undefined;
  if (answer.status !== 200) {
    if (exchange.answerable && isWellFormedReview(sent)) return `answered ${answer.status} to a well-formed review: ${answer.text.slice(0, 300)}`;
    return undefined;
  }
  const uid = request?.['uid'];
  if (typeof uid !== 'string' || uid === '') return `answered 200 to a body without a usable uid (${JSON.stringify(uid)?.slice(0, 80)})`;
  const body = JSON.parse(answer.text) as ReviewAnswer;
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') return 'answer is not an AdmissionReview v1';
  const response = body.response;
  if (response.uid !== uid) return `answer uid ${String(response.uid)} is not the request uid`;
  if (typeof response.allowed !== 'boolean') return 'allowed is not a boolean';
  if (response.allowed === false && (response.status?.code !== 403 || typeof response.status.message !== 'string')) return 'a denial without a 403 status message';
  if (response.warnings !== undefined) {
    if (!Array.isArray(response.warnings) || !response.warnings.every((warning) => typeof warning === 'string')) return 'warnings are not strings';
    const warnings = response.warnings as string[];
    const tooLong = warnings.find((warning) => warning.length > WARNING_MAX_LENGTH);
    if (tooLong !== undefined) return `warning longer than ${WARNING_MAX_LENGTH}: ${tooLong.slice(0, 200)}`;
    const total = warnings.reduce((sum, warning) => sum + warning.length, 0);
    if (total > WARNINGS_MAX_TOTAL) return `warnings total ${total} characters`;
  }
  if (response.auditAnnotations !== undefined) {
    const values = Object.values(response.auditAnnotations as Record<string, unknown>);
    if (!values.every((value) => typeof value === 'string' && value.length <= AUDIT_VALUE_MAX)) return 'audit annotation value missing or too long';
  }
  if (response.patch === undefined) return undefined;
  if (route !== '/mutate') return '/validate sent a patch';
  if (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string') return 'patch without patchType JSONPatch';
  const operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as unknown;
  if (!Array.isArray(operations) || operations.length === 0) return 'patch is not a non-empty array';
  const patched = structuredClone(request?.['object']);
  try {
    for (const operation of operations as Array<{ op: unknown; path: unknown; value: unknown }>) {
      if (operation.op !== 'add' || typeof operation.path !== 'string') return `unexpected patch operation ${JSON.stringify(operation)}`;
      applyAdd(patched, operation.path, operation.value);
    }
  } catch (error) {
    return `patch does not apply: ${(error as Error).message}; patch ${JSON.stringify(operations)}`;
  }
  const again = { ...(sent as Record<string, unknown>), request: { ...request, uid: `${uid}-again`, object: patched } };
  const second = await send('/mutate', JSON.stringify(again));
  if (second.status !== 200) return `re-sending the patched object answered ${second.status}`;
  const secondPatch = (JSON.parse(second.text) as ReviewAnswer).response.patch;
  if (secondPatch !== undefined) return `not idempotent: second patch ${Buffer.from(String(secondPatch), 'base64').toString('utf8')}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators

const IMAGES = [
  'registry.example.com/team/app:1.0',
  'registry.example.com:5000/team/app',
  'nginx',
  'nginx:latest',
  'docker.io/acme/private:2',
  'private.example.net/tools/shell:1.0',
  'localhost:5000',
  'quay.io/team/tool@sha256:' + 'a'.repeat(64),
  'Bad/Image',
  '',
];
/** Fragments that recombine into near-miss references: ports, digests, upper case, globs, escapes. */
const IMAGE_FRAGMENTS = [
  'registry.example.com', 'docker.io', 'index.docker.io', 'localhost', ':5000', ':', '/', '//', 'library', 'nginx', 'acme', '@sha256:',
  'a'.repeat(64), '@', '.', '-', '_', '__', 'UPPER', 'ü', '*', '..', '%2F', ' ', '\t', '😀', 'latest', 'x'.repeat(130),
];
const unicodeText = fc.string({ unit: 'binary', maxLength: 80 });
const imageArb = fc.oneof(
  // Images the state covers, so that injection (and its patch) happens often.
  { weight: 3, arbitrary: fc.constantFrom('registry.example.com/team/app:1.0', 'registry.example.com:5000/team/app', 'docker.io/acme/private:2') },
  { weight: 4, arbitrary: fc.constantFrom(...IMAGES) },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...IMAGE_FRAGMENTS), { minLength: 1, maxLength: 8 }).map((parts) => parts.join('')) },
  { weight: 2, arbitrary: unicodeText },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 100, maxLength: 400 }) },
);
const containerArb = (prefix: string) =>
  fc.record({
    name: fc.oneof(fc.constantFrom(`${prefix}a`, `${prefix}b`, `${prefix}c`), unicodeText),
    image: imageArb,
    imagePullPolicy: fc.option(fc.constantFrom('Always', 'IfNotPresent', 'Never', 'Sometimes'), { nil: undefined }),
  }).map((container) => Object.fromEntries(Object.entries(container).filter(([, value]) => value !== undefined)) as unknown as ContainerSpec);

const podOptionsArb: fc.Arbitrary<PodOptions> = fc.record({
  namespace: fc.constantFrom('team', 'team', 'team', 'audit', 'relaxed', 'kube-system', 'unknown-ns'),
  name: fc.constantFrom('demo', 'web-1'),
  containers: fc.array(containerArb('c'), { minLength: 1, maxLength: 3 }),
  initContainers: fc.option(fc.array(containerArb('i'), { maxLength: 2 }), { nil: undefined }),
  ephemeralContainers: fc.option(fc.array(containerArb('e'), { maxLength: 1 }), { nil: undefined }),
  imagePullSecrets: fc.option(fc.array(fc.constantFrom('regcred', 'hubcred', 'broken', 'config', 'missing', ''), { maxLength: 3 }), { nil: undefined }),
  serviceAccountName: fc.option(fc.constantFrom('builder', 'default', 'ghost'), { nil: undefined }),
});

/** Template kinds that keep the pod spec at spec.template.spec (Deployment's shape). */
const TEMPLATE_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController'] as const;

const workloadArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 3, arbitrary: podOptionsArb.map((options) => pod(options)) },
  {
    weight: 2,
    arbitrary: fc.tuple(podOptionsArb, fc.constantFrom(...TEMPLATE_KINDS)).map(([options, kind]) => ({ ...deployment(options), kind })),
  },
);

/** A valid review: CREATE, or UPDATE with an old object whose images may differ; dryRun either way. */
const validReviewArb = fc
  .record({
    object: workloadArb,
    operation: fc.constantFrom('CREATE', 'CREATE', 'UPDATE'),
    changeImage: fc.option(imageArb, { nil: undefined }),
    dryRun: fc.boolean(),
    uid: fc.uuid(),
  })
  .map(({ object, operation, changeImage, dryRun, uid }) => {
    const overrides: Record<string, unknown> = { uid, operation, dryRun };
    if (operation === 'UPDATE') {
      const old = structuredClone(object);
      if (changeImage !== undefined) {
        const spec = (old['kind'] === 'Pod' ? old['spec'] : (old['spec'] as { template: { spec: unknown } }).template.spec) as { containers: Array<{ image: string }> };
        if (spec.containers[0] !== undefined) spec.containers[0].image = changeImage;
      }
      overrides['oldObject'] = old;
    }
    return admissionReview(object, overrides);
  });

function nested(depth: number, leaf: unknown, asArray: boolean): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { n: value };
  return value;
}

/**
 * Values that replace a node: wrong types, huge strings, deep nesting, unicode, edge numbers. The
 * constants (`{}`, `[{}]`...) are one instance each for every run: they are inserted as copies, or a
 * second mutation inside the first one's value changes the constant for good (and can make it
 * contain itself, which JSON.stringify then refuses in every later run).
 */
const replacementArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e308, '', [], {}, [null], [{}], 'CREATE', 'Pod') },
  { weight: 2, arbitrary: unicodeText },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }).map((n) => 'x'.repeat(n * 65_536)) },
  // Deeper trees are sent as text (edge cases below): structuredClone and JSON.stringify recurse.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 50, max: 1000 }), fc.boolean()).map(([depth, asArray]) => nested(depth, 'deep', asArray)) },
);

/** Every node of a JSON tree as a path of keys, the root excluded. */
function nodePaths(value: unknown, prefix: readonly (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (out.length > 2000) return out;
  if (Array.isArray(value)) value.forEach((child, index) => { out.push([...prefix, index]); nodePaths(child, [...prefix, index], out); });
  else if (isRecord(value)) for (const [key, child] of Object.entries(value)) { out.push([...prefix, key]); nodePaths(child, [...prefix, key], out); }
  return out;
}

type Mutation =
  | { readonly kind: 'delete'; readonly pick: number; readonly insideObject: boolean }
  | { readonly kind: 'replace'; readonly pick: number; readonly insideObject: boolean; readonly value: unknown }
  | { readonly kind: 'operation'; readonly value: unknown }
  | { readonly kind: 'subResource'; readonly value: unknown }
  | { readonly kind: 'kind'; readonly value: unknown };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(), insideObject: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), insideObject: fc.boolean(), value: replacementArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('operation' as const), value: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'create', ''), unicodeText) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('subResource' as const), value: fc.constantFrom('', 'status', 'ephemeralcontainers', 'exec', 'scale', 'binding', '/', 'ephemeralcontainers/x') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kind' as const), value: fc.constantFrom('Pod', 'Deployment', 'CronJob', 'PodTemplate', 'ConfigMap', '', 'pod') }) },
);

function applyMutation(review: Record<string, unknown>, mutation: Mutation): void {
  const request = review['request'];
  if (mutation.kind === 'operation' || mutation.kind === 'subResource') {
    if (isRecord(request)) request[mutation.kind] = mutation.value;
    return;
  }
  if (mutation.kind === 'kind') {
    if (isRecord(request) && isRecord(request['kind'])) request['kind']['kind'] = mutation.value;
    if (isRecord(request) && isRecord(request['object'])) request['object']['kind'] = mutation.value;
    return;
  }
  const root: unknown = mutation.insideObject && isRecord(request) && request['object'] !== undefined ? request['object'] : review;
  const paths = nodePaths(root);
  const path = paths[mutation.pick % Math.max(paths.length, 1)];
  if (path === undefined) return;
  let parent: unknown = root;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key];
  const last = path[path.length - 1] as string | number;
  if (mutation.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, unknown>)[last as string];
  } else (parent as Record<string | number, unknown>)[last] = structuredClone(mutation.value);
}

/** Generated values are shared with fast-check's shrinker: mutate a copy, never the original. */
const mutatedReviewArb = fc
  .tuple(validReviewArb, fc.array(mutationArb, { minLength: 0, maxLength: 3 }))
  .map(([generated, mutations]) => {
    const review = structuredClone(generated);
    for (const mutation of mutations) applyMutation(review, mutation);
    return review;
  });

// ---------------------------------------------------------------------------------------------
// Properties

interface Tally {
  ok: number;
  clientError: number;
  patched: number;
}

/** Runs a property over exchanges with the server; generated values are cloned by the callers before any change. */
async function checkProperty<T>(t: Test, runs: number, arbitrary: fc.Arbitrary<T>, run: (input: T) => Promise<Exchange>): Promise<Tally> {
  const tally: Tally = { ok: 0, clientError: 0, patched: 0 };
  let firstProblem = '';
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (input) => {
      const exchange = await run(input);
      const problem = await violation(exchange);
      if (problem !== undefined) {
        firstProblem ||= `${exchange.route}: ${problem}`;
        return false;
      }
      if (exchange.answer.status === 200) tally.ok++;
      else tally.clientError++;
      if (exchange.answer.status === 200 && exchange.answer.text.includes('"patch"')) tally.patched++;
      return true;
    }),
    { numRuns: runs },
  );
  t.notOk(details.failed, details.failed ? `${firstProblem}\n${fc.defaultReportMessage(details) ?? ''}` : 'every answer keeps the invariants');
  t.same(internalErrors, [], 'no request was logged as an internal error');
  return tally;
}

t.test('answers every valid or mutated pod and workload review with 200 and its uid, or a 4xx for a malformed one', async (t) => {
  const tally = await checkProperty(t, RUNS.mutated, fc.tuple(mutatedReviewArb, fc.constantFrom(...ROUTES)), async ([review, route]) => {
    const payload = JSON.stringify(review);
    return { route, sent: JSON.parse(payload) as unknown, answer: await send(route, payload), answerable: true };
  });
  // The generators must reach every branch the property speaks about.
  t.ok(tally.ok > RUNS.mutated / 4, `most mutated reviews are still answered (${tally.ok})`);
  t.ok(tally.clientError > 0, `some mutations make the review malformed (${tally.clientError})`);
  t.ok(tally.patched > 0, `some answers carry a patch that was applied and re-checked (${tally.patched})`);
});

t.test('answers reviews whose envelope fields hold arbitrary JSON with 200 and the uid, or a 4xx', async (t) => {
  const envelopeArb = fc.tuple(
    validReviewArb,
    fc.constantFrom('apiVersion', 'kind', 'request', 'request.uid', 'request.operation', 'request.kind', 'request.resource', 'request.name', 'request.namespace', 'request.subResource', 'request.dryRun', 'request.object', 'request.oldObject'),
    replacementArb,
    fc.constantFrom(...ROUTES),
  );
  const tally = await checkProperty(t, RUNS.envelope, envelopeArb, async ([generated, field, value, route]) => {
    const review = structuredClone(generated);
    const [head, tail] = field.split('.') as [string, string | undefined];
    if (tail === undefined) review[head] = structuredClone(value);
    else (review[head] as Record<string, unknown>)[tail] = structuredClone(value);
    const payload = JSON.stringify(review);
    return { route, sent: JSON.parse(payload) as unknown, answer: await send(route, payload), answerable: true };
  });
  t.ok(tally.ok > 0 && tally.clientError > 0, `both outcomes occur (${tally.ok} answered, ${tally.clientError} rejected)`);
});

t.test('answers 400 to JSON bodies that are not AdmissionReview objects', async (t) => {
  const notReviewArb = fc.tuple(
    fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ kind: fc.constantFrom('AdmissionReview', 'Pod'), apiVersion: fc.constantFrom('admission.k8s.io/v1beta1', 'v1', 'admission.k8s.io/v2') }),
      fc.jsonValue({ maxDepth: 2 }).map((request) => ({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request })),
    ),
    fc.constantFrom(...ROUTES),
  );
  const statuses = new Set<number>();
  await checkProperty(t, RUNS.notReviews, notReviewArb, async ([value, route]) => {
    const payload = JSON.stringify(value) ?? 'null';
    const answer = await send(route, payload);
    statuses.add(answer.status);
    return { route, sent: value, answer, answerable: true };
  });
  t.ok(statuses.has(400), `non-reviews are rejected with 400 (statuses seen: ${[...statuses].join(', ')})`);
});

t.test('answers 400 to text that is not JSON', async (t) => {
  const valid = JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: 'nginx:1.27' }] })));
  const notJsonArb = fc.tuple(
    fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((text) => { try { JSON.parse(text); return false; } catch { return true; } }),
      fc.integer({ min: 1, max: valid.length - 1 }).map((cut) => valid.slice(0, cut)),
      fc.constantFrom('{', '[', '{"kind":', "{'kind':'AdmissionReview'}", 'NaN', 'undefined', '{"a":1,}', '\u0000', '{"__proto__":{"x":1}}'),
    ),
    fc.constantFrom(...ROUTES),
  );
  const tally = await checkProperty(t, RUNS.notJson, notJsonArb, async ([text, route]) => ({
    route,
    sent: undefined,
    answer: await send(route, text),
    answerable: true,
  }));
  t.equal(tally.ok, 0, 'no text that is not JSON is answered as a review');
});

t.test('answers bodies of any content type with a 4xx or as a review, and accepts JSON with parameters', async (t) => {
  const body = JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: 'registry.example.com/team/app:1.0' }] }), { uid: 'ct-uid' }));
  const contentTypeArb = fc.tuple(
    fc.oneof(
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/yaml', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8', 'application/merge-patch+json', ''),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
    ),
    fc.constantFrom(...ROUTES),
  );
  const jsonAccepted: number[] = [];
  await checkProperty(t, RUNS.contentTypes, contentTypeArb, async ([contentType, route]) => {
    const answer = await send(route, body, contentType);
    if (/^application\/json\s*;/i.test(contentType) && answer.status === 200) jsonAccepted.push(answer.status);
    return { route, sent: JSON.parse(body) as unknown, answer, answerable: false };
  });
  t.ok(jsonAccepted.length > 0, 'application/json with parameters is accepted');
  for (const contentType of ['text/plain', 'application/yaml', '']) {
    const answer = await send('/validate', body, contentType);
    t.ok(answer.status >= 400 && answer.status < 500, `${JSON.stringify(contentType)} is a client error (${answer.status})`);
  }
});

interface EdgeCase {
  readonly payload: () => string | Buffer;
  readonly status: number;
  readonly allowed?: boolean;
  /** False when a well-formed review is refused on purpose (prototype keys); default: within the body limit. */
  readonly answerable?: boolean;
}

const huge = (length: number): string => 'a'.repeat(length);
const edgeCases: Record<string, EdgeCase> = {
  'answers 413 to a body over the 7 MiB limit': {
    payload: () => JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: huge(BODY_LIMIT_BYTES) }] }))),
    status: 413,
  },
  'answers 400 to an empty body': { payload: () => '', status: 400 },
  'answers 400 to JSON null': { payload: () => 'null', status: 400 },
  'answers 400 to array nesting 100,000 levels deep': { payload: () => '['.repeat(100_000) + ']'.repeat(100_000), status: 400 },
  'answers 400 to object nesting 100,000 levels deep': { payload: () => '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), status: 400 },
  'answers a pod whose container env nests 100,000 levels deep': {
    payload: () => {
      const containers = [{ name: 'app', image: 'registry.example.com/team/app:1.0', env: 'DEEP' }] as unknown as ContainerSpec[];
      const text = JSON.stringify(admissionReview(pod({ imagePullSecrets: ['regcred'], containers })));
      return text.replace('"env":"DEEP"', `"env":${'{"n":'.repeat(100_000)}1${'}'.repeat(100_000)}`);
    },
    status: 200,
    allowed: true,
  },
  'refuses a pod whose image is a 1 MiB string with 400 (over REVIEW_MAX_NAME_CHARS), without crashing': {
    payload: () => JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: huge(1 << 20) }] }))),
    status: 400,
    answerable: false,
  },
  'denies a pod whose image is as long as the review limits allow': {
    payload: () => JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: huge(REVIEW_MAX_NAME_CHARS) }] }))),
    status: 200,
    allowed: false,
  },
  'answers a review with a byte-order mark before the JSON': {
    payload: () => '\uFEFF' + JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: 'nginx:1.27' }] }))),
    status: 200,
    allowed: true,
  },
  'answers 400 to a body with a __proto__ key (prototype pollution attempt)': {
    payload: () => JSON.stringify(admissionReview(pod())).replace('"metadata":{', '"metadata":{"__proto__":{"polluted":true},'),
    status: 400,
    answerable: false,
  },
  'answers 400 to a body with a __proto__ key written with unicode escapes': {
    payload: () => JSON.stringify(admissionReview(pod())).replace('"metadata":{', '"metadata":{"\\u005f_proto__":{"polluted":true},'),
    status: 400,
    answerable: false,
  },
  'answers 400 to a body with a constructor.prototype key': {
    payload: () => JSON.stringify(admissionReview(pod())).replace('"metadata":{', '"metadata":{"constructor":{"prototype":{"polluted":true}},'),
    status: 400,
    answerable: false,
  },
  'answers a pod whose label is named constructor and whose annotation holds a unicode escape': {
    payload: () => JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: 'nginx:1.27' }] })))
      .replace('"metadata":{', '"metadata":{"labels":{"constructor":"x"},"annotations":{"note":"caf\\u00e9"},'),
    status: 200,
    allowed: true,
  },
  'answers 400 to a constructor.prototype key in a body that also says instructor': {
    payload: () => JSON.stringify(admissionReview(pod())).replace('"metadata":{', '"metadata":{"labels":{"role":"instructor"},"constructor":{"prototype":{"polluted":true}},'),
    status: 400,
    answerable: false,
  },
  'answers a pod whose label holds the tail of the word constructor (instructor, destructor)': {
    payload: () => JSON.stringify(admissionReview(pod({ containers: [{ name: 'app', image: 'nginx:1.27' }] })))
      .replace('"metadata":{', '"metadata":{"labels":{"role":"instructor","teardown":"destructor"},'),
    status: 200,
    allowed: true,
  },
  'answers 400 to invalid UTF-8 bytes': {
    payload: () => Buffer.concat([Buffer.from('{"kind":"AdmissionReview","x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
    status: 400,
  },
  'answers a pod with 300 containers and 300 pull secret references': {
    payload: () =>
      JSON.stringify(admissionReview(pod({
        imagePullSecrets: Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? 'regcred' : `missing-${i}`)),
        containers: Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, image: i % 3 === 0 ? 'private.example.net/x:1' : `registry.example.com/team/app:${i}` })),
      }))),
    status: 200,
    allowed: false,
  },
};

for (const [name, c] of Object.entries(edgeCases)) {
  t.test(name, async (t) => {
    for (const route of ROUTES) {
      const payload = c.payload();
      const answer = await send(route, payload);
      t.equal(answer.status, c.status, `${route} status`);
      let sent: unknown;
      try {
        sent = JSON.parse(payload.toString().replace(/^\uFEFF/, ''));
      } catch {
        sent = undefined;
      }
      const answerable = c.answerable ?? Buffer.byteLength(payload) <= BODY_LIMIT_BYTES;
      const problem = await violation({ route, sent, answer, answerable });
      t.equal(problem, undefined, `${route}: the answer keeps every invariant`);
      if (c.allowed !== undefined && route === '/validate') {
        t.equal((JSON.parse(answer.text) as ReviewAnswer).response.allowed, c.allowed, 'allowed');
      }
    }
    t.same(internalErrors, [], 'no request was logged as an internal error');
  });
}
