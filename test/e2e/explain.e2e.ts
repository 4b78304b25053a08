// `pullguard explain` against the real kube-apiserver (issue 15): one namespace with the planted
// failures of the seeds (missing secret, typo, Opaque, malformed, expired ECR token, shadowed
// ServiceAccount secrets, a key for the wrong registry, a rate limit, a missing tag, a revoked
// credential), each pod with its status and its events created by the test exactly as the
// kubelet writes them (v1 API, reason Failed/BackOff, source kubelet, involvedObject with uid and
// fieldPath, message texts from real kubelets and containerd). There is no kubelet here (the real
// node of issue 12 records its own texts); pods are only stored. Explain reads through a
// kubeconfig, as a user runs it, plus namespaces of noise it must not read.
//   npx tap test/e2e/explain.e2e.ts
import { Readable } from 'node:stream';
import t from 'tap';
import { runExplain } from '../../src/cli/explain.ts';
import type { ExplainOutput } from '../../src/explain/types.ts';
import { startControlPlane } from './harness/control-plane.ts';
import {
  ECR_REGISTRY,
  PRIVATE_REGISTRY,
  UNCOVERED_REGISTRY,
  deployment,
  ecrSecret,
  list,
  malformedSecret,
  namespace,
  opaqueSecret,
  registrySecret,
  serviceAccount,
  uniqueName,
  type KubeObject,
} from './fixtures/objects.ts';

t.setTimeout(8 * 60_000);
const controlPlane = await startControlPlane();
t.teardown(() => controlPlane.stop());

const ns = uniqueName('explain');
/** Namespaces explain must never read: their secrets would change nothing, their count nothing. */
const NOISE_NAMESPACES = 200;

const IMAGE = `${PRIVATE_REGISTRY}/team/app:1.0`;

function failedToPull(image: string, error: string): string {
  return `Failed to pull image "${image}": ${error}`;
}
const unauthorized = (image: string): string =>
  failedToPull(image, `failed to pull and unpack image "${image}": failed to resolve reference "${image}": pulling from host ${image.split('/')[0]} failed with status code [manifests 1.0]: 401 Unauthorized`);

interface Planted {
  readonly name: string;
  readonly pod: KubeObject;
  /** Message of the kubelet's Failed event, or undefined when the kubelet has said nothing yet. */
  readonly failed?: string;
  /** The container's waiting state when it is not ImagePullBackOff. */
  readonly waiting?: { reason: string; message: string };
  readonly expect: { code: string; agreement: string; summary: RegExp };
}

function podOf(name: string, image: string, imagePullSecrets: readonly string[] | undefined, serviceAccountName?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { scenario: name } },
    spec: {
      ...(serviceAccountName !== undefined ? { serviceAccountName } : {}),
      ...(imagePullSecrets !== undefined ? { imagePullSecrets: imagePullSecrets.map((secret) => ({ name: secret })) } : {}),
      containers: [{ name: 'app', image }],
    },
  };
}

