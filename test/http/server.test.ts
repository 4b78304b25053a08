import t from 'tap';
import { policyResolver, testServer } from '../helpers/server.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { admissionReview, deployment, namespaceObject, pod, pullSecret } from '../helpers/objects.ts';
import type { DecisionState } from '../../src/server/state.ts';
import { BODY_LIMIT_BYTES } from '../../src/server/limits.ts';

const STATE = [
  pullSecret('team', 'regcred', 'registry.example.com'),
  namespaceObject('team'),
  namespaceObject('audit', { 'pullguard.io/mode': 'dry-run' }),
  pullSecret('audit', 'regcred', 'registry.example.com'),
];
const PRIVATE = 'registry.example.com/team/app:1.0';
const UNCOVERED = 'private.example.net/tools/shell:1.0';

interface ReviewBody {
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string };
    patch?: string;
    patchType?: string;
    warnings?: string[];
    auditAnnotations?: Record<string, string>;
  };
}

function decodePatch(patch: string | undefined): unknown {
  return patch === undefined ? undefined : JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
}

interface Case {
  readonly route: '/mutate' | '/validate';
  readonly review: Record<string, unknown>;
  readonly allowed: boolean;
  readonly patch?: unknown;
  readonly warnings?: RegExp[];
  readonly noWarnings?: boolean;
  readonly statusMessage?: RegExp;
  readonly audit?: Record<string, string | RegExp>;
}

