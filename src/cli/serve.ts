import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '../server/logger.ts';
import { DEFAULT_ADMISSION_MEMO_ENTRIES, MAX_ADMISSION_MEMO_ENTRIES, MAX_MEMO_BYTES } from '../admission/admission-memo.ts';
import { ensureDevCertificates, DEFAULT_CERTIFICATE_DIR } from '../certs/files.ts';
import { buildMetricsApp } from '../server/metrics-app.ts';
import { buildWebhookApp } from '../server/app.ts';
import { DEFAULT_CLIENT_CERTIFICATE_NAME, DEFAULT_METRICS_PORT, DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT_MS, SHUTDOWN_GRACE_MS } from '../server/limits.ts';
import { createMetrics } from '../server/metrics.ts';
import { StaticDecisionState, type DecisionState } from '../server/state.ts';
import { ClientCertificateGate } from '../server/tls-client-auth.ts';
import { createTlsReloader, type MinTlsVersion } from '../server/tls-reload.ts';
import { DEFAULT_REPORTS_INTERVAL_SECONDS, REPORTS_LEASE_NAME } from '../cluster/limits.ts';
import { REPORT_APIS, type ReportApi } from '../report/policyreport.ts';
import { EXIT_OK, UsageError } from './errors.ts';
import { loadPolicyResolver, loadStateFiles } from './inputs.ts';
import type { CommandIo } from './io.ts';

export const SERVE_HELP = `Usage: pullguard serve [options]

Runs the admission webhook: HTTPS on --port (POST /mutate, POST /validate, GET /healthz, GET /readyz)
and Prometheus metrics on plain HTTP --metrics-port (GET /metrics). Every flag also reads the
environment variable shown.

  --port N                 webhook HTTPS port (PULLGUARD_PORT, default ${DEFAULT_PORT})
  --host ADDR              listen address (PULLGUARD_HOST, default 0.0.0.0)
  --cert FILE              serving certificate PEM (PULLGUARD_CERT, default certs/tls.crt); reloaded on change
  --key FILE               serving key PEM (PULLGUARD_KEY, default certs/tls.key); reloaded on change
  --min-tls 1.2|1.3        lowest TLS version (PULLGUARD_MIN_TLS, default 1.2); TLS 1.2 only with
                           ECDHE key exchange and AEAD ciphers
  --client-ca FILE         mutual TLS: /mutate and /validate answer only callers whose client
                           certificate this CA bundle signed (PULLGUARD_CLIENT_CA); reloaded on change.
                           /healthz and /readyz stay open for the kubelet's probes
  --client-cn NAME         with --client-ca: a name the client certificate must carry as its CN or a
                           DNS SAN; repeatable (PULLGUARD_CLIENT_CN, comma-separated; default ${DEFAULT_CLIENT_CERTIFICATE_NAME})
  --metrics-port N         metrics HTTP port (PULLGUARD_METRICS_PORT, default ${DEFAULT_METRICS_PORT}); 0 disables
  --metrics-host ADDR      metrics listen address (PULLGUARD_METRICS_HOST, default: same as --host)
  --policy FILE            policy.yaml, with --state or --cluster off (PULLGUARD_POLICY); watching a
                           cluster, the policy is the ConfigMap below, hot-reloaded
  --state FILE|DIR         cluster state from files (Secrets, ServiceAccounts, Namespaces); repeatable.
                           Given --state, the webhook does not watch a cluster.
  --cluster auto|on|off    watch the cluster for state and policy (PULLGUARD_CLUSTER, default auto:
                           on when a kubeconfig or in-cluster config exists and no --state is given)
  --kubeconfig FILE        kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster)
  --namespace NS           namespace of the policy ConfigMap (POD_NAMESPACE, default pullguard)
  --policy-configmap NAME  policy ConfigMap name (PULLGUARD_POLICY_CONFIGMAP, default pullguard-policy)
  --secret-namespaces NS,...
                           watching a cluster: watch pull secrets in these namespaces only (RBAC: a
                           RoleBinding in each instead of cluster-wide list/watch on Secrets); pods in
                           other namespaces are not checked. Repeatable (PULLGUARD_SECRET_NAMESPACES)
  --request-timeout MS     per-request timeout, keep below the webhook timeoutSeconds
                           (PULLGUARD_REQUEST_TIMEOUT_MS, default ${DEFAULT_REQUEST_TIMEOUT_MS})
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (PULLGUARD_LOG_LEVEL, default info).
                           Decisions that patch, deny, warn or report dry-run findings are logged at
                           info; plain allows and skipped reviews at debug
  --log-allows             log plain allows and skipped reviews at info too (PULLGUARD_LOG_ALLOWS=true)
  --decision-cache-entries N
                           pod CREATE decisions kept for the replicas of one template (at most
                           ${MAX_MEMO_BYTES / 2 ** 20} MiB), dropped when their namespace or the policy changes
                           (PULLGUARD_DECISION_CACHE_ENTRIES, default ${DEFAULT_ADMISSION_MEMO_ENTRIES}); 0 decides every review afresh
  --reports                write policy reports (as audit --cluster --apply) every --reports-interval
                           from the live state; one replica writes, holding the Lease
                           ${REPORTS_LEASE_NAME} (PULLGUARD_REPORTS=true, default off)
  --reports-interval S     seconds between report refreshes (PULLGUARD_REPORTS_INTERVAL, default
                           ${DEFAULT_REPORTS_INTERVAL_SECONDS}, at least 30)
  --report-api API         openreports.io/v1alpha1 or wgpolicyk8s.io/v1alpha2 (PULLGUARD_REPORT_API,
                           default: the one the cluster serves, OpenReports first)
  --dev                    development: create certs/ if missing, listen on 127.0.0.1, use the example
                           state in examples/cluster when no --state is given (what npm start runs)
  -h, --help               show this help
  -v, --version            print the version
`;

