// End-to-end checks of the live cluster state (issue 4): `pullguard serve` watching the real API
// server sees secrets, ServiceAccounts and policy edits made after it started, keeps answering
// from its last snapshot while kube-apiserver is down, and catches up once it is back.
// Decisions are polled through the API server with server-side dry-run creates (client-node: no
// process per poll), so "seen within N ms" is measured as the user would experience it.
//   npx tap test/e2e/live-state.e2e.ts
import t from 'tap';
import { POLICY_CONFIGMAP, POLICY_KEY, WEBHOOK_NAMESPACE, WEBHOOK_NAMES } from './harness/webhook.ts';
import { formatTimings, policyConfigMap, startEnvironment } from './fixtures/environment.ts';
import { pollUntil } from './fixtures/kube.ts';
import {
  PRIVATE_REGISTRY,
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

t.test('stopping the environment leaves no process and no temp dir behind', async (t) => {
  await env.stop();
  t.same(env.leftovers(), [], 'nothing left');
  t.comment(`suite time: ${Date.now() - suiteStartedAt} ms`);
});
