// The Helm chart, rendered by the real helm (built from Go modules by test/e2e/build-control-plane.sh):
// lint, every certificate mode, overrides, the schema's rejections, and the rendered objects that
// matter for a webhook in the path of every pod creation.
//   npx tap test/chart/chart.test.ts     (helm from $PULLGUARD_HELM, else the e2e cache)
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { parseServeArgs } from '../../src/cli/serve.ts';
import { policySchema } from '../../src/policy/schema.ts';
import { CLOUD_NODE_REGISTRIES, type Cloud } from '../../src/policy/cloud-registries.ts';
import { defaultBinDir } from '../e2e/harness/control-plane.ts';

const run = promisify(execFile);
const CHART = fileURLToPath(new URL('../../charts/pullguard', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RELEASE = 'pullguard';
const NAMESPACE = 'pullguard-system';
/** fullname when the release name contains the chart name. */
const FULLNAME = 'pullguard';
const SCHEMA_ERROR = "values don't meet the specifications of the schema(s)";

function locateHelm(): { path: string } | { problem: string } {
  const path = process.env['PULLGUARD_HELM'] || join(defaultBinDir(), 'helm');
  try {
    accessSync(path, constants.X_OK);
    return { path };
  } catch {
    return {
      problem:
        `helm is not available at ${path}: build it with \`bash test/e2e/build-control-plane.sh\` ` +
        '(Go module proxy, no download) or point PULLGUARD_HELM at a helm binary',
    };
  }
}

// ------------------------------------------------------------------------------------------------
// Shapes of the rendered objects the assertions read.

interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [field: string]: unknown;
}
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface Probe {
  httpGet: { path: string; port: string; scheme: string };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
  topologySpreadConstraints?: Record<string, unknown>[];
  priorityClassName?: string;
  automountServiceAccountToken?: boolean;
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}
interface Deployment extends K8sObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; strategy: { rollingUpdate: { maxUnavailable: number } }; template: PodTemplate };
}
interface Job extends K8sObject {
  spec: { template: PodTemplate };
}
interface CronJob extends K8sObject {
  spec: { schedule: string; jobTemplate: { spec: { template: PodTemplate } } };
}
interface WebhookEntry {
  name: string;
  clientConfig: { service?: { name: string; namespace: string; path: string; port: number }; url?: string; caBundle?: string };
  rules: { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[]; scope: string }[];
  failurePolicy: string;
  timeoutSeconds: number;
  sideEffects: string;
  admissionReviewVersions: string[];
  matchPolicy: string;
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
  reinvocationPolicy?: string;
}
interface WebhookConfiguration extends K8sObject {
  webhooks: WebhookEntry[];
}

// ------------------------------------------------------------------------------------------------
// helm

type Values = Record<string, unknown>;

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'pullguard-chart-test-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
let valuesFiles = 0;

function valuesFile(values: Values): string {
  const file = join(scratch, `values-${++valuesFiles}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

async function helm(helmPath: string, args: readonly string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(helmPath, [...args], { maxBuffer: 32 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: join(scratch, 'cache'), HELM_CONFIG_HOME: join(scratch, 'config'), HELM_DATA_HOME: join(scratch, 'data') } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
  }
}

class Rendered {
  readonly objects: K8sObject[];
  constructor(objects: K8sObject[]) {
    this.objects = objects;
  }
  all(kind: string): K8sObject[] {
    return this.objects.filter((object) => object.kind === kind);
  }
  one<T extends K8sObject>(kind: string, name: string): T {
    const found = this.objects.filter((object) => object.kind === kind && object.metadata.name === name);
    if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, rendered ${found.length} (${this.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')})`);
    return found[0] as T;
  }
  webhooks(kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration', name = FULLNAME): WebhookEntry[] {
    return this.one<WebhookConfiguration>(kind, name).webhooks;
  }
}

interface NetworkPolicySpec {
  policyTypes: string[];
  ingress: { ports: { port: string; protocol: string }[]; from?: unknown[] }[];
  egress?: { ports: { port: number }[] }[];
}

// ------------------------------------------------------------------------------------------------
// Expected values, written out rather than computed from the chart, so a change shows up here.