const cases: Record<string, Case> = {
  'allows a pod whose pull secret covers its image, with no patch and no warnings': {
    route: '/validate',
    review: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    noWarnings: true,
  },
  'patches a pod that lacks the covering secret, adding the whole imagePullSecrets array': {
    route: '/mutate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    patch: [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'regcred' }] }],
    warnings: [/app: injected imagePullSecrets regcred for registry\.example\.com/],
    audit: { decision: 'inject' },
  },
  'appends to an existing imagePullSecrets list instead of replacing it': {
    route: '/mutate',
    review: admissionReview(pod({ imagePullSecrets: ['other'], containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    patch: [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'regcred' } }],
  },
  'explains why it injected: the pod listed a secret that does not exist': {
    route: '/mutate',
    review: admissionReview(pod({ imagePullSecrets: ['regcrd'], containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    patch: [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'regcred' } }],
    warnings: [/app: secret regcrd not found in namespace team/, /app: injected imagePullSecrets regcred/],
  },
  'denies a pod whose image no secret covers, naming container, registry and the fix': {
    route: '/validate',
    review: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })),
    allowed: false,
    statusMessage: /spec\.containers\[0\]\.image: shell: no pull secret has a key for private\.example\.net \(looked at regcred\).*\[NoMatchingCredential\]/,
    audit: { decision: 'deny', findings: /NoMatchingCredential/ },
  },
  'lists every violating container in one denial': {
    route: '/validate',
    review: admissionReview(pod({
      initContainers: [{ name: 'init', image: UNCOVERED }],
      containers: [{ name: 'a', image: 'Bad/Image' }, { name: 'b', image: UNCOVERED }],
    })),
    allowed: false,
    statusMessage: /3 image pull problems.*initContainers\[0\].*containers\[0\].*InvalidImageReference.*containers\[1\]/,
  },
  'warns on latest with IfNotPresent and still allows': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'web', image: 'registry.k8s.io/pause:latest', imagePullPolicy: 'IfNotPresent' }] })),
    allowed: true,
    warnings: [/web: registry\.k8s\.io\/pause:latest is latest\/untagged with IfNotPresent/],
    audit: { decision: 'allow', findings: /LatestWithIfNotPresent/ },
  },
  'tells a pod that reached validation unpatched which secret to add': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: false,
    statusMessage: /secret regcred in the namespace does: add imagePullSecrets: \[regcred\]/,
  },
  'validates a Deployment template and allows it when pods will get the secret injected': {
    route: '/validate',
    review: admissionReview(deployment({ containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    warnings: [/app: pods will get imagePullSecrets regcred for registry\.example\.com/],
  },
  'denies a Deployment whose template image nothing covers, at apply time': {
    route: '/validate',
    review: admissionReview(deployment({ containers: [{ name: 'app', image: UNCOVERED }] })),
    allowed: false,
    statusMessage: /pullguard denied Deployment demo: .*spec\.template\.spec\.containers\[0\]\.image/,
  },
  'does not mutate templates unless the policy asks': {
    route: '/mutate',
    review: admissionReview(deployment({ containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    noWarnings: true,
  },
  'in a dry-run namespace never denies and says what would have happened': {
    route: '/validate',
    review: admissionReview(pod({ namespace: 'audit', imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })),
    allowed: true,
    // The fix (a pull secret, or a registries rule) ends the message, so it survives shortening.
    warnings: [/^\[dry-run\] would deny: shell: no pull secret has a key for .*access: node when nodes pull with their own identity\)$/],
    audit: { decision: 'would-deny', findings: /NoMatchingCredential/ },
  },
  'in a dry-run namespace the validating webhook records the would-inject in the audit log, without a second warning': {
    route: '/validate',
    review: admissionReview(pod({ namespace: 'audit', containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    noWarnings: true,
    audit: { decision: 'would-inject', findings: /InjectedPullSecret/ },
  },
  'in a dry-run namespace never patches and says what it would inject': {
    route: '/mutate',
    review: admissionReview(pod({ namespace: 'audit', containers: [{ name: 'app', image: PRIVATE }] })),
    allowed: true,
    warnings: [/^\[dry-run\] app: would inject imagePullSecrets regcred for registry\.example\.com$/],
    audit: { decision: 'would-inject' },
  },
  'allows kinds it does not handle untouched': {
    route: '/validate',
    review: admissionReview({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' }, data: {} }),
    allowed: true,
    noWarnings: true,
  },
  'allows DELETE untouched': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'shell', image: UNCOVERED }] }), { operation: 'DELETE' }),
    allowed: true,
  },
  'on pod UPDATE checks only images that changed': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'shell', image: UNCOVERED }, { name: 'web', image: 'nginx:1.27' }] }), {
      operation: 'UPDATE',
      oldObject: pod({ containers: [{ name: 'shell', image: UNCOVERED }, { name: 'web', image: 'nginx:1.25' }] }),
    }),
    allowed: true,
  },
  'on pod UPDATE denies a changed image nothing covers': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'web', image: UNCOVERED }] }), {
      operation: 'UPDATE',
      oldObject: pod({ containers: [{ name: 'web', image: 'nginx:1.25' }] }),
    }),
    allowed: false,
    statusMessage: /web: no pull secret has a key for private\.example\.net/,
  },
  'on pod UPDATE says the pod must be recreated when only a namespace secret covers a changed image': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] }), {
      operation: 'UPDATE',
      oldObject: pod({ containers: [{ name: 'app', image: 'nginx:1' }] }),
    }),
    allowed: false,
    statusMessage: /app: no pull secret of this pod covers registry\.example\.com; secret regcred in the namespace does, but a pod's imagePullSecrets cannot change after creation: recreate the pod with imagePullSecrets: \[regcred\]/,
  },
  'never patches a pod on UPDATE': {
    route: '/mutate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] }), {
      operation: 'UPDATE',
      oldObject: pod({ containers: [{ name: 'app', image: 'nginx:1' }] }),
    }),
    allowed: true,
  },
  'denies an ephemeral container added by kubectl debug with an uncovered image': {
    route: '/validate',
    review: admissionReview(
      pod({ containers: [{ name: 'web', image: 'nginx:1.27' }], ephemeralContainers: [{ name: 'debugger', image: UNCOVERED }] }),
      { subResource: 'ephemeralcontainers', operation: 'UPDATE', oldObject: pod({ containers: [{ name: 'web', image: 'nginx:1.27' }] }) },
    ),
    allowed: false,
    statusMessage: /spec\.ephemeralContainers\[0\]\.image: debugger/,
  },
  'ignores other pod subresources such as status': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'shell', image: UNCOVERED }] }), { subResource: 'status', operation: 'UPDATE' }),
    allowed: true,
  },
  'answers request.dryRun reviews exactly like real ones (no side effects to skip)': {
    route: '/mutate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] }), { dryRun: true }),
    allowed: true,
    patch: [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'regcred' }] }],
  },
  'leaves a mirror pod created by a kubelet alone': {
    route: '/validate',
    review: admissionReview(
      pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' }, containers: [{ name: 'shell', image: UNCOVERED }] }),
      { userInfo: { username: 'system:node:worker-1', groups: ['system:nodes'] } },
    ),
    allowed: true,
    noWarnings: true,
  },
  'checks a pod that carries the mirror annotation but was not sent by a kubelet': {
    route: '/validate',
    review: admissionReview(pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' }, containers: [{ name: 'shell', image: UNCOVERED }] })),
    allowed: false,
    statusMessage: /shell: no pull secret has a key for private\.example\.net/,
  },
  'leaves excluded namespaces alone': {
    route: '/validate',
    review: admissionReview(pod({ namespace: 'kube-system', containers: [{ name: 'shell', image: UNCOVERED }] })),
    allowed: true,
    noWarnings: true,
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const { app } = testServer(STATE);
    const reply = await app.inject({ method: 'POST', url: c.route, payload: c.review });
    t.equal(reply.statusCode, 200);
    const body = reply.json<ReviewBody>();
    t.equal(body.response.uid, 'uid-1234', 'echoes the request uid');
    t.equal(body.response.allowed, c.allowed, 'allowed');
    if (c.patch !== undefined) {
      t.equal(body.response.patchType, 'JSONPatch');
      t.same(decodePatch(body.response.patch), c.patch, 'patch');
    } else {
      t.equal(body.response.patch, undefined, 'no patch');
    }
    for (const pattern of c.warnings ?? []) t.ok(body.response.warnings?.some((w) => pattern.test(w)), `a warning matches ${pattern}: ${JSON.stringify(body.response.warnings)}`);
    if (c.noWarnings === true) t.equal(body.response.warnings, undefined, 'no warnings');
    for (const warning of body.response.warnings ?? []) t.ok(warning.length < 120, `warning under 120 chars: ${warning}`);
    if (c.statusMessage !== undefined) {
      t.equal(body.response.status?.code, 403);
      t.match(body.response.status?.message ?? '', c.statusMessage);
    }
    for (const [key, value] of Object.entries(c.audit ?? {})) t.match(body.response.auditAnnotations?.[key] ?? '', value, `audit annotation ${key}`);
    await app.close();
  });
}

