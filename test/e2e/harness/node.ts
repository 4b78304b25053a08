// A real node for the agreement matrix (issue 12): containerd (Debian's, unpacked by
// test/e2e/build-node.sh) with its CRI plugin and runc, a kubelet registered to the harness's
// kube-apiserver, and kube-controller-manager (Deployments -> ReplicaSets -> Pods). Pods are bound by
// spec.nodeName (no scheduler) and use hostNetwork (no CNI).
//
// Everything lives under one temp dir: containerd's root and state, the kubelet's root dir, pod logs,
// runc's state. What containerd 1.6 and runc put elsewhere (/run/containerd, cgroup directories) is
// recorded before start and removed at stop when this run created it. Processes are stopped by the PID
// we started; the shims and containers that containerd starts are found by their socket or root under
// our temp dir, never by name.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registerEmergencyCleanup, type ControlPlane } from './control-plane.ts';
import {
  describeExit,
  freeLoopbackPorts,
  hasExited,
  killNow,
  pidExists,
  spawnLogged,
  stopProcess,
  tailFile,
  waitUntil,
  type ManagedProcess,
} from './processes.ts';
import { readPins, VERSIONS_FILE } from './pins.ts';
import type { Registry, RegistryCa } from './registry.ts';

const execFileAsync = promisify(execFile);
const LOOPBACK = '127.0.0.1';
export const NODE_NAME = 'pullguard-e2e-node';
const STARTUP_TIMEOUT_MS = 120_000;
const POLL_MS = 250;
const STOP_GRACE_MS = 10_000;
/** Pods get this long to go away (the kubelet stops their containers) before the node is torn down. */
const POD_DRAIN_TIMEOUT_MS = 90_000;
const CGROUP_ROOT = '/sys/fs/cgroup';
/** containerd 1.6 keeps shim sockets, fifos and runc's default root here whatever its state dir says. */
const CONTAINERD_RUN_DIR = '/run/containerd';


/** The node's pins from test/e2e/versions.env (plain KEY=VALUE lines, as build-node.sh sources them). */
export function readNodeVersions(path = VERSIONS_FILE): { kubernetes: string; containerd: string; runc: string; registry: string; crane: string } {
  const pick = readPins(path);
  return { kubernetes: pick('K8S_VERSION'), containerd: pick('CONTAINERD_DEB'), runc: pick('RUNC_DEB'), registry: pick('DOCKER_REGISTRY_DEB'), crane: pick('CRANE_VERSION') };
}

/** Where build-node.sh puts the node's pieces; PULLGUARD_E2E_NODE_DIR overrides it. */
export function defaultNodeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['PULLGUARD_E2E_NODE_DIR']) return env['PULLGUARD_E2E_NODE_DIR'];
  const cacheRoot = env['PULLGUARD_E2E_CACHE'] || join(homedir(), '.cache', 'pullguard-e2e');
  return join(cacheRoot, `node-k8s-${readNodeVersions().kubernetes}`);
}

export interface NodeOptions {
  controlPlane: ControlPlane;
  /** What build-node.sh printed: bin/ and debian/ below it. */
  nodeDir: string;
  /** A fresh directory of the caller's; everything of the node goes below it. */
  dir: string;
  ca: RegistryCa;
  registries: readonly Registry[];
  /** The sandbox image, already pushed; imported into containerd from `pauseTarball` so no credentials are needed. */
  pauseImage: string;
  pauseTarball: string;
}

export interface Node {
  readonly name: string;
  readonly kubeletLog: string;
  readonly containerdLog: string;
  readonly controllerManagerLog: string;
  pids(): number[];
  /** `ctr -n k8s.io images ls -q`: what the node holds. */
  images(): Promise<string[]>;
  /** Deletes every workload and pod, waits for the kubelet to stop them, then stops everything. */
  stop(): Promise<void>;
  /** What stop() must leave behind: nothing. */
  leftovers(): string[];
}

function cgroupHierarchies(): string[] {
  try {
    return readdirSync(CGROUP_ROOT).map((name) => join(CGROUP_ROOT, name)).filter((path) => existsSync(join(path, 'cgroup.procs')));
  } catch {
    return [];
  }
}

function childDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(path, entry.name));
  } catch {
    return [];
  }
}

/** Top-level cgroup directories now, across hierarchies. */
function topLevelCgroups(): Set<string> {
  return new Set(cgroupHierarchies().flatMap(childDirs));
}

/** rmdir a cgroup tree depth-first (cgroup dirs hold only kernel files, removed with the dir). */
function removeCgroupTree(path: string): void {
  for (const child of childDirs(path)) removeCgroupTree(child);
  try {
    rmdirSync(path);
  } catch {
    // still populated or already gone: reported by leftovers()
  }
}