function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${flag} must be a port number, got ${text}`);
  return port;
}

export interface ServeOptions {
  port: number;
  host: string;
  cert: string;
  key: string;
  minTls: MinTlsVersion;
  /** Mutual TLS: the client CA bundle and the names a client certificate may carry; undefined: no client certificates asked. */
  clientCa: string | undefined;
  clientNames: readonly string[];
  metricsPort: number;
  metricsHost: string;
  policy: string | undefined;
  state: string[];
  cluster: 'auto' | 'on' | 'off';
  kubeconfig: string | undefined;
  namespace: string;
  policyConfigMap: string;
  /** Namespaces whose pull secrets are watched; undefined: every namespace. */
  secretNamespaces: readonly string[] | undefined;
  requestTimeoutMs: number;
  logLevel: string;
  logAllows: boolean;
  decisionCacheEntries: number;
  reports: boolean;
  reportsIntervalSeconds: number;
  reportApi: ReportApi | undefined;
  dev: boolean;
}

export function parseServeArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>): ServeOptions | 'help' {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'min-tls': { type: 'string' },
      'client-ca': { type: 'string' },
      'client-cn': { type: 'string', multiple: true, default: [] },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      policy: { type: 'string' },
      state: { type: 'string', multiple: true, default: [] },
      cluster: { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'policy-configmap': { type: 'string' },
      'secret-namespaces': { type: 'string', multiple: true, default: [] },
      'request-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      'log-allows': { type: 'boolean' },
      'decision-cache-entries': { type: 'string' },
      reports: { type: 'boolean' },
      'reports-interval': { type: 'string' },
      'report-api': { type: 'string' },
      dev: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const dev = values.dev === true;
  const cluster = values.cluster ?? env['PULLGUARD_CLUSTER'] ?? 'auto';
  if (cluster !== 'auto' && cluster !== 'on' && cluster !== 'off') throw new UsageError(`--cluster must be auto, on or off, got ${cluster}`);
  const host = values.host ?? env['PULLGUARD_HOST'] ?? (dev ? '127.0.0.1' : '0.0.0.0');
  const timeout = Number(values['request-timeout'] ?? env['PULLGUARD_REQUEST_TIMEOUT_MS'] ?? DEFAULT_REQUEST_TIMEOUT_MS);
  if (!Number.isInteger(timeout) || timeout < 100) throw new UsageError('--request-timeout must be a whole number of milliseconds >= 100');
  const cacheText = values['decision-cache-entries'] ?? env['PULLGUARD_DECISION_CACHE_ENTRIES'] ?? String(DEFAULT_ADMISSION_MEMO_ENTRIES);
  const decisionCacheEntries = Number(cacheText);
  if (!/^\d+$/.test(cacheText) || decisionCacheEntries > MAX_ADMISSION_MEMO_ENTRIES) {
    throw new UsageError(`--decision-cache-entries must be a whole number from 0 to ${MAX_ADMISSION_MEMO_ENTRIES}, got ${cacheText}`);
  }
  const minTlsText = values['min-tls'] ?? env['PULLGUARD_MIN_TLS'] ?? '1.2';
  const minTls = MIN_TLS_FLAG_VALUES[minTlsText];
  if (minTls === undefined) throw new UsageError(`--min-tls must be 1.2 or 1.3, got ${minTlsText}`);
  const clientCa = nonEmpty(values['client-ca'] ?? env['PULLGUARD_CLIENT_CA']);
  const clientNamesGiven = values['client-cn'].length > 0 ? values['client-cn'] : (env['PULLGUARD_CLIENT_CN'] ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (clientNamesGiven.some((name) => name === '')) throw new UsageError('--client-cn must not be empty');
  if (clientCa === undefined && clientNamesGiven.length > 0) {
    throw new UsageError('--client-cn needs --client-ca: without a client CA no client certificate is asked for, so no name could be checked');
  }
  const clientNames = clientCa === undefined ? [] : clientNamesGiven.length > 0 ? clientNamesGiven : [DEFAULT_CLIENT_CERTIFICATE_NAME];
  const state = values.state.length > 0 ? values.state : dev ? [join('examples', 'cluster')] : [];
  const reportsText = env['PULLGUARD_REPORTS'] ?? 'false';
  if (!['true', 'false', '1', '0', ''].includes(reportsText)) throw new UsageError(`PULLGUARD_REPORTS must be true or false, got ${reportsText}`);
  const reports = values.reports === true || reportsText === 'true' || reportsText === '1';
  const intervalText = values['reports-interval'] ?? env['PULLGUARD_REPORTS_INTERVAL'] ?? String(DEFAULT_REPORTS_INTERVAL_SECONDS);
  const reportsIntervalSeconds = Number(intervalText);
  if (!/^\d+$/.test(intervalText) || reportsIntervalSeconds < 30) throw new UsageError(`--reports-interval must be a whole number of seconds >= 30, got ${intervalText}`);
  const reportApiText = nonEmpty(values['report-api'] ?? env['PULLGUARD_REPORT_API']);
  if (reportApiText !== undefined && !(REPORT_APIS as readonly string[]).includes(reportApiText)) throw new UsageError(`--report-api must be ${REPORT_APIS.join(' or ')}, got ${reportApiText}`);
  const options: ServeOptions = {
    port: parsePort(values.port ?? env['PULLGUARD_PORT'] ?? String(DEFAULT_PORT), '--port'),
    host,
    cert: values.cert ?? env['PULLGUARD_CERT'] ?? join(DEFAULT_CERTIFICATE_DIR, 'tls.crt'),
    key: values.key ?? env['PULLGUARD_KEY'] ?? join(DEFAULT_CERTIFICATE_DIR, 'tls.key'),
    minTls,
    clientCa,
    clientNames,
    metricsPort: parsePort(values['metrics-port'] ?? env['PULLGUARD_METRICS_PORT'] ?? String(DEFAULT_METRICS_PORT), '--metrics-port'),
    metricsHost: values['metrics-host'] ?? env['PULLGUARD_METRICS_HOST'] ?? host,
    policy: values.policy ?? env['PULLGUARD_POLICY'],
    state,
    cluster: dev && values.cluster === undefined ? 'off' : cluster,
    kubeconfig: values.kubeconfig ?? env['KUBECONFIG'],
    namespace: values.namespace ?? env['POD_NAMESPACE'] ?? 'pullguard',
    policyConfigMap: values['policy-configmap'] ?? env['PULLGUARD_POLICY_CONFIGMAP'] ?? 'pullguard-policy',
    secretNamespaces: parseSecretNamespaces(values['secret-namespaces'].length > 0 ? values['secret-namespaces'] : env['PULLGUARD_SECRET_NAMESPACES']),
    requestTimeoutMs: timeout,
    logLevel: values['log-level'] ?? env['PULLGUARD_LOG_LEVEL'] ?? 'info',
    logAllows: values['log-allows'] ?? parseBooleanEnv(env['PULLGUARD_LOG_ALLOWS'], 'PULLGUARD_LOG_ALLOWS'),
    decisionCacheEntries,
    reports,
    reportsIntervalSeconds,
    reportApi: reportApiText as ReportApi | undefined,
    dev,
  };
  if (options.secretNamespaces !== undefined && (options.state.length > 0 || options.cluster === 'off')) {
    throw new UsageError('--secret-namespaces chooses which namespaces are watched in a cluster; with --state or --cluster off the state comes from files');
  }
  if (options.metricsPort !== 0 && options.metricsPort === options.port) throw new UsageError('--metrics-port must differ from --port');
  if (!LOG_LEVELS.includes(options.logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join('|')}, got ${options.logLevel}`);
  return options;
}