const planted: Planted[] = [
  {
    name: 'missing-secret',
    pod: podOf('missing-secret', IMAGE, ['team-registry']),
    failed: unauthorized(IMAGE),
    expect: { code: 'PullSecretNotFound', agreement: 'agree', summary: /secret team-registry does not exist/ },
  },
  {
    name: 'typo',
    pod: podOf('typo', IMAGE, ['regcrd']),
    failed: unauthorized(IMAGE),
    expect: { code: 'PullSecretNotFound', agreement: 'agree', summary: /did you mean regcred\?/ },
  },
  {
    name: 'opaque',
    pod: podOf('opaque', IMAGE, ['opaque-cred']),
    failed: unauthorized(IMAGE),
    expect: { code: 'PullSecretWrongType', agreement: 'agree', summary: /opaque-cred is of type Opaque/ },
  },
  {
    name: 'malformed',
    pod: podOf('malformed', IMAGE, ['broken-cred']),
    // What the real node reports (test/fixtures/kubelet-events of issue 12): the decoding error as the reason, no event.
    waiting: { reason: 'illegal base64 data at input byte 3', message: 'illegal base64 data at input byte 3' },
    expect: { code: 'PullSecretMalformed', agreement: 'agree', summary: /broken-cred is malformed/ },
  },
  {
    name: 'expired-ecr',
    pod: podOf('expired-ecr', `${ECR_REGISTRY}/team/app:1.0`, ['ecr-cred']),
    failed: failedToPull(
      `${ECR_REGISTRY}/team/app:1.0`,
      `rpc error: code = Unknown desc = failed to pull and unpack image "${ECR_REGISTRY}/team/app:1.0": failed to resolve reference "${ECR_REGISTRY}/team/app:1.0": pulling from host ${ECR_REGISTRY} failed with status code [manifests 1.0]: 403 Forbidden`,
    ),
    expect: { code: 'CredentialExpired', agreement: 'agree', summary: /expired 13h ago/ },
  },
  {
    name: 'shadowed',
    pod: podOf('shadowed', `${UNCOVERED_REGISTRY}/team/app:1.0`, ['regcred'], 'builder'),
    failed: unauthorized(`${UNCOVERED_REGISTRY}/team/app:1.0`),
    expect: { code: 'ServiceAccountSecretsIgnored', agreement: 'agree', summary: /ServiceAccount builder's secret builder-cred/ },
  },
  {
    name: 'wrong-key',
    pod: podOf('wrong-key', `registry.other.test/team/app:1.0`, ['port-cred']),
    failed: unauthorized('registry.other.test/team/app:1.0'),
    expect: { code: 'NoMatchingCredential', agreement: 'agree', summary: /no pull secret of the pod has a key for registry.other.test/ },
  },
  {
    name: 'rate-limited',
    pod: podOf('rate-limited', 'busybox:1.36', undefined),
    failed: failedToPull(
      'busybox:1.36',
      'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/busybox:1.36": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/busybox/manifests/sha256:50aa4698fa6262977cff89181b2664b99d8a56dbca847bf62f2ef04854597cf8: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
    ),
    expect: { code: 'rate-limited', agreement: 'disagree', summary: /rate-limits/ },
  },
  {
    name: 'not-found',
    pod: podOf('not-found', `${PRIVATE_REGISTRY}/team/app:9.9`, ['regcred']),
    failed: failedToPull(
      `${PRIVATE_REGISTRY}/team/app:9.9`,
      `rpc error: code = NotFound desc = failed to pull and unpack image "${PRIVATE_REGISTRY}/team/app:9.9": failed to resolve reference "${PRIVATE_REGISTRY}/team/app:9.9": ${PRIVATE_REGISTRY}/team/app:9.9: not found`,
    ),
    expect: { code: 'not-found', agreement: 'disagree', summary: /no such repository, tag or digest/ },
  },
  {
    name: 'revoked',
    pod: podOf('revoked', IMAGE, ['regcred']),
    failed: unauthorized(IMAGE),
    expect: { code: 'credential-rejected', agreement: 'disagree', summary: /but the registry refused it/ },
  },
];

const now = Date.now();
const state: KubeObject[] = [
  namespace(ns),
  serviceAccount(ns),
  serviceAccount(ns, 'builder', ['builder-cred']),
  registrySecret(ns, 'regcred', PRIVATE_REGISTRY),
  registrySecret(ns, 'builder-cred', UNCOVERED_REGISTRY),
  registrySecret(ns, 'port-cred', 'registry.other.test:5000'),
  opaqueSecret(ns, 'opaque-cred', PRIVATE_REGISTRY),
  malformedSecret(ns, 'broken-cred', PRIVATE_REGISTRY),
  ecrSecret(ns, 'ecr-cred', now - 13 * 3600_000),
  deployment(ns, 'web', { containers: [{ image: IMAGE }], imagePullSecrets: ['regcrd'] }),
];

async function apply(objects: readonly unknown[]): Promise<void> {
  await controlPlane.kubectl(['create', '-f', '-'], { input: JSON.stringify(list(objects as KubeObject[])) });
}

/** The container status and events the kubelet would have written for a failed pull. */
async function kubeletWrites(pod: KubeObject, failed: string | undefined, waiting?: { reason: string; message: string }): Promise<void> {
  const name = pod.metadata.name;
  const { stdout } = await controlPlane.kubectl(['get', 'pod', name, '-n', ns, '-o', 'json']);
  const stored = JSON.parse(stdout) as { metadata: { uid: string }; spec: { containers: Array<{ image: string }> } };
  const image = stored.spec.containers[0]?.image ?? '';
  const status = {
    status: {
      phase: 'Pending',
      containerStatuses: [{ name: 'app', image, imageID: '', ready: false, restartCount: 0, state: { waiting: waiting ?? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } } }],
    },
  };
  await controlPlane.kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  if (failed === undefined) return;
  const at = (secondsAgo: number): string => new Date(now - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const event = (suffix: string, reason: string, type: string, message: string, count: number, secondsAgo: number) => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${suffix}`, namespace: ns },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace: ns, uid: stored.metadata.uid, fieldPath: 'spec.containers{app}' },
    reason,
    message,
    type,
    count,
    firstTimestamp: at(600),
    lastTimestamp: at(secondsAgo),
    source: { component: 'kubelet', host: 'node-1' },
    reportingComponent: 'kubelet',
    reportingInstance: 'node-1',
  });
  await apply([
    event('pulling', 'Pulling', 'Normal', `Pulling image "${image}"`, 4, 200),
    event('failed', 'Failed', 'Warning', failed, 4, 199),
    event('errimagepull', 'Failed', 'Warning', 'Error: ErrImagePull', 4, 199),
    event('backoff', 'BackOff', 'Normal', `Back-off pulling image "${image}"`, 30, 20),
  ]);
}

const setupStarted = Date.now();
await apply(state);
await apply(planted.map((entry) => entry.pod));
// The Deployment's newest pod (no controller-manager here: the test creates it with the template's labels).
await apply([{ ...podOf('web-5d8f7c9b4-abcde', IMAGE, ['regcrd']), metadata: { name: 'web-5d8f7c9b4-abcde', namespace: ns, labels: { app: 'web' } } }]);
await Promise.all(planted.map((entry) => kubeletWrites(entry.pod, entry.failed, entry.waiting)));
const noise: KubeObject[] = [];
for (let i = 0; i < NOISE_NAMESPACES; i++) {
  const name = `${ns}-noise-${i}`;
  noise.push(namespace(name), registrySecret(name, 'regcred', PRIVATE_REGISTRY));
}
await apply(noise);
t.comment(`set-up: ${Date.now() - setupStarted} ms (${NOISE_NAMESPACES} extra namespaces)`);

async function explain(args: readonly string[]): Promise<{ code: number; output: ExplainOutput; stderr: string; ms: number }> {
  let stdout = '';
  let stderr = '';
  const started = performance.now();
  const code = await runExplain([...args, '-n', ns, '--kubeconfig', controlPlane.kubeconfigPath, '-o', 'json'], {
    stdin: Readable.from([]),
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  });
  const ms = performance.now() - started;
  return { code, output: JSON.parse(stdout) as ExplainOutput, stderr, ms };
}

const timings: number[] = [];
for (const entry of planted) {
  t.test(`explain pod ${entry.name}: ${entry.expect.code}`, async (t) => {
    const result = await explain(['pod', entry.name]);
    timings.push(result.ms);
    t.equal(result.code, 1, 'exit 1: a problem is named');
    const container = result.output.explanations[0]?.containers[0];
    t.equal(container?.diagnosis.code, entry.expect.code);
    t.equal(container?.diagnosis.agreement, entry.expect.agreement);
    t.match(container?.diagnosis.summary, entry.expect.summary);
    if (entry.failed !== undefined) {
      t.same(
        container?.kubelet.events.map((event) => event.reason),
        ['BackOff', 'Failed', 'Failed', 'Pulling'],
        'the kubelet-style events, newest first',
      );
      t.equal(container?.kubelet.events[0]?.count, 30);
    }
    t.notMatch(JSON.stringify(result.output), /not-a-real-password|cm9ib3Q6/, 'no credential in the output');
  });
}

t.test('explain deployment/web: the template and its newest pod', async (t) => {
  const result = await explain(['deployment/web']);
  t.same(
    result.output.explanations.map((explanation) => [explanation.object.kind, explanation.object.name, explanation.template]),
    [
      ['Deployment', 'web', true],
      ['Pod', 'web-5d8f7c9b4-abcde', false],
    ],
  );
  for (const explanation of result.output.explanations) t.match(explanation.containers[0]?.diagnosis.summary, /did you mean regcred\?/);
  t.match(result.stderr, /no policy ConfigMap pullguard\/pullguard-policy, and none labelled app\.kubernetes\.io\/part-of=pullguard,app\.kubernetes\.io\/component=webhook: using the built-in policy/);
});

t.test('explain --probe against the cluster takes the credential from the live secret (the .test registry does not resolve: network)', async (t) => {
  const result = await explain(['pod', 'revoked', '--probe', '--probe-timeout', '3000']);
  const container = result.output.explanations[0]?.containers[0];
  t.equal(container?.probe?.withCredential, true, 'the secret regcred was read for its credential');
  t.equal(container?.probe?.verdict, 'network');
  t.equal(container?.probe?.timeoutMs, 3000);
  t.match(container?.diagnosis.notes.join('\n'), /probe \(with regcred\): network/);
  t.notMatch(JSON.stringify(result.output), /not-a-real-password|cm9ib3Q6/, 'no credential in the output');
});

t.test('a pod that does not exist is a usage error naming it', async (t) => {
  let stderr = '';
  await t.rejects(
    runExplain(['pod', 'nope', '-n', ns, '--kubeconfig', controlPlane.kubeconfigPath], {
      stdin: Readable.from([]),
      stdout: { write: () => true, isTTY: false },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
    }),
    { name: 'UsageError', message: new RegExp(`Pod ${ns}/nope not found`) },
  );
  t.equal(stderr, '');
});

t.test('explain as a user runs it: the built CLI in a fresh process, text output', async (t) => {
  // dist/ is what the package's bin runs (npm ci builds it); GNU time reports the CPU the process used,
  // which on a loaded machine says more than the wall clock.
  const { execFile } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const cli = ['dist/cli/main.js', 'explain', 'pod', 'typo', '-n', ns, '--kubeconfig', controlPlane.kubeconfigPath];
  const timed = existsSync('/usr/bin/time');
  const [command, args] = timed ? ['/usr/bin/time', ['-f', 'cpu %U+%S s', process.execPath, ...cli]] : [process.execPath, cli];
  const started = performance.now();
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? -1), stdout, stderr }),
    );
  });
  const cpu = /cpu ([\d.]+)\+([\d.]+) s/.exec(result.stderr);
  const cpuText = cpu === null ? '' : `, CPU ${(Number(cpu[1]) + Number(cpu[2])).toFixed(2)} s`;
  t.comment(`explain pod in a fresh process (node start, module load, kubeconfig, reads, output): wall ${(performance.now() - started).toFixed(0)} ms${cpuText}`);
  t.equal(result.code, 1);
  t.match(result.stdout, /did you mean regcred\?/);
});

t.test('timings', async (t) => {
  const sorted = [...timings].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  t.comment(`explain pod, end to end in-process (kubeconfig, ~8 GETs, decision): median ${median.toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms over ${sorted.length} pods`);
  t.ok(sorted.length > 0);
});
