// A real etcd + kube-apiserver for the end-to-end tests, built from Go modules by
// test/e2e/build-control-plane.sh (shared/docs/control-plane.md). What envtest does, with a bearer
// token instead of client certificates and the ServiceAccount admission plugin left ON.
// No controller-manager and no scheduler: pods stay Pending, namespaces stay Terminating, and every
// test namespace needs its `default` ServiceAccount created by the test.
import { spawn } from 'node:child_process';
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_STOP_GRACE_MS,
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
import { readPins, VERSIONS_FILE } from './pins.ts';

/** Cold kube-apiserver start on two cores (etcd bootstrap, RBAC and priority-and-fairness seeding). */
export const DEFAULT_STARTUP_TIMEOUT_MS = 120_000;
const READINESS_POLL_MS = 250;
/** One readiness or API probe; a hung TLS handshake must not eat the whole startup budget. */
const PROBE_TIMEOUT_MS = 5_000;
const DEFAULT_KUBECTL_TIMEOUT_MS = 60_000;
/** Service CIDR the API server allocates ClusterIPs from; never routed, only stored. */
const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
const LOOPBACK = '127.0.0.1';
const ETCD_MEMBER_NAME = 'pullguard-e2e';

const buildScript = fileURLToPath(new URL('../build-control-plane.sh', import.meta.url));
export const REQUIRED_BINARIES = ['kube-apiserver', 'kubectl', 'etcd', 'helm'] as const;

export interface ControlPlaneVersions {
  kubernetes: string;
  etcd: string;
  helm: string;
}

/** The pins from test/e2e/versions.env, the same file the build script sources. */
export function readVersions(path = VERSIONS_FILE): ControlPlaneVersions {
  const pick = readPins(path);
  return { kubernetes: pick('K8S_VERSION'), etcd: pick('ETCD_VERSION'), helm: pick('HELM_VERSION') };
}

/** Where build-control-plane.sh puts the binaries; PULLGUARD_E2E_BIN_DIR overrides it. */
export function defaultBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['PULLGUARD_E2E_BIN_DIR']) return env['PULLGUARD_E2E_BIN_DIR'];
  const cacheRoot = env['PULLGUARD_E2E_CACHE'] || join(homedir(), '.cache', 'pullguard-e2e');
  const v = readVersions();
  return join(cacheRoot, `k8s-${v.kubernetes}-etcd-${v.etcd}-helm-${v.helm}`, 'bin');
}

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
}

export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, kubectl, etcd and helm; default {@link defaultBinDir}. */
  binDir?: string;
  startupTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace for each process. */
  stopGraceMs?: number;
  /** Appended after the harness's own flags, so a later flag of the same name wins. */
  extraApiserverArgs?: readonly string[];
  /** Keep the temp dir (logs, etcd data) when startup fails; default: PULLGUARD_E2E_KEEP_TMP=1. */
  keepTmpDirOnFailure?: boolean;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (for `-f -`). */
  input?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ApiResponse {
  status: number;
  body: string;
}

export interface ControlPlane {
  /** `https://127.0.0.1:PORT`; the same across apiserver restarts. */
  readonly apiserverUrl: string;
  /** Bearer token of a `system:masters` user. */
  readonly token: string;
  readonly kubeconfigPath: string;
  /** PEM of the CA that signed the apiserver's self-generated serving certificate (from --cert-dir). */
  readonly caPem: string;
  readonly binDir: string;
  readonly tmpDir: string;
  readonly etcdUrl: string;
  /** PIDs of the processes running now; `apiserver` is undefined while it is stopped. */
  pids(): { etcd: number | undefined; apiserver: number | undefined };
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult>;
  /** GET on the API server with the token and the CA: for probes such as /readyz and /version. */
  get(path: string): Promise<ApiResponse>;
  /** Stops kube-apiserver only; etcd and its data stay. */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again on the same port, certificates and etcd, and waits for /readyz. */
  startApiserver(): Promise<void>;
  restartApiserver(): Promise<void>;
  /** Stops both processes (apiserver first: it talks to etcd while draining) and removes the temp dir. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Last-resort cleanup: when the test process exits or is signalled before stop() ran, kill what we
// started (by PID) and remove the temp dirs. Exit handlers must be synchronous.

const emergencyCleanups = new Set<() => void>();

function runEmergencyCleanups(): void {
  for (const cleanup of emergencyCleanups) {
    try {
      cleanup();
    } catch {
      // keep going: the next one may still succeed
    }
  }
  emergencyCleanups.clear();
}

function onTerminatingSignal(signal: NodeJS.Signals): void {
  runEmergencyCleanups();
  uninstallProcessHooks();
  // Our listener suppressed the default action; re-raise so the remaining listeners (tap's) or the
  // default handler end the process as they would have without us.
  process.kill(process.pid, signal);
}

/**
 * SIGALRM is how tap ends a test file that ran past its timeout (then SIGKILL 500 ms later, which no
 * one can catch): a death by signal skips 'exit' listeners, so each signal needs its own.
 */
const TERMINATING_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM'];

let hooksInstalled = false;
function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', runEmergencyCleanups);
  for (const signal of TERMINATING_SIGNALS) process.on(signal, onTerminatingSignal);
}

function uninstallProcessHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', runEmergencyCleanups);
  for (const signal of TERMINATING_SIGNALS) process.off(signal, onTerminatingSignal);
}

/** Also used by harness/webhook.ts, so one set of signal hooks kills every process the suite started. */
export function registerEmergencyCleanup(cleanup: () => void): () => void {
  emergencyCleanups.add(cleanup);
  installProcessHooks();
  return () => {
    emergencyCleanups.delete(cleanup);
    if (emergencyCleanups.size === 0) uninstallProcessHooks();
  };
}

// ---------------------------------------------------------------------------------------------

function assertBinaries(binDir: string): void {
  const missing = REQUIRED_BINARIES.filter((name) => !existsSync(join(binDir, name)));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')} in ${binDir}: build them once with \`bash ${buildScript}\` (10-20 min cold)`,
    );
  }
}

/** The child environment: ours, minus variables that would point etcd or kubectl elsewhere. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ETCD_') || key === 'KUBECONFIG') continue;
    env[key] = value;
  }
  return env;
}

interface HttpGetOptions {
  ca?: string;
  token?: string;
}

function httpGet(url: string, options: HttpGetOptions = {}): Promise<ApiResponse> {
  const isHttps = url.startsWith('https:');
  const send = isHttps ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'GET',
        agent: false,
        timeout: PROBE_TIMEOUT_MS,
        headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
        ...(isHttps ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * kube-apiserver without --tls-cert-file writes `<cert-dir>/apiserver.crt` as the serving cert followed
 * by the throwaway CA that signed it (client-go util/cert GenerateSelfSignedCertKeyWithOptions). We
 * trust only that CA and check it really issued a leaf valid for 127.0.0.1, so TLS is verified for
 * real and no client needs insecure-skip-tls-verify. Returns undefined while the file is not complete.
 */
export function servingCaFromCertDir(certFile: string): string | undefined {
  if (!existsSync(certFile)) return undefined;
  const blocks = readFileSync(certFile, 'utf8').match(PEM_CERTIFICATE) ?? [];
  let certificates: X509Certificate[];
  try {
    certificates = blocks.map((pem) => new X509Certificate(pem));
  } catch {
    return undefined; // being written
  }
  const leaf = certificates.find((cert) => !cert.ca);
  const ca = certificates.find((cert) => cert.ca);
  if (leaf === undefined || ca === undefined) return undefined;
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    throw new Error(`${certFile}: the serving certificate is not signed by the CA in the same file`);
  }
  if (leaf.checkIP(LOOPBACK) === undefined) {
    throw new Error(`${certFile}: the serving certificate is not valid for ${LOOPBACK}`);
  }
  return ca.toString();
}

function kubeconfigJson(server: string, caPem: string, token: string): string {
  // JSON is YAML: kubectl and client-node read it as a kubeconfig.
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'e2e', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } },
    ],
    users: [{ name: 'e2e-admin', user: { token } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'e2e-admin' } }],
    'current-context': 'e2e',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