/** A boolean flag's environment variable: unset, `true` or `false` (anything else is a usage error, not a silent false). */
function parseBooleanEnv(text: string | undefined, name: string): boolean {
  if (text === undefined || text === '' || text === 'false') return false;
  if (text === 'true') return true;
  throw new UsageError(`${name} must be true or false, got ${text}`);
}

/** A namespace name is a DNS-1123 label. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `--secret-namespaces a,b --secret-namespaces c` or PULLGUARD_SECRET_NAMESPACES=a,b: sorted, without duplicates; undefined when not given. */
function parseSecretNamespaces(given: readonly string[] | string | undefined): readonly string[] | undefined {
  if (given === undefined || (typeof given === 'string' && given.trim() === '')) return undefined;
  const texts = typeof given === 'string' ? [given] : given;
  if (texts.length === 0) return undefined;
  const names = texts.flatMap((text) => text.split(',')).map((name) => name.trim());
  for (const name of names) {
    if (!NAMESPACE_NAME.test(name)) throw new UsageError(`--secret-namespaces takes namespace names separated by commas; ${JSON.stringify(name.slice(0, 80))} is not a namespace name`);
  }
  return [...new Set(names)].sort();
}

const MIN_TLS_FLAG_VALUES: Readonly<Record<string, MinTlsVersion>> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

