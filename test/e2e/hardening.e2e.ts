// End-to-end checks of issue 14's transport and RBAC hardening against a real kube-apiserver:
// - mutual TLS: the API server presents a client certificate through its AdmissionConfiguration
//   (--admission-control-config-file, a kubeconfig per webhook host) and `pullguard serve
//   --client-ca` answers it; a caller without a certificate, or with a name not allowed, is refused;
// - `--secret-namespaces` with the Helm chart's namespace-scoped RBAC (rbac.secrets.scope=namespaces):
//   the live state runs with nothing but the chart's rules and sees the pull secrets of the chosen
//   namespaces only, and the token may not read Secrets anywhere else.
//   npx tap test/e2e/hardening.e2e.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { generateClientCa, issueClientCertificate, type ClientCertificate } from '../../src/certs/generate.ts';
import { LiveDecisionState } from '../../src/cluster/live-state.ts';
import { applyWebhookIdentity, serviceAccountKubeConfig } from './harness/chart-identity.ts';
import { POLICY_KEY, PROBE_NAMESPACE, registerWebhooks, startWebhook } from './harness/webhook.ts';
import { formatTimings, startEnvironment } from './fixtures/environment.ts';
import { pollUntil } from './fixtures/kube.ts';
import { PRIVATE_REGISTRY, configMap, namespace, pod, podCreateReview, registrySecret, serviceAccount, uniqueName } from './fixtures/objects.ts';

t.setTimeout(6 * 60_000);

/** The name kube-apiserver's client certificate carries, and the server's default --client-cn. */
const API_SERVER_NAME = 'kube-apiserver';
const SEEN_WITHIN_MS = 2_000;
const READY_WITHIN_MS = 30_000;
/** The API server picks a changed webhook configuration up asynchronously. */
const CONFIGURATION_SEEN_WITHIN_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// The API server's side of mutual TLS: an AdmissionConfiguration whose kubeconfig hands the
// webhook admission plugins a client certificate. User `*` matches every webhook host; in a real
// cluster it is the Service's DNS name (README, "Transport security").