t.test('a second mutation pass over the patched pod yields no patch (idempotent)', async (t) => {
  const { app } = testServer(STATE);
  const object = pod({ containers: [{ name: 'app', image: PRIVATE }] });
  const first = (await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(object) })).json<ReviewBody>();
  const operations = decodePatch(first.response.patch) as { path: string; value: unknown }[];
  t.equal(operations.length, 1);
  const patched = structuredClone(object) as { spec: Record<string, unknown> };
  patched.spec['imagePullSecrets'] = operations[0]?.value;
  const second = (await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(patched) })).json<ReviewBody>();
  t.equal(second.response.patch, undefined);
  const validated = (await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(patched) })).json<ReviewBody>();
  t.equal(validated.response.allowed, true);
  await app.close();
});

const malformed: Record<string, { payload: string; contentType?: string; status: number; message: RegExp }> = {
  'rejects a body that is not JSON with 400': { payload: '{not json', status: 400, message: /JSON|Unexpected|Expected/i },
  'rejects an AdmissionReview of another apiVersion with 400': {
    payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x', operation: 'CREATE' } }),
    status: 400,
    message: /apiVersion must be admission\.k8s\.io\/v1/,
  },
  'rejects a review without a uid with 400': {
    payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }),
    status: 400,
    message: /request\.uid must be a non-empty string/,
  },
  'rejects a JSON array with 400': { payload: '[]', status: 400, message: /must be a JSON object/ },
  'rejects an empty body with 400': { payload: '', status: 400, message: /empty|body/i },
  'rejects a plain-text body with 400 (it is not an AdmissionReview)': { payload: 'hello', contentType: 'text/plain', status: 400, message: /must be a JSON object/ },
  'rejects a content type it cannot parse with 415': { payload: '<x/>', contentType: 'application/xml', status: 415, message: /Unsupported Media Type|content-type/i },
};
for (const [name, c] of Object.entries(malformed)) {
  t.test(name, async (t) => {
    const { app, metrics } = testServer(STATE);
    const reply = await app.inject({ method: 'POST', url: '/validate', payload: c.payload, headers: { 'content-type': c.contentType ?? 'application/json' } });
    t.equal(reply.statusCode, c.status);
    t.match(reply.json<{ message: string }>().message, c.message);
    t.match(await metrics.registry.getSingleMetricAsString('pullguard_admission_requests_total'), /action="malformed"\} 1/);
    await app.close();
  });
}

