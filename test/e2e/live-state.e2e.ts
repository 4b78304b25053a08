// End-to-end checks of the live cluster state (issue 4): `pullguard serve` watching the real API
// server sees secrets, ServiceAccounts and policy edits made after it started, keeps answering
// from its last snapshot while kube-apiserver is down, and catches up once it is back.
// Decisions are polled through the API server with server-side dry-run creates (client-node: no
// process per poll), so "seen within N ms" is measured as the user would experience it.
// One scenario runs the live state in-process with nothing but the Helm chart's RBAC (a
// TokenRequest token of the chart's ServiceAccount), to prove those rules are enough and no wider.
//   npx tap test/e2e/live-state.e2e.ts
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { LiveDecisionState } from '../../src/cluster/live-state.ts';
import { applyWebhookIdentity, serviceAccountKubeConfig } from './harness/chart-identity.ts';
import { POLICY_CONFIGMAP, POLICY_KEY, WEBHOOK_NAMESPACE, WEBHOOK_NAMES } from './harness/webhook.ts';
import { formatTimings, policyConfigMap, startEnvironment } from './fixtures/environment.ts';
import { pollUntil } from './fixtures/kube.ts';
import {
  PRIVATE_REGISTRY,
  configMap,
  deployment,
  namespace,
  pod,
  podCreateReview,
  registrySecret,
  serviceAccount,
  uniqueName,
  type KubeObject,
} from './fixtures/objects.ts';

t.setTimeout(6 * 60_000);
const suiteStartedAt = Date.now();

/** Issue 4: a change is used by the next decision within 2 s. */
const SEEN_WITHIN_MS = 2_000;
/** After a kube-apiserver restart the informers reconnect with jittered backoff (0.5 s doubling, ±50 %). */
const CONVERGE_AFTER_RESTART_MS = 60_000;
const INJECTION_OFF_LABEL = 'e2e.pullguard.io/injection';

const ns = {
  secrets: uniqueName('live-secrets'),
  serviceAccount: uniqueName('live-sa'),
  policy: uniqueName('live-policy'),
  restart: uniqueName('live-restart'),
  /** Release namespace of the chart's RBAC, home of a second policy ConfigMap. */
  chartRbac: uniqueName('live-rbac'),
};

function policyYaml(latestWithIfNotPresent: 'warn' | 'deny'): string {
  return `mode: enforce
defaultAccess: secret
latestWithIfNotPresent: ${latestWithIfNotPresent}
namespaces:
  overrides:
    - matchLabels: { "${INJECTION_OFF_LABEL}": "off" }
      injection: { enabled: false }
`;
}

const injectionOff = { [INJECTION_OFF_LABEL]: 'off' };
const objects: KubeObject[] = [
  namespace(ns.secrets, injectionOff),
  serviceAccount(ns.secrets),
  namespace(ns.serviceAccount, injectionOff),
  serviceAccount(ns.serviceAccount),
  registrySecret(ns.serviceAccount, 'sa-secret', PRIVATE_REGISTRY),
  namespace(ns.policy),
  serviceAccount(ns.policy),
  namespace(ns.restart, injectionOff),
  serviceAccount(ns.restart),
  registrySecret(ns.restart, 'kept', PRIVATE_REGISTRY),
  namespace(ns.chartRbac, injectionOff),
];

const env = await startEnvironment({ policyYaml: policyYaml('warn'), objects });
t.teardown(() => env.stop());
t.comment(`start-up: ${formatTimings(env.timings)}`);
const { controlPlane, webhook, kube } = env;

const privateImage = `${PRIVATE_REGISTRY}/team/app:1.0`;

interface Verdict {
  allowed: boolean;
  /** The API server's rejection message, or '' when admitted. */
  message: string;
}

async function verdict(object: KubeObject): Promise<Verdict> {
  const result = await kube.dryRunCreate(object);
  return result.allowed ? { allowed: true, message: '' } : { allowed: false, message: result.message };
}

function podListing(namespaceName: string, secrets: readonly string[], image = privateImage): KubeObject {
  return pod(namespaceName, uniqueName('probe'), { imagePullSecrets: secrets, containers: [{ image }] });
}

async function setPolicy(text: string): Promise<void> {
  await kube.mergePatch({ ...policyConfigMap(text), data: { [POLICY_KEY]: text } });
}

t.test('a secret created after start-up is used by the next pod decision within 2 s', async (t) => {
  const before = await verdict(podListing(ns.secrets, ['late']));
  t.notOk(before.allowed, 'denied while the secret does not exist');
  t.match(before.message, '[PullSecretNotFound]');

  await kube.createAll([registrySecret(ns.secrets, 'late', PRIVATE_REGISTRY)]);
  const seen = await pollUntil(() => verdict(podListing(ns.secrets, ['late'])), (v) => v.allowed, { timeoutMs: SEEN_WITHIN_MS });
  t.ok(seen.met, `allowed ${seen.elapsedMs} ms after the secret was created (last answer: ${seen.value.message || 'allowed'})`);
  t.comment(`new secret seen after ${seen.elapsedMs} ms`);
});

