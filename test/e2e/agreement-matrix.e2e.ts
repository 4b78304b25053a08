// The agreement matrix (issue 12): every verdict of pullguard meets a real pull. A real kubelet and
// containerd pull from two registries that need credentials (TLS from a harness CA, htpasswd users);
// each row is a pod (or a Deployment, or an ephemeral container) plus the secrets and
// ServiceAccount it needs, run twice:
//   - warn mode: every pod is admitted; pullguard's verdict (`[warn] would deny` or not) must equal
//     what the node did (image pulled and running, or an image error with the kubelet's event);
//   - enforce mode: what pullguard admits (and injects into) must really pull; what it denies is
//     rejected at admission with its message.
// Wrong password is the one documented blind spot: pullguard cannot know a password is wrong.
//
//   bash test/e2e/build-control-plane.sh && bash test/e2e/build-node.sh   # once per machine
//   npx tap test/e2e/agreement-matrix.e2e.ts
//   PULLGUARD_E2E_RECORD_EVENTS=1 npx tap test/e2e/agreement-matrix.e2e.ts   # rewrite test/fixtures/kubelet-events
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEBHOOK_NAMES } from './harness/webhook.ts';
import { registerEmergencyCleanup } from './harness/control-plane.ts';
import { makeRegistryCa, startRegistry, type Registry, type RegistryUser } from './harness/registry.ts';
import { prepareImages, type ImageTool } from './harness/images.ts';
import { NODE_NAME, defaultNodeDir, readNodeVersions, startNode, type Node } from './harness/node.ts';
import { formatTimings, startEnvironment, type Environment } from './fixtures/environment.ts';
import { kubectlWith } from './fixtures/kube.ts';
import { namespace, serviceAccount, uniqueName, type KubeObject } from './fixtures/objects.ts';
import { podEvents, waitForEvents, waitForOutcome, type ContainerKind, type KubeletEvent, type NodeOutcome } from './fixtures/node-outcome.ts';

/** Cold start of everything (~1-2 min on two busy cores), ~40 pods, teardown: well below. */
t.setTimeout(15 * 60_000);
const suiteStartedAt = Date.now();
/** A pull from loopback takes a second; an image error shows within a few. Generous for a busy machine. */
const OUTCOME_TIMEOUT_MS = 150_000;
const EVENT_TIMEOUT_MS = 20_000;
const fixturesDir = fileURLToPath(new URL('../fixtures/kubelet-events/', import.meta.url));
const recordEvents = process.env['PULLGUARD_E2E_RECORD_EVENTS'] === '1';

const MODES = ['warn', 'enforce'] as const;
type Mode = (typeof MODES)[number];
type Verdict = 'allow' | 'deny';
const INJECTION_LABEL = 'e2e.pullguard.io/injection';

const alice: RegistryUser = { username: 'alice', password: `alice-${uniqueName('pw')}` };
const bob: RegistryUser = { username: 'bob', password: `bob-${uniqueName('pw')}` };

// ----------------------------------------------------------------------------------------------
// Registries, images, cluster, node

const nodeDir = defaultNodeDir();
const dir = mkdtempSync(join(tmpdir(), 'pullguard-e2e-matrix-'));
const registries: Registry[] = [];
let env: Environment | undefined;
let node: Node | undefined;
// If the process dies before teardown: every harness piece kills its own processes (by PID) from
// exit and signal hooks; the temp dir goes too, unless the node's containers may still use it (its
// own hook, registered later, sweeps those first and this dir is removed by the one registered after it).
const dirCleanups = [
  registerEmergencyCleanup(() => {
    if (node === undefined) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }),
];
let tornDown = false;
async function teardown(): Promise<void> {
  if (tornDown) return;
  tornDown = true;
  try {
    await node?.stop();
  } finally {
    try {
      await env?.stop();
    } finally {
      for (const registry of registries) await registry.stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      for (const unregister of dirCleanups) unregister();
    }
  }
}
t.teardown(teardown);

