// The webhook under test for the end-to-end suite: `pullguard serve` as a separate process on free
// loopback ports, with certificates from `pullguard certs`, registered with the test API server the
// way the Helm chart registers it (charts/pullguard/templates/webhooks.yaml), only with
// clientConfig.url pointing at 127.0.0.1 instead of a Service.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registerEmergencyCleanup, type ApiResponse, type ControlPlane } from './control-plane.ts';
import {
  describeExit,
  freeLoopbackPorts,
  hasExited,
  killNow,
  spawnLogged,
  stopProcess,
  tailFile,
  waitUntil,
  type ManagedProcess,
} from './processes.ts';

const execFileAsync = promisify(execFile);

/** The webhook's own namespace: excluded by the namespaceSelector, home of the policy ConfigMap. */
export const WEBHOOK_NAMESPACE = 'pullguard-system';
export const POLICY_CONFIGMAP = 'pullguard-policy';
export const POLICY_KEY = 'policy.yaml';
/** Name of both WebhookConfigurations (cluster-scoped). */
export const CONFIGURATION_NAME = 'pullguard-e2e';
/** The webhook names of the Helm chart: the API server's error messages quote them. */
export const WEBHOOK_NAMES = {
  mutatePods: 'pods.mutate.pullguard.io',
  validatePods: 'pods.validate.pullguard.io',
  validateWorkloads: 'workloads.validate.pullguard.io',
} as const;
/** A namespace with this label is never sent to the webhook (the chart's namespaceSelector). */
export const IGNORE_LABEL = 'pullguard.io/ignore';
/** What the chart sets: well below the API server's 30 s maximum, so a dead webhook fails fast. */
export const WEBHOOK_TIMEOUT_SECONDS = 5;
/** Below WEBHOOK_TIMEOUT_SECONDS, so a stuck request is cut and logged by us first (as the chart does). */
const REQUEST_TIMEOUT_MS = 4_000;
/** Node start, TypeScript stripping, informers listing an almost empty cluster. */
const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;
/** The server finishes in-flight reviews on SIGTERM; an idle one exits at once. */
const DEFAULT_STOP_GRACE_MS = 10_000;
const POLL_MS = 200;
const PROBE_TIMEOUT_MS = 5_000;

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cliEntry = join(repoRoot, 'src', 'cli', 'main.ts');

export type FailurePolicy = 'Fail' | 'Ignore';

export interface WebhookOptions {
  /** The cluster whose Secrets, ServiceAccounts, Namespaces and policy ConfigMap the webhook watches. */
  controlPlane: ControlPlane;
  startupTimeoutMs?: number;
  stopGraceMs?: number;
  /** Appended after the harness's flags. */
  extraArgs?: readonly string[];
  /** Extra environment of the server (POD_NAME: a replica's identity, as the chart sets it). */
  env?: Readonly<Record<string, string>>;
}

export interface WebhookHttpResponse extends ApiResponse {
  json(): unknown;
}

export interface Webhook {
  /** `https://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly metricsPort: number;
  /** PEM of the CA from `pullguard certs` (what the configurations carry as caBundle). */
  readonly caPem: string;
  readonly tmpDir: string;
  readonly logPath: string;
  /** PID of the running server, undefined while stopped. */
  pid(): number | undefined;
  /** POST a JSON body to the webhook over HTTPS, trusting only our CA. */
  post(path: string, body: unknown): Promise<WebhookHttpResponse>;
  get(path: string): Promise<WebhookHttpResponse>;
  /** Prometheus text from the metrics port. */
  metrics(): Promise<string>;
  /** The server's JSON log lines so far (pino), across restarts. */
  logLines(): Array<Record<string, unknown>>;
  /** SIGTERM and wait (SIGKILL after the grace period). */
  stop(): Promise<void>;
  /** Starts the server again on the same ports with the same certificates; waits for /readyz. */
  start(): Promise<void>;
  /** Stops the server and removes the temp dir (certificates, log). Idempotent. */
  dispose(): Promise<void>;
}