t.test('a deleted secret stops being used within 2 s', async (t) => {
  const before = await verdict(podListing(ns.secrets, ['late']));
  t.ok(before.allowed, `allowed while the secret exists: ${before.message}`);

  await kube.deleteObject(registrySecret(ns.secrets, 'late', PRIVATE_REGISTRY));
  const seen = await pollUntil(() => verdict(podListing(ns.secrets, ['late'])), (v) => !v.allowed, { timeoutMs: SEEN_WITHIN_MS });
  t.ok(seen.met, `denied ${seen.elapsedMs} ms after the secret was deleted`);
  t.match(seen.value.message, `secret late not found in namespace ${ns.secrets}`);
  t.match(seen.value.message, '[PullSecretNotFound]');
  t.comment(`deleted secret seen after ${seen.elapsedMs} ms`);
});

t.test("a ServiceAccount gaining pull secrets is seen for pod templates within 2 s", async (t) => {
  // A Deployment's pods will get the SA's secrets (the ServiceAccount plugin copies them at pod
  // CREATE), so pullguard must know the SA's current list to judge the template.
  const web = () => deployment(ns.serviceAccount, uniqueName('web'), { containers: [{ image: privateImage }] });
  const before = await verdict(web());
  t.notOk(before.allowed, 'denied while the ServiceAccount lists no secret');
  t.match(before.message, `${WEBHOOK_NAMES.validateWorkloads}" denied the request`);
  t.match(before.message, `no pull secret has a key for ${PRIVATE_REGISTRY} (pod has no imagePullSecrets)`);

  await kube.mergePatch({ ...serviceAccount(ns.serviceAccount), imagePullSecrets: [{ name: 'sa-secret' }] });
  const seen = await pollUntil(() => verdict(web()), (v) => v.allowed, { timeoutMs: SEEN_WITHIN_MS });
  t.ok(seen.met, `allowed ${seen.elapsedMs} ms after the ServiceAccount changed (last answer: ${seen.value.message || 'allowed'})`);
  t.comment(`ServiceAccount change seen after ${seen.elapsedMs} ms`);
});

t.test('a policy edit takes effect without a restart', async (t) => {
  const latestPod = () => pod(ns.policy, uniqueName('latest'), { containers: [{ image: 'registry.k8s.io/pause:latest', imagePullPolicy: 'IfNotPresent' }] });
  const pid = webhook.pid();
  t.ok((await verdict(latestPod())).allowed, 'latest with IfNotPresent is only a warning under the first policy');

  await setPolicy(policyYaml('deny'));
  const seen = await pollUntil(() => verdict(latestPod()), (v) => !v.allowed, { timeoutMs: SEEN_WITHIN_MS });
  t.ok(seen.met, `denied ${seen.elapsedMs} ms after the edit`);
  t.match(seen.value.message, 'is latest/untagged with IfNotPresent: nodes may run different builds; pin a tag [LatestWithIfNotPresent]');
  t.equal(webhook.pid(), pid, 'the same process answers');
  t.comment(`policy edit seen after ${seen.elapsedMs} ms`);
});

t.test('an invalid policy edit keeps the last valid policy and is reported as an Event on the ConfigMap', async (t) => {
  const latestPod = () => pod(ns.policy, uniqueName('latest'), { containers: [{ image: 'registry.k8s.io/pause:latest', imagePullPolicy: 'IfNotPresent' }] });
  await setPolicy('mode: enforce\nlatestWithIfNotPresent: forbid\n');

  const listEvents = async () =>
    (await kube.core.listNamespacedEvent({ namespace: WEBHOOK_NAMESPACE, fieldSelector: `involvedObject.name=${POLICY_CONFIGMAP}` })).items.filter(
      (event) => event.reason === 'InvalidPolicy',
    );
  const events = await pollUntil(listEvents, (items) => items.length > 0, { timeoutMs: 10_000, intervalMs: 100 });
  t.ok(events.met, `an InvalidPolicy Event appeared after ${events.elapsedMs} ms`);
  const event = events.value[0];
  t.equal(event?.type, 'Warning');
  t.equal(event?.involvedObject.kind, 'ConfigMap');
  t.equal(event?.involvedObject.namespace, WEBHOOK_NAMESPACE);
  t.match(event?.message, 'latestWithIfNotPresent', 'the Event names the bad field');

  const during = await verdict(latestPod());
  t.notOk(during.allowed, 'the last valid policy (deny) is still in force');
  t.match(during.message, '[LatestWithIfNotPresent]');

  await setPolicy(policyYaml('warn'));
  const restored = await pollUntil(() => verdict(latestPod()), (v) => v.allowed, { timeoutMs: SEEN_WITHIN_MS });
  t.ok(restored.met, `a valid edit after the invalid one applies (${restored.elapsedMs} ms)`);
});

