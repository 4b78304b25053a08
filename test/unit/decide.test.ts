import t from 'tap';
import { decide } from '../../src/decide/decide.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec } from '../../src/workloads/extract.ts';
import {
  b64, deployment, dockerConfigJsonSecret, ecrSecret, namespaceObject, pod, pullSecret, secretOfType, serviceAccount,
} from '../helpers/objects.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const HOUR_S = 3600;

interface Case {
  readonly state: readonly Record<string, unknown>[];
  readonly workload: Record<string, unknown>;
  readonly policy?: Record<string, unknown>;
  /** Pod admission (the SA plugin already ran) vs manifests/templates. */
  readonly secretsFinal?: boolean;
  readonly decision: PodDecision['decision'];
  /** Every finding code, pod-level and per container, sorted. */
  readonly codes: readonly string[];
  readonly inject?: readonly string[];
  readonly patchNames?: readonly string[];
  readonly credential?: { secret: string; key: string; source: string } | null;
  readonly mode?: string;
  /** As admit passes it: false on UPDATE. */
  readonly templatePatchAllowed?: boolean;
  /** A fragment the InjectedPullSecret message must contain. */
  readonly injectionWording?: string;
}

/** A Deployment whose template lists `imagePullSecrets: [{}]`: one entry, no name. */
function deploymentWithNamelessSecret(options: Parameters<typeof deployment>[0]): Record<string, unknown> {
  const object = deployment(options) as { spec: { template: { spec: Record<string, unknown> } } };
  object.spec.template.spec['imagePullSecrets'] = [{}];
  return object as unknown as Record<string, unknown>;
}

