// The one log line per decision: its fields agree with each other and with the answer, for every
// outcome; decisions that do something are logged at info, plain allows and skips at debug unless
// --log-allows; the line is built by hand, so it must still be valid JSON whatever the request holds.
import t from 'tap';
import { testServer } from '../helpers/server.ts';
import { admissionReview, deployment, namespaceObject, pod, pullSecret } from '../helpers/objects.ts';
import { LOG_FIELD_MAX_CHARS } from '../../src/server/decision-log.ts';

const STATE = [
  pullSecret('team', 'regcred', 'registry.example.com'),
  namespaceObject('team'),
  namespaceObject('audit', { 'pullguard.io/mode': 'dry-run' }),
  pullSecret('audit', 'regcred', 'registry.example.com'),
  namespaceObject('rollout', { 'pullguard.io/mode': 'warn' }),
];
const PRIVATE = 'registry.example.com/team/app:1.0';
const UNCOVERED = 'private.example.net/tools/shell:1.0';

interface Expected {
  readonly route: '/mutate' | '/validate';
  readonly review: Record<string, unknown>;
  readonly level: 'info' | 'debug';
  readonly action: string;
  /** The audit annotation's decision, which the log line's `decision` repeats; absent for a skip. */
  readonly decision: string | undefined;
  readonly reason: RegExp;
  readonly codes: readonly string[];
}

const outcomes: Record<string, Expected> = {
  'a plain allow is logged at debug as allow/allow with the info codes it carries': {
    route: '/validate',
    review: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: PRIVATE }, { name: 'hub', image: 'nginx:1.27' }] })),
    level: 'debug',
    action: 'allow',
    decision: 'allow',
    reason: /^covered$/,
    codes: ['AnonymousPullRateLimited'],
  },
  'a mutation with nothing to inject is a plain allow with no codes (validation reports the findings)': {
    route: '/mutate',
    review: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })),
    level: 'debug',
    action: 'allow',
    decision: 'allow',
    reason: /^nothing to inject$/,
    codes: [],
  },
  'a skipped kind is logged at debug with no decision': {
    route: '/validate',
    review: admissionReview({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' }, data: {} }),
    level: 'debug',
    action: 'skip',
    decision: undefined,
    reason: /kind ConfigMap is not a workload/,
    codes: [],
  },
  'an injection is logged at info as patch/inject with InjectedPullSecret': {
    route: '/mutate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })),
    level: 'info',
    action: 'patch',
    decision: 'inject',
    reason: /^injected regcred$/,
    codes: ['InjectedPullSecret'],
  },
  'a denial is logged at info as deny/deny with the denied code as reason': {
    route: '/validate',
    review: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })),
    level: 'info',
    action: 'deny',
    decision: 'deny',
    reason: /^NoMatchingCredential$/,
    codes: ['NoMatchingCredential'],
  },
  'a pod that reaches validation still needing a secret is deny/deny for NoMatchingCredential, not InjectedPullSecret': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })),
    level: 'info',
    action: 'deny',
    decision: 'deny',
    reason: /^NoMatchingCredential$/,
    codes: ['NoMatchingCredential'],
  },
  'warnings are logged at info as warn/allow with their codes': {
    route: '/validate',
    review: admissionReview(pod({ containers: [{ name: 'web', image: 'registry.k8s.io/pause:latest', imagePullPolicy: 'IfNotPresent' }] })),
    level: 'info',
    action: 'warn',
    decision: 'allow',
    reason: /^warnings: LatestWithIfNotPresent$/,
    codes: ['LatestWithIfNotPresent'],
  },
  'a denial in a warn-mode namespace is warn/would-deny': {
    route: '/validate',
    review: admissionReview(pod({ namespace: 'rollout', containers: [{ name: 'shell', image: UNCOVERED }] })),
    level: 'info',
    action: 'warn',
    decision: 'would-deny',
    reason: /^would deny: NoMatchingCredential$/,
    codes: ['NoMatchingCredential'],
  },
  'a denial in a dry-run namespace is dry-run/would-deny': {
    route: '/validate',
    review: admissionReview(pod({ namespace: 'audit', imagePullSecrets: ['regcred'], containers: [{ name: 'shell', image: UNCOVERED }] })),
    level: 'info',
    action: 'dry-run',
    decision: 'would-deny',
    reason: /^would deny: NoMatchingCredential$/,
    codes: ['NoMatchingCredential'],
  },
  'an injection in a dry-run namespace is dry-run/would-inject when mutating': {
    route: '/mutate',
    review: admissionReview(pod({ namespace: 'audit', containers: [{ name: 'app', image: PRIVATE }] })),
    level: 'info',
    action: 'dry-run',
    decision: 'would-inject',
    reason: /^would inject regcred$/,
    codes: ['InjectedPullSecret'],
  },
  'and dry-run/would-inject when validating the unpatched pod': {
    route: '/validate',
    review: admissionReview(pod({ namespace: 'audit', containers: [{ name: 'app', image: PRIVATE }] })),
    level: 'info',
    action: 'dry-run',
    decision: 'would-inject',
    reason: /^would inject regcred$/,
    codes: ['InjectedPullSecret'],
  },
  'a template whose pods will get a secret is warn/allow with InjectedPullSecret': {
    route: '/validate',
    review: admissionReview(deployment({ containers: [{ name: 'app', image: PRIVATE }] })),
    level: 'info',
    action: 'warn',
    decision: 'allow',
    reason: /^warnings: InjectedPullSecret$/,
    codes: ['InjectedPullSecret'],
  },
};