t.test('rejects a body over the 7 MiB limit with 413', async (t) => {
  const { app } = testServer(STATE);
  const big = admissionReview(pod({ annotations: { filler: 'x'.repeat(BODY_LIMIT_BYTES) } }));
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: JSON.stringify(big), headers: { 'content-type': 'application/json' } });
  t.equal(reply.statusCode, 413);
  await app.close();
});

t.test('accepts a 6 MiB review (an UPDATE carrying two large objects)', async (t) => {
  const { app } = testServer(STATE);
  const big = admissionReview(pod({ annotations: { filler: 'x'.repeat(3 * 1024 * 1024) } }), {
    operation: 'UPDATE',
    oldObject: pod({ annotations: { filler: 'y'.repeat(3 * 1024 * 1024) } }),
  });
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: JSON.stringify(big), headers: { 'content-type': 'application/json' } });
  t.equal(reply.statusCode, 200);
  await app.close();
});

t.test('answers 500 when the decision fails, so the API server applies failurePolicy', async (t) => {
  const broken: DecisionState = {
    snapshot: () => {
      throw new Error('snapshot exploded');
    },
    policy: () => {
      throw new Error('unreachable');
    },
    readiness: () => ({ ready: true, missing: [] }),
  };
  const { app, metrics, logs } = testServer(STATE, {}, { decisionState: broken });
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod()) });
  t.equal(reply.statusCode, 500);
  t.match(reply.json<{ message: string }>().message, /could not decide/);
  t.match(await metrics.registry.getSingleMetricAsString('pullguard_decision_errors_total'), /webhook="validate"\} 1/);
  t.ok(logs.some((line) => line['level'] === 50 && line['uid'] === 'uid-1234'), 'logs the error with the uid');
  await app.close();
});

t.test('healthz is always ok; readyz reports what is missing', async (t) => {
  let ready = false;
  const state: DecisionState = {
    snapshot: () => {
      throw new Error('not used');
    },
    policy: () => {
      throw new Error('not used');
    },
    readiness: () => (ready ? { ready: true, missing: [] } : { ready: false, missing: ['informer secrets', 'policy'] }),
  };
  let certificate = true;
  const { app } = testServer(STATE, {}, { decisionState: state, certificateReady: () => certificate });
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const notReady = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(notReady.statusCode, 503);
  t.same(notReady.json<{ missing: string[] }>().missing, ['informer secrets', 'policy']);
  ready = true;
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  certificate = false;
  t.same((await app.inject({ method: 'GET', url: '/readyz' })).json<{ missing: string[] }>().missing, ['certificate']);
  await app.close();
});

t.test('logs one line per decision with uid, kind, namespace, decision, codes and latency, and no credentials', async (t) => {
  const { app, logs } = testServer(STATE);
  await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })) });
  const decisions = logs.filter((line) => line['msg'] === 'admission decision');
  t.equal(decisions.length, 1);
  const line = decisions[0] as Record<string, unknown>;
  t.match(line, { uid: 'uid-1234', kind: 'Pod', namespace: 'team', name: 'demo', operation: 'CREATE', action: 'deny', decision: 'deny', codes: ['NoMatchingCredential'] });
  t.type(line['latencyMs'], 'number');
  t.notMatch(JSON.stringify(logs), /not-a-real-password|dXNlcjpub3Qt/);
  await app.close();
});

