// End-to-end scenarios of issue 5: the real kube-apiserver calls `pullguard serve` (cluster mode:
// informers and the policy ConfigMap) over TLS with our caBundle; what users see is checked through
// kubectl (exit status, error text, `Warning:` lines), what was stored through client-node.
// One fresh namespace per scenario, all created before the webhook starts.
//   bash test/e2e/build-control-plane.sh   # once per machine (cold: see its timings)
//   npx tap test/e2e/scenarios.e2e.ts
import t from 'tap';
import { WEBHOOK_NAMES, IGNORE_LABEL, registerWebhooks } from './harness/webhook.ts';
import { formatTimings, startEnvironment } from './fixtures/environment.ts';
import { kubectlWith, pollUntil, type UserView } from './fixtures/kube.ts';
import {
  ECR_REGISTRY,
  PRIVATE_REGISTRY,
  UNCOVERED_REGISTRY,
  deployment,
  ecrSecret,
  malformedSecret,
  namespace,
  opaqueSecret,
  pod,
  registrySecret,
  serviceAccount,
  uniqueName,
  type KubeObject,
} from './fixtures/objects.ts';

/** Control plane (~5-30 s), webhook, ~25 kubectl calls, one webhook restart: far below this. */
t.setTimeout(6 * 60_000);
const suiteStartedAt = Date.now();

const INJECTION_OFF_LABEL = 'e2e.pullguard.io/injection';
const HOUR_MS = 60 * 60_000;

const ns = {
  inject: uniqueName('inject'),
  uncovered: uniqueName('uncovered'),
  saCopies: uniqueName('sa-copies'),
  saIgnoredInjected: uniqueName('sa-ignored-inject'),
  saIgnoredDenied: uniqueName('sa-ignored-deny'),
  brokenSecrets: uniqueName('broken-secrets'),
  ecr: uniqueName('ecr'),
  latest: uniqueName('latest'),
  deploy: uniqueName('deploy'),
  debug: uniqueName('debug'),
  dryRunNs: uniqueName('dry-run-ns'),
  serverDryRun: uniqueName('server-dry-run'),
  ignoredByLabel: uniqueName('ignored-label'),
  excludedByPolicy: uniqueName('excluded-policy'),
  failure: uniqueName('failure'),
};

const POLICY_YAML = `# e2e policy: private registries need a pull secret unless listed otherwise
mode: enforce
defaultAccess: secret
registries:
  - hosts: ["*.dkr.ecr.*.amazonaws.com"]
    access: secret
latestWithIfNotPresent: warn
expiredCredentials: deny
namespaces:
  exclude: [kube-system, ${ns.excludedByPolicy}]
  overrides:
    - matchLabels: { "${INJECTION_OFF_LABEL}": "off" }
      injection: { enabled: false }
`;

/** A namespace with its `default` ServiceAccount (no controller-manager creates it) and more objects. */
function scenario(name: string, options: { labels?: Record<string, string>; saSecrets?: string[]; objects?: KubeObject[] } = {}): KubeObject[] {
  return [namespace(name, options.labels), serviceAccount(name, 'default', options.saSecrets), ...(options.objects ?? [])];
}