t.test('kube-apiserver stopped and restarted mid-run', async (t) => {
  const covered = pod(ns.restart, 'covered', { imagePullSecrets: ['kept'], containers: [{ image: privateImage }] });
  const uncovered = pod(ns.restart, 'uncovered', { imagePullSecrets: ['after-restart'], containers: [{ image: privateImage }] });
  t.ok((await verdict(covered)).allowed, 'before the stop: the kept secret covers the pod');

  await controlPlane.stopApiserver();
  try {
    await t.test('the webhook keeps answering from its last snapshot while the API server is down', async (t) => {
      const allowed = await webhook.post('/validate', podCreateReview(covered));
      t.equal(allowed.status, 200);
      t.match(allowed.json(), { response: { allowed: true } }, 'the kept secret still covers the pod');

      const denied = await webhook.post('/validate', podCreateReview(uncovered));
      t.equal(denied.status, 200);
      t.match(denied.json(), { response: { allowed: false, status: { message: /\[PullSecretNotFound\]/ } } }, 'a missing secret is still missing');

      t.equal((await webhook.get('/readyz')).status, 200, '/readyz stays ready: the last snapshot is good to decide with');
      const unreachable = await pollUntil(() => webhook.metrics(), (text) => /^pullguard_api_server_reachable 0$/m.test(text), { timeoutMs: 15_000, intervalMs: 200 });
      t.ok(unreachable.met, `pullguard_api_server_reachable drops to 0 (${unreachable.elapsedMs} ms)`);
    });
  } finally {
    await controlPlane.startApiserver();
  }

  await t.test('after the restart it converges: a change made then is seen', async (t) => {
    await kube.createAll([registrySecret(ns.restart, 'after-restart', PRIVATE_REGISTRY)]);
    const seen = await pollUntil(() => verdict(uncovered), (v) => v.allowed, { timeoutMs: CONVERGE_AFTER_RESTART_MS, intervalMs: 200 });
    t.ok(seen.met, `the secret created after the restart is used (${seen.elapsedMs} ms; last answer: ${seen.value.message || 'allowed'})`);
    t.comment(`converged ${seen.elapsedMs} ms after the restart`);
    const reachable = await pollUntil(() => webhook.metrics(), (text) => /^pullguard_api_server_reachable 1$/m.test(text), { timeoutMs: 15_000, intervalMs: 200 });
    t.ok(reachable.met, 'pullguard_api_server_reachable is back to 1');
  });
});

/** Chart release whose fullname is the chart name, so the policy ConfigMap is `pullguard-policy`. */
const CHART_RELEASE = 'pullguard';
const CHART_POLICY_CONFIGMAP = `${CHART_RELEASE}-policy`;
const CHART_SERVICE_ACCOUNT = CHART_RELEASE;
/** Start-up of the in-process live state: five informers listing an almost empty cluster. */
const READY_WITHIN_MS = 30_000;