t.test('counts requests by webhook and action, findings by code, and observes latency', async (t) => {
  const { app, metrics } = testServer(STATE);
  await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })) });
  await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })) });
  const text = await metrics.registry.metrics();
  t.match(text, /pullguard_admission_requests_total\{webhook="validate",action="deny"\} 1/);
  t.match(text, /pullguard_admission_requests_total\{webhook="mutate",action="patch"\} 1/);
  t.match(text, /pullguard_findings_total\{code="NoMatchingCredential",severity="deny"\} 1/);
  t.match(text, /pullguard_admission_duration_seconds_count\{webhook="validate"\} 1/);
  await app.close();
});

t.test('answers replicas from the decision cache: each keeps its uid, its log line and its counts', async (t) => {
  const { app, metrics, logs } = testServer(STATE);
  const replica = (uid: string) => admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] }), { uid, name: '' });
  for (const uid of ['r-1', 'r-2', 'r-3']) {
    const reply = await app.inject({ method: 'POST', url: '/mutate', payload: replica(uid) });
    const body = reply.json<ReviewBody>();
    t.equal(body.response.uid, uid);
    t.same(decodePatch(body.response.patch), [{ op: 'add', path: '/spec/imagePullSecrets', value: [{ name: 'regcred' }] }]);
  }
  t.same(logs.filter((line) => line['msg'] === 'admission decision').map((line) => [line['uid'], line['action']]), [['r-1', 'patch'], ['r-2', 'patch'], ['r-3', 'patch']]);
  const text = await metrics.registry.metrics();
  t.match(text, /pullguard_decision_cache_lookups_total\{result="hit"\} 2/);
  t.match(text, /pullguard_decision_cache_lookups_total\{result="miss"\} 1/);
  t.match(text, /pullguard_decision_cache_entries 1/);
  await app.close();
});

t.test('a registry reset zeroes the decision-cache counters; later lookups count from there', async (t) => {
  const { app, metrics } = testServer(STATE);
  const review = (uid: string) => admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] }), { uid, name: '' });
  for (const uid of ['a', 'b', 'c']) await app.inject({ method: 'POST', url: '/mutate', payload: review(uid) });
  t.match(await metrics.registry.metrics(), /pullguard_decision_cache_lookups_total\{result="hit"\} 2/);
  metrics.registry.resetMetrics();
  t.notMatch(await metrics.registry.metrics(), /result="hit"\} [1-9]/);
  await app.inject({ method: 'POST', url: '/mutate', payload: review('d') });
  t.match(await metrics.registry.metrics(), /pullguard_decision_cache_lookups_total\{result="hit"\} 1/);
  await app.close();
});

t.test('with the decision cache off, every review is decided and counted as a bypass', async (t) => {
  const { app, metrics } = testServer(STATE, {}, { decisionCacheEntries: 0 });
  for (const uid of ['a', 'b']) await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod(), { uid }) });
  const text = await metrics.registry.metrics();
  t.match(text, /pullguard_decision_cache_lookups_total\{result="bypass"\} 2/);
  t.notMatch(text, /result="hit"\} [1-9]/);
  t.match(text, /pullguard_decision_cache_entries 0/);
  await app.close();
});

t.test('a new snapshot from the state empties the decision cache before the next answer', async (t) => {
  const covered = snapshotFromObjects(STATE);
  const withoutSecret = snapshotFromObjects(STATE.filter((object) => object !== STATE[0]));
  let current = covered;
  const policy = policyResolver();
  const state: DecisionState = { snapshot: () => current, policy: () => policy, readiness: () => ({ ready: true, missing: [] }) };
  const { app, metrics } = testServer(STATE, {}, { decisionState: state });
  const review = admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: PRIVATE }] }), { name: '' });
  t.equal((await app.inject({ method: 'POST', url: '/validate', payload: review })).json<ReviewBody>().response.allowed, true);
  t.equal((await app.inject({ method: 'POST', url: '/validate', payload: review })).json<ReviewBody>().response.allowed, true);
  t.match(await metrics.registry.metrics(), /pullguard_decision_cache_lookups_total\{result="hit"\} 1/);
  current = withoutSecret;
  t.equal((await app.inject({ method: 'POST', url: '/validate', payload: review })).json<ReviewBody>().response.allowed, false);
  t.match(await metrics.registry.metrics(), /pullguard_decision_cache_invalidations_total 1/);
  await app.close();
});