const ca = makeRegistryCa(join(dir, 'ca'));
const registryBinary = join(nodeDir, 'debian', 'docker-registry', 'usr', 'bin', 'docker-registry');
const regA = await startRegistry({ name: 'a', binary: registryBinary, dir, ca, users: [alice] });
registries.push(regA);
const regB = await startRegistry({ name: 'b', binary: registryBinary, dir, ca, users: [bob] });
registries.push(regB);
const images: ImageTool = await prepareImages({
  crane: join(nodeDir, 'bin', 'crane'),
  sleeper: join(nodeDir, 'bin', 'sleeper'),
  dir,
  ca,
  logins: [
    { registry: regA, user: alice },
    { registry: regB, user: bob },
  ],
  home: regA,
});
const pauseTarball = join(dir, 'pause.tar');
await images.save(images.pauseImage, pauseTarball);

// ----------------------------------------------------------------------------------------------
// Rows

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A kubernetes.io/dockerconfigjson secret, `auths` as given (each value an object with `auth` or fields). */
function pullSecret(ns: string, name: string, auths: Record<string, unknown>, type = 'kubernetes.io/dockerconfigjson'): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type, data: { '.dockerconfigjson': base64(JSON.stringify({ auths })) } };
}
const login = (user: RegistryUser, password = user.password): { auth: string } => ({ auth: base64(`${user.username}:${password}`) });