const POD_RULES = [
  { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' },
  { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'], scope: 'Namespaced' },
];
function workloadRules(operations: string[]) {
  return [
    { apiGroups: ['apps'], apiVersions: ['v1'], operations, resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], scope: 'Namespaced' },
    { apiGroups: ['batch'], apiVersions: ['v1'], operations, resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
    { apiGroups: [''], apiVersions: ['v1'], operations, resources: ['replicationcontrollers', 'podtemplates'], scope: 'Namespaced' },
  ];
}
function namespaceSelector(excluded: string[]) {
  return {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded },
      { key: 'pullguard.io/ignore', operator: 'NotIn', values: ['true'] },
    ],
  };
}
const WEBHOOK_RBAC = {
  clusterRole: [{ apiGroups: [''], resources: ['secrets', 'serviceaccounts', 'namespaces'], verbs: ['list', 'watch'] }],
  role: [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: [`${FULLNAME}-policy`], verbs: ['get', 'watch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  ],
};
const CERTS_RBAC = {
  role: [
    { apiGroups: [''], resources: ['secrets'], resourceNames: [`${FULLNAME}-tls`], verbs: ['get', 'update', 'delete'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  ],
  clusterRole: [
    {
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
      resourceNames: [FULLNAME],
      verbs: ['get', 'patch'],
    },
  ],
};
const SERVICE_HOSTS = [FULLNAME, `${FULLNAME}.${NAMESPACE}`, `${FULLNAME}.${NAMESPACE}.svc`, `${FULLNAME}.${NAMESPACE}.svc.cluster.local`];
const EXISTING_SECRET: Values = { certificates: { mode: 'existingSecret', existingSecret: { name: 'corp-pki-serving', caBundle: 'TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==' } } };
const CERT_MANAGER: Values = { certificates: { mode: 'cert-manager' } };

const located = locateHelm();
if ('problem' in located) {
  // Not a skip: a chart nobody rendered is a chart nobody tested.
  t.fail(located.problem);
} else {
  const helmPath = located.path;
  const template = async (values: Values, options: { release?: string; namespace?: string } = {}): Promise<HelmResult> =>
    helm(helmPath, ['template', options.release ?? RELEASE, CHART, '--namespace', options.namespace ?? NAMESPACE, '--values', valuesFile(values)]);
  const render = async (values: Values = {}, options: { release?: string; namespace?: string } = {}): Promise<Rendered> => {
    const result = await template(values, options);
    if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
    // YAML 1.1, as the API server's decoder reads it (octal modes, `yes`/`on` booleans).
    const objects = parseAllDocuments(result.stdout, { version: '1.1' })
      .map((document) => document.toJS() as K8sObject | null)
      .filter((object): object is K8sObject => object !== null);
    return new Rendered(objects);
  };

  t.test('helm lint --strict passes', async (t) => {
    const cases: { name: string; values: Values }[] = [
      { name: 'passes with the default values', values: {} },
      { name: 'passes with cert-manager certificates', values: CERT_MANAGER },
      { name: 'passes with an existing Secret and caBundle', values: EXISTING_SECRET },
      {
        name: 'passes with every optional object and a full policy',
        values: {
          metrics: { serviceMonitor: { enabled: true } },
          networkPolicy: { enabled: true },
          webhooks: { failurePolicy: 'Ignore', timeoutSeconds: 10 },
          policy: { mode: 'enforce', injection: { templates: true }, registries: [{ hosts: ['*.dkr.ecr.eu-west-1.amazonaws.com'], access: 'node' }] },
        },
      },
    ];
    for (const c of cases) {
      const result = await helm(helmPath, ['lint', '--strict', CHART, '--namespace', NAMESPACE, '--values', valuesFile(c.values)]);
      t.equal(result.code, 0, `${c.name}\n${result.stdout}${result.stderr}`);
      t.match(result.stdout, /0 chart\(s\) failed/, c.name);
    }
  });

  t.test('the default render', async (t) => {
    const rendered = await render();
    const deployment = rendered.one<Deployment>('Deployment', FULLNAME);
    const pod = deployment.spec.template;
    const container = pod.spec.containers[0];
    if (container === undefined) throw new Error('the Deployment has no container');

    t.test('puts every namespaced object in the release namespace and leaves cluster-scoped ones without one', async (t) => {
      const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
      for (const object of rendered.objects) {
        t.equal(object.metadata.namespace, clusterScoped.has(object.kind) ? undefined : NAMESPACE, `${object.kind}/${object.metadata.name}`);
      }
    });

    t.test('runs two replicas that never drop below two while rolling', async (t) => {
      t.equal(deployment.spec.replicas, 2);
      t.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
    });

    t.test('runs under the restricted security context', async (t) => {
      t.match(pod.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      t.not(pod.spec.securityContext['runAsUser'], 0, 'never UID 0');
      t.same(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
    });

    t.test('probes /healthz and /readyz over HTTPS on the webhook port', async (t) => {
      t.same(container.livenessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
      t.same(container.startupProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
      t.same(container.readinessProbe?.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' });
      t.same(container.ports, [
        { name: 'https', containerPort: 8443, protocol: 'TCP' },
        { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
      ]);
    });

    t.test('passes serve flags that `pullguard serve` parses into the intended options', async (t) => {
      t.equal(container.args[0], 'serve');
      const env = { POD_NAMESPACE: NAMESPACE };
      const options = parseServeArgs(container.args.slice(1), env);
      if (options === 'help') throw new Error('the Deployment asks for --help');
      t.match(options, {
        port: 8443,
        metricsPort: 9090,
        cert: '/etc/pullguard/tls/tls.crt',
        key: '/etc/pullguard/tls/tls.key',
        cluster: 'on',
        namespace: NAMESPACE,
        policyConfigMap: `${FULLNAME}-policy`,
        requestTimeoutMs: 4000,
        logLevel: 'info',
        logAllows: false,
        decisionCacheEntries: 512,
        minTls: 'TLSv1.2',
        clientCa: undefined,
        secretNamespaces: undefined,
        dev: false,
      });
      t.same(container.env?.find((variable) => variable.name === 'POD_NAMESPACE')?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
    });

    t.test('sizes memory from the measured figures: the 50k-secret state as request, its worst-review peak (250 MiB) plus headroom as limit', async (t) => {
      t.same(container.resources, { requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '640Mi' } });
    });

    t.test('mounts the whole serving Secret read-only, so rotated files reach the server', async (t) => {
      const mount = container.volumeMounts?.find((volumeMount) => volumeMount.name === 'tls');
      t.same(mount, { name: 'tls', mountPath: '/etc/pullguard/tls', readOnly: true }, 'a directory mount, no subPath');
      t.same(pod.spec.volumes?.find((volume) => volume.name === 'tls')?.secret, { secretName: `${FULLNAME}-tls`, defaultMode: 0o440 });
    });

    t.test('spreads the replicas over nodes without counting tainted ones', async (t) => {
      t.match(pod.spec.topologySpreadConstraints?.[0], { topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: deployment.spec.selector.matchLabels } });
      t.match(pod.spec.topologySpreadConstraints?.[1], { topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' });
      t.same(container.lifecycle?.preStop, { sleep: { seconds: 5 } }, 'keeps serving while the endpoint removal propagates');
    });

    t.test('protects the replicas with a PodDisruptionBudget that selects them', async (t) => {
      const budget = rendered.one('PodDisruptionBudget', FULLNAME);
      t.match(budget['spec'], { maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: deployment.spec.selector.matchLabels } });
      t.match(pod.metadata.labels, deployment.spec.selector.matchLabels);
    });

    t.test('exposes the webhook on 443 and metrics on 9090 to the pods it selects', async (t) => {
      const service = rendered.one('Service', FULLNAME);
      t.same(service['spec'], {
        type: 'ClusterIP',
        selector: deployment.spec.selector.matchLabels,
        ports: [
          { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
          { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
        ],
      });
    });

    t.test('registers the mutating webhook for pod CREATE only, re-invoked if needed', async (t) => {
      t.same(rendered.webhooks('MutatingWebhookConfiguration'), [
        {
          name: 'pods.mutate.pullguard.io',
          clientConfig: { service: { name: FULLNAME, namespace: NAMESPACE, path: '/mutate', port: 443 } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
          reinvocationPolicy: 'IfNeeded',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 5,
          matchPolicy: 'Equivalent',
          namespaceSelector: namespaceSelector([NAMESPACE, 'kube-system']),
        },
      ]);
    });

    t.test('registers the validating webhooks for pods, debug containers and every workload kind', async (t) => {
      const common = {
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
        matchPolicy: 'Equivalent',
        namespaceSelector: namespaceSelector([NAMESPACE, 'kube-system']),
      };
      t.same(rendered.webhooks('ValidatingWebhookConfiguration'), [
        { name: 'pods.validate.pullguard.io', clientConfig: { service: { name: FULLNAME, namespace: NAMESPACE, path: '/validate', port: 443 } }, rules: POD_RULES, ...common },
        { name: 'workloads.validate.pullguard.io', clientConfig: { service: { name: FULLNAME, namespace: NAMESPACE, path: '/validate', port: 443 } }, rules: workloadRules(['CREATE', 'UPDATE']), ...common },
      ]);
    });

    t.test('grants the webhook exactly the read access its decisions need', async (t) => {
      t.same(rendered.one('ClusterRole', FULLNAME)['rules'], WEBHOOK_RBAC.clusterRole);
      t.same(rendered.one('Role', FULLNAME)['rules'], WEBHOOK_RBAC.role);
      const subjects = [{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }];
      t.same(rendered.one('ClusterRoleBinding', FULLNAME)['subjects'], subjects);
      t.same(rendered.one('ClusterRoleBinding', FULLNAME)['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: FULLNAME });
      t.same(rendered.one('RoleBinding', FULLNAME)['subjects'], subjects);
      t.same(rendered.one('RoleBinding', FULLNAME)['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: FULLNAME });
      t.equal(pod.spec.serviceAccountName, FULLNAME);
      t.ok(rendered.one('ServiceAccount', FULLNAME));
    });

    t.test('starts in dry-run: the policy ConfigMap holds mode dry-run', async (t) => {
      const configMap = rendered.one('ConfigMap', `${FULLNAME}-policy`);
      t.same(parse((configMap['data'] as Record<string, string>)['policy.yaml'] ?? ''), { mode: 'dry-run' });
    });

    t.test('creates no ServiceMonitor unless asked', async (t) => {
      t.same(rendered.all('ServiceMonitor'), []);
    });

    t.test('creates a NetworkPolicy that restricts ingress only, the webhook port open to all until API server addresses are given', async (t) => {
      const policy = rendered.one('NetworkPolicy', FULLNAME)['spec'] as NetworkPolicySpec;
      t.same(policy.policyTypes, ['Ingress']);
      t.same(policy.ingress, [{ ports: [{ port: 'https', protocol: 'TCP' }] }, { ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
      t.equal(policy.egress, undefined);
    });

    t.test('mounts a ServiceAccount token only into the pods that ask for one', async (t) => {
      for (const account of rendered.all('ServiceAccount')) t.equal(account['automountServiceAccountToken'], false, `ServiceAccount ${account.metadata.name}`);
      t.equal(pod.spec.automountServiceAccountToken, true, 'the webhook pod (it watches the API)');
    });
  });

  t.test('certificates made by the hook Jobs (the default mode)', async (t) => {
    const rendered = await render();
    const create = rendered.one<Job>('Job', `${FULLNAME}-certs-create`);
    const patch = rendered.one<Job>('Job', `${FULLNAME}-certs-patch`);
    const renew = rendered.one<CronJob>('CronJob', `${FULLNAME}-certs-renew`);
    const hostArgs = SERVICE_HOSTS.flatMap((host) => ['--host', host]);
    const secretArgs = ['--secret', `${NAMESPACE}/${FULLNAME}-tls`, '--days', '365', '--renew-before', '30'];
    const webhookArgs = ['--mutating-webhook', FULLNAME, '--validating-webhook', FULLNAME];

    t.test('creates the Secret before the release and patches the caBundles after it', async (t) => {
      t.match(create.metadata.annotations, { 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-weight': '0' });
      t.match(patch.metadata.annotations, { 'helm.sh/hook': 'post-install,post-upgrade', 'helm.sh/hook-weight': '0' });
      t.same(create.spec.template.spec.containers[0]?.args, ['certs', '--out', '', ...hostArgs, ...secretArgs]);
      t.same(patch.spec.template.spec.containers[0]?.args, ['certs', '--out', '', ...hostArgs, ...secretArgs, ...webhookArgs]);
      t.same(renew.spec.jobTemplate.spec.template.spec.containers[0]?.args, patch.spec.template.spec.containers[0]?.args, 'the CronJob renews like an upgrade');
    });

    t.test('gives the Jobs exactly the Secret and caBundle access they need, as hooks that exist before the Jobs', async (t) => {
      const name = `${FULLNAME}-certs`;
      t.same(rendered.one('Role', name)['rules'], CERTS_RBAC.role);
      t.same(rendered.one('ClusterRole', name)['rules'], CERTS_RBAC.clusterRole);
      for (const kind of ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']) {
        const annotations = rendered.one(kind, name).metadata.annotations ?? {};
        t.equal(annotations['helm.sh/hook'], 'pre-install,pre-upgrade,post-install,post-upgrade', `${kind} is a hook of both phases`);
        t.ok(Number(annotations['helm.sh/hook-weight']) < 0, `${kind} is created before the Jobs (weight ${annotations['helm.sh/hook-weight']})`);
      }
      t.same(rendered.one('Role', `${FULLNAME}-certs-renew`)['rules'], CERTS_RBAC.role, 'the renewal CronJob has the same rights');
      t.same(rendered.one('ClusterRole', `${FULLNAME}-certs-renew`)['rules'], CERTS_RBAC.clusterRole);
      t.equal(create.spec.template.spec.serviceAccountName, name);
      t.equal(renew.spec.jobTemplate.spec.template.spec.serviceAccountName, `${FULLNAME}-certs-renew`);
    });

    t.test('runs the Jobs under the same restricted security context', async (t) => {
      for (const job of [create.spec.template, patch.spec.template, renew.spec.jobTemplate.spec.template]) {
        t.match(job.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        t.match(job.spec.containers[0]?.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      }
    });

    t.test('passes certificate arguments that `pullguard certs` accepts', async (t) => {
      // With a kubeconfig whose API server does not answer (a loopback port just freed), valid
      // arguments get as far as writing to it (exit 1); invalid ones stop earlier with a usage
      // error (exit 2).
      const args = patch.spec.template.spec.containers[0]?.args ?? [];
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const unreachable = join(scratch, 'unreachable-kubeconfig');
      writeFileSync(
        unreachable,
        JSON.stringify({
          clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}` } }],
          users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      );
      let outcome: { code: number; stderr: string };
      try {
        await run(process.execPath, ['src/cli/main.ts', ...args, '--kubeconfig', unreachable], { cwd: REPO });
        outcome = { code: 0, stderr: '' };
      } catch (error) {
        const failed = error as { code?: number; stderr?: string };
        outcome = { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
      }
      t.not(outcome.code, 2, `not a usage error: ${outcome.stderr}`);
      t.equal(outcome.code, 1, 'the API server could not be reached');
      t.match(outcome.stderr, `(API server https://127.0.0.1:${port})`, 'reached the point of talking to the cluster');
    });

    t.test('leaves the caBundles to the patch Job', async (t) => {
      for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] as const) {
        for (const webhook of rendered.webhooks(kind)) t.equal(webhook.clientConfig.caBundle, undefined, webhook.name);
      }
    });
  });

  t.test('certificates from cert-manager', async (t) => {
    const cases: { name: string; values: Values; issuer: Record<string, string>; ownIssuers: number }[] = [
      { name: 'issues from its own CA when no issuer is given', values: CERT_MANAGER, issuer: { name: `${FULLNAME}-ca`, kind: 'Issuer', group: 'cert-manager.io' }, ownIssuers: 2 },
      {
        name: 'issues from the given issuer and creates none of its own',
        values: { certificates: { mode: 'cert-manager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } } } },
        issuer: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
        ownIssuers: 0,
      },
    ];
    for (const c of cases) {
      const rendered = await render(c.values);
      const certificate = rendered.one('Certificate', `${FULLNAME}-tls`);
      const spec = certificate['spec'] as { secretName: string; dnsNames: string[]; issuerRef: Record<string, string> };
      t.same(spec.issuerRef, c.issuer, c.name);
      t.equal(rendered.all('Issuer').length, c.ownIssuers, `${c.name}: Issuers`);
      t.same(spec.dnsNames, SERVICE_HOSTS, `${c.name}: names the API server connects to`);
      const deployment = rendered.one<Deployment>('Deployment', FULLNAME);
      t.equal(deployment.spec.template.spec.volumes?.find((volume) => volume.name === 'tls')?.secret?.secretName, spec.secretName, `${c.name}: the pods mount the Certificate's Secret`);
      for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
        t.equal(rendered.one(kind, FULLNAME).metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${FULLNAME}-tls`, `${c.name}: cainjector fills ${kind}`);
      }
      t.same([...rendered.all('Job'), ...rendered.all('CronJob')], [], `${c.name}: no certificate Jobs`);
    }
  });

  t.test('certificates from an existing Secret', async (t) => {
    const rendered = await render(EXISTING_SECRET);
    const caBundle = 'TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==';
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] as const) {
      for (const webhook of rendered.webhooks(kind)) t.equal(webhook.clientConfig.caBundle, caBundle, `${webhook.name} carries the caBundle from values`);
    }
    const deployment = rendered.one<Deployment>('Deployment', FULLNAME);
    t.equal(deployment.spec.template.spec.volumes?.find((volume) => volume.name === 'tls')?.secret?.secretName, 'corp-pki-serving');
    t.same([...rendered.all('Job'), ...rendered.all('CronJob'), ...rendered.all('Certificate'), ...rendered.all('Issuer')], [], 'creates no certificate machinery');
    const spaced = await render({ certificates: { mode: 'existingSecret', existingSecret: { name: 's', caBundle: 'QUJD\nREVG ' } } });
    t.equal(spaced.webhooks('ValidatingWebhookConfiguration')[0]?.clientConfig.caBundle, 'QUJDREVG', 'drops the line breaks of a pasted base64 block');
  });

  t.test('overrides', async (t) => {
    t.test('takes failurePolicy and timeoutSeconds from values and keeps the server one second faster', async (t) => {
      const rendered = await render({ webhooks: { failurePolicy: 'Ignore', timeoutSeconds: 10 } });
      for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] as const) {
        for (const webhook of rendered.webhooks(kind)) t.match(webhook, { failurePolicy: 'Ignore', timeoutSeconds: 10 }, webhook.name);
      }
      const args = rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.args ?? [];
      t.ok(args.includes('--request-timeout=9000'), args.join(' '));
    });

    t.test('excludes extra namespaces and never drops its own or kube-system', async (t) => {
      const rendered = await render({ webhooks: { excludeNamespaces: ['ci-runners', 'kube-system'] } });
      for (const webhook of [...rendered.webhooks('MutatingWebhookConfiguration'), ...rendered.webhooks('ValidatingWebhookConfiguration')]) {
        t.same(webhook.namespaceSelector, namespaceSelector([NAMESPACE, 'kube-system', 'ci-runners']), webhook.name);
      }
    });

    t.test('adds template mutation at CREATE only when policy.injection.templates is true', async (t) => {
      const rendered = await render({ policy: { mode: 'enforce', injection: { templates: true } } });
      const workloads = rendered.webhooks('MutatingWebhookConfiguration').find((webhook) => webhook.name === 'workloads.mutate.pullguard.io');
      t.same(workloads?.rules, workloadRules(['CREATE']));
      t.equal(workloads?.reinvocationPolicy, 'IfNeeded');
      t.same(workloads?.clientConfig.service?.path, '/mutate');
    });

    t.test('registers the custom resources of webhooks.customWorkloads with the workload rules (any version unless given)', async (t) => {
      const rendered = await render({ webhooks: { customWorkloads: [{ apiGroups: ['argoproj.io'], resources: ['rollouts'] }, { apiGroups: ['keda.sh'], apiVersions: ['v1alpha1'], resources: ['scaledjobs'] }] } });
      const workloads = rendered.webhooks('ValidatingWebhookConfiguration').find((webhook) => webhook.name === 'workloads.validate.pullguard.io');
      t.same(workloads?.rules, [
        ...workloadRules(['CREATE', 'UPDATE']),
        { apiGroups: ['argoproj.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['rollouts'], scope: 'Namespaced' },
        { apiGroups: ['keda.sh'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['scaledjobs'], scope: 'Namespaced' },
      ]);
    });

    t.test('drops workload validation when validateWorkloads is false', async (t) => {
      const rendered = await render({ webhooks: { validateWorkloads: false } });
      t.same(rendered.webhooks('ValidatingWebhookConfiguration').map((webhook) => webhook.name), ['pods.validate.pullguard.io']);
    });

    t.test('names the webhook configurations after the release fullname', async (t) => {
      const rendered = await render({}, { release: 'guard' });
      t.ok(rendered.one('MutatingWebhookConfiguration', 'guard-pullguard'));
      t.ok(rendered.one('ValidatingWebhookConfiguration', 'guard-pullguard'));
      const job = rendered.one<Job>('Job', 'guard-pullguard-certs-patch');
      t.same(job.spec.template.spec.containers[0]?.args.slice(-4), ['--mutating-webhook', 'guard-pullguard', '--validating-webhook', 'guard-pullguard']);
      t.same(rendered.one('ClusterRole', 'guard-pullguard-certs')['rules'], [{ ...CERTS_RBAC.clusterRole[0], resourceNames: ['guard-pullguard'] }]);
    });

    t.test('turns metrics off on the server, the Service and the pod', async (t) => {
      const rendered = await render({ metrics: { enabled: false } });
      const container = rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0];
      t.ok(container?.args.includes('--metrics-port=0'));
      t.same(container?.ports?.map((port) => port.name), ['https']);
      t.same((rendered.one('Service', FULLNAME)['spec'] as { ports: { name: string }[] }).ports.map((port) => port.name), ['https']);
    });

    t.test('creates a ServiceMonitor on the metrics port when asked', async (t) => {
      const rendered = await render({ metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } } });
      const monitor = rendered.one('ServiceMonitor', FULLNAME);
      t.match(monitor.metadata.labels, { release: 'prometheus' });
      t.match(monitor['spec'], { endpoints: [{ port: 'metrics', path: '/metrics' }] });
    });

    t.test('admits the webhook port from the API server addresses and peers given, and restricts egress when asked', async (t) => {
      const webhookFrom = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
      const rendered = await render({ networkPolicy: { apiServerCidrs: ['10.0.0.0/24', '192.168.1.10/32'], webhookFrom, restrictEgress: true } });
      const policy = rendered.one('NetworkPolicy', FULLNAME)['spec'] as NetworkPolicySpec;
      t.same(policy.policyTypes, ['Ingress', 'Egress']);
      t.same(policy.ingress[0], {
        ports: [{ port: 'https', protocol: 'TCP' }],
        from: [{ ipBlock: { cidr: '10.0.0.0/24' } }, { ipBlock: { cidr: '192.168.1.10/32' } }, ...webhookFrom],
      });
      t.same(policy.egress?.[0]?.ports.map((port) => port.port), [443, 6443]);
    });

    t.test('renders no NetworkPolicy when disabled', async (t) => {
      t.same((await render({ networkPolicy: { enabled: false } })).all('NetworkPolicy'), []);
    });

    t.test('passes --min-tls from server.minTlsVersion', async (t) => {
      const rendered = await render({ server: { minTlsVersion: '1.3' } });
      const options = parseServeArgs((rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.args ?? []).slice(1), { POD_NAMESPACE: NAMESPACE });
      t.match(options, { minTls: 'TLSv1.3' });
    });

    t.test('turns on mutual TLS with the CA in a ConfigMap, mounted as a directory, and the allowed names', async (t) => {
      const caBundle = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
      const rendered = await render({ server: { clientAuth: { enabled: true, caBundle, allowedNames: ['kube-apiserver', 'apiserver.internal'] } } });
      const configMap = rendered.one('ConfigMap', `${FULLNAME}-client-ca`);
      t.equal((configMap['data'] as Record<string, string>)['ca.crt'], `${caBundle}\n`);
      const spec = rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec;
      const options = parseServeArgs((spec.containers[0]?.args ?? []).slice(1), { POD_NAMESPACE: NAMESPACE });
      t.match(options, { clientCa: '/etc/pullguard/client-ca/ca.crt', clientNames: ['kube-apiserver', 'apiserver.internal'] });
      t.same(spec.volumes?.find((volume) => volume.name === 'client-ca'), { name: 'client-ca', configMap: { name: `${FULLNAME}-client-ca`, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
      t.same(spec.containers[0]?.volumeMounts?.find((mount) => mount.name === 'client-ca'), { name: 'client-ca', mountPath: '/etc/pullguard/client-ca', readOnly: true });
      t.notMatch(JSON.stringify(spec.containers[0]?.volumeMounts), /subPath/, 'no subPath: updates reach the pod');
      const existing = await render({ server: { clientAuth: { enabled: true, existingConfigMap: 'corp-apiserver-ca' } } });
      t.same(existing.all('ConfigMap').map((object) => object.metadata.name), [`${FULLNAME}-policy`], 'an existing ConfigMap is used, none rendered');
      t.match(JSON.stringify(existing.one<Deployment>('Deployment', FULLNAME).spec.template.spec.volumes), /"name":"corp-apiserver-ca"/);
      const missing = await template({ server: { clientAuth: { enabled: true } } });
      t.not(missing.code, 0);
      t.match(missing.stderr, /server\.clientAuth\.enabled needs the CA that signs the API server's client certificate/);
    });

    t.test('watches pull secrets in chosen namespaces only, with a RoleBinding in each and webhooks for them only', async (t) => {
      const rendered = await render({ rbac: { secrets: { scope: 'namespaces', namespaces: ['team-b', 'team-a'] } } });
      t.same(rendered.one('ClusterRole', FULLNAME)['rules'], [{ apiGroups: [''], resources: ['serviceaccounts', 'namespaces'], verbs: ['list', 'watch'] }], 'no cluster-wide Secrets');
      t.same(rendered.one('ClusterRole', `${FULLNAME}-secrets`)['rules'], [{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }]);
      const bindings = rendered.all('RoleBinding').filter((binding) => binding.metadata.name === `${FULLNAME}-secrets`);
      t.same(bindings.map((binding) => binding.metadata.namespace), ['team-a', 'team-b']);
      for (const binding of bindings) {
        t.same(binding['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${FULLNAME}-secrets` });
        t.same(binding['subjects'], [{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
      }
      const options = parseServeArgs((rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.args ?? []).slice(1), { POD_NAMESPACE: NAMESPACE });
      t.match(options, { secretNamespaces: ['team-a', 'team-b'] });
      for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] as const) {
        for (const webhook of rendered.webhooks(kind)) {
          t.same(webhook.namespaceSelector, {
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NAMESPACE, 'kube-system'] },
              { key: 'pullguard.io/ignore', operator: 'NotIn', values: ['true'] },
              { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] },
            ],
          }, `${webhook.name} is called for the watched namespaces only`);
        }
      }
      const none = await template({ rbac: { secrets: { scope: 'namespaces', namespaceSelector: { matchLabels: { 'pullguard.io/secrets': 'watched' } } } } });
      t.not(none.code, 0, 'a selector that matches nothing (helm template cannot look up) is refused');
      t.match(none.stderr, /rbac\.secrets\.scope=namespaces selects no namespace/);
    });

    t.test('pins the image by digest and follows appVersion otherwise', async (t) => {
      const digest = `sha256:${'a'.repeat(64)}`;
      const pinned = await render({ image: { digest } });
      t.equal(pinned.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.image, `ghcr.io/pullguard/pullguard@${digest}`);
      const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
      const byTag = await render();
      t.equal(byTag.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.image, `ghcr.io/pullguard/pullguard:${chart.appVersion}`);
    });

    t.test('server.logAllows: true passes --log-allows, so plain allows are logged at info', async (t) => {
      const rendered = await render({ server: { logAllows: true } });
      const args = rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.args ?? [];
      const options = parseServeArgs(args.slice(1), { POD_NAMESPACE: NAMESPACE });
      t.match(options, { logAllows: true, logLevel: 'info' });
    });

    t.test('reports.enabled passes --reports with its interval and API and adds its RBAC; off, neither exists', async (t) => {
      const off = await render();
      const offArgs = off.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.args ?? [];
      t.match(parseServeArgs(offArgs.slice(1), { POD_NAMESPACE: NAMESPACE }), { reports: false });
      t.notOk(off.objects.some((object) => object.metadata.name === `${FULLNAME}-reports`), 'no report RBAC by default');
      const on = await render({ reports: { enabled: true, intervalSeconds: 120, api: 'wgpolicyk8s.io/v1alpha2' } });
      const args = on.one<Deployment>('Deployment', FULLNAME).spec.template.spec.containers[0]?.args ?? [];
      t.match(parseServeArgs(args.slice(1), { POD_NAMESPACE: NAMESPACE }), { reports: true, reportsIntervalSeconds: 120, reportApi: 'wgpolicyk8s.io/v1alpha2' });
      const rules = on.one('ClusterRole', `${FULLNAME}-reports`)['rules'] as PolicyRule[];
      t.ok(rules.some((rule) => rule.resources.includes('pods') && rule.verbs.join() === 'list'));
      t.ok(rules.some((rule) => rule.apiGroups.includes('openreports.io') && rule.verbs.includes('patch') && rule.verbs.includes('delete')));
      const lease = on.one('Role', `${FULLNAME}-reports`)['rules'] as PolicyRule[];
      t.same(lease.find((rule) => rule.resourceNames !== undefined)?.resourceNames, ['pullguard-reports']);
      const bad = await template({ reports: { enabled: true, intervalSeconds: 5 } });
      t.not(bad.code, 0, 'an interval under 30 s is refused by the schema');
    });

    t.test('renders no spreading with topologySpreadConstraints [] and no preStop sleep with 0', async (t) => {
      const rendered = await render({ topologySpreadConstraints: [], preStopSleepSeconds: 0 });
      const spec = rendered.one<Deployment>('Deployment', FULLNAME).spec.template.spec;
      t.equal(spec.topologySpreadConstraints, undefined);
      t.equal(spec.containers[0]?.lifecycle, undefined);
    });

    t.test('points both configurations at an outside URL for a webhook under test', async (t) => {
      const rendered = await render({ ...EXISTING_SECRET, webhooks: { url: 'https://127.0.0.1:9443/' } });
      t.same(rendered.webhooks('MutatingWebhookConfiguration').map((webhook) => webhook.clientConfig.url), ['https://127.0.0.1:9443/mutate']);
      t.same(rendered.webhooks('ValidatingWebhookConfiguration').map((webhook) => webhook.clientConfig.url), ['https://127.0.0.1:9443/validate', 'https://127.0.0.1:9443/validate']);
    });
  });

  t.test('the policy ConfigMap', async (t) => {
    const policies: { name: string; policy: Record<string, unknown> }[] = [
      { name: 'holds an empty policy as {}', policy: {} },
      {
        name: 'holds a full policy field for field',
        policy: {
          mode: 'enforce',
          defaultAccess: 'public',
          registries: [
            { hosts: ['*.dkr.ecr.eu-west-1.amazonaws.com'], access: 'node' },
            { hosts: ['registry.example.com:5000/team'], access: 'secret', preferredSecrets: ['team-pull'] },
          ],
          builtinRegistries: false,
          injection: { enabled: true, preferredSecrets: ['org-pull'], templates: true },
          latestWithIfNotPresent: 'deny',
          expiredCredentials: 'warn',
          shortLivedCredentials: 'info',
          dockerHubAnonymous: 'warn',
          neverPullCredentials: 'warn',
          exemptImages: ['registry.k8s.io/pause'],
          namespaces: {
            exclude: ['kube-system', 'kube-public'],
            modeLabel: 'example.com/pullguard-mode',
            overrides: [
              { names: ['legacy'], mode: 'off' },
              { matchLabels: { tier: 'production', 'team.example.com/on-call': 'yes' }, mode: 'warn', injection: { enabled: false } },
            ],
          },
        },
      },
    ];
    const example = parse(readFileSync(join(REPO, 'examples', 'policy.yaml'), 'utf8')) as Record<string, unknown>;
    policies.push({ name: 'holds the example policy of examples/policy.yaml', policy: example });
    for (const c of policies) {
      const rendered = await render({ policy: { mode: null, ...c.policy } });
      const text = (rendered.one('ConfigMap', `${FULLNAME}-policy`)['data'] as Record<string, string>)['policy.yaml'] ?? '';
      const stored = parse(text) as unknown;
      t.same(stored, c.policy, `${c.name}: policy.yaml equals values.policy`);
      t.ok(policySchema.safeParse(stored).success, `${c.name}: the webhook's own schema accepts it`);
    }
  });

  t.test('cloud adds its node-identity registries as one access: node rule after the policy own rules', async (t) => {
    const clouds: { cloud: string; policy: Record<string, unknown>; registries: unknown[] }[] = [
      { cloud: 'none', policy: {}, registries: [] },
      ...(Object.keys(CLOUD_NODE_REGISTRIES) as Cloud[]).map((cloud) => ({
        cloud,
        policy: { registries: [{ hosts: ['registry.example.com'], access: 'secret' }] },
        registries: [{ hosts: ['registry.example.com'], access: 'secret' }, { hosts: [...CLOUD_NODE_REGISTRIES[cloud].hosts], access: 'node' }],
      })),
    ];
    for (const c of clouds) {
      const rendered = await render({ cloud: c.cloud, policy: c.policy });
      const stored = parse((rendered.one('ConfigMap', `${FULLNAME}-policy`)['data'] as Record<string, string>)['policy.yaml'] ?? '') as Record<string, unknown>;
      t.same(stored['registries'] ?? [], c.registries, `cloud ${c.cloud}: the rules, in order, with the hosts of src/policy/cloud-registries.ts`);
      t.ok(policySchema.safeParse(stored).success, `cloud ${c.cloud}: the webhook's own schema accepts it`);
    }
  });

  t.test('NOTES.txt tells what was installed and how to check it', async (t) => {
    const cases: { name: string; values: Values; lines: RegExp[] }[] = [
      {
        name: 'names the Job-made Secret, its renewal and the dry-run next step by default',
        values: {},
        lines: [/Serving certificate: Secret pullguard-tls, made by the hook Jobs/, /renewed by CronJob pullguard-certs-renew/, /global mode: dry-run/, /kubectl label namespace NAME pullguard\.io\/mode=enforce/, /never called for namespaces pullguard-system, kube-system/],
      },
      { name: 'names cert-manager as the certificate source', values: CERT_MANAGER, lines: [/cert-manager Certificate pullguard-tls; cainjector fills the caBundles/] },
      { name: 'says so when the policy enforces', values: { policy: { mode: 'enforce' } }, lines: [/global mode: enforce/, /The policy enforces/] },
      {
        name: 'warns loudly that the webhook port is open to everyone while no API server address is given, and names the Secrets exposure',
        values: {},
        lines: [/WARNING: the NetworkPolicy admits the webhook port \(HTTPS 8443\) from EVERYWHERE/, /consider mutual TLS/, /may list and watch every Secret\s+of the cluster/],
      },
      { name: 'warns when there is no NetworkPolicy at all', values: { networkPolicy: { enabled: false } }, lines: [/WARNING: no NetworkPolicy/] },
      {
        name: 'names the watched namespaces and mutual TLS',
        values: { rbac: { secrets: { scope: 'namespaces', namespaces: ['team-a'] } }, server: { clientAuth: { enabled: true, existingConfigMap: 'corp-ca' } } },
        lines: [/Pull secrets watched in namespaces team-a only/, /Mutual TLS: \/mutate and \/validate answer only client certificates from ConfigMap\s+corp-ca named kube-apiserver/],
      },
    ];
    for (const c of cases) {
      // --dry-run=client renders NOTES without a cluster.
      const result = await helm(helmPath, ['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client', '--values', valuesFile(c.values)]);
      t.equal(result.code, 0, `${c.name}: ${result.stderr}`);
      const notes = result.stdout.slice(result.stdout.indexOf('NOTES:'));
      for (const line of c.lines) t.match(notes, line, c.name);
    }
  });

  t.test('bad values fail with the schema message', async (t) => {
    const cases: { name: string; values: Values; message: RegExp; policyRejectedByWebhook?: boolean }[] = [
      { name: 'rejects a failurePolicy other than Fail or Ignore', values: { webhooks: { failurePolicy: 'Nope' } }, message: /at '\/webhooks\/failurePolicy': value must be one of 'Fail', 'Ignore'/ },
      { name: 'rejects a timeoutSeconds above the API server maximum of 30', values: { webhooks: { timeoutSeconds: 31 } }, message: /at '\/webhooks\/timeoutSeconds': maximum/ },
      { name: 'rejects a timeoutSeconds that leaves the server no time (1 s)', values: { webhooks: { timeoutSeconds: 1 } }, message: /at '\/webhooks\/timeoutSeconds': minimum/ },
      { name: 'rejects a misspelt top-level key', values: { replicas: 3 }, message: /additional properties 'replicas' not allowed/ },
      { name: 'rejects a minimum TLS version below 1.2', values: { server: { minTlsVersion: '1.1' } }, message: /at '\/server\/minTlsVersion': value must be one of '1\.2', '1\.3'/ },
      { name: 'rejects an API server address that is not a CIDR', values: { networkPolicy: { apiServerCidrs: ['kube-apiserver'] } }, message: /at '\/networkPolicy\/apiServerCidrs\/0'/ },
      { name: 'rejects an unknown secrets scope', values: { rbac: { secrets: { scope: 'label' } } }, message: /at '\/rbac\/secrets\/scope': value must be one of 'cluster', 'namespaces'/ },
      { name: 'rejects an empty list of allowed client names', values: { server: { clientAuth: { allowedNames: [] } } }, message: /at '\/server\/clientAuth\/allowedNames': minItems/ },
      { name: 'rejects an unknown certificate mode', values: { certificates: { mode: 'vault' } }, message: /at '\/certificates\/mode': value must be one of/ },
      { name: 'rejects existingSecret mode without the Secret name and caBundle', values: { certificates: { mode: 'existingSecret' } }, message: /at '\/certificates\/existingSecret\/(caBundle|name)'/ },
      { name: 'rejects an outside URL with a certificate that names only the Service', values: { webhooks: { url: 'https://10.0.0.1:9443' } }, message: /at '\/certificates\/mode': value must be 'existingSecret'/ },
      { name: 'rejects a webhook URL that is not https', values: { ...EXISTING_SECRET, webhooks: { url: 'http://10.0.0.1:9443' } }, message: /at '\/webhooks\/url'/ },
      { name: 'rejects an unknown cloud', values: { cloud: 'openshift' }, message: /at '\/cloud': value must be one of 'eks', 'gke', 'aks', 'none'/ },
      { name: 'rejects an unknown policy mode', values: { policy: { mode: 'strict' } }, message: /at '\/policy\/mode': value must be one of 'enforce', 'warn', 'dry-run'/, policyRejectedByWebhook: true },
      { name: 'rejects an unknown policy field', values: { policy: { mode: 'dry-run', denyLatest: true } }, message: /at '\/policy': additional properties 'denyLatest' not allowed/, policyRejectedByWebhook: true },
      { name: 'rejects a registry rule without hosts', values: { policy: { registries: [{ access: 'secret' }] } }, message: /at '\/policy\/registries\/0': missing property 'hosts'/, policyRejectedByWebhook: true },
      { name: 'rejects a registry pattern with a leading slash', values: { policy: { registries: [{ hosts: ['/team'], access: 'secret' }] } }, message: /at '\/policy\/registries\/0\/hosts\/0'/, policyRejectedByWebhook: true },
      { name: 'rejects a namespace override with neither names nor matchLabels', values: { policy: { namespaces: { overrides: [{ mode: 'enforce' }] } } }, message: /at '\/policy\/namespaces\/overrides\/0': 'anyOf' failed/, policyRejectedByWebhook: true },
      { name: 'rejects a namespace override with empty names', values: { policy: { namespaces: { overrides: [{ names: [], mode: 'enforce' }] } } }, message: /at '\/policy\/namespaces\/overrides\/0'/, policyRejectedByWebhook: true },
      { name: 'rejects an injection setting of the wrong type', values: { policy: { injection: { enabled: 'yes' } } }, message: /at '\/policy\/injection\/enabled': got string, want boolean/, policyRejectedByWebhook: true },
    ];
    for (const c of cases) {
      const result = await template(c.values);
      t.not(result.code, 0, `${c.name}: helm refuses to render`);
      t.match(result.stderr, SCHEMA_ERROR, `${c.name}: the schema's message`);
      t.match(result.stderr, c.message, c.name);
      if (c.policyRejectedByWebhook === true) {
        const policy = { mode: 'dry-run', ...(c.values['policy'] as Record<string, unknown>) };
        t.notOk(policySchema.safeParse(policy).success, `${c.name}: the webhook's schema rejects it too`);
      }
    }

    const tooSlow = await template({ webhooks: { timeoutSeconds: 5 }, server: { requestTimeoutMs: 5000 } });
    t.not(tooSlow.code, 0, 'refuses a server timeout that is not below the webhook timeout');
    t.match(tooSlow.stderr, /server.requestTimeoutMs \(5000\) must be below webhooks.timeoutSeconds \(5 s\)/);
  });
}