/**
 * True when a directory tree holds anything but directories: /run/containerd with a live shim's
 * socket belongs to a containerd still running (another test run's), so it stays.
 */
function holdsFiles(path: string): boolean {
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((entry) => !entry.isDirectory() || holdsFiles(join(path, entry.name)));
}

function hasProcesses(cgroup: string): boolean {
  try {
    if (readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim() !== '') return true;
  } catch {
    return false;
  }
  return childDirs(cgroup).some(hasProcesses);
}

/** Mount points at or below `dir`, deepest first. */
export function mountsBelow(dir: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // Field 5 is the mount point, with spaces and such escaped as octal.
    const mountPoint = line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (mountPoint !== undefined && (mountPoint === dir || mountPoint.startsWith(`${dir}/`))) found.push(mountPoint);
  }
  return found.sort((a, b) => b.length - a.length);
}

/** PIDs whose command line or root directory is under `dir`: shims (their socket, bundle) and containers (rootfs). */
export function pidsUsing(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      let root = '';
      try {
        root = readlinkSync(`/proc/${entry}/root`);
      } catch {
        // a kernel thread or gone
      }
      if (commandLine.includes(dir) || root.startsWith(`${dir}/`)) found.push(Number(entry));
    } catch {
      // gone between readdir and read
    }
  }
  return found;
}

function containerdConfig(paths: { root: string; state: string; socket: string; certsDir: string; runcRoot: string; runc: string; cniDir: string }, pauseImage: string): string {
  // Config version 2 (containerd 1.6). No CNI: every pod uses hostNetwork.
  return `version = 2
root = "${paths.root}"
state = "${paths.state}"
[grpc]
  address = "${paths.socket}"
[ttrpc]
  address = "${paths.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  stream_server_address = "${LOOPBACK}"
  stream_server_port = "0"
  disable_apparmor = true
  # The kubelet asks for oom_score_adj -998 for every sandbox. Lowering it needs CAP_SYS_RESOURCE,
  # which these machines' capability bounding set lacks (even for root): runc then fails with
  # "can't get final child's PID from pipe: EOF" (its debug log: "failed to update
  # /proc/self/oom_score_adj: Permission denied"). Clamp to containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${paths.runc}"
        Root = "${paths.runcRoot}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${paths.certsDir}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${paths.cniDir}"
    conf_dir = "${paths.cniDir}"
`;
}