/** pino's levels, plus `silent`. */
const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The first load of the serving pair: a missing or broken file is the operator's to fix, not a crash. */
function loadServingCertificate(options: Parameters<typeof createTlsReloader>[0]): ReturnType<typeof createTlsReloader> {
  try {
    return createTlsReloader(options);
  } catch (error) {
    const detail = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${(error as NodeJS.ErrnoException).path ?? 'a file'} does not exist` : (error as Error).message;
    const clientCa = options.clientCaFile === undefined ? '' : `, --client-ca ${options.clientCaFile}`;
    throw new UsageError(
      `cannot load the serving certificate (--cert ${options.certFile}, --key ${options.keyFile}${clientCa}): ${detail}; ` +
        `create a pair with 'pullguard certs --out certs --host NAME', or run 'npm start' (serve --dev) to get development certificates`,
    );
  }
}

interface ListenTarget {
  readonly port: number;
  readonly host: string;
  /** The flag (and variable) that sets the port, named in the error. */
  readonly portFlag: string;
  readonly hostFlag: string;
}

/**
 * Listens, or explains why not: a port in use, a privileged port or an address this machine does
 * not have are the operator's to fix, so they are usage errors naming the flag, never a stack trace.
 */
async function listenOn(app: FastifyInstance, target: ListenTarget): Promise<void> {
  try {
    await app.listen({ port: target.port, host: target.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `cannot listen on ${target.host}:${target.port}`;
    switch (code) {
      case 'EADDRINUSE':
        throw new UsageError(`${where}: port ${target.port} is already in use; stop what holds it or choose another port with ${target.portFlag}`);
      case 'EACCES':
        throw new UsageError(`${where}: not allowed to use port ${target.port} (ports below 1024 need privileges); choose another port with ${target.portFlag}`);
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        throw new UsageError(`${where}: ${target.host} is not an address of this machine; set ${target.hostFlag}`);
      default:
        throw error;
    }
  }
}

/** Decides where state comes from: files, or (issue "Live cluster state") the cluster. */
async function createState(options: ServeOptions, logger: Logger, registry: import('prom-client').Registry): Promise<{ state: DecisionState; stop: () => Promise<void> }> {
  const useCluster = options.state.length === 0 && (options.cluster === 'on' || (options.cluster === 'auto' && clusterConfigAvailable(options)));
  if (options.reports && !useCluster) throw new UsageError('--reports writes reports from the live cluster state: it needs --cluster (and no --state)');
  if (!useCluster) {
    if (options.secretNamespaces !== undefined) {
      throw new UsageError('--secret-namespaces chooses which namespaces are watched in a cluster; with --state or --cluster off the state comes from files');
    }
    const policy = await loadPolicyResolver(options.policy);
    const { snapshot } = await loadStateFiles(options.state);
    const stats = snapshot.stats();
    logger.info({ stateFiles: options.state, policyFile: options.policy ?? '(built-in default)', ...stats }, 'using cluster state from files');
    return { state: new StaticDecisionState(snapshot, policy), stop: async () => {} };
  }
  const { startClusterState } = await import('./serve-cluster.ts');
  return startClusterState(options, logger, registry);
}

function clusterConfigAvailable(options: ServeOptions): boolean {
  if (options.kubeconfig !== undefined) return true;
  if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined) return true;
  return existsSync(join(process.env['HOME'] ?? '', '.kube', 'config'));
}

export async function runServe(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseServeArgs(args, io.env);
  if (options === 'help') {
    io.stdout.write(SERVE_HELP);
    return EXIT_OK;
  }
  const logger = createLogger(options.logLevel);
  if (options.dev) {
    const dir = join(DEFAULT_CERTIFICATE_DIR);
    const status = await ensureDevCertificates(dir, ['localhost', '127.0.0.1']);
    if (status.created) logger.info({ dir, reason: status.reason }, 'created development certificates');
  }
  const metrics = createMetrics();
  const reloader = loadServingCertificate({
    certFile: options.cert,
    keyFile: options.key,
    ...(options.clientCa === undefined ? {} : { clientCaFile: options.clientCa }),
    minVersion: options.minTls,
    onReload: (certificate) => logger.info({ notAfter: certificate.notAfter.toISOString(), serial: certificate.serialNumber }, 'serving certificate reloaded'),
    onError: (error) => logger.error({ error: error.message }, 'certificate files changed but are not valid; keeping the current certificate and client CA'),
  });
  const { state, stop: stopState } = await createState(options, logger, metrics.registry);
  const app = buildWebhookApp({
    state,
    metrics,
    logger,
    https: reloader.serverOptions(),
    requestTimeoutMs: options.requestTimeoutMs,
    certificateReady: () => reloader.secondsUntilExpiry() > 0,
    decisionCacheEntries: options.decisionCacheEntries,
    clientCertificates: options.clientCa === undefined ? undefined : new ClientCertificateGate({ names: options.clientNames }),
    logAllows: options.logAllows,
  });
  reloader.attach(app.server as unknown as import('node:tls').Server);
  reloader.start();
  const metricsApp = options.metricsPort === 0 ? undefined : buildMetricsApp(metrics, () => metrics.certificateExpiry.set(reloader.secondsUntilExpiry()));
  try {
    await listenOn(app, { port: options.port, host: options.host, portFlag: '--port (PULLGUARD_PORT)', hostFlag: '--host (PULLGUARD_HOST)' });
    if (metricsApp !== undefined) {
      await listenOn(metricsApp, {
        port: options.metricsPort,
        host: options.metricsHost,
        portFlag: '--metrics-port (PULLGUARD_METRICS_PORT)',
        hostFlag: '--metrics-host (PULLGUARD_METRICS_HOST)',
      });
    }
  } catch (error) {
    // Half a server is worse than none: close what did start, so the process exits with the error.
    await Promise.allSettled([app.close(), metricsApp?.close(), stopState()]);
    reloader.stop();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  logger.info(
    {
      port,
      metricsPort: options.metricsPort,
      host: options.host,
      minTls: options.minTls,
      clientCertificates: options.clientCa === undefined ? 'not required' : { ca: options.clientCa, names: options.clientNames },
    },
    'pullguard webhook listening',
  );
  if (options.dev) {
    io.stderr.write(
      `\npullguard (dev) is serving https://${options.host}:${port} with the default policy and ${options.state.join(', ')}.\n` +
        `Send it a review:\n` +
        `  curl -s --cacert certs/ca.crt -H 'content-type: application/json' \\\n` +
        `    --data @examples/reviews/pod-needs-injection.json https://localhost:${port}/mutate\n` +
        (metricsApp !== undefined ? `Metrics: http://${options.metricsHost}:${options.metricsPort}/metrics\n` : '') +
        `Stop with Ctrl-C.\n\n`,
    );
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping: no new connections, finishing in-flight reviews');
      const force = setTimeout(() => {
        logger.warn('in-flight reviews did not finish in time; exiting');
        resolve();
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      Promise.allSettled([app.close(), metricsApp?.close(), stopState()]).then(() => {
        reloader.stop();
        clearTimeout(force);
        resolve();
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  logger.info('stopped');
  return EXIT_OK;
}