/** The child environment: ours, minus variables `pullguard serve` would read instead of its flags. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('PULLGUARD_') || key === 'KUBECONFIG' || key === 'POD_NAMESPACE' || key.startsWith('KUBERNETES_')) continue;
    env[key] = value;
  }
  return env;
}

function request(url: string, method: 'GET' | 'POST', options: { ca?: string; body?: string }): Promise<WebhookHttpResponse> {
  const isHttps = url.startsWith('https:');
  const send = isHttps ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method,
        agent: false,
        timeout: PROBE_TIMEOUT_MS,
        headers: options.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) },
        ...(isHttps ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) as unknown });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function startWebhook(options: WebhookOptions): Promise<Webhook> {
  const { controlPlane } = options;
  const startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const tmpDir = mkdtempSync(join(tmpdir(), 'pullguard-e2e-webhook-'));
  const certDir = join(tmpDir, 'certs');
  const logPath = join(tmpDir, 'pullguard.log');
  let server: ManagedProcess | undefined;
  let disposed = false;
  const unregister = registerEmergencyCleanup(() => {
    if (server) killNow(server);
    rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
  });

  try {
    const env = { ...childEnv(), ...options.env };
    await execFileAsync(process.execPath, [cliEntry, 'certs', '--out', certDir, '--host', '127.0.0.1', '--host', 'localhost'], {
      cwd: repoRoot,
      env,
    });
    const caPem = readFileSync(join(certDir, 'ca.crt'), 'utf8');
    const [port, metricsPort] = await freeLoopbackPorts(2);
    if (port === undefined || metricsPort === undefined) throw new Error('could not allocate two loopback ports');
    const url = `https://127.0.0.1:${port}`;

    const args = [
      cliEntry,
      'serve',
      '--host', '127.0.0.1',
      '--port', String(port),
      '--metrics-port', String(metricsPort),
      '--cert', join(certDir, 'tls.crt'),
      '--key', join(certDir, 'tls.key'),
      '--request-timeout', String(REQUEST_TIMEOUT_MS),
      '--log-level', 'info',
      // The scenarios read one decision line per request, plain allows included (they log at debug
      // by default).
      '--log-allows',
      // Cluster mode, the product: informers on the test cluster and the policy ConfigMap.
      '--cluster', 'on',
      '--kubeconfig', controlPlane.kubeconfigPath,
      '--namespace', WEBHOOK_NAMESPACE,
      '--policy-configmap', POLICY_CONFIGMAP,
      ...(options.extraArgs ?? []),
    ];

    const launch = async (): Promise<void> => {
      server = await spawnLogged({ name: 'pullguard', command: process.execPath, args, logPath, env, cwd: repoRoot });
      const started = server;
      try {
        await waitUntil(
          `pullguard /readyz on ${url}`,
          async () => (await request(`${url}/readyz`, 'GET', { ca: caPem })).status === 200,
          {
            timeoutMs: startupTimeoutMs,
            intervalMs: POLL_MS,
            abortReason: () => (hasExited(started) ? `pullguard ${describeExit(started)}` : undefined),
          },
        );
      } catch (error) {
        await stopProcess(started, stopGraceMs);
        throw new Error(`${(error as Error).message}\n--- pullguard log: ${logPath}\n${tailFile(logPath)}`, { cause: error });
      }
    };
    await launch();

    const webhook: Webhook = {
      url,
      port,
      metricsPort,
      caPem,
      tmpDir,
      logPath,
      pid: () => (server !== undefined && !hasExited(server) ? server.pid : undefined),
      post: (path, body) => request(`${url}${path}`, 'POST', { ca: caPem, body: JSON.stringify(body) }),
      get: (path) => request(`${url}${path}`, 'GET', { ca: caPem }),
      metrics: async () => (await request(`http://127.0.0.1:${metricsPort}/metrics`, 'GET', {})).body,
      logLines: () => {
        let text: string;
        try {
          text = readFileSync(logPath, 'utf8');
        } catch {
          return [];
        }
        const lines: Array<Record<string, unknown>> = [];
        for (const line of text.split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            lines.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // a line being written
          }
        }
        return lines;
      },
      async stop() {
        if (server) await stopProcess(server, stopGraceMs);
        server = undefined;
      },
      async start() {
        if (disposed) throw new Error('webhook already disposed');
        if (server && !hasExited(server)) throw new Error('pullguard is already running');
        await launch();
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        await webhook.stop();
        rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
        unregister();
      },
    };
    return webhook;
  } catch (error) {
    if (server) await stopProcess(server, stopGraceMs);
    rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
    unregister();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Registration

export interface RegistrationOptions {
  failurePolicy?: FailurePolicy;
}

function namespaceSelector(): Record<string, unknown> {
  return {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [WEBHOOK_NAMESPACE, 'kube-system'] },
      { key: IGNORE_LABEL, operator: 'NotIn', values: ['true'] },
    ],
  };
}

const WORKLOAD_RULE_RESOURCES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['apps', ['deployments', 'replicasets', 'statefulsets', 'daemonsets']],
  ['batch', ['jobs', 'cronjobs']],
  ['', ['replicationcontrollers', 'podtemplates']],
];

/** Mutating and Validating WebhookConfigurations as the Helm chart renders them, with a URL client config. */
export function webhookConfigurations(webhookUrl: string, caPem: string, options: RegistrationOptions = {}): Record<string, unknown> {
  const common = (path: string) => ({
    clientConfig: { url: `${webhookUrl}${path}`, caBundle: Buffer.from(caPem).toString('base64') },
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: options.failurePolicy ?? 'Fail',
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    matchPolicy: 'Equivalent',
    namespaceSelector: namespaceSelector(),
  });
  const podRule = (operations: string[], resource: string) => ({
    apiGroups: [''],
    apiVersions: ['v1'],
    operations,
    resources: [resource],
    scope: 'Namespaced',
  });
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: CONFIGURATION_NAME },
        webhooks: [
          { name: WEBHOOK_NAMES.mutatePods, ...common('/mutate'), rules: [podRule(['CREATE'], 'pods')], reinvocationPolicy: 'IfNeeded' },
        ],
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: CONFIGURATION_NAME },
        webhooks: [
          {
            name: WEBHOOK_NAMES.validatePods,
            ...common('/validate'),
            rules: [podRule(['CREATE', 'UPDATE'], 'pods'), podRule(['UPDATE'], 'pods/ephemeralcontainers')],
          },
          {
            name: WEBHOOK_NAMES.validateWorkloads,
            ...common('/validate'),
            rules: WORKLOAD_RULE_RESOURCES.map(([group, resources]) => ({
              apiGroups: [group],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: [...resources],
              scope: 'Namespaced',
            })),
          },
        ],
      },
    ],
  };
}

