// The rendered chart against a real kube-apiserver (test/e2e harness: etcd + kube-apiserver built from
// Go modules, RBAC on): every object passes server-side dry-run apply; the certificate Jobs' command,
// run with the Jobs' own ServiceAccount token, creates the Secret and fills the caBundles; a Helm-style
// server-side re-apply keeps those caBundles; and the RBAC grants exactly what the webhook needs.
//   npx tap test/chart/chart-apply.test.ts     (binaries: bash test/e2e/build-control-plane.sh)
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAllDocuments, stringify } from 'yaml';
import { defaultBinDir, startControlPlane, type ControlPlane } from '../e2e/harness/control-plane.ts';

/** A cold control plane start on two cores takes up to half a minute; the rest is a few seconds. */
t.setTimeout(4 * 60_000);

const run = promisify(execFile);
const CHART = fileURLToPath(new URL('../../charts/pullguard', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RELEASE = 'pullguard';
const NAMESPACE = 'pullguard-system';
const FULLNAME = 'pullguard';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [field: string]: unknown;
}
interface JobLike extends K8sObject {
  spec: { template: { spec: { containers: { args: string[] }[] } } };
}

const scratch = mkdtempSync(join(tmpdir(), 'pullguard-chart-apply-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

const helmPath = process.env['PULLGUARD_HELM'] || join(defaultBinDir(), 'helm');

async function render(values: Record<string, unknown>): Promise<K8sObject[]> {
  const file = join(scratch, `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(values));
  const { stdout } = await run(helmPath, ['template', RELEASE, CHART, '--namespace', NAMESPACE, '--values', file], {
    maxBuffer: 32 * 1024 * 1024,
    env: { ...process.env, HELM_CACHE_HOME: join(scratch, 'cache'), HELM_CONFIG_HOME: join(scratch, 'config'), HELM_DATA_HOME: join(scratch, 'data') },
  });
  return parseAllDocuments(stdout, { version: '1.1' })
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

function manifest(objects: readonly K8sObject[]): string {
  return objects.map((object) => stringify(object)).join('---\n');
}

const EXISTING_SECRET = { certificates: { mode: 'existingSecret', existingSecret: { name: 'corp-pki-serving', caBundle: Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64') } } };
/** Kinds whose CRDs a bare API server does not have. */
const CRD_KINDS = new Set(['Certificate', 'Issuer', 'ServiceMonitor']);

const controlPlane: ControlPlane = await startControlPlane();
t.teardown(() => controlPlane.stop());
await controlPlane.kubectl(['create', 'namespace', NAMESPACE]);
// The restricted Pod Security Standard: enforced on pods, and warned about on workload templates, so
// the dry runs below print a warning for any pod template that would not be admitted.
await controlPlane.kubectl(['label', 'namespace', NAMESPACE, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);

t.test('the API server accepts every rendered object (server-side apply, dry run)', async (t) => {
  const cases: { name: string; values: Record<string, unknown> }[] = [
    { name: 'accepts the default render, hooks included', values: {} },
    { name: 'accepts the cert-manager render (without the cert-manager kinds)', values: { certificates: { mode: 'cert-manager' } } },
    { name: 'accepts the existing-Secret render', values: EXISTING_SECRET },
    {
      name: 'accepts a render with every option on',
      values: {
        networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
        metrics: { serviceMonitor: { enabled: true } },
        webhooks: { failurePolicy: 'Ignore', timeoutSeconds: 10, excludeNamespaces: ['ci'] },
        priorityClassName: 'system-cluster-critical',
        policy: { mode: 'enforce', injection: { templates: true } },
      },
    },
  ];
  for (const c of cases) {
    const objects = await render(c.values);
    const applicable = objects.filter((object) => !CRD_KINDS.has(object.kind));
    const result = await controlPlane.kubectl(['apply', '--server-side', '--field-manager=helm', '--dry-run=server', '-f', '-'], { input: manifest(applicable), allowFailure: true });
    t.equal(result.exitCode, 0, `${c.name}\n${result.stderr}`);
    t.equal(result.stdout.trim().split('\n').length, applicable.length, `${c.name}: one line per object`);
    t.notMatch(result.stderr, /Warning/, `${c.name}: no API warnings (unknown fields, deprecations, Pod Security)`);
  }
});

t.test('the webhook and certificate pods pass the restricted Pod Security Standard', async (t) => {
  const objects = await render({});
  const templates = objects.flatMap((object) => {
    const spec = object['spec'] as { template?: { spec: unknown }; jobTemplate?: { spec: { template: { spec: unknown } } } } | undefined;
    const podSpec = spec?.template?.spec ?? spec?.jobTemplate?.spec.template.spec;
    return podSpec === undefined ? [] : [{ name: `${object.kind}/${object.metadata.name}`, podSpec }];
  });
  t.same(templates.map((template) => template.name).sort(), [
    `CronJob/${FULLNAME}-certs-renew`,
    `Deployment/${FULLNAME}`,
    `Job/${FULLNAME}-certs-create`,
    `Job/${FULLNAME}-certs-patch`,
  ]);
  // The ServiceAccount admission plugin wants each pod's ServiceAccount to exist.
  await controlPlane.kubectl(['apply', '--server-side', '--field-manager=helm', '-f', '-'], { input: manifest(objects.filter((object) => object.kind === 'ServiceAccount')) });
  for (const template of templates) {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'psa-check', namespace: NAMESPACE }, spec: template.podSpec };
    const result = await controlPlane.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod), allowFailure: true });
    t.equal(result.exitCode, 0, `${template.name}: admitted under enforce=restricted\n${result.stderr}`);
  }
});

t.test('the certificate Jobs and the webhook RBAC on a real API server', async (t) => {
  const objects = await render({});
  const isHook = (object: K8sObject): boolean => object.metadata.annotations?.['helm.sh/hook'] !== undefined;
  const jobs = objects.filter((object): object is JobLike => object.kind === 'Job');
  const certRbac = objects.filter((object) => isHook(object) && object.kind !== 'Job');
  // What `helm install` creates: the pre-install hooks' RBAC, then the release (the Deployment's pods
  // never run here: no scheduler or kubelet).
  const release = objects.filter((object) => !isHook(object));
  await controlPlane.kubectl(['apply', '--server-side', '--field-manager=helm', '-f', '-'], { input: manifest([...certRbac, ...release]) });

  const token = (await controlPlane.kubectl(['create', 'token', `${FULLNAME}-certs`, '--namespace', NAMESPACE, '--duration=10m'])).stdout.trim();
  const kubeconfig = join(scratch, 'certs-job.kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: controlPlane.apiserverUrl, 'certificate-authority-data': Buffer.from(controlPlane.caPem).toString('base64') } }],
      users: [{ name: 'certs-job', user: { token } }],
      contexts: [{ name: 'certs-job', context: { cluster: 'e2e', user: 'certs-job', namespace: NAMESPACE } }],
      'current-context': 'certs-job',
    }),
  );
  const runJob = async (name: string): Promise<string> => {
    const job = jobs.find((candidate) => candidate.metadata.name === name);
    const args = job?.spec.template.spec.containers[0]?.args;
    if (args === undefined) throw new Error(`no Job ${name} rendered`);
    const { stdout } = await run(process.execPath, ['src/cli/main.ts', ...args, '--kubeconfig', kubeconfig], { cwd: REPO });
    return stdout;
  };
  const secret = async () => JSON.parse((await controlPlane.kubectl(['get', 'secret', `${FULLNAME}-tls`, '-n', NAMESPACE, '-o', 'json'])).stdout) as { type: string; data: Record<string, string> };
  const caBundles = async (): Promise<string[]> => {
    const bundles: string[] = [];
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const configuration = JSON.parse((await controlPlane.kubectl(['get', kind, FULLNAME, '-o', 'json'])).stdout) as { webhooks: { clientConfig: { caBundle?: string } }[] };
      bundles.push(...configuration.webhooks.map((webhook) => webhook.clientConfig.caBundle ?? ''));
    }
    return bundles;
  };

  t.test('the pre-install Job, with its own token, creates the serving Secret for the Service names', async (t) => {
    const output = await runJob(`${FULLNAME}-certs-create`);
    t.match(output, /Secret pullguard-system\/pullguard-tls: created/);
    const stored = await secret();
    t.equal(stored.type, 'kubernetes.io/tls');
    t.same(Object.keys(stored.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    const certificate = new X509Certificate(Buffer.from(stored.data['tls.crt'] ?? '', 'base64'));
    t.match(certificate.subjectAltName ?? '', `DNS:${FULLNAME}.${NAMESPACE}.svc`);
  });

  t.test('the post-install Job keeps that Secret and writes its CA into every webhook', async (t) => {
    const before = await secret();
    const output = await runJob(`${FULLNAME}-certs-patch`);
    t.match(output, /kept the certificate in Secret/);
    t.same((await secret()).data, before.data, 'the Secret is unchanged');
    const bundles = await caBundles();
    t.equal(bundles.length, 3, 'two validating entries and one mutating entry');
    for (const bundle of bundles) t.equal(bundle, before.data['ca.crt'], 'caBundle is the Secret’s ca.crt');
    t.match(await runJob(`${FULLNAME}-certs-patch`), /caBundle already current/, 'a second run changes nothing');
  });

  t.test('an upgrade’s server-side apply of the webhook configurations keeps the caBundles', async (t) => {
    const before = await caBundles();
    const webhooks = release.filter((object) => object.kind.endsWith('WebhookConfiguration'));
    const result = await controlPlane.kubectl(['apply', '--server-side', '--field-manager=helm', '-f', '-'], { input: manifest(webhooks), allowFailure: true });
    t.equal(result.exitCode, 0, `no field conflict with the Job's patch: ${result.stderr}`);
    t.same(await caBundles(), before);
  });

  t.test('grants exactly the rights the webhook and the Jobs need', async (t) => {
    const webhookUser = `system:serviceaccount:${NAMESPACE}:${FULLNAME}`;
    const jobUser = `system:serviceaccount:${NAMESPACE}:${FULLNAME}-certs`;
    const cases: { name: string; user: string; args: string[]; allowed: boolean }[] = [
      { name: 'the webhook lists Secrets in every namespace', user: webhookUser, args: ['list', 'secrets', '--all-namespaces'], allowed: true },
      { name: 'the webhook watches ServiceAccounts in every namespace', user: webhookUser, args: ['watch', 'serviceaccounts', '--all-namespaces'], allowed: true },
      { name: 'the webhook watches Namespaces', user: webhookUser, args: ['watch', 'namespaces'], allowed: true },
      { name: 'the webhook cannot get a Secret by name', user: webhookUser, args: ['get', 'secrets/anything', '-n', 'default'], allowed: false },
      { name: 'the webhook cannot change Secrets', user: webhookUser, args: ['update', 'secrets', '-n', 'default'], allowed: false },
      { name: 'the webhook reads its policy ConfigMap by name', user: webhookUser, args: ['get', `configmaps/${FULLNAME}-policy`, '-n', NAMESPACE], allowed: true },
      { name: 'the webhook watches its policy ConfigMap', user: webhookUser, args: ['watch', `configmaps/${FULLNAME}-policy`, '-n', NAMESPACE], allowed: true },
      { name: 'the webhook cannot list its policy ConfigMap, even by name', user: webhookUser, args: ['list', `configmaps/${FULLNAME}-policy`, '-n', NAMESPACE], allowed: false },
      { name: 'the webhook cannot list ConfigMaps', user: webhookUser, args: ['list', 'configmaps', '-n', NAMESPACE], allowed: false },
      { name: 'the webhook cannot read other ConfigMaps', user: webhookUser, args: ['get', 'configmaps/other', '-n', NAMESPACE], allowed: false },
      { name: 'the webhook cannot watch other ConfigMaps', user: webhookUser, args: ['watch', 'configmaps/other', '-n', NAMESPACE], allowed: false },
      { name: 'the webhook creates Events in its namespace', user: webhookUser, args: ['create', 'events', '-n', NAMESPACE], allowed: true },
      { name: 'the webhook cannot create Events elsewhere', user: webhookUser, args: ['create', 'events', '-n', 'default'], allowed: false },
      { name: 'the webhook cannot patch webhook configurations', user: webhookUser, args: ['patch', `mutatingwebhookconfigurations/${FULLNAME}`], allowed: false },
      { name: 'the Job reads the serving Secret', user: jobUser, args: ['get', `secrets/${FULLNAME}-tls`, '-n', NAMESPACE], allowed: true },
      { name: 'the Job cannot read another Secret', user: jobUser, args: ['get', 'secrets/other', '-n', NAMESPACE], allowed: false },
      { name: 'the Job cannot list Secrets', user: jobUser, args: ['list', 'secrets', '-n', NAMESPACE], allowed: false },
      { name: 'the Job patches its validating webhook configuration', user: jobUser, args: ['patch', `validatingwebhookconfigurations/${FULLNAME}`], allowed: true },
      { name: 'the Job cannot patch another webhook configuration', user: jobUser, args: ['patch', 'mutatingwebhookconfigurations/someone-else'], allowed: false },
    ];
    for (const c of cases) {
      const result = await controlPlane.kubectl(['auth', 'can-i', ...c.args, `--as=${c.user}`], { allowFailure: true });
      t.equal(result.stdout.trim(), c.allowed ? 'yes' : 'no', c.name);
    }
  });
});