function runKubectl(command: string, args: readonly string[], options: KubectlOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timeoutMs = options.timeoutMs ?? DEFAULT_KUBECTL_TIMEOUT_MS;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode: code ?? 128,
      };
      if (result.exitCode !== 0 && options.allowFailure !== true) {
        const why = signal === null ? `exit ${result.exitCode}` : `${signal} after ${timeoutMs} ms`;
        reject(new Error(`kubectl ${args.join(' ')}: ${why}\n${result.stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.end(options.input ?? '');
  });
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? defaultBinDir();
  assertBinaries(binDir);
  const startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const keepTmpDirOnFailure = options.keepTmpDirOnFailure ?? process.env['PULLGUARD_E2E_KEEP_TMP'] === '1';

  const tmpDir = mkdtempSync(join(tmpdir(), 'pullguard-e2e-'));
  let etcd: ManagedProcess | undefined;
  let apiserver: ManagedProcess | undefined;
  const unregister = registerEmergencyCleanup(() => {
    if (apiserver) killNow(apiserver);
    if (etcd) killNow(etcd);
    rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
  });

  const paths = {
    etcdData: join(tmpDir, 'etcd-data'),
    etcdLog: join(tmpDir, 'etcd.log'),
    apiserverLog: join(tmpDir, 'kube-apiserver.log'),
    certDir: join(tmpDir, 'certs'),
    tokens: join(tmpDir, 'tokens.csv'),
    serviceAccountKey: join(tmpDir, 'sa.key'),
    kubeconfig: join(tmpDir, 'kubeconfig'),
    kubectlCache: join(tmpDir, 'kubectl-cache'),
  };
  const env = childEnv();
  const token = randomBytes(32).toString('hex');
  let ports: Ports | undefined;
  let caPem = '';
  const requirePorts = (): Ports => {
    if (ports === undefined) throw new Error('ports not allocated yet');
    return ports;
  };

  async function stopAll(): Promise<void> {
    if (apiserver) await stopProcess(apiserver, stopGraceMs);
    apiserver = undefined;
    if (etcd) await stopProcess(etcd, stopGraceMs);
    etcd = undefined;
  }

  function logTails(): string {
    return [
      `--- etcd (${etcd ? describeExit(etcd) : 'not started'}): ${paths.etcdLog}`,
      tailFile(paths.etcdLog),
      `--- kube-apiserver (${apiserver ? describeExit(apiserver) : 'not started'}): ${paths.apiserverLog}`,
      tailFile(paths.apiserverLog),
    ].join('\n');
  }

  const apiserverUrl = () => `https://${LOOPBACK}:${requirePorts().apiserver}`;

  async function launchApiserver(): Promise<void> {
    const { etcdClient: etcdClientPort, apiserver: apiserverPort } = requirePorts();
    apiserver = await spawnLogged({
      name: 'kube-apiserver',
      command: join(binDir, 'kube-apiserver'),
      env,
      cwd: tmpDir,
      logPath: paths.apiserverLog,
      args: [
        `--etcd-servers=http://${LOOPBACK}:${etcdClientPort}`,
        `--bind-address=${LOOPBACK}`,
        // Without it the apiserver looks for a default-route interface, which a sandbox may lack.
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${apiserverPort}`,
        `--cert-dir=${paths.certDir}`,
        `--token-auth-file=${paths.tokens}`,
        '--authorization-mode=RBAC',
        // Admission plugins stay at their defaults: ServiceAccount is one of them and is what we model.
        `--service-account-issuer=https://${LOOPBACK}:${apiserverPort}`,
        `--service-account-key-file=${paths.serviceAccountKey}`,
        `--service-account-signing-key-file=${paths.serviceAccountKey}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--allow-privileged=true',
        // The `kubernetes` Endpoints object may not hold a loopback address; reconciling it only logs errors.
        '--endpoint-reconciler-type=none',
        ...(options.extraApiserverArgs ?? []),
      ],
    });
    const started = apiserver;
    const certFile = join(paths.certDir, 'apiserver.crt');
    await waitUntil(
      `kube-apiserver /readyz on ${apiserverUrl()}`,
      async () => {
        const ca = servingCaFromCertDir(certFile);
        if (ca === undefined) return false;
        caPem = ca;
        const res = await httpGet(`${apiserverUrl()}/readyz`, { ca: caPem, token });
        return res.status === 200;
      },
      {
        timeoutMs: startupTimeoutMs,
        intervalMs: READINESS_POLL_MS,
        abortReason: () => (hasExited(started) ? `kube-apiserver ${describeExit(started)}` : undefined),
      },
    );
  }

  try {
    const [etcdClientPort, etcdPeerPort, apiserverPort] = await freeLoopbackPorts(3);
    if (etcdClientPort === undefined || etcdPeerPort === undefined || apiserverPort === undefined) {
      throw new Error('could not allocate three loopback ports');
    }
    // Fixed for the life of the control plane: a restarted apiserver comes back on the same port.
    ports = { etcdClient: etcdClientPort, etcdPeer: etcdPeerPort, apiserver: apiserverPort };
    const etcdUrl = `http://${LOOPBACK}:${etcdClientPort}`;
    const peerUrl = `http://${LOOPBACK}:${etcdPeerPort}`;

    writeFileSync(paths.tokens, `${token},e2e-admin,e2e-admin,"system:masters"\n`, { mode: 0o600 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(paths.serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    mkdirSync(paths.certDir, { mode: 0o700 });

    etcd = await spawnLogged({
      name: 'etcd',
      command: join(binDir, 'etcd'),
      env,
      cwd: tmpDir,
      logPath: paths.etcdLog,
      args: [
        `--name=${ETCD_MEMBER_NAME}`,
        `--data-dir=${paths.etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${ETCD_MEMBER_NAME}=${peerUrl}`,
        // Throwaway data: fsync only slows every write the tests make.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
    });
    const startedEtcd = etcd;
    await waitUntil(
      `etcd /health on ${etcdUrl}`,
      async () => {
        const res = await httpGet(`${etcdUrl}/health`);
        return res.status === 200 && (JSON.parse(res.body) as { health?: unknown }).health === 'true';
      },
      {
        timeoutMs: startupTimeoutMs,
        intervalMs: READINESS_POLL_MS,
        abortReason: () => (hasExited(startedEtcd) ? `etcd ${describeExit(startedEtcd)}` : undefined),
      },
    );

    await launchApiserver();
    writeFileSync(paths.kubeconfig, kubeconfigJson(apiserverUrl(), caPem, token), { mode: 0o600 });

    let stopped = false;
    const controlPlane: ControlPlane = {
      apiserverUrl: apiserverUrl(),
      token,
      kubeconfigPath: paths.kubeconfig,
      caPem,
      binDir,
      tmpDir,
      etcdUrl,
      pids: () => ({ etcd: etcd?.pid, apiserver: apiserver?.pid }),
      kubectl: (args, kubectlOptions = {}) =>
        runKubectl(
          join(binDir, 'kubectl'),
          [`--kubeconfig=${paths.kubeconfig}`, `--cache-dir=${paths.kubectlCache}`, ...args],
          kubectlOptions,
        ),
      get: (path) => httpGet(`${apiserverUrl()}${path}`, { ca: caPem, token }),
      async stopApiserver() {
        if (apiserver) await stopProcess(apiserver, stopGraceMs);
        apiserver = undefined;
      },
      async startApiserver() {
        if (stopped) throw new Error('control plane already stopped');
        if (apiserver && !hasExited(apiserver)) throw new Error('kube-apiserver is already running');
        try {
          await launchApiserver();
        } catch (error) {
          throw new Error(`${(error as Error).message}\n${logTails()}`, { cause: error });
        }
      },
      async restartApiserver() {
        await controlPlane.stopApiserver();
        await controlPlane.startApiserver();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
        unregister();
      },
    };
    return controlPlane;
  } catch (error) {
    const tails = logTails();
    await stopAll();
    if (!keepTmpDirOnFailure) rmSync(tmpDir, { recursive: true, force: true, maxRetries: 3 });
    unregister();
    const kept = keepTmpDirOnFailure ? `\n(temp dir kept: ${tmpDir})` : '';
    throw new Error(`control plane failed to start: ${(error as Error).message}${kept}\n${tails}`, { cause: error });
  }
}