function kubeletConfig(options: { port: number; healthzPort: number; socket: string; podLogsDir: string }): string {
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: LOOPBACK,
    port: options.port,
    readOnlyPort: 0,
    healthzBindAddress: LOOPBACK,
    healthzPort: options.healthzPort,
    containerRuntimeEndpoint: `unix://${options.socket}`,
    imageServiceEndpoint: `unix://${options.socket}`,
    // What these machines allow: cgroup v1 hierarchies (plus a cgroup2 mount beside them), no systemd.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    failSwapOn: false,
    podLogsDir: options.podLogsDir,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: {} },
    authorization: { mode: 'Webhook' },
    serializeImagePulls: false,
    maxParallelImagePulls: 8,
    // A busy shared disk must not make the kubelet evict the matrix's pods.
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    syncFrequency: '10s',
    nodeStatusUpdateFrequency: '5s',
    resolvConf: '/etc/resolv.conf',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export async function startNode(options: NodeOptions): Promise<Node> {
  const { controlPlane } = options;
  const dir = options.dir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bin = join(options.nodeDir, 'bin');
  const debian = join(options.nodeDir, 'debian');
  const containerdBin = join(debian, 'containerd', 'usr', 'bin');
  const runc = join(debian, 'runc', 'usr', 'sbin', 'runc');
  const ctr = join(containerdBin, 'ctr');
  const paths = {
    root: join(dir, 'containerd-root'),
    state: join(dir, 'containerd-state'),
    socket: join(dir, 'containerd.sock'),
    certsDir: join(dir, 'certs.d'),
    runcRoot: join(dir, 'runc'),
    runc,
    cniDir: join(dir, 'cni'),
    containerdConfig: join(dir, 'containerd.toml'),
    containerdLog: join(dir, 'containerd.log'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletCerts: join(dir, 'kubelet-certs'),
    kubeletConfig: join(dir, 'kubelet.json'),
    kubeletLog: join(dir, 'kubelet.log'),
    podLogs: join(dir, 'pod-logs'),
    kcmCerts: join(dir, 'kcm-certs'),
    kcmLog: join(dir, 'kube-controller-manager.log'),
    apiserverCa: join(dir, 'apiserver-ca.crt'),
  };
  for (const path of [paths.root, paths.state, paths.certsDir, paths.runcRoot, paths.cniDir, paths.kubeletRoot, paths.kubeletCerts, paths.podLogs, paths.kcmCerts]) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  }
  // containerd trusts the harness CA for each registry, and nothing else changes per host.
  for (const registry of options.registries) {
    const hostDir = join(paths.certsDir, registry.host);
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(
      join(hostDir, 'hosts.toml'),
      `server = "https://${registry.host}"\n[host."https://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${options.ca.caFile}"\n`,
    );
  }
  writeFileSync(paths.containerdConfig, containerdConfig(paths, options.pauseImage));
  writeFileSync(paths.apiserverCa, controlPlane.caPem);

  const runDirExisted = existsSync(CONTAINERD_RUN_DIR);
  const cgroupsBefore = topLevelCgroups();
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${containerdBin}:${join(debian, 'runc', 'usr', 'sbin')}:${process.env['PATH'] ?? ''}` };
  delete env['KUBECONFIG'];

  let containerd: ManagedProcess | undefined;
  let kubelet: ManagedProcess | undefined;
  let kcm: ManagedProcess | undefined;
  const started: number[] = [];
  const running = (): ManagedProcess[] => [kcm, kubelet, containerd].filter((p): p is ManagedProcess => p !== undefined);

  const ctrRun = async (args: readonly string[]): Promise<string> => {
    const { stdout } = await execFileAsync(ctr, ['--address', paths.socket, '--namespace', 'k8s.io', ...args], { env, timeout: 60_000 });
    return stdout;
  };

  /** Last resort and final sweep: kill what runs from our dir, unmount, remove cgroups and dirs we made. */
  const sweep = (): void => {
    for (const pid of pidsUsing(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const mountPoint of mountsBelow(dir)) {
      try {
        // Synchronous on purpose: also runs from exit handlers.
        execFileSync('umount', ['-l', mountPoint]);
      } catch {
        // reported by leftovers()
      }
    }
    // The kubelet (cgroupsPerQOS off) gives containerd no cgroup parent, so containers live under
    // containerd's `/k8s.io/<id>` in each hierarchy. rmdir only succeeds on an empty cgroup, so a
    // concurrent run's populated cgroups stay.
    for (const cgroup of topLevelCgroups()) if (!cgroupsBefore.has(cgroup)) removeCgroupTree(cgroup);
    if (!runDirExisted && !holdsFiles(CONTAINERD_RUN_DIR)) rmSync(CONTAINERD_RUN_DIR, { recursive: true, force: true });
  };
  const unregister = registerEmergencyCleanup(() => {
    for (const proc of running()) killNow(proc);
    sweep();
  });

  const logTails = (): string =>
    [
      `--- containerd (${containerd ? describeExit(containerd) : 'not started'}): ${paths.containerdLog}`,
      tailFile(paths.containerdLog),
      `--- kubelet (${kubelet ? describeExit(kubelet) : 'not started'}): ${paths.kubeletLog}`,
      tailFile(paths.kubeletLog),
      `--- kube-controller-manager (${kcm ? describeExit(kcm) : 'not started'}): ${paths.kcmLog}`,
      tailFile(paths.kcmLog),
    ].join('\n');

  async function stopEverything(): Promise<void> {
    // Workloads first (no garbage collector runs), then pods, which the kubelet stops for real.
    if (kubelet && !hasExited(kubelet)) {
      await controlPlane.kubectl(['delete', 'deployments,replicasets', '--all', '--all-namespaces', '--wait=false'], { allowFailure: true });
      await controlPlane.kubectl(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=1', '--wait=false'], { allowFailure: true });
      try {
        await waitUntil(
          'every pod gone from the node',
          async () => {
            const out = await controlPlane.kubectl(['get', 'pods', '--all-namespaces', '-o', 'name'], { allowFailure: true });
            return out.exitCode === 0 && out.stdout.trim() === '';
          },
          { timeoutMs: POD_DRAIN_TIMEOUT_MS, intervalMs: 500 },
        );
      } catch {
        // The sweep below still stops the containers; leftovers() says if anything survived.
      }
    }
    if (kcm) await stopProcess(kcm, STOP_GRACE_MS);
    if (kubelet) await stopProcess(kubelet, STOP_GRACE_MS);
    if (containerd && !hasExited(containerd)) {
      // Stop whatever the kubelet left (sandboxes it had not removed yet), so the shims exit.
      try {
        for (const id of (await ctrRun(['tasks', 'ls', '-q'])).split('\n').filter(Boolean)) {
          await ctrRun(['tasks', 'kill', '-s', 'SIGKILL', id]).catch(() => '');
        }
        for (const id of (await ctrRun(['tasks', 'ls', '-q'])).split('\n').filter(Boolean)) {
          await ctrRun(['tasks', 'rm', '-f', id]).catch(() => '');
        }
        for (const id of (await ctrRun(['containers', 'ls', '-q'])).split('\n').filter(Boolean)) {
          await ctrRun(['containers', 'rm', id]).catch(() => '');
        }
      } catch {
        // the sweep kills what is left
      }
    }
    if (containerd) await stopProcess(containerd, STOP_GRACE_MS);
    sweep();
  }

  try {
    containerd = await spawnLogged({ name: 'containerd', command: join(containerdBin, 'containerd'), args: ['--config', paths.containerdConfig], logPath: paths.containerdLog, env, cwd: dir });
    started.push(containerd.pid);
    const startedContainerd = containerd;
    await waitUntil(
      'containerd',
      async () => {
        await ctrRun(['version']);
        return true;
      },
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: POLL_MS, abortReason: () => (hasExited(startedContainerd) ? `containerd ${describeExit(startedContainerd)}` : undefined) },
    );
    // The sandbox image comes in without credentials: the kubelet pins it and never pulls it.
    await ctrRun(['images', 'import', '--no-unpack', options.pauseTarball]);

    const [kubeletPort, healthzPort, kcmPort] = await freeLoopbackPorts(3);
    if (kubeletPort === undefined || healthzPort === undefined || kcmPort === undefined) throw new Error('no free loopback ports for the node');
    writeFileSync(paths.kubeletConfig, kubeletConfig({ port: kubeletPort, healthzPort, socket: paths.socket, podLogsDir: paths.podLogs }));
    kubelet = await spawnLogged({
      name: 'kubelet',
      command: join(bin, 'kubelet'),
      args: [
        `--config=${paths.kubeletConfig}`,
        `--kubeconfig=${controlPlane.kubeconfigPath}`,
        `--root-dir=${paths.kubeletRoot}`,
        `--cert-dir=${paths.kubeletCerts}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${LOOPBACK}`,
        '--v=2',
      ],
      logPath: paths.kubeletLog,
      env,
      cwd: dir,
    });
    started.push(kubelet.pid);
    const startedKubelet = kubelet;
    await waitUntil(
      `node ${NODE_NAME} registered`,
      async () => (await controlPlane.kubectl(['get', 'node', NODE_NAME, '-o', 'name'], { allowFailure: true })).exitCode === 0,
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 500, abortReason: () => (hasExited(startedKubelet) ? `kubelet ${describeExit(startedKubelet)}` : undefined) },
    );

    kcm = await spawnLogged({
      name: 'kube-controller-manager',
      command: join(bin, 'kube-controller-manager'),
      args: [
        `--kubeconfig=${controlPlane.kubeconfigPath}`,
        `--authentication-kubeconfig=${controlPlane.kubeconfigPath}`,
        `--authorization-kubeconfig=${controlPlane.kubeconfigPath}`,
        `--bind-address=${LOOPBACK}`,
        `--secure-port=${kcmPort}`,
        `--cert-dir=${paths.kcmCerts}`,
        '--leader-elect=false',
        // Only what the matrix needs. No serviceaccount controller: the tests create every
        // ServiceAccount themselves, with the pull secrets each row wants.
        '--controllers=deployment-controller,replicaset-controller',
        `--root-ca-file=${paths.apiserverCa}`,
      ],
      logPath: paths.kcmLog,
      env,
      cwd: dir,
    });
    started.push(kcm.pid);
  } catch (error) {
    const tails = logTails();
    await stopEverything();
    unregister();
    throw new Error(`node failed to start: ${(error as Error).message}\n${tails}`, { cause: error });
  }

  let stopped = false;
  return {
    name: NODE_NAME,
    kubeletLog: paths.kubeletLog,
    containerdLog: paths.containerdLog,
    controllerManagerLog: paths.kcmLog,
    pids: () => [...started],
    async images() {
      return (await ctrRun(['images', 'ls', '-q'])).split('\n').filter(Boolean);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopEverything();
      unregister();
    },
    leftovers() {
      const found: string[] = [];
      for (const pid of started) if (pidExists(pid)) found.push(`node process ${pid} still runs`);
      for (const pid of pidsUsing(dir)) found.push(`process ${pid} still runs from ${dir}`);
      for (const mountPoint of mountsBelow(dir)) found.push(`mount ${mountPoint} is still there`);
      // An empty cgroup this run created and did not remove; a populated one holds processes, which
      // are reported above when they are ours (a concurrent run's are not).
      for (const cgroup of topLevelCgroups()) if (!cgroupsBefore.has(cgroup) && !hasProcesses(cgroup)) found.push(`cgroup ${cgroup} is still there`);
      if (!runDirExisted && existsSync(CONTAINERD_RUN_DIR) && !holdsFiles(CONTAINERD_RUN_DIR)) found.push(`${CONTAINERD_RUN_DIR} is still there`);
      return found;
    },
  };
}