const filesDir = mkdtempSync(join(tmpdir(), 'pullguard-e2e-mtls-'));
t.teardown(() => rmSync(filesDir, { recursive: true, force: true }));
const clientCa = generateClientCa();
const apiServerCertificate = issueClientCertificate(clientCa, { commonName: API_SERVER_NAME });
const wrongName = issueClientCertificate(clientCa, { commonName: 'someone-else' });
const clientCaFile = join(filesDir, 'client-ca.crt');
writeFileSync(clientCaFile, clientCa.caCert);
const webhookKubeconfig = join(filesDir, 'webhook-kubeconfig.json');
writeFileSync(
  webhookKubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    users: [
      {
        name: '*',
        user: {
          'client-certificate-data': Buffer.from(apiServerCertificate.cert).toString('base64'),
          'client-key-data': Buffer.from(apiServerCertificate.key).toString('base64'),
        },
      },
    ],
  }),
);
const admissionConfiguration = join(filesDir, 'admission-config.json');
const plugin = (name: string) => ({
  name,
  configuration: { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'WebhookAdmissionConfiguration', kubeConfigFile: webhookKubeconfig },
});
writeFileSync(
  admissionConfiguration,
  JSON.stringify({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration', plugins: [plugin('ValidatingAdmissionWebhook'), plugin('MutatingAdmissionWebhook')] }),
);

const ns = {
  watched: uniqueName('scoped-watched'),
  unwatched: uniqueName('scoped-unwatched'),
  release: uniqueName('scoped-release'),
};

// startEnvironment proves the API server calls the webhook (it waits for pullguard's denial of a
// probe pod), so its start already shows the API server's certificate being accepted.
const env = await startEnvironment({
  policyYaml: 'mode: enforce\n',
  objects: [
    namespace(ns.watched),
    serviceAccount(ns.watched),
    registrySecret(ns.watched, 'before-start', PRIVATE_REGISTRY),
    namespace(ns.unwatched),
    serviceAccount(ns.unwatched),
    registrySecret(ns.unwatched, 'elsewhere', PRIVATE_REGISTRY),
    namespace(ns.release),
  ],
  apiserverArgs: [`--admission-control-config-file=${admissionConfiguration}`],
  webhookArgs: ['--client-ca', clientCaFile],
});
t.teardown(() => env.stop());
t.comment(`start-up: ${formatTimings(env.timings)}`);
const { controlPlane, webhook, kube } = env;

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** A direct HTTPS call to the webhook, trusting its CA, with or without a client certificate. */
function call(method: 'GET' | 'POST', path: string, client: ClientCertificate | undefined): Promise<Answer> {
  const body = method === 'POST' ? JSON.stringify(podCreateReview(pod(PROBE_NAMESPACE, 'direct', { containers: [{ image: 'registry.k8s.io/pause:3.10' }] }))) : undefined;
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      `${webhook.url}${path}`,
      {
        method,
        agent: false,
        ca: webhook.caPem,
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const probePod = () => pod(PROBE_NAMESPACE, uniqueName('probe'), { containers: [{ image: 'probe.pullguard.test/probe:1' }] });

t.test('mutual TLS between kube-apiserver and pullguard serve --client-ca', async (t) => {
  t.test('the API server presents its client certificate and gets decisions', async (t) => {
    const answer = await kube.dryRunCreate(probePod());
    t.notOk(answer.allowed, 'the uncovered probe pod is denied');
    if (!answer.allowed) t.match(answer.message, 'pullguard denied Pod probe', 'by pullguard itself, not by a failed call');
    const metrics = await webhook.metrics();
    // Only the API server has called /mutate and /validate so far: not one refusal.
    t.notMatch(metrics, /^pullguard_client_certificate_rejections_total\{/m, 'the API server was never refused');
  });

  const cases: Record<string, { method: 'GET' | 'POST'; path: string; client: ClientCertificate | undefined; status: number }> = {
    'refuses a real TLS client without a certificate on /validate (401)': { method: 'POST', path: '/validate', client: undefined, status: 401 },
    'refuses a real TLS client without a certificate on /mutate (401)': { method: 'POST', path: '/mutate', client: undefined, status: 401 },
    'refuses a certificate from the right CA with a name that is not allowed (403)': { method: 'POST', path: '/validate', client: wrongName, status: 403 },
    'answers a client with the allowed certificate': { method: 'POST', path: '/validate', client: apiServerCertificate, status: 200 },
    'keeps /readyz open for the kubelet, which has no certificate': { method: 'GET', path: '/readyz', client: undefined, status: 200 },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const answer = await call(c.method, c.path, c.client);
      t.equal(answer.status, c.status, answer.body);
    });
  }

  t.test('a webhook that allows another name refuses the API server, which then applies failurePolicy', async (t) => {
    const strict = await startWebhook({ controlPlane, extraArgs: ['--client-ca', clientCaFile, '--client-cn', 'not-the-apiserver'] });
    t.teardown(async () => {
      await registerWebhooks(controlPlane, webhook, { failurePolicy: 'Fail' });
      await strict.dispose();
    });
    await registerWebhooks(controlPlane, strict, { failurePolicy: 'Fail' });
    const refused = await pollUntil(
      () => kube.dryRunCreate(probePod()),
      (answer) => !answer.allowed && answer.message.includes('failed calling webhook'),
      { timeoutMs: CONFIGURATION_SEEN_WITHIN_MS, intervalMs: 200 },
    );
    t.ok(refused.met, `the call fails once the configuration points at the strict webhook (last: ${JSON.stringify(refused.value)})`);
    t.match(await strict.metrics(), /pullguard_client_certificate_rejections_total\{webhook="(mutate|validate)",reason="name-not-allowed"\} [1-9]/);
    t.ok(
      strict.logLines().some((line) => line['msg'] === 'refused a caller without an allowed client certificate' && line['reason'] === 'name-not-allowed'),
      'the refusal is logged with its reason',
    );
  });
});

/** Chart release whose fullname is the chart name. */
const CHART_RELEASE = 'pullguard';
const CHART_POLICY_CONFIGMAP = `${CHART_RELEASE}-policy`;

t.test("--secret-namespaces with the chart's namespace-scoped RBAC (rbac.secrets.scope=namespaces)", async (t) => {
  const manifest = await applyWebhookIdentity(controlPlane, CHART_RELEASE, ns.release, ['rbac.secrets.scope=namespaces', `rbac.secrets.namespaces={${ns.watched}}`]);
  const objects = parseAllDocuments(manifest).map((document) => document.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string }; rules?: Array<{ resources: string[] }> });
  t.notOk(
    objects.some((object) => object.kind === 'ClusterRole' && object.metadata?.name === CHART_RELEASE && object.rules?.some((rule) => rule.resources.includes('secrets'))),
    'the chart grants no cluster-wide Secrets',
  );
  t.same(objects.filter((object) => object.kind === 'RoleBinding' && object.metadata?.name === `${CHART_RELEASE}-secrets`).map((object) => object.metadata?.namespace), [ns.watched]);

  await kube.createAll([configMap(ns.release, CHART_POLICY_CONFIGMAP, { [POLICY_KEY]: 'mode: enforce\n' })]);
  const kubeConfig = await serviceAccountKubeConfig(controlPlane, ns.release, CHART_RELEASE);
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const live = new LiveDecisionState({ kubeConfig, namespace: ns.release, configMapName: CHART_POLICY_CONFIGMAP, logger, registry: new Registry(), secretNamespaces: [ns.watched] });
  t.teardown(() => live.stop());
  const warnings = () => logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 40).map((line) => `${String(line['informer'] ?? '')} ${String(line['msg'])}`);

  live.start();
  const ready = await Promise.race([live.whenReady().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), READY_WITHIN_MS))]);
  t.ok(ready, `ready within ${READY_WITHIN_MS} ms: ${JSON.stringify(live.readiness())}; warnings: ${warnings().join(' | ')}`);
  t.same(live.status().informers.filter((informer) => informer.restarts > 0).map((informer) => informer.name), [], 'no informer was forbidden: the chart grants what the server needs');
  t.same(warnings(), [], 'nothing was forbidden');

  t.test('it sees the watched namespace\'s secrets, including one created after start-up, and none elsewhere', async (t) => {
    t.equal(live.snapshot().secret(ns.watched, 'before-start')?.usable, true);
    t.equal(live.snapshot().secret(ns.unwatched, 'elsewhere'), undefined, 'the unwatched namespace\'s secret never reached it');
    await kube.createAll([registrySecret(ns.watched, 'after-start', PRIVATE_REGISTRY)]);
    const seen = await pollUntil(async () => live.snapshot().secret(ns.watched, 'after-start')?.usable, (usable) => usable === true, { timeoutMs: SEEN_WITHIN_MS, intervalMs: 50 });
    t.ok(seen.met, `seen after ${seen.elapsedMs} ms`);
  });

  t.test('it does not check pods where it cannot see the secrets', async (t) => {
    t.equal(live.policy().forNamespace(ns.watched, live.snapshot().namespace(ns.watched)).mode, 'enforce');
    const elsewhere = live.policy().forNamespace(ns.unwatched, live.snapshot().namespace(ns.unwatched));
    t.equal(elsewhere.mode, 'off');
    t.match(elsewhere.modeSource, '--secret-namespaces');
  });

  t.test('its token may list Secrets in the watched namespace only', async (t) => {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const statusOf = async (callApi: () => Promise<unknown>): Promise<number> => {
      try {
        await callApi();
        return 200;
      } catch (error) {
        if (error instanceof ApiException) return error.code;
        throw error;
      }
    };
    const cases: Array<{ name: string; call: () => Promise<unknown>; status: number }> = [
      { name: 'list in the watched namespace is allowed', call: () => core.listNamespacedSecret({ namespace: ns.watched }), status: 200 },
      { name: 'list in another namespace is Forbidden', call: () => core.listNamespacedSecret({ namespace: ns.unwatched }), status: 403 },
      { name: 'a cluster-wide list is Forbidden', call: () => core.listSecretForAllNamespaces({}), status: 403 },
      { name: 'GET of a secret in the watched namespace is Forbidden (list and watch only)', call: () => core.readNamespacedSecret({ namespace: ns.watched, name: 'before-start' }), status: 403 },
    ];
    for (const c of cases) t.equal(await statusOf(c.call), c.status, c.name);
  });

  t.test('a namespace without its RoleBinding shows up in readiness instead of passing silently', async (t) => {
    const unbound = new LiveDecisionState({ kubeConfig, namespace: ns.release, configMapName: CHART_POLICY_CONFIGMAP, logger: pino({ level: 'silent' }), registry: new Registry(), secretNamespaces: [ns.watched, ns.unwatched] });
    t.teardown(() => unbound.stop());
    unbound.start();
    const settled = await pollUntil(async () => unbound.readiness(), (readiness) => readiness.missing.length === 2, { timeoutMs: READY_WITHIN_MS, intervalMs: 100 });
    t.same(settled.value.missing, [`informer secrets-dockerconfigjson:${ns.unwatched}`, `informer secrets-dockercfg:${ns.unwatched}`]);
    t.equal(unbound.readiness().ready, false);
  });

});

t.test('stopping the environment leaves no process and no temp dir behind', async (t) => {
  await env.stop();
  t.same(env.leftovers(), [], 'nothing left');
});