t.test("with only the chart's RBAC, the live state reads the policy ConfigMap by GET and watch, and may not list it", async (t) => {
  const manifest = await applyWebhookIdentity(controlPlane, CHART_RELEASE, ns.chartRbac);
  const role = parseAllDocuments(manifest).map((document) => document.toJS() as { kind?: string; rules?: Array<{ resources: string[]; verbs: string[] }> }).find((object) => object.kind === 'Role');
  t.same(role?.rules?.find((rule) => rule.resources.includes('configmaps'))?.verbs, ['get', 'watch'], 'the chart grants get and watch on the policy ConfigMap');

  const policyObject = (text: string) => configMap(ns.chartRbac, CHART_POLICY_CONFIGMAP, { [POLICY_KEY]: text });
  await kube.createAll([policyObject(policyYaml('deny'))]);
  const kubeConfig = await serviceAccountKubeConfig(controlPlane, ns.chartRbac, CHART_SERVICE_ACCOUNT);

  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const live = new LiveDecisionState({ kubeConfig, namespace: ns.chartRbac, configMapName: CHART_POLICY_CONFIGMAP, logger, registry: new Registry() });
  t.teardown(() => live.stop());
  const warnings = () => logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 40).map((line) => `${String(line['informer'] ?? '')} ${String(line['msg'])}: ${JSON.stringify(line['error'] ?? {})}`);
  const policyInformer = () => live.status().informers.find((informer) => informer.name === 'policy-configmap');
  const inForce = () => live.policy().policy.latestWithIfNotPresent;
  const sourceOf = async () => live.status().policy.source;

  live.start();
  const ready = await Promise.race([live.whenReady().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), READY_WITHIN_MS))]);
  t.ok(ready, `ready within ${READY_WITHIN_MS} ms: ${JSON.stringify(live.readiness())}; warnings: ${warnings().join(' | ')}`);
  t.equal(live.status().policy.source, 'configmap', 'the policy came from the ConfigMap');
  t.equal(inForce(), 'deny', 'and it is the ConfigMap\'s policy, not the defaults');
  t.same(live.status().informers.filter((informer) => informer.restarts > 0).map((informer) => informer.name), [], 'no informer failed, so no rule is missing');
  t.same(warnings(), [], 'nothing was forbidden');

  await t.test('it sees a policy edit within 2 s', async (t) => {
    await kube.mergePatch({ ...policyObject(policyYaml('warn')), data: { [POLICY_KEY]: policyYaml('warn') } });
    const seen = await pollUntil(async () => inForce(), (value) => value === 'warn', { timeoutMs: SEEN_WITHIN_MS });
    t.ok(seen.met, `edit seen after ${seen.elapsedMs} ms`);
  });

  await t.test('it sees the ConfigMap deleted (defaults) and created again (its policy) within 2 s each', async (t) => {
    await kube.deleteObject(policyObject(''));
    const deleted = await pollUntil(sourceOf, (source) => source === 'default', { timeoutMs: SEEN_WITHIN_MS });
    t.ok(deleted.met, `deletion seen after ${deleted.elapsedMs} ms: the built-in defaults apply`);
    await kube.createAll([policyObject(policyYaml('deny'))]);
    const created = await pollUntil(async () => [live.status().policy.source, inForce()].join(' '), (value) => value === 'configmap deny', { timeoutMs: SEEN_WITHIN_MS });
    t.ok(created.met, `re-creation seen after ${created.elapsedMs} ms`);
  });

  await t.test('its token may GET the policy ConfigMap but not list ConfigMaps, not even by name', async (t) => {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const statusOf = async (call: () => Promise<unknown>): Promise<number> => {
      try {
        await call();
        return 200;
      } catch (error) {
        if (error instanceof ApiException) return error.code;
        throw error;
      }
    };
    const cases: Array<{ name: string; call: () => Promise<unknown>; status: number }> = [
      { name: 'GET of the policy ConfigMap is allowed', call: () => core.readNamespacedConfigMap({ namespace: ns.chartRbac, name: CHART_POLICY_CONFIGMAP }), status: 200 },
      { name: 'a plain list of ConfigMaps is Forbidden', call: () => core.listNamespacedConfigMap({ namespace: ns.chartRbac }), status: 403 },
      { name: 'a list narrowed to the policy ConfigMap by name is Forbidden (the verb pullguard used to need)', call: () => core.listNamespacedConfigMap({ namespace: ns.chartRbac, fieldSelector: `metadata.name=${CHART_POLICY_CONFIGMAP}` }), status: 403 },
      { name: 'GET of another ConfigMap is Forbidden', call: () => core.readNamespacedConfigMap({ namespace: ns.chartRbac, name: 'another' }), status: 403 },
    ];
    for (const c of cases) t.equal(await statusOf(c.call), c.status, c.name);
  });

  await t.test('after a kube-apiserver restart the watch resumes without looping on 410 Gone, and an edit is seen within 2 s', async (t) => {
    // The restarted API server's watch cache starts after the ConfigMap's last change, so a watch
    // from the version a GET returns is answered 410 Gone; GETting again must not start from it.
    const relistsBefore = policyInformer()?.relists ?? 0;
    const relistsSinceRestart = () => (policyInformer()?.relists ?? 0) - relistsBefore;
    await controlPlane.restartApiserver();
    const resumed = await pollUntil(async () => relistsSinceRestart() >= 1 && policyInformer()?.healthy === true, (value) => value, { timeoutMs: CONVERGE_AFTER_RESTART_MS, intervalMs: 100 });
    t.ok(resumed.met, `410 on the old version, then a GET: ${resumed.elapsedMs} ms after the restart`);
    // A 410 loop (GET, watch from the same version, 410, ...) relists after 1 s, 3 s, 7 s: show it.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    t.equal(relistsSinceRestart(), 1, 'one GET after the 410, not one per retry');
    await kube.mergePatch({ ...policyObject(policyYaml('warn')), data: { [POLICY_KEY]: policyYaml('warn') } });
    const seen = await pollUntil(async () => inForce(), (value) => value === 'warn', { timeoutMs: SEEN_WITHIN_MS });
    t.ok(seen.met, `edit after the restart seen after ${seen.elapsedMs} ms`);
  });

  await live.stop();
});

t.test('stopping the environment leaves no process and no temp dir behind', async (t) => {
  await env.stop();
  t.same(env.leftovers(), [], 'nothing left');
  t.comment(`suite time: ${Date.now() - suiteStartedAt} ms`);
});