function run(c: Case): PodDecision {
  const loaded = parsePolicyObject(c.policy ?? {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const spec = extractPodSpec(c.workload);
  if (spec === undefined) throw new Error('no pod spec');
  const metadata = c.workload['metadata'] as { namespace: string; annotations?: Record<string, string> };
  return decide({
    spec,
    namespace: metadata.namespace,
    snapshot: snapshotFromObjects(c.state),
    policy: new PolicyResolver(loaded.policy),
    now: NOW,
    secretsFinal: c.secretsFinal ?? spec.kind === 'Pod',
    annotations: metadata.annotations,
    templatePatchAllowed: c.templatePatchAllowed,
  });
}

function codesOf(decision: PodDecision): string[] {
  return [...decision.findings, ...decision.containers.flatMap((container) => container.findings)].map((finding) => finding.code).sort();
}

const privateImage = 'registry.example.com/team/app:1.0';

const cases: Record<string, Case> = {
  'allows a pod whose own pull secret has a key for the registry': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    workload: pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
    credential: { secret: 'regcred', key: 'registry.example.com', source: 'pod' },
  },
  'allows a public Docker Hub image with no secrets and notes the anonymous rate limit': {
    state: [],
    workload: pod({ containers: [{ name: 'web', image: 'nginx:1.27' }] }),
    decision: 'allow',
    codes: ['AnonymousPullRateLimited'],
    credential: null,
  },
  'injects the namespace secret that covers a private registry when the pod lists none': {
    state: [pullSecret('team', 'regcred', 'registry.example.com'), pullSecret('team', 'other', 'quay.io')],
    workload: pod({ containers: [{ name: 'app', image: privateImage }] }),
    decision: 'inject',
    codes: ['InjectedPullSecret'],
    inject: ['regcred'],
    patchNames: ['regcred'],
    credential: { secret: 'regcred', key: 'registry.example.com', source: 'injected' },
  },
  'denies a pod whose initContainer pulls from a registry no pull secret covers': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    workload: pod({
      imagePullSecrets: ['regcred'],
      initContainers: [{ name: 'init', image: 'private.example.net/tools/init:2' }],
      containers: [{ name: 'app', image: privateImage }],
    }),
    decision: 'deny',
    codes: ['NoMatchingCredential'],
  },
  'denies when injection is disabled even though a namespace secret would cover the image': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    workload: pod({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    codes: ['NoMatchingCredential'],
  },
  'names a listed secret that does not exist as the cause of the denial': {
    state: [],
    workload: pod({ imagePullSecrets: ['regcreds'], containers: [{ name: 'app', image: privateImage }] }),
    decision: 'deny',
    codes: ['PullSecretNotFound'],
  },
  'names an Opaque secret as the wrong type': {
    state: [secretOfType('team', 'regcred', 'Opaque', { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'registry.example.com': { auth: b64('u:p') } } })) })],
    workload: pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: privateImage }] }),
    decision: 'deny',
    codes: ['PullSecretWrongType'],
  },
  'denies every container, even public ones, when a listed secret is malformed': {
    state: [dockerConfigJsonSecret('team', 'broken', { 'registry.example.com': { auth: 'not base64!' } })],
    workload: pod({ imagePullSecrets: ['broken'], containers: [{ name: 'web', image: 'nginx:1.27' }] }),
    decision: 'deny',
    codes: ['PullSecretMalformed'],
  },
  'warns about a missing listed secret that no container needs, at pod level': {
    state: [],
    workload: pod({ imagePullSecrets: ['typo'], containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] }),
    decision: 'allow',
    codes: ['PullSecretNotFound'],
  },
  'uses the ServiceAccount secrets for a template that lists none': {
    state: [pullSecret('team', 'regcred', 'registry.example.com'), serviceAccount('team', 'builder', 'regcred')],
    workload: deployment({ serviceAccountName: 'builder', containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
    credential: { secret: 'regcred', key: 'registry.example.com', source: 'serviceAccount' },
  },
  'ignores the ServiceAccount secrets when the template lists its own, and says so': {
    state: [pullSecret('team', 'regcred', 'registry.example.com'), pullSecret('team', 'quay', 'quay.io'), serviceAccount('team', 'default', 'regcred')],
    workload: deployment({ imagePullSecrets: ['quay'], containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    codes: ['ServiceAccountSecretsIgnored'],
  },
  'reports a pod whose list equals its ServiceAccount list as credentials from the ServiceAccount': {
    state: [pullSecret('team', 'regcred', 'registry.example.com'), serviceAccount('team', 'default', 'regcred')],
    workload: pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
    credential: { secret: 'regcred', key: 'registry.example.com', source: 'serviceAccount' },
  },
  'at pod admission an empty list is final: the ServiceAccount plugin already ran': {
    state: [pullSecret('team', 'regcred', 'registry.example.com'), serviceAccount('team', 'default', 'regcred')],
    workload: pod({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    codes: ['NoMatchingCredential'],
  },
  'injecting into a template that lists none keeps the ServiceAccount secrets in the patch': {
    state: [pullSecret('team', 'regcred', 'registry.example.com'), pullSecret('team', 'quay', 'quay.io'), serviceAccount('team', 'default', 'quay')],
    workload: deployment({ containers: [{ name: 'a', image: 'quay.io/acme/a:1' }, { name: 'b', image: privateImage }] }),
    policy: { injection: { templates: true } },
    decision: 'inject',
    codes: ['InjectedPullSecret'],
    inject: ['regcred'],
    patchNames: ['quay', 'regcred'],
  },
  'denies an expired ECR token when nothing else covers the image': {
    state: [ecrSecret('team', 'ecr', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 - HOUR_S)],
    workload: pod({ imagePullSecrets: ['ecr'], containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    decision: 'deny',
    codes: ['CredentialExpired'],
  },
  'only warns about an expired token when the policy says warn': {
    state: [ecrSecret('team', 'ecr', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 - HOUR_S)],
    workload: pod({ imagePullSecrets: ['ecr'], containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    policy: { expiredCredentials: 'warn' },
    decision: 'allow',
    codes: ['CredentialExpired'],
  },
  'warns that a valid ECR token in a static secret is short-lived': {
    state: [ecrSecret('team', 'ecr', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 + 5 * HOUR_S)],
    workload: pod({ imagePullSecrets: ['ecr'], containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    decision: 'allow',
    codes: ['ShortLivedCredential'],
  },
  'allows a registry the policy marks as pulled by the node identity': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    policy: { registries: [{ hosts: ['*.dkr.ecr.*.amazonaws.com'], access: 'node' }] },
    decision: 'allow',
    codes: [],
  },
  'a rule for a Docker Hub organisation placed first makes its images private': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'acme/private-app:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'deny',
    codes: ['NoMatchingCredential'],
  },
  'a Docker Hub secret stored under index.docker.io covers docker.io images through the fallback': {
    state: [pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    workload: pod({ imagePullSecrets: ['hub'], containers: [{ name: 'app', image: 'acme/private-app:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'allow',
    codes: [],
    credential: { secret: 'hub', key: 'https://index.docker.io/v1/', source: 'pod' },
  },
  'does not let a lookalike host borrow a registry rule': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'registry.k8s.io.evil.com/pause:3' }] }),
    decision: 'deny',
    codes: ['NoMatchingCredential'],
  },
  'denies an invalid image reference with the parser error': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'Registry.Example.com/Team/App:1' }] }),
    decision: 'deny',
    codes: ['InvalidImageReference'],
  },
  'denies a container with no image at all': {
    state: [],
    workload: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'team' }, spec: { containers: [{ name: 'app' }] } },
    decision: 'deny',
    codes: ['InvalidImageReference'],
  },
  'warns on latest with an explicit IfNotPresent': {
    state: [],
    workload: pod({ containers: [{ name: 'web', image: 'registry.k8s.io/pause:latest', imagePullPolicy: 'IfNotPresent' }] }),
    decision: 'allow',
    codes: ['LatestWithIfNotPresent'],
  },
  'denies untagged IfNotPresent images when the policy says deny': {
    state: [],
    workload: pod({ containers: [{ name: 'web', image: 'registry.k8s.io/pause', imagePullPolicy: 'IfNotPresent' }] }),
    policy: { latestWithIfNotPresent: 'deny' },
    decision: 'deny',
    codes: ['LatestWithIfNotPresent'],
  },
  'does not flag a digest-pinned latest image': {
    state: [],
    workload: pod({
      containers: [{ name: 'web', image: `registry.k8s.io/pause:latest@sha256:${'a'.repeat(64)}`, imagePullPolicy: 'IfNotPresent' }],
    }),
    decision: 'allow',
    codes: [],
  },
  'skips excluded namespaces entirely': {
    state: [],
    workload: pod({ namespace: 'kube-system', containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
    mode: 'off',
  },
  'takes the mode from the namespace label': {
    state: [namespaceObject('team', { 'pullguard.io/mode': 'dry-run' })],
    workload: pod({ containers: [{ name: 'app', image: privateImage }] }),
    decision: 'deny',
    codes: ['NoMatchingCredential'],
    mode: 'dry-run',
  },
  'applies a namespace override selected by label': {
    state: [namespaceObject('team', { tier: 'sandbox' })],
    workload: pod({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { namespaces: { overrides: [{ matchLabels: { tier: 'sandbox' }, mode: 'warn', defaultAccess: 'public' }] } },
    decision: 'allow',
    codes: [],
    mode: 'warn',
  },
  'leaves mirror pods alone': {
    state: [],
    workload: pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' }, containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
  },
  'exempts images the policy lists': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'registry.example.com/team/legacy:1' }] }),
    policy: { exemptImages: ['registry.example.com/team/legacy'] },
    decision: 'allow',
    codes: ['ExemptImage'],
  },
  'prefers the secret the policy names when several would cover': {
    state: [pullSecret('team', 'aaa', 'registry.example.com'), pullSecret('team', 'zzz-preferred', 'registry.example.com')],
    workload: pod({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { preferredSecrets: ['zzz-preferred'] } },
    decision: 'inject',
    codes: ['InjectedPullSecret'],
    inject: ['zzz-preferred'],
  },
  'reuses one injected secret for several containers of the same registry': {
    state: [pullSecret('team', 'aaa', 'registry.example.com'), pullSecret('team', 'bbb', 'registry.example.com', 'harbor.example.org')],
    workload: pod({ containers: [{ name: 'a', image: 'harbor.example.org/acme/a:1' }, { name: 'b', image: privateImage }] }),
    decision: 'inject',
    codes: ['InjectedPullSecret', 'InjectedPullSecret'],
    inject: ['bbb'],
  },
  'a key without credentials (identitytoken only) matches but does not cover a private image': {
    state: [dockerConfigJsonSecret('team', 'token-only', { 'registry.example.com': { identitytoken: 'opaque-token' } })],
    workload: pod({ imagePullSecrets: ['token-only'], containers: [{ name: 'app', image: privateImage }] }),
    decision: 'deny',
    codes: ['NoMatchingCredential'],
  },
  'injects a fresh secret when the listed one holds an expired token': {
    state: [
      ecrSecret('team', 'ecr-old', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 - HOUR_S),
      ecrSecret('team', 'ecr-new', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 + 10 * HOUR_S),
    ],
    workload: pod({ imagePullSecrets: ['ecr-old'], containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    decision: 'inject',
    codes: ['CredentialExpired', 'InjectedPullSecret'],
    inject: ['ecr-new'],
  },
  'a template listing a nameless entry ([{}]) does not get the SA secrets, as the ServiceAccount plugin would not copy them': {
    state: [serviceAccount('team', 'default', 'sa-cred'), pullSecret('team', 'sa-cred', 'registry.example.com')],
    workload: deploymentWithNamelessSecret({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { templates: true } },
    decision: 'inject',
    codes: ['InjectedPullSecret', 'ServiceAccountSecretsIgnored'],
    inject: ['sa-cred'],
    patchNames: ['sa-cred'],
  },
  'a template with no list gets the SA secrets copied, as the ServiceAccount plugin would': {
    state: [serviceAccount('team', 'default', 'sa-cred'), pullSecret('team', 'sa-cred', 'registry.example.com')],
    workload: deployment({ containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
    credential: { secret: 'sa-cred', key: 'registry.example.com', source: 'serviceAccount' },
  },
  'injection prefers the SA secret the pod list shadows over an alphabetically earlier one': {
    state: [
      serviceAccount('team', 'default', 'zz-sa-cred'),
      pullSecret('team', 'zz-sa-cred', 'registry.example.com'),
      pullSecret('team', 'aa-other', 'registry.example.com'),
      pullSecret('team', 'own', 'quay.io'),
    ],
    workload: deployment({ imagePullSecrets: ['own'], containers: [{ name: 'app', image: privateImage }] }),
    decision: 'inject',
    codes: ['InjectedPullSecret', 'ServiceAccountSecretsIgnored'],
    inject: ['zz-sa-cred'],
  },
  'does not patch a template without a list when its ServiceAccount is unknown, since the patch would hide that SA secrets': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deployment({ serviceAccountName: 'builder', containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { templates: true } },
    decision: 'inject',
    codes: ['InjectedPullSecret', 'ServiceAccountNotFound'],
    inject: ['regcred'],
    patchNames: [],
    injectionWording: 'app: pods will get imagePullSecrets regcred',
  },
  'patches a template on CREATE when the policy injects into templates': {
    state: [serviceAccount('team', 'default'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deployment({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { templates: true } },
    decision: 'inject',
    codes: ['InjectedPullSecret'],
    patchNames: ['regcred'],
    injectionWording: 'app: injected imagePullSecrets regcred',
  },
  'says pods will get the secret, not that it was injected, when a template UPDATE cannot be patched': {
    state: [serviceAccount('team', 'default'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deployment({ containers: [{ name: 'app', image: privateImage }] }),
    policy: { injection: { templates: true } },
    templatePatchAllowed: false,
    decision: 'inject',
    codes: ['InjectedPullSecret'],
    patchNames: [],
    injectionWording: 'app: pods will get imagePullSecrets regcred',
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const decision = run(c);
    t.equal(decision.decision, c.decision, 'decision');
    t.same(codesOf(decision), [...c.codes].sort(), 'finding codes');
    if (c.inject !== undefined) t.same(decision.inject, c.inject, 'inject');
    if (c.patchNames !== undefined) t.same(decision.patchNames, c.patchNames, 'patchNames');
    if (c.credential !== undefined) t.same(decision.containers[0]?.credential ?? null, c.credential, 'credential');
    if (c.mode !== undefined) t.equal(decision.mode, c.mode, 'mode');
    if (c.injectionWording !== undefined) {
      const injected = decision.containers.flatMap((container) => container.findings).find((finding) => finding.code === 'InjectedPullSecret');
      t.match(injected?.message, c.injectionWording, 'injection wording');
    }
  });
}

t.test('every finding names a field path and keeps warnings under 120 characters', async (t) => {
  for (const c of Object.values(cases)) {
    const decision = run(c);
    for (const finding of [...decision.findings, ...decision.containers.flatMap((container) => container.findings)]) {
      t.match(finding.path, /^spec(\.|$)/, `${finding.code} has a path`);
      if (finding.severity !== 'deny') t.ok(finding.message.length < 120, `${finding.code} warning is short: ${finding.message}`);
    }
  }
});

t.test('a key without credentials is named in the denial, with what is missing', async (t) => {
  const decision = run(cases['a key without credentials (identitytoken only) matches but does not cover a private image'] as Case);
  t.match(
    decision.containers[0]?.findings[0]?.message,
    'app: secret token-only has a key for registry.example.com (registry.example.com) but no username and password (empty, null or identitytoken only), so the kubelet pulls anonymously',
  );
});

const imageProblems: Record<string, { image: unknown; message: RegExp }> = {
  'denies a container without an image, saying the image is not set': { image: undefined, message: /^app: no image is set \(the field is missing, empty or not a string\)/ },
  'denies a container whose image is not a string, saying the image is not set': { image: 42, message: /^app: no image is set/ },
  'denies an invalid image and quotes at most 256 characters of it': { image: 'X'.repeat(100_000), message: /^app: image "X{128}…X{127}" is invalid: / },
};
for (const [name, c] of Object.entries(imageProblems)) {
  t.test(name, async (t) => {
    const workload = pod({ containers: [{ name: 'app', image: 'placeholder' }] }) as { spec: { containers: Array<Record<string, unknown>> } };
    const container = workload.spec.containers[0] as Record<string, unknown>;
    if (c.image === undefined) delete container['image'];
    else container['image'] = c.image;
    const decision = run({ state: [], workload: workload as unknown as Record<string, unknown>, decision: 'deny', codes: [] });
    t.equal(decision.decision, 'deny');
    const finding = decision.containers[0]?.findings[0];
    t.equal(finding?.code, 'InvalidImageReference');
    t.match(finding?.message, c.message);
    t.ok((finding?.message.length ?? 0) < 400, 'the message stays short');
  });
}

const hubHints: Record<string, { state: readonly Record<string, unknown>[]; hint: string }> = {
  'the Docker Hub warning names a namespace secret that covers Docker Hub': {
    state: [pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    hint: 'web: docker.io/library/nginx pulls anonymously from Docker Hub (rate-limited); list secret hub, which covers it',
  },
  'the Docker Hub warning asks for a secret when the namespace has none for Docker Hub': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    hint: 'web: docker.io/library/nginx pulls anonymously from Docker Hub (rate-limited); add a Docker Hub secret',
  },
};
for (const [name, c] of Object.entries(hubHints)) {
  t.test(name, async (t) => {
    const decision = run({ state: c.state, workload: pod({ containers: [{ name: 'web', image: 'nginx:1.27' }] }), policy: { dockerHubAnonymous: 'warn' }, decision: 'allow', codes: [] });
    t.same(decision.containers[0]?.findings.map((finding) => [finding.code, finding.message]), [['AnonymousPullRateLimited', c.hint]]);
  });
}

t.test('messages never contain credential material', async (t) => {
  const decision = run(cases['denies every container, even public ones, when a listed secret is malformed'] as Case);
  const text = JSON.stringify(decision);
  t.notMatch(text, /not base64/);
  t.notMatch(text, /not-a-real-password/);
});

t.test('a pod listing one malformed secret many times gets one finding per container, not one per entry', async (t) => {
  const n = 300;
  const decision = run({
    state: [dockerConfigJsonSecret('team', 'bad', { 'r.example.com': { auth: '!!!' } })],
    workload: pod({
      imagePullSecrets: Array.from({ length: n }, () => 'bad'),
      containers: Array.from({ length: n }, (_, index) => ({ name: `c${index}`, image: 'r.example.com/a:1' })),
    }),
    decision: 'deny',
    codes: [],
  });
  t.equal(decision.decision, 'deny');
  t.equal(decision.secrets.length, 1, 'duplicate names are considered once');
  t.equal(decision.containers.flatMap((container) => container.findings).length, n);
  t.equal(decision.containers[0]?.findings[0]?.path, 'spec.imagePullSecrets[0]');
});

t.test('ServiceAccount secrets are blamed at the serviceAccountName field, not at a list index', async (t) => {
  const decision = run({
    state: [serviceAccount('team', 'builder', 'gone')],
    workload: deployment({ serviceAccountName: 'builder', containers: [{ name: 'app', image: privateImage }] }),
    decision: 'deny',
    codes: [],
  });
  const finding = decision.containers[0]?.findings[0];
  t.equal(finding?.code, 'PullSecretNotFound');
  t.equal(decision.secrets[0]?.source, 'serviceAccount');
});

// ---------------------------------------------------------------------------------------------
// Adversarial sizes: correctness on the inputs the adversarial benchmark times (bench/adversarial.ts).

t.test('a pod listing 200,000 names blames each missing one at its first listing', async (t) => {
  const names = Array.from({ length: 200_000 }, (_, index) => `s${index % 100_000}`);
  const decision = run({
    state: [pullSecret('team', 's7', 'registry.example.com')],
    workload: pod({ imagePullSecrets: names, containers: [{ name: 'app', image: privateImage }] }),
    decision: 'allow',
    codes: [],
  });
  t.equal(decision.decision, 'allow');
  t.equal(decision.secrets.length, 100_000, 'each name considered once');
  const missing = decision.findings.filter((finding) => finding.code === 'PullSecretNotFound');
  t.equal(missing.length, 99_999);
  t.equal(missing[0]?.path, 'spec.imagePullSecrets[0]');
  t.equal(missing.at(-1)?.path, 'spec.imagePullSecrets[99999]', 'the first listing, not the repeat at 199999');
});

t.test('a pod whose checks exceed the work budget is denied unchecked, naming how far it got', async (t) => {
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy');
  const state = Array.from({ length: 50 }, (_, index) => pullSecret('team', `s${index}`, `other-${index}.example.com`));
  const spec = extractPodSpec(
    pod({ imagePullSecrets: state.map((_, index) => `s${index}`), containers: Array.from({ length: 40 }, (_, index) => ({ name: `c${index}`, image: `registry.example.com/a${index}:1` })) }),
  );
  if (spec === undefined) throw new Error('no spec');
  const input = { spec, namespace: 'team', snapshot: snapshotFromObjects(state), policy: new PolicyResolver(loaded.policy), now: NOW, secretsFinal: true };
  // 40 distinct images x 50 keys = 2,000 units: a budget of 1,000 stops after 20 images.
  const cut = decide({ ...input, workBudget: 1_000 });
  t.equal(cut.decision, 'deny');
  t.same(cut.findings.map((finding) => [finding.code, finding.severity, finding.path]), [['DecisionBudgetExceeded', 'deny', 'spec']]);
  t.ok(cut.containers.length < 40, `stopped early (${cut.containers.length} of 40 containers)`);
  t.match(cut.findings[0]?.message, new RegExp(`stopped after ${cut.containers.length} of 40 containers`));
  const whole = decide({ ...input, workBudget: 10_000 });
  t.equal(whole.containers.length, 40, 'within the budget every container is checked');
  t.notOk(codesOf(whole).includes('DecisionBudgetExceeded'));
});

t.test('a listed secret without keys costs one unit per lookup: hundreds of them against hundreds of images exceed a budget', async (t) => {
  const loaded = parsePolicyObject({ registries: [{ hosts: ['node.example.com'], access: 'node' }] });
  if (!loaded.ok) throw new Error('policy');
  // `{"auths":{}}`: usable, and no key to compare, so a lookup walks it without comparing anything.
  const state = Array.from({ length: 200 }, (_, index) => secretOfType('team', `empty-${index}`, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64('{"auths":{}}') }));
  const spec = extractPodSpec(
    pod({ imagePullSecrets: state.map((_, index) => `empty-${index}`), containers: Array.from({ length: 100 }, (_, index) => ({ name: `c${index}`, image: `node.example.com/team/app-${index}:1` })) }),
  );
  if (spec === undefined) throw new Error('no spec');
  const input = { spec, namespace: 'team', snapshot: snapshotFromObjects(state), policy: new PolicyResolver(loaded.policy), now: NOW, secretsFinal: true };
  t.equal(input.snapshot.secret('team', 'empty-0')?.usable, true, 'a secret without keys is usable');
  // 100 distinct images x 200 secrets walked = 20,000 units: a budget of 10,000 stops after 50 images.
  const cut = decide({ ...input, workBudget: 10_000 });
  t.same(cut.findings.map((finding) => finding.code), ['DecisionBudgetExceeded']);
  t.ok(cut.containers.length <= 50, `stopped by the budget (${cut.containers.length} of 100 containers)`);
  const whole = decide({ ...input, workBudget: 30_000 });
  t.equal(whole.containers.length, 100, 'within the budget every container is checked');
  t.ok(whole.containers.every((container) => container.decision === 'allow' && container.access === 'node'), 'each image pulled with the node\'s credentials');
});

t.test('repeated images are looked up once per decision: 10,000 containers of one image fit a budget of one lookup', async (t) => {
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy');
  const state = Array.from({ length: 50 }, (_, index) => pullSecret('team', `s${index}`, `other-${index}.example.com`));
  const spec = extractPodSpec(
    pod({ imagePullSecrets: state.map((_, index) => `s${index}`), containers: Array.from({ length: 10_000 }, (_, index) => ({ name: `c${index}`, image: privateImage })) }),
  );
  if (spec === undefined) throw new Error('no spec');
  const decision = decide({ spec, namespace: 'team', snapshot: snapshotFromObjects(state), policy: new PolicyResolver(loaded.policy), now: NOW, secretsFinal: true, workBudget: 12_000 });
  t.equal(decision.containers.length, 10_000);
  t.notOk(codesOf(decision).includes('DecisionBudgetExceeded'));
  t.ok(decision.containers.every((container) => container.findings.some((finding) => finding.code === 'NoMatchingCredential')));
});

t.test('a pod with more distinct images than a decision keeps in fields (four) still looks each up once, and decides each as a pod of that image alone', async (t) => {
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy');
  const policy = new PolicyResolver(loaded.policy);
  const state = [
    ...Array.from({ length: 50 }, (_, index) => pullSecret('team', `s${index}`, `other-${index}.example.com`)),
    pullSecret('team', 'covering', 'registry-3.example.com', 'registry-6.example.com'),
  ];
  const snapshot = snapshotFromObjects(state);
  const secrets = [...state.map((_, index) => (index < 50 ? `s${index}` : 'covering'))];
  const images = Array.from({ length: 8 }, (_, index) => `registry-${index}.example.com/team/app:1.${index}`);
  const decideOne = (containerImages: readonly string[], workBudget?: number): PodDecision => {
    const spec = extractPodSpec(pod({ imagePullSecrets: secrets, containers: containerImages.map((image, index) => ({ name: `c${index}`, image })) }));
    if (spec === undefined) throw new Error('no spec');
    return decide({ spec, namespace: 'team', snapshot, policy, now: NOW, secretsFinal: true, workBudget });
  };
  // 8,000 containers cycling through 8 images: one lookup per image fits the budget, one per container would not.
  const many = decideOne(Array.from({ length: 8_000 }, (_, index) => images[index % images.length] as string), 20_000);
  t.equal(many.containers.length, 8_000);
  t.notOk(codesOf(many).includes('DecisionBudgetExceeded'));
  for (const [index, image] of images.entries()) {
    const alone = decideOne([image]).containers[0];
    const inMany = many.containers[index + images.length * 3];
    t.same(
      [inMany?.decision, inMany?.credential, inMany?.findings.map((finding) => finding.code)],
      [alone?.decision, alone?.credential, alone?.findings.map((finding) => finding.code)],
      `${image} decided alike among eight images`,
    );
  }
  t.same(many.containers.slice(0, 8).map((container) => container.decision), ['deny', 'deny', 'deny', 'allow', 'deny', 'deny', 'allow', 'deny']);
});

t.test('the namespace-wide search for a secret to inject is charged its glob work, and an answer cut short is not remembered', async (t) => {
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy');
  // 20 secrets whose one key is a long glob that the image's first label is compared against.
  const globs = Array.from({ length: 20 }, (_, index) => pullSecret('team', `glob-${String(index).padStart(2, '0')}`, `*${'a'.repeat(400)}b.example.com`));
  const state = [...globs, pullSecret('team', 'zz-regcred', 'registry.example.com')];
  const image = `registry.example.com/${'x'.repeat(10)}/app:1`;
  const probe = `${'a'.repeat(60)}c.example.com/app:1`;
  const spec = extractPodSpec(pod({ containers: [{ name: 'app', image }, { name: 'probe', image: probe }] }));
  if (spec === undefined) throw new Error('no spec');
  const snapshot = snapshotFromObjects(state);
  const input = { spec, namespace: 'team', snapshot, policy: new PolicyResolver(loaded.policy), now: NOW, secretsFinal: true };
  const cut = decide({ ...input, workBudget: 2_000 });
  t.ok(codesOf(cut).includes('DecisionBudgetExceeded'), `the glob steps of the namespace search count: ${codesOf(cut).join(', ')}`);
  // Same snapshot (same remembered answers), enough budget: the full answer, not the cut one.
  const whole = decide({ ...input, workBudget: 10_000_000 });
  t.notOk(codesOf(whole).includes('DecisionBudgetExceeded'));
  t.same(whole.inject, ['zz-regcred'], 'the secret after the long globs is found and injected');
});