const INFO = 30;
const DEBUG = 20;

for (const [name, expected] of Object.entries(outcomes)) {
  t.test(name, async (t) => {
    const { app, logs } = testServer(STATE, {}, { logLevel: 'debug' });
    const reply = await app.inject({ method: 'POST', url: expected.route, payload: expected.review });
    t.equal(reply.statusCode, 200);
    const response = reply.json<{ response: { allowed: boolean; auditAnnotations?: Record<string, string>; patch?: string } }>().response;
    const lines = logs.filter((line) => line['msg'] === 'admission decision');
    t.equal(lines.length, 1, 'one line per decision');
    const line = lines[0] as Record<string, unknown>;
    t.equal(line['level'], expected.level === 'info' ? INFO : DEBUG, `logged at ${expected.level}`);
    t.equal(line['action'], expected.action);
    t.equal(line['decision'], expected.decision);
    t.match(line['reason'], expected.reason);
    t.same(line['codes'], expected.codes);
    // The line agrees with the answer it describes.
    t.equal(response.allowed, expected.action !== 'deny', 'allowed unless the action is deny');
    t.equal(response.patch !== undefined, expected.action === 'patch', 'a patch exactly when the action is patch');
    const annotated = response.auditAnnotations?.['decision'];
    if (annotated !== undefined) t.equal(line['decision'], annotated, 'decision is the audit annotation');
    else t.ok(expected.decision === 'allow' || expected.decision === undefined, 'no annotation only for an allow or a skip');
    if (expected.action === 'deny' || expected.decision === 'would-deny') {
      for (const code of String(line['reason']).replace(/^would deny: /, '').split(',')) t.ok(expected.codes.includes(code), `reason code ${code} is among the codes`);
    }
  });
}

t.test('at the default info level plain allows and skips write no line; decisions that do something do', async (t) => {
  const { app, logs } = testServer(STATE);
  await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: PRIVATE }] })) });
  await app.inject({ method: 'POST', url: '/validate', payload: admissionReview({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' } }) });
  await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] }), { uid: 'patched' }) });
  t.same(logs.filter((line) => line['msg'] === 'admission decision').map((line) => [line['uid'], line['action'], line['level']]), [['patched', 'patch', INFO]]);
});

t.test('with logAllows (--log-allows) plain allows and skips are logged at info', async (t) => {
  const { app, logs } = testServer(STATE, {}, { logAllows: true });
  await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: PRIVATE }] }), { uid: 'a' }) });
  await app.inject({ method: 'POST', url: '/validate', payload: admissionReview({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' } }, { uid: 's' }) });
  t.same(logs.filter((line) => line['msg'] === 'admission decision').map((line) => [line['uid'], line['action'], line['level']]), [['a', 'allow', INFO], ['s', 'skip', INFO]]);
});

t.test('the hand-built line is valid JSON with every field, whatever characters the request holds, and caps long fields', async (t) => {
  const { app, logs } = testServer(STATE);
  const uid = 'quote " backslash \\ newline \n tab \t nul \u0000 line-separator \u2028 emoji 🙂';
  const longName = 'n'.repeat(100_000);
  await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(pod({ name: longName, containers: [{ name: 'app', image: PRIVATE }] }), { uid, name: longName }) });
  const line = logs.find((entry) => entry['msg'] === 'admission decision') as Record<string, unknown>;
  t.match(line, { level: INFO, uid, kind: 'Pod', namespace: 'team', operation: 'CREATE', dryRun: false, mode: 'enforce', action: 'patch', decision: 'inject' });
  t.type(line['time'], 'number');
  t.type(line['latencyMs'], 'number');
  t.ok(String(line['name']).length <= LOG_FIELD_MAX_CHARS, `name capped (${String(line['name']).length} characters)`);
  t.match(String(line['name']), /^n+…n+$/);
  // pid and hostname are the test logger's bindings (pino's default base).
  t.same(Object.keys(line).filter((key) => key !== 'pid' && key !== 'hostname'), ['level', 'time', 'webhook', 'uid', 'kind', 'namespace', 'name', 'operation', 'dryRun', 'mode', 'action', 'decision', 'reason', 'codes', 'latencyMs', 'msg']);
});

t.test('the line carries the logger bindings as pino would (serve logs app: pullguard)', async (t) => {
  const { pino } = await import('pino');
  const { buildWebhookApp } = await import('../../src/server/app.ts');
  const { createMetrics } = await import('../../src/server/metrics.ts');
  const { StaticDecisionState } = await import('../../src/server/state.ts');
  const { snapshotFromObjects } = await import('../../src/snapshot/from-objects.ts');
  const { policyResolver } = await import('../helpers/server.ts');
  const lines: string[] = [];
  const logger = pino({ level: 'info', base: { app: 'pullguard' } }, { write: (line: string) => lines.push(line) });
  const app = buildWebhookApp({ state: new StaticDecisionState(snapshotFromObjects(STATE), policyResolver()), metrics: createMetrics({ defaultMetrics: false }), logger });
  await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })) });
  t.equal(lines.length, 1);
  t.match(lines[0], /^\{"level":30,"time":\d+,"app":"pullguard","webhook":"mutate","uid":"uid-1234",.*"msg":"admission decision"\}\n$/);
  await app.close();
});