interface ContainerSpec {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

interface PodShape {
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  imagePullSecrets?: string[];
}

function podSpec(shape: PodShape): Record<string, unknown> {
  const container = (c: ContainerSpec): Record<string, unknown> => ({ name: c.name, image: c.image, imagePullPolicy: c.imagePullPolicy ?? 'Always' });
  return {
    nodeName: NODE_NAME,
    hostNetwork: true,
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 1,
    ...(shape.imagePullSecrets ? { imagePullSecrets: shape.imagePullSecrets.map((name) => ({ name })) } : {}),
    ...(shape.initContainers ? { initContainers: shape.initContainers.map(container) } : {}),
    containers: shape.containers.map(container),
  };
}

interface RowContext {
  ns: string;
  mode: Mode;
  /** A fresh image for this row and mode on registry A (`team/...`) or B (`tools/...`), pushed in setup. */
  image(key: string): string;
  digestOf(key: string): string;
}

interface RowSetup {
  /** Secrets and extra objects in the row's namespace. */
  objects: KubeObject[];
  saSecrets?: string[];
  injection?: boolean;
}

interface Row {
  name: string;
  /** Images this row needs, by key: `a:` on registry A, `b:` on registry B. */
  images: string[];
  setup(ctx: RowContext): RowSetup;
  /** What the kubelet does (the row's design); pullguard's verdict must agree with it. */
  node: NodeOutcome;
  /** Set when pullguard cannot agree, with why: the verdict is then expected to be `allow`. */
  blindSpot?: string;
  kind?: 'pod' | 'deployment' | 'ephemeral' | 'second-pod';
  /** The object under test (a pod, or the Deployment's pod template). */
  pod(ctx: RowContext): PodShape;
  /** For `ephemeral`: the debug container's image key; for `second-pod`: the first pod's shape. */
  ephemeralImage?: string;
  firstPod?(ctx: RowContext): PodShape;
  /** Containers whose outcome counts; default every regular container. */
  watch?: Array<{ kind: ContainerKind; name: string }>;
}

const right = (ns: string, name = 'regcred'): KubeObject => pullSecret(ns, name, { [regA.host]: login(alice) });

const rows: Row[] = [
  {
    name: 'the pod lists the right secret',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'the secret is only on the ServiceAccount (the admission plugin copies it)',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)], saSecrets: ['regcred'] }),
    pod: ({ image }) => ({ containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'the pod lists its own wrong secret while the ServiceAccount has the right one',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns), pullSecret(ns, 'other', { [regB.host]: login(bob) })], saSecrets: ['regcred'] }),
    pod: ({ image }) => ({ imagePullSecrets: ['other'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
  },
  {
    name: 'a typo in the secret name',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcrd'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
  },
  {
    name: 'the right payload in an Opaque secret',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [regA.host]: login(alice) }, 'Opaque')] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
  },
  {
    name: 'a malformed auth field',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [regA.host]: { auth: 'not-base64!' } })] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
  },
  {
    name: 'a wrong password',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [regA.host]: login(alice, 'wrong-password') })] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
    blindSpot: 'a password is only checked by the registry: pullguard sees a key that matches and says allow (the answer is a probe against the registry, see the probe issue)',
  },
  {
    name: 'a key for another port of the same host',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [regB.host]: login(alice) })] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
  },
  {
    name: 'a path-scoped key that covers the repository',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [`${regA.host}/team`]: login(alice) })] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'a path-scoped key for another path',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [`${regA.host}/other`]: login(alice) })] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'failed',
  },
  {
    name: 'a glob key',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'regcred', { [`*.0.0.1:${regA.port}`]: login(alice) })] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'two secrets: the first matching one is wrong, the second right (the kubelet tries each)',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [pullSecret(ns, 'stale', { [regA.host]: login(alice, 'rotated-away') }), right(ns)] }),
    pod: ({ image }) => ({ imagePullSecrets: ['stale', 'regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'an image by digest',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image, digestOf }) => ({
      imagePullSecrets: ['regcred'],
      containers: [{ name: 'app', image: `${image('a:app').replace(/:[^:/]+$/, '')}@${digestOf('a:app')}` }],
    }),
    node: 'pulled',
  },
  {
    name: 'latest with IfNotPresent',
    images: ['a:app@latest'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app@latest'), imagePullPolicy: 'IfNotPresent' }] }),
    node: 'pulled',
  },
  {
    name: 'no secret listed, injected by the mutating webhook',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)], injection: true }),
    pod: ({ image }) => ({ containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'an init container from a registry no secret covers',
    images: ['a:app', 'b:init'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image }) => ({
      imagePullSecrets: ['regcred'],
      initContainers: [{ name: 'init', image: image('b:init') }],
      containers: [{ name: 'app', image: image('a:app') }],
    }),
    watch: [{ kind: 'initContainers', name: 'init' }],
    node: 'failed',
  },
  {
    name: 'an ephemeral container (kubectl debug) from a registry no secret covers',
    kind: 'ephemeral',
    images: ['a:app', 'b:debug'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    ephemeralImage: 'b:debug',
    watch: [{ kind: 'ephemeralContainers', name: 'debugger' }],
    node: 'failed',
  },
  {
    name: 'imagePullPolicy Never for a private image already on the node, no credentials',
    kind: 'second-pod',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    firstPod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    pod: ({ image }) => ({ containers: [{ name: 'app', image: image('a:app'), imagePullPolicy: 'Never' }] }),
    node: 'failed',
  },
  {
    name: 'IfNotPresent for a private image already on the node, no credentials (KubeletEnsureSecretPulledImages)',
    kind: 'second-pod',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    firstPod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('a:app') }] }),
    pod: ({ image }) => ({ containers: [{ name: 'app', image: image('a:app'), imagePullPolicy: 'IfNotPresent' }] }),
    node: 'failed',
  },
  {
    name: 'a Deployment whose pods get the secret injected',
    kind: 'deployment',
    images: ['a:app'],
    setup: ({ ns }) => ({ objects: [right(ns)], injection: true }),
    pod: ({ image }) => ({ containers: [{ name: 'app', image: image('a:app') }] }),
    node: 'pulled',
  },
  {
    name: 'a Deployment with an image no secret covers',
    kind: 'deployment',
    images: ['b:app'],
    setup: ({ ns }) => ({ objects: [right(ns)] }),
    pod: ({ image }) => ({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: image('b:app') }] }),
    node: 'failed',
  },
];

// ----------------------------------------------------------------------------------------------
// Namespaces, images and objects for every (row, mode)

interface Case {
  row: Row;
  rowIndex: number;
  mode: Mode;
  ctx: RowContext;
  setup: RowSetup;
}

const imageRefs = new Map<string, string>();
const digests = new Map<string, string>();
function imageKey(rowIndex: number, mode: Mode, key: string): string {
  return `${rowIndex}/${mode}/${key}`;
}
function imageReference(rowIndex: number, mode: Mode, key: string): string {
  const [registry, rest = ''] = key.split(':') as [string, string?];
  const [name, tag = '1'] = rest.split('@') as [string, string?];
  const host = registry === 'b' ? regB.host : regA.host;
  const path = registry === 'b' ? 'tools' : 'team';
  return `${host}/${path}/row${rowIndex}-${mode}-${name}:${tag}`;
}