const objects: KubeObject[] = [
  ...scenario(ns.inject, { objects: [registrySecret(ns.inject, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.uncovered, { objects: [registrySecret(ns.uncovered, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.saCopies, { saSecrets: ['regcred'], objects: [registrySecret(ns.saCopies, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.saIgnoredInjected, {
    saSecrets: ['regcred'],
    objects: [registrySecret(ns.saIgnoredInjected, 'regcred', PRIVATE_REGISTRY), registrySecret(ns.saIgnoredInjected, 'other-registry', UNCOVERED_REGISTRY)],
  }),
  ...scenario(ns.saIgnoredDenied, {
    labels: { [INJECTION_OFF_LABEL]: 'off' },
    saSecrets: ['regcred'],
    objects: [registrySecret(ns.saIgnoredDenied, 'regcred', PRIVATE_REGISTRY), registrySecret(ns.saIgnoredDenied, 'other-registry', UNCOVERED_REGISTRY)],
  }),
  ...scenario(ns.brokenSecrets, {
    objects: [opaqueSecret(ns.brokenSecrets, 'opaque-cred', PRIVATE_REGISTRY), malformedSecret(ns.brokenSecrets, 'malformed-cred', PRIVATE_REGISTRY)],
  }),
  // Injection off: otherwise the fresh secret would be injected next to the expired one.
  ...scenario(ns.ecr, {
    labels: { [INJECTION_OFF_LABEL]: 'off' },
    objects: [ecrSecret(ns.ecr, 'ecr-expired', Date.now() - HOUR_MS), ecrSecret(ns.ecr, 'ecr-fresh', Date.now() + 11 * HOUR_MS)],
  }),
  ...scenario(ns.latest),
  ...scenario(ns.deploy, { objects: [registrySecret(ns.deploy, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.debug, { objects: [registrySecret(ns.debug, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.dryRunNs, { labels: { 'pullguard.io/mode': 'dry-run' }, objects: [registrySecret(ns.dryRunNs, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.serverDryRun, { objects: [registrySecret(ns.serverDryRun, 'regcred', PRIVATE_REGISTRY)] }),
  ...scenario(ns.ignoredByLabel, { labels: { [IGNORE_LABEL]: 'true' } }),
  ...scenario(ns.excludedByPolicy),
  ...scenario(ns.failure),
  // kube-system exists (the API server creates it); its `default` ServiceAccount does not.
  serviceAccount('kube-system'),
];

const env = await startEnvironment({ policyYaml: POLICY_YAML, objects });
t.teardown(() => env.stop());
t.comment(`start-up: ${formatTimings(env.timings)}`);
const { controlPlane, webhook, kube } = env;

const privateImage = `${PRIVATE_REGISTRY}/team/app:1.0`;
const uncoveredImage = `${UNCOVERED_REGISTRY}/team/app:1.0`;

/** `kubectl create -o json`: stdout is the stored object (with any patch), stderr the warnings or the error. */
function create(object: KubeObject): Promise<UserView> {
  return kubectlWith(controlPlane, ['create', '-f', '-', '-o', 'json'], object);
}

async function storedPullSecrets(namespaceName: string, name: string): Promise<string[] | undefined> {
  const stored = await kube.read('v1', 'Pod', namespaceName, name);
  if (stored === undefined) return undefined;
  const spec = stored['spec'] as { imagePullSecrets?: Array<{ name: string }> };
  return (spec.imagePullSecrets ?? []).map((ref) => ref.name);
}

/** The decision lines pullguard logged for one object (`admission decision`, one per webhook call). */
function decisionsFor(namespaceName: string, name: string): Array<Record<string, unknown>> {
  return webhook.logLines().filter((line) => line['msg'] === 'admission decision' && line['namespace'] === namespaceName && line['name'] === name);
}

/** The admission webhook denial as kubectl prints it, for one webhook. */
function deniedBy(webhookName: string): string {
  return `admission webhook "${webhookName}" denied the request: `;
}

t.test('a pod pulling from a registry a namespace secret covers gets the secret injected, and kubectl prints why', async (t) => {
  const view = await create(pod(ns.inject, 'needs-secret', { containers: [{ image: privateImage }] }));
  t.equal(view.exitCode, 0, `kubectl create succeeds: ${view.stderr}`);
  t.same(view.warnings, [`app: injected imagePullSecrets regcred for ${PRIVATE_REGISTRY}`], 'exactly the injection warning');
  t.same(await storedPullSecrets(ns.inject, 'needs-secret'), ['regcred'], 'the stored pod lists the injected secret');
  const actions = decisionsFor(ns.inject, 'needs-secret').map((line) => `${String(line['webhook'])}:${String(line['action'])}`);
  t.same(actions, ['mutate:patch', 'validate:allow'], 'mutate patched it, validate then allowed the patched pod');
});

t.test('a pod pulling from a registry nothing covers is rejected, naming container, registry and the secrets looked at', async (t) => {
  const view = await create(pod(ns.uncovered, 'uncovered', { imagePullSecrets: ['regcred'], containers: [{ name: 'web', image: uncoveredImage }] }));
  t.not(view.exitCode, 0, 'kubectl create fails');
  t.match(view.stderr, deniedBy(WEBHOOK_NAMES.validatePods), 'the validating webhook denied it');
  t.match(view.stderr, 'pullguard denied Pod uncovered: 1 image pull problem: spec.containers[0].image: web: ');
  t.match(view.stderr, `no pull secret has a key for ${UNCOVERED_REGISTRY} (looked at regcred)`, 'the registry and the secrets looked at');
  t.match(view.stderr, '[NoMatchingCredential]', 'the finding code');
  t.equal(await storedPullSecrets(ns.uncovered, 'uncovered'), undefined, 'nothing was stored');
});

t.test("a pod whose ServiceAccount carries the right secret is allowed without a patch", async (t) => {
  const view = await create(pod(ns.saCopies, 'from-sa', { containers: [{ image: privateImage }] }));
  t.equal(view.exitCode, 0, `kubectl create succeeds: ${view.stderr}`);
  t.same(view.warnings, [], 'no warning');
  t.same(await storedPullSecrets(ns.saCopies, 'from-sa'), ['regcred'], 'the ServiceAccount plugin copied the SA secret');
  const actions = decisionsFor(ns.saCopies, 'from-sa').map((line) => `${String(line['webhook'])}:${String(line['action'])}`);
  t.same(actions, ['mutate:allow', 'validate:allow'], 'no patch from the mutating webhook');
});

t.test("a pod listing its own wrong secret while the ServiceAccount has the right one", async (t) => {
  await t.test('is denied with ServiceAccountSecretsIgnored where injection is off', async (t) => {
    const view = await create(pod(ns.saIgnoredDenied, 'own-secret', { imagePullSecrets: ['other-registry'], containers: [{ image: privateImage }] }));
    t.not(view.exitCode, 0, 'kubectl create fails');
    t.match(view.stderr, deniedBy(WEBHOOK_NAMES.validatePods), 'the validating webhook denied it');
    t.match(view.stderr, `app: pod lists its own pull secrets, so SA secret regcred (covers ${PRIVATE_REGISTRY}) is ignored; list it too [ServiceAccountSecretsIgnored]`, 'the finding names the ignored SA secret');
    t.equal(await storedPullSecrets(ns.saIgnoredDenied, 'own-secret'), undefined, 'nothing was stored');
  });
  await t.test('gets the SA secret injected where injection is on', async (t) => {
    const view = await create(pod(ns.saIgnoredInjected, 'own-secret', { imagePullSecrets: ['other-registry'], containers: [{ image: privateImage }] }));
    t.equal(view.exitCode, 0, `kubectl create succeeds: ${view.stderr}`);
    // The mutating answer explains the injection: why it was needed, then what was added.
    t.same(
      view.warnings,
      [
        `app: pod lists its own pull secrets, so SA secret regcred (covers ${PRIVATE_REGISTRY}) is ignored; list it too`,
        `app: injected imagePullSecrets regcred for ${PRIVATE_REGISTRY}`,
      ],
      'kubectl shows why and what was injected',
    );
    t.same(await storedPullSecrets(ns.saIgnoredInjected, 'own-secret'), ['other-registry', 'regcred'], 'appended after the pod\'s own secret');
    const mutate = decisionsFor(ns.saIgnoredInjected, 'own-secret').find((line) => line['webhook'] === 'mutate');
    t.match(mutate?.['codes'], ['InjectedPullSecret', 'ServiceAccountSecretsIgnored'], 'the mutating decision recorded the ignored SA secrets');
  });
});

t.test('a listed secret that is missing, Opaque or malformed is named with its finding', async (t) => {
  const cases = [
    {
      name: 'names a missing secret PullSecretNotFound',
      pod: 'missing-secret',
      secret: 'does-not-exist',
      problems: [
        `spec.containers[0].image: app: secret does-not-exist not found in namespace ${ns.brokenSecrets} (or not of a pull-secret type); create it or fix the name [PullSecretNotFound]`,
      ],
    },
    {
      // The informers watch only the two pull-secret types (other secrets never leave the API
      // server), so an Opaque secret looks missing; the hint in the message says so.
      name: 'names an Opaque secret PullSecretNotFound, with the not-a-pull-secret-type hint',
      pod: 'opaque-secret',
      secret: 'opaque-cred',
      problems: [
        `spec.containers[0].image: app: secret opaque-cred not found in namespace ${ns.brokenSecrets} (or not of a pull-secret type); create it or fix the name [PullSecretNotFound]`,
      ],
    },
    {
      name: 'names a secret whose payload the kubelet cannot decode PullSecretMalformed, with its whole name',
      pod: 'malformed-secret',
      secret: 'malformed-cred',
      problems: [
        `spec.imagePullSecrets[0]: app: secret malformed-cred is malformed (entry "${PRIVATE_REGISTRY}": auth is not valid base64); the kubelet fails every pull [PullSecretMalformed]`,
      ],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const view = await create(pod(ns.brokenSecrets, c.pod, { imagePullSecrets: [c.secret], containers: [{ image: privateImage }] }));
      t.not(view.exitCode, 0, 'kubectl create fails');
      const count = c.problems.length === 1 ? '1 image pull problem' : `${c.problems.length} image pull problems`;
      t.match(view.stderr, `${deniedBy(WEBHOOK_NAMES.validatePods)}pullguard denied Pod ${c.pod}: ${count}: `, 'denied by the validating webhook');
      for (const problem of c.problems) t.match(view.stderr, problem, `names the problem: ${problem.slice(0, 60)}…`);
    });
  }
});

t.test('an ECR credential whose token expired is CredentialExpired; a fresh one passes with a short-lived warning', async (t) => {
  const ecrImage = `${ECR_REGISTRY}/team/app:1.0`;
  const expired = await create(pod(ns.ecr, 'expired', { imagePullSecrets: ['ecr-expired'], containers: [{ image: ecrImage }] }));
  t.not(expired.exitCode, 0, 'kubectl create fails');
  t.match(expired.stderr, deniedBy(WEBHOOK_NAMES.validatePods), 'the validating webhook denied it');
  t.match(expired.stderr, `app: token for ${ECR_REGISTRY} in ecr-expired has expired; refresh the secret or use node credentials [CredentialExpired]`, 'CredentialExpired names registry and secret');

  const fresh = await create(pod(ns.ecr, 'fresh', { imagePullSecrets: ['ecr-fresh'], containers: [{ image: ecrImage }] }));
  t.equal(fresh.exitCode, 0, `kubectl create succeeds: ${fresh.stderr}`);
  t.match(fresh.warnings, [/^app: secret ecr-fresh holds a short-lived token \(expires in 1[01]h\)/], 'ShortLivedCredential warning');
});

t.test('latest with IfNotPresent makes kubectl print the warning', async (t) => {
  const cases = [
    { name: 'warns for latest with IfNotPresent', pod: 'latest-ifnotpresent', image: 'registry.k8s.io/pause:latest', policy: 'IfNotPresent' as const, warned: true },
    { name: 'warns for an untagged image with IfNotPresent', pod: 'untagged-ifnotpresent', image: 'registry.k8s.io/pause', policy: 'IfNotPresent' as const, warned: true },
    { name: 'does not warn for latest with Always', pod: 'latest-always', image: 'registry.k8s.io/pause:latest', policy: 'Always' as const, warned: false },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const view = await create(pod(ns.latest, c.pod, { containers: [{ image: c.image, imagePullPolicy: c.policy }] }));
      t.equal(view.exitCode, 0, `kubectl create succeeds: ${view.stderr}`);
      const expected = c.warned ? [`app: ${c.image} is latest/untagged with IfNotPresent: nodes may run different builds; pin a tag`] : [];
      t.same(view.warnings, expected, c.warned ? 'the LatestWithIfNotPresent warning' : 'no warning');
    });
  }
});

t.test('kubectl apply of a Deployment with an uncovered image fails at once', async (t) => {
  const view = await kubectlWith(controlPlane, ['apply', '-f', '-'], deployment(ns.deploy, 'web', { containers: [{ image: uncoveredImage }] }));
  t.not(view.exitCode, 0, 'kubectl apply fails');
  t.match(view.stderr, deniedBy(WEBHOOK_NAMES.validateWorkloads), 'the workloads webhook denied it');
  t.match(view.stderr, `pullguard denied Deployment web: 1 image pull problem: spec.template.spec.containers[0].image: app: no pull secret has a key for ${UNCOVERED_REGISTRY}`, 'the template path and the registry');
  t.match(view.stderr, '[NoMatchingCredential]', 'the finding code');
  t.equal(await kube.read('apps/v1', 'Deployment', ns.deploy, 'web'), undefined, 'the Deployment was not stored');

  const covered = await kubectlWith(controlPlane, ['apply', '-f', '-'], deployment(ns.deploy, 'covered', { containers: [{ image: privateImage }] }));
  t.equal(covered.exitCode, 0, `a Deployment whose pods will get a secret injected applies: ${covered.stderr}`);
  t.same(covered.warnings, [`app: pods will get imagePullSecrets regcred for ${PRIVATE_REGISTRY}`], 'with a warning saying so');
});

t.test('kubectl debug cannot add an ephemeral container with an uncovered image', async (t) => {
  const target = await create(pod(ns.debug, 'target', { containers: [{ image: privateImage }] }));
  t.equal(target.exitCode, 0, `the target pod is created: ${target.stderr}`);
  const debug = (image: string, container: string) =>
    kubectlWith(controlPlane, ['debug', '-n', ns.debug, 'pod/target', `--image=${image}`, `--container=${container}`, '--profile=general']);

  const denied = await debug(`${UNCOVERED_REGISTRY}/tools:1`, 'uncovered-debugger');
  t.not(denied.exitCode, 0, 'kubectl debug fails');
  t.match(denied.stderr, deniedBy(WEBHOOK_NAMES.validatePods), 'the pods webhook (pods/ephemeralcontainers rule) denied it');
  t.match(denied.stderr, `spec.ephemeralContainers[0].image: uncovered-debugger: no pull secret has a key for ${UNCOVERED_REGISTRY} (looked at regcred)`, 'the ephemeral container, its registry and the pod\'s secrets');

  const allowed = await debug(`${PRIVATE_REGISTRY}/tools:1`, 'covered-debugger');
  t.equal(allowed.exitCode, 0, `a debug image the pod's secrets cover is added: ${allowed.stderr}`);
  const stored = await kube.read('v1', 'Pod', ns.debug, 'target');
  const ephemeral = ((stored?.['spec'] as { ephemeralContainers?: Array<{ name: string }> }).ephemeralContainers ?? []).map((c) => c.name);
  t.same(ephemeral, ['covered-debugger'], 'only the covered debug container was stored');
});

t.test('a namespace in dry-run admits pods unpatched, with [dry-run] warnings', async (t) => {
  const inject = await create(pod(ns.dryRunNs, 'would-inject', { containers: [{ image: privateImage }] }));
  t.equal(inject.exitCode, 0, `kubectl create succeeds: ${inject.stderr}`);
  t.same(inject.warnings, [`[dry-run] app: would inject imagePullSecrets regcred for ${PRIVATE_REGISTRY}`], 'the would-inject warning');
  t.same(await storedPullSecrets(ns.dryRunNs, 'would-inject'), [], 'no secret was injected');

  const deny = await create(pod(ns.dryRunNs, 'would-deny', { containers: [{ image: uncoveredImage }] }));
  t.equal(deny.exitCode, 0, `kubectl create succeeds: ${deny.stderr}`);
  t.equal(deny.warnings.length, 1, 'one warning');
  // Too long for one kubectl line with the prefix: shortened in the middle, the fix kept at the end.
  t.ok(deny.warnings[0]?.startsWith('[dry-run] would deny: app: no pull secret has a key for '), `the would-deny warning: ${deny.warnings[0]}`);
  // No rule names the registry, so the fix offers a pull secret or a registries rule, and ends the text.
  t.ok(deny.warnings[0]?.endsWith('access: node when nodes pull with their own identity)'), 'the would-deny warning keeps the fix');
  t.same(await storedPullSecrets(ns.dryRunNs, 'would-deny'), [], 'the pod was stored as sent');
});

t.test('kubectl apply --dry-run=server gets the real answer and changes nothing', async (t) => {
  const inject = await kubectlWith(controlPlane, ['apply', '--dry-run=server', '-o', 'json', '-f', '-'], pod(ns.serverDryRun, 'dry-inject', { containers: [{ image: privateImage }] }));
  t.equal(inject.exitCode, 0, `kubectl apply --dry-run=server succeeds: ${inject.stderr}`);
  t.same(inject.warnings, [`app: injected imagePullSecrets regcred for ${PRIVATE_REGISTRY}`], 'the injection warning is printed');
  const answered = JSON.parse(inject.stdout) as { spec: { imagePullSecrets?: Array<{ name: string }> } };
  t.same(answered.spec.imagePullSecrets, [{ name: 'regcred' }], 'the returned object shows the patch');
  t.equal(await storedPullSecrets(ns.serverDryRun, 'dry-inject'), undefined, 'nothing was stored');
  const dryRunFlags = decisionsFor(ns.serverDryRun, 'dry-inject').map((line) => line['dryRun']);
  t.same(dryRunFlags, [true, true], 'both webhooks saw request.dryRun');

  const deny = await kubectlWith(controlPlane, ['apply', '--dry-run=server', '-f', '-'], pod(ns.serverDryRun, 'dry-deny', { containers: [{ image: uncoveredImage }] }));
  t.not(deny.exitCode, 0, 'a pod that would be denied is denied in a dry run too');
  t.match(deny.stderr, `${deniedBy(WEBHOOK_NAMES.validatePods)}pullguard denied Pod dry-deny`, 'with the webhook\'s denial');
});

t.test('excluded namespaces are untouched', async (t) => {
  const cases = [
    { name: `a namespace labelled ${IGNORE_LABEL}=true never reaches the webhook`, namespace: ns.ignoredByLabel, called: false },
    { name: 'kube-system never reaches the webhook', namespace: 'kube-system', called: false },
    { name: "a namespace in the policy's namespaces.exclude is skipped by the webhook", namespace: ns.excludedByPolicy, called: true },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const name = uniqueName('untouched');
      const view = await create(pod(c.namespace, name, { containers: [{ image: uncoveredImage }] }));
      t.equal(view.exitCode, 0, `kubectl create succeeds: ${view.stderr}`);
      t.same(view.warnings, [], 'no warning');
      t.same(await storedPullSecrets(c.namespace, name), [], 'nothing injected');
      const actions = decisionsFor(c.namespace, name).map((line) => `${String(line['webhook'])}:${String(line['action'])}`);
      t.same(actions, c.called ? ['mutate:skip', 'validate:skip'] : [], c.called ? 'pullguard skipped it' : 'pullguard was never called');
    });
  }
});

t.test('with the webhook process stopped', async (t) => {
  await webhook.stop();
  t.equal(webhook.pid(), undefined, 'pullguard is not running');

  await t.test('failurePolicy Fail rejects pods with the API server error', async (t) => {
    const view = await create(pod(ns.failure, 'webhook-down-fail', { containers: [{ image: privateImage }] }));
    t.not(view.exitCode, 0, 'kubectl create fails');
    t.match(view.stderr, `Internal error occurred: failed calling webhook "${WEBHOOK_NAMES.mutatePods}": failed to call webhook: Post "${webhook.url}/mutate?timeout=5s"`, 'the API server names the webhook it could not call');
    t.match(view.stderr, 'connect: connection refused', 'and why');
    t.equal(await storedPullSecrets(ns.failure, 'webhook-down-fail'), undefined, 'nothing was stored');
  });

  await t.test('failurePolicy Ignore admits pods unchecked', async (t) => {
    await registerWebhooks(controlPlane, webhook, { failurePolicy: 'Ignore' });
    // The API server picks up a changed configuration asynchronously: retry until it does.
    const outcome = await pollUntil(
      () => create(pod(ns.failure, uniqueName('webhook-down-ignore'), { containers: [{ image: uncoveredImage }] })),
      (view) => view.exitCode === 0,
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    t.ok(outcome.met, `an uncovered pod is admitted within 20 s (took ${outcome.elapsedMs} ms): ${outcome.value.stderr}`);
    t.same(outcome.value.warnings, [], 'no warning');
    const stored = JSON.parse(outcome.value.stdout) as { spec: { imagePullSecrets?: unknown } };
    t.equal(stored.spec.imagePullSecrets, undefined, 'and not patched');
  });
});

t.test('stopping the environment leaves no process and no temp dir behind', async (t) => {
  await env.stop();
  t.same(env.leftovers(), [], 'nothing left');
  t.comment(`suite time: ${Date.now() - suiteStartedAt} ms`);
});