/** Creates or replaces both configurations (kubectl apply: a changed failurePolicy is applied in place). */
export async function registerWebhooks(controlPlane: ControlPlane, webhook: Pick<Webhook, 'url' | 'caPem'>, options: RegistrationOptions = {}): Promise<void> {
  await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(webhookConfigurations(webhook.url, webhook.caPem, options)) });
}

export const PROBE_NAMESPACE = 'pullguard-e2e-probe';
/** A registry nothing covers: the validating webhook denies it, which proves the API server called us. */
const PROBE_IMAGE = 'probe.pullguard.test/probe:1';

/**
 * Waits until the API server really sends pods to the webhook with the configuration in force:
 * a server-side dry-run of an uncovered pod in a probe namespace is retried until pullguard's
 * denial comes back (the API server's webhook informer picks a configuration up asynchronously).
 * Returns how long that took.
 */
export async function waitUntilCalled(controlPlane: ControlPlane, timeoutMs = 30_000): Promise<number> {
  const startedAt = Date.now();
  await controlPlane.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROBE_NAMESPACE } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: PROBE_NAMESPACE } },
      ],
    }),
  });
  const probePod = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe', namespace: PROBE_NAMESPACE },
    spec: { containers: [{ name: 'probe', image: PROBE_IMAGE }] },
  });
  let last = '';
  await waitUntil(
    'the API server calls the pullguard webhook',
    async () => {
      const result = await controlPlane.kubectl(['create', '--dry-run=server', '-f', '-'], { input: probePod, allowFailure: true });
      last = result.stderr.trim() || result.stdout.trim();
      return result.exitCode !== 0 && result.stderr.includes('pullguard denied Pod probe');
    },
    { timeoutMs, intervalMs: POLL_MS, abortReason: () => undefined },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last kubectl output: ${last}`, { cause: error });
  });
  return Date.now() - startedAt;
}