/** PULLGUARD_E2E_ROWS=regex runs only the rows whose name matches (for debugging one row). */
const rowFilter = process.env['PULLGUARD_E2E_ROWS'] ? new RegExp(process.env['PULLGUARD_E2E_ROWS']) : undefined;
const cases: Case[] = [];
for (const mode of MODES) {
  rows.forEach((row, rowIndex) => {
    if (rowFilter !== undefined && !rowFilter.test(row.name)) return;
    const ns = uniqueName(`m${rowIndex}-${mode}`);
    const ctx: RowContext = {
      ns,
      mode,
      image: (key) => imageReference(rowIndex, mode, key),
      digestOf: (key) => {
        const digest = digests.get(imageKey(rowIndex, mode, key));
        if (digest === undefined) throw new Error(`no digest for ${key}`);
        return digest;
      },
    };
    cases.push({ row, rowIndex, mode, ctx, setup: row.setup(ctx) });
  });
}

// Push every row's images, a few at a time (crane is quick; the machine is not).
const pushJobs = cases.flatMap((c) => c.row.images.map((key) => ({ key: imageKey(c.rowIndex, c.mode, key), ref: imageReference(c.rowIndex, c.mode, key) })));
const pushStartedAt = Date.now();
await runLimited(pushJobs, 4, async ({ key, ref }) => {
  imageRefs.set(key, ref);
  digests.set(key, await images.push(ref, key));
});
const pushMs = Date.now() - pushStartedAt;

async function runLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const POLICY_YAML = `# agreement matrix: every registry needs a pull secret
mode: enforce
defaultAccess: secret
latestWithIfNotPresent: warn
# The node runs kubelet 1.36 with KubeletEnsureSecretPulledImages (on by default since 1.35): an image
# pulled with credentials is "not present" for a pod without them, even with imagePullPolicy Never.
neverPullCredentials: deny
namespaces:
  overrides:
    - matchLabels: { "${INJECTION_LABEL}": "off" }
      injection: { enabled: false }
`;

const objects: KubeObject[] = cases.flatMap((c) => [
  namespace(c.ctx.ns, { 'pullguard.io/mode': c.mode, ...(c.setup.injection === true ? {} : { [INJECTION_LABEL]: 'off' }) }),
  { ...serviceAccount(c.ctx.ns, 'default', c.setup.saSecrets ?? []), automountServiceAccountToken: false },
  ...c.setup.objects,
]);

env = await startEnvironment({ policyYaml: POLICY_YAML, objects });
const { controlPlane, kube } = env;
node = await startNode({ controlPlane, nodeDir, dir: join(dir, 'node'), ca, registries, pauseImage: images.pauseImage, pauseTarball });
dirCleanups.push(registerEmergencyCleanup(() => rmSync(dir, { recursive: true, force: true, maxRetries: 3 })));
const setupMs = Date.now() - suiteStartedAt;
t.comment(`start-up: ${formatTimings(env.timings)}; images pushed in ${pushMs} ms; everything up after ${setupMs} ms`);

// ----------------------------------------------------------------------------------------------
// Running the cases

interface Result {
  c: Case;
  verdict: Verdict;
  /** What kubectl printed: warnings in warn mode, the rejection in enforce mode. */
  admission: string;
  /** `rejected` when admission refused it (enforce); otherwise what the kubelet did. */
  outcome: NodeOutcome | 'rejected' | 'undecided';
  detail: string;
  /** The failing container's waiting state (reason and message), when the node failed it. */
  waiting?: { container: string; reason: string; message: string };
  events: KubeletEvent[];
}

const WOULD_DENY = '[warn] would deny';
const deniedBy = (webhook: string): string => `admission webhook "${webhook}" denied the request`;

async function createPod(ns: string, name: string, shape: PodShape) {
  return kubectlWith(controlPlane, ['create', '-f', '-'], { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: podSpec(shape) });
}

function verdictOf(mode: Mode, view: { exitCode: number; stderr: string; warnings: string[] }): Verdict {
  if (mode === 'enforce') return view.exitCode === 0 ? 'allow' : 'deny';
  return view.warnings.some((warning) => warning.startsWith(WOULD_DENY)) ? 'deny' : 'allow';
}

async function runCase(c: Case): Promise<Result> {
  const { row, mode, ctx } = c;
  const { ns } = ctx;
  const core = kube.core;
  const watch = row.watch ?? row.pod(ctx).containers.map((container) => ({ kind: 'containers' as const, name: container.name }));
  const finish = async (verdict: Verdict, admission: string, podName: string | undefined): Promise<Result> => {
    if (podName === undefined) return { c, verdict, admission, outcome: 'rejected', detail: 'rejected at admission', events: [] };
    const observed = await waitForOutcome(core, ns, podName, watch, OUTCOME_TIMEOUT_MS);
    const events = observed.outcome === 'failed' ? await waitForEvents(core, ns, podName, ['Failed'], EVENT_TIMEOUT_MS) : await podEvents(core, ns, podName);
    // The first kubelet failure says why (a 401, a decode error, ErrImageNeverPull's text).
    const why = observed.outcome === 'failed' ? events.find((event) => event.reason === 'Failed' || event.reason === 'ErrImageNeverPull') : undefined;
    return {
      c,
      verdict,
      admission,
      outcome: observed.outcome,
      detail: why === undefined ? observed.detail : `${observed.detail}: ${why.message}`,
      ...(observed.waiting === undefined ? {} : { waiting: observed.waiting }),
      events,
    };
  };

  if (row.kind === 'deployment') {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec(row.pod(ctx)) } },
    };
    const view = await kubectlWith(controlPlane, ['create', '-f', '-'], deployment);
    const verdict = verdictOf(mode, view);
    if (view.exitCode !== 0) return finish(verdict, view.stderr.trim(), undefined);
    // The ReplicaSet controller creates the pod through the webhook; find it by label.
    let podName: string | undefined;
    const deadline = Date.now() + OUTCOME_TIMEOUT_MS;
    while (podName === undefined && Date.now() < deadline) {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
      podName = pods.items[0]?.metadata?.name;
      if (podName === undefined) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    if (podName === undefined) return { c, verdict, admission: view.warnings.join('\n'), outcome: 'undecided', detail: 'the ReplicaSet created no pod', events: [] };
    return finish(verdict, view.warnings.join('\n'), podName);
  }

  if (row.kind === 'second-pod' && row.firstPod) {
    // The image reaches the node with credentials first.
    const first = await createPod(ns, 'first', row.firstPod(ctx));
    if (first.exitCode !== 0) throw new Error(`${row.name}: the first pod was not admitted: ${first.stderr}`);
    const seeded = await waitForOutcome(core, ns, 'first', [{ kind: 'containers', name: 'app' }], OUTCOME_TIMEOUT_MS);
    if (seeded.outcome !== 'pulled') throw new Error(`${row.name}: the first pod did not pull the image: ${seeded.detail}`);
  }

  if (row.kind === 'ephemeral' && row.ephemeralImage !== undefined) {
    const target = await createPod(ns, 'target', row.pod(ctx));
    if (target.exitCode !== 0) throw new Error(`${row.name}: the target pod was not admitted: ${target.stderr}`);
    const running = await waitForOutcome(core, ns, 'target', [{ kind: 'containers', name: 'app' }], OUTCOME_TIMEOUT_MS);
    if (running.outcome !== 'pulled') throw new Error(`${row.name}: the target pod does not run: ${running.detail}`);
    const view = await kubectlWith(controlPlane, ['debug', '-n', ns, 'pod/target', `--image=${ctx.image(row.ephemeralImage)}`, '--container=debugger', '--profile=general']);
    const verdict = verdictOf(mode, view);
    return finish(verdict, mode === 'enforce' && view.exitCode !== 0 ? view.stderr.trim() : view.warnings.join('\n'), view.exitCode === 0 ? 'target' : undefined);
  }

  const view = await createPod(ns, 'subject', row.pod(ctx));
  const verdict = verdictOf(mode, view);
  return finish(verdict, view.exitCode === 0 ? view.warnings.join('\n') : view.stderr.trim(), view.exitCode === 0 ? 'subject' : undefined);
}

const casesStartedAt = Date.now();
const results: Result[] = [];
await runLimited(cases, 8, async (c) => {
  try {
    results.push(await runCase(c));
  } catch (error) {
    results.push({ c, verdict: 'allow', admission: '', outcome: 'undecided', detail: `harness error: ${(error as Error).message}`, events: [] });
  }
});
results.sort((a, b) => MODES.indexOf(a.c.mode) - MODES.indexOf(b.c.mode) || a.c.rowIndex - b.c.rowIndex);
const casesMs = Date.now() - casesStartedAt;

// ----------------------------------------------------------------------------------------------
// Judging and reporting

/**
 * Does pullguard's verdict match what happened? warn: `allow` exactly when the node pulled. enforce:
 * `deny` exactly when admission rejected it, and what was admitted pulled. A blind-spot row
 * disagrees by design (`allow`, then a failed pull).
 */
function agrees(result: Result): boolean {
  if (result.c.mode === 'warn') return (result.verdict === 'allow') === (result.outcome === 'pulled');
  return result.verdict === 'deny' ? result.outcome === 'rejected' : result.outcome === 'pulled';
}
const isBlindSpotAsDocumented = (r: Result): boolean => r.c.row.blindSpot !== undefined && r.verdict === 'allow' && r.outcome === 'failed';

const matrix = results.map((r) => {
  const label = agrees(r) ? 'yes' : isBlindSpotAsDocumented(r) ? 'no (blind spot)' : 'NO';
  return `| ${r.c.mode.padEnd(7)} | ${r.c.row.name} | ${r.verdict} | ${r.outcome} (${r.detail}) | ${label} |`;
});
const agreeing = results.filter(agrees).length;
const blindSpots = results.filter(isBlindSpotAsDocumented).length;
t.comment(
  [
    'agreement matrix (mode | row | pullguard | node | agree?)',
    ...matrix,
    `${agreeing}/${results.length} row runs agree; ${blindSpots} documented blind spot runs; cases ran in ${casesMs} ms`,
  ].join('\n'),
);

/** Run-specific parts of recorded texts made stable: registry ports (free ports differ per run), namespaces. */
function stableText(text: string, c: Case): string {
  const placeholders = new Map([
    [String(regA.port), '5001'],
    [String(regB.port), '5002'],
  ]);
  return text.replace(/(127\.0\.0\.1|\*\.0\.0\.1):(\d+)\b/g, (whole, host: string, port: string) => `${host}:${placeholders.get(port) ?? port}`).split(c.ctx.ns).join(`matrix-row-${c.rowIndex}`);
}

// The kubelet's own texts for every failure row, for `explain` (issue "Explain any ImagePullBackOff").
if (recordEvents) {
  mkdirSync(fixturesDir, { recursive: true });
  const versions = readNodeVersions();
  for (const r of results) {
    if (r.c.mode !== 'warn' || r.outcome !== 'failed') continue;
    const slug = r.c.row.name.toLowerCase().replace(/\([^)]*\)/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    const fixture = {
      row: r.c.row.name,
      recordedWith: { kubelet: `v${versions.kubernetes}`, containerd: `${versions.containerd} (Debian)`, registry: `docker-registry ${versions.registry} (Debian)` },
      note: 'Recorded by test/e2e/agreement-matrix.e2e.ts with PULLGUARD_E2E_RECORD_EVENTS=1 from a real kubelet and containerd. Registry ports (127.0.0.1:5001 is registry A, 127.0.0.1:5002 registry B) and the namespace are placeholders; everything else is verbatim.',
      pullguardVerdict: r.verdict,
      pullguardWarnings: r.admission === '' ? [] : r.admission.split('\n'),
      pod: r.c.row.pod(r.c.ctx),
      waiting: r.waiting,
      events: r.events,
    };
    writeFileSync(join(fixturesDir, `${slug}.json`), `${stableText(JSON.stringify(fixture, null, 2), r.c)}\n`);
  }
}

for (const r of results) {
  const { row, mode } = r.c;
  t.test(`${mode}: ${row.name}`, async (t) => {
    t.not(r.outcome, 'undecided', `the node decided within ${OUTCOME_TIMEOUT_MS} ms (${r.detail})`);
    if (mode === 'warn') {
      t.not(r.outcome, 'rejected', 'warn mode admits every pod');
      t.equal(r.outcome, row.node, `the node did what the row is built for: ${r.detail}`);
      if (row.blindSpot !== undefined) {
        t.equal(r.verdict, 'allow', `blind spot, documented: ${row.blindSpot}`);
      } else {
        t.equal(r.verdict, row.node === 'pulled' ? 'allow' : 'deny', `pullguard's verdict agrees with the node (warnings: ${r.admission || 'none'})`);
      }
      if (r.outcome === 'failed') {
        t.ok(
          r.events.some((event) => event.reason === 'Failed' && event.component === 'kubelet'),
          `the kubelet recorded why: ${JSON.stringify(r.events.map((e) => `${e.reason}: ${e.message}`))}`,
        );
      }
    } else if (row.node === 'pulled' || row.blindSpot !== undefined) {
      t.equal(r.verdict, 'allow', `admitted: ${r.admission}`);
      t.equal(r.outcome, row.node, `and the node ${row.node === 'pulled' ? 'really pulled it' : 'fails to pull it (blind spot)'}: ${r.detail}`);
    } else {
      t.equal(r.verdict, 'deny', 'denied at admission');
      t.equal(r.outcome, 'rejected', 'nothing reached the node');
      const webhook = row.kind === 'deployment' ? WEBHOOK_NAMES.validateWorkloads : WEBHOOK_NAMES.validatePods;
      t.match(r.admission, deniedBy(webhook), `with pullguard's message: ${r.admission}`);
    }
  });
}

t.test('the matrix: every row agrees except the documented blind spots', async (t) => {
  const disagreeing = results.filter((r) => !agrees(r) && !isBlindSpotAsDocumented(r)).map((r) => `${r.c.mode}: ${r.c.row.name}`);
  t.same(disagreeing, [], 'no other row disagrees');
  t.equal(blindSpots, rowFilter === undefined ? MODES.length : blindSpots, 'the wrong-password row shows the blind spot for real, in both modes');
  t.equal(results.length, cases.length, 'every case ran');
});

t.test('the node really ran what pullguard admitted and injected', async (t) => {
  const injected = results.filter((r) => r.c.mode === 'enforce' && r.c.setup.injection === true);
  t.ok(rowFilter !== undefined || injected.length > 0, 'enforce mode has injection rows');
  for (const r of injected) t.equal(r.outcome, 'pulled', `${r.c.row.name}: the injected pod pulled`);
  const nodeImages = await node!.images();
  const pulled = results.filter((r) => r.outcome === 'pulled');
  for (const r of pulled) {
    const expected = r.c.row.images.map((key) => imageReference(r.c.rowIndex, r.c.mode, key));
    t.ok(
      expected.some((ref) => nodeImages.includes(ref) || nodeImages.some((held) => held.startsWith(ref.replace(/:[^:/]+$/, '@')))),
      `${r.c.mode}: ${r.c.row.name}: the node holds its image`,
    );
  }
});

t.test('the harness leaves no process, mount, cgroup or temp dir behind', async (t) => {
  const nodeRef = node!;
  // What the kubelet says about this runtime and these cgroups, for the CI log.
  const notable = readFileSync(nodeRef.kubeletLog, 'utf8')
    .split('\n')
    .filter((line) => /RuntimeConfig|cgroup v1|CgroupV1|oom_score_adj|OOMScoreAdj/i.test(line))
    .slice(0, 5);
  t.comment(`kubelet notes:\n${notable.map((line) => line.slice(0, 300)).join('\n')}`);
  const envRef = env!;
  const registryPids = registries.map((registry) => registry.pid()).filter((pid): pid is number => pid !== undefined);
  await teardown();
  t.same(nodeRef.leftovers(), [], 'node: containerd, kubelet, kube-controller-manager, shims, containers, mounts, cgroups');
  t.same(envRef.leftovers(), [], 'control plane and webhook');
  const { pidExists } = await import('./harness/processes.ts');
  t.same(registryPids.filter(pidExists), [], 'registries');
  const { existsSync } = await import('node:fs');
  t.notOk(existsSync(dir), `temp dir ${dir} removed`);
  t.comment(`suite took ${Date.now() - suiteStartedAt} ms`);
});
