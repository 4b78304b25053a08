/**
 * Issue 13 ("Fidelity, round two"): verdicts a careful review proved wrong, and the pod fields not
 * yet checked. Each case is named after the behaviour and failed before its fix.
 */
import t, { type Test } from 'tap';
import { decide } from '../../src/decide/decide.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec } from '../../src/workloads/extract.ts';
import { b64, deployment, dockerConfigJsonSecret, ecrSecret, pod, pullSecret, secretOfType, serviceAccount } from '../helpers/objects.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const HOUR_S = 3600;

interface Case {
  readonly state: readonly Record<string, unknown>[];
  readonly workload: Record<string, unknown>;
  readonly policy?: Record<string, unknown>;
  readonly secretsFinal?: boolean;
  readonly decision: PodDecision['decision'];
  /** Every finding code with its severity (`Code:severity`), pod-level and per container, sorted. */
  readonly findings: readonly string[];
  readonly inject?: readonly string[];
  readonly access?: string;
  /** Fragments the findings' messages must contain, in any finding. */
  readonly says?: readonly string[];
  /** Fragments no finding's message may contain. */
  readonly neverSays?: readonly string[];
}

export function runCase(c: Pick<Case, 'state' | 'workload' | 'policy' | 'secretsFinal'>): PodDecision {
  const loaded = parsePolicyObject(c.policy ?? {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const spec = extractPodSpec(c.workload);
  if (spec === undefined) throw new Error('no pod spec');
  const metadata = c.workload['metadata'] as { namespace: string };
  return decide({
    spec,
    namespace: metadata.namespace,
    snapshot: snapshotFromObjects(c.state),
    policy: new PolicyResolver(loaded.policy),
    now: NOW,
    secretsFinal: c.secretsFinal ?? spec.kind === 'Pod',
  });
}

function allFindings(decision: PodDecision): PodDecision['findings'] {
  return [...decision.findings, ...decision.containers.flatMap((container) => container.findings)];
}

export function check(t: Test, c: Case): void {
  const decision = runCase(c);
  const findings = allFindings(decision);
  t.equal(decision.decision, c.decision, 'decision');
  t.same(findings.map((finding) => `${finding.code}:${finding.severity}`).sort(), [...c.findings].sort(), 'findings');
  if (c.inject !== undefined) t.same(decision.inject, c.inject, 'inject');
  if (c.access !== undefined) t.equal(decision.containers[0]?.access, c.access, 'access');
  const text = findings.map((finding) => finding.message).join('\n');
  for (const fragment of c.says ?? []) t.match(text, fragment, `says "${fragment}"`);
  for (const fragment of c.neverSays ?? []) t.notMatch(text, fragment, `never says "${fragment}"`);
}

const ghcrPrivate = 'ghcr.io/acme/private-app:1.0';
const hubPrivate = 'docker.io/payments/backfill:2';

const wrongVerdicts: Record<string, Case> = {
  // 1. Built-in public registries are public unless the cluster says otherwise.
  'a built-in public registry image is private when the namespace holds a secret whose key covers it, and that secret is injected': {
    state: [pullSecret('team', 'ghcr-acme', 'ghcr.io/acme')],
    workload: pod({ containers: [{ name: 'app', image: ghcrPrivate }] }),
    decision: 'inject',
    findings: ['InjectedPullSecret:warn'],
    inject: ['ghcr-acme'],
    access: 'secret',
  },
  'a built-in public registry image is private when the pod lists a typo and the namespace secret covers it': {
    state: [pullSecret('team', 'gcr-cred', 'gcr.io/my-project')],
    workload: pod({ imagePullSecrets: ['gcr-creds'], containers: [{ name: 'app', image: 'gcr.io/my-project/private:3' }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    findings: ['PullSecretNotFound:deny'],
    says: ['treated as private', 'gcr-cred'],
  },
  'a template whose own list shadows the ServiceAccount ghcr.io secret is denied for a ghcr.io image': {
    state: [pullSecret('team', 'ghcr', 'ghcr.io'), pullSecret('team', 'own', 'quay.io/acme'), serviceAccount('team', 'default', 'ghcr')],
    workload: deployment({ imagePullSecrets: ['own'], containers: [{ name: 'app', image: ghcrPrivate }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    findings: ['ServiceAccountSecretsIgnored:deny'],
    access: 'secret',
  },
  'a Docker Hub organisation image is private when the namespace holds a docker login for Docker Hub': {
    state: [pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    workload: pod({ containers: [{ name: 'job', image: hubPrivate }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['docker.io is a well-known public registry, but secret hub in the namespace has a key for it (https://index.docker.io/v1/), so the image is treated as private'],
  },
  'a GitLab registry image is private when a namespace secret covers its group': {
    state: [pullSecret('team', 'gitlab', 'registry.gitlab.com/acme')],
    workload: pod({ containers: [{ name: 'app', image: 'registry.gitlab.com/acme/api:1' }] }),
    policy: { injection: { enabled: false } },
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
  },
  'a built-in public registry image stays public when no key in the namespace matches its path': {
    state: [pullSecret('team', 'ghcr-acme', 'ghcr.io/acme')],
    workload: pod({ containers: [{ name: 'app', image: 'ghcr.io/other-org/tool:1' }] }),
    decision: 'allow',
    findings: [],
    access: 'public',
  },
  'Docker Hub official images stay public even when the namespace holds a Docker Hub login': {
    state: [pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    workload: pod({ containers: [{ name: 'web', image: 'nginx:1.27' }] }),
    decision: 'allow',
    findings: ['AnonymousPullRateLimited:info'],
    access: 'public',
  },
  'registries that host only public images stay public whatever keys the namespace holds': {
    state: [pullSecret('team', 'k8s', 'registry.k8s.io')],
    workload: pod({ containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] }),
    decision: 'allow',
    findings: [],
    access: 'public',
  },
  'an explicit public rule still wins over a namespace secret that covers the image': {
    state: [pullSecret('team', 'ghcr-acme', 'ghcr.io/acme')],
    workload: pod({ containers: [{ name: 'app', image: ghcrPrivate }] }),
    policy: { registries: [{ hosts: ['ghcr.io/acme'], access: 'public' }] },
    decision: 'allow',
    findings: [],
    access: 'public',
  },
  'a key without credentials in the namespace does not make a built-in public image private': {
    state: [dockerConfigJsonSecret('team', 'empty', { 'ghcr.io': {} })],
    workload: pod({ containers: [{ name: 'app', image: 'ghcr.io/other-org/tool:1' }] }),
    decision: 'allow',
    findings: [],
    access: 'public',
  },
  // 2. Credential checks whenever a key matches, whatever the access.
  'an expired ECR token for public.ecr.aws fails the pull although the registry is public': {
    state: [ecrSecret('team', 'ecr-public', 'public.ecr.aws', NOW / 1000 - HOUR_S)],
    workload: pod({ imagePullSecrets: ['ecr-public'], containers: [{ name: 'app', image: 'public.ecr.aws/nginx/nginx:1.27' }] }),
    decision: 'deny',
    findings: ['CredentialExpired:deny'],
  },
  'an expired token for a public registry is replaced by injecting a fresh one': {
    state: [ecrSecret('team', 'ecr-old', 'public.ecr.aws', NOW / 1000 - HOUR_S), ecrSecret('team', 'ecr-new', 'public.ecr.aws', NOW / 1000 + 5 * HOUR_S)],
    workload: pod({ imagePullSecrets: ['ecr-old'], containers: [{ name: 'app', image: 'public.ecr.aws/nginx/nginx:1.27' }] }),
    decision: 'inject',
    findings: ['CredentialExpired:warn', 'InjectedPullSecret:warn'],
    inject: ['ecr-new'],
  },
  'an empty credential for a public registry still pulls anonymously': {
    state: [dockerConfigJsonSecret('team', 'empty', { 'registry.k8s.io': {} })],
    workload: pod({ imagePullSecrets: ['empty'], containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] }),
    decision: 'allow',
    findings: [],
  },
  'an expired token for a node-identity registry is a warning: the node credentials are tried too': {
    state: [ecrSecret('team', 'ecr', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 - HOUR_S)],
    workload: pod({ imagePullSecrets: ['ecr'], containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    policy: { registries: [{ hosts: ['*.dkr.ecr.*.amazonaws.com'], access: 'node' }] },
    decision: 'allow',
    findings: ['CredentialExpired:warn'],
  },
  // 3. Injection is judged on the keyring the pod will have after the patch.
  'does not inject an index.docker.io secret when the pod own empty docker.io key blocks the fallback': {
    state: [dockerConfigJsonSecret('team', 'stale', { 'docker.io': {} }), pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    workload: pod({ imagePullSecrets: ['stale'], containers: [{ name: 'app', image: 'acme/private-app:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    inject: [],
    says: ['secret hub in the namespace would cover it, but'],
  },
  'injects a direct docker.io key even when the pod own empty key blocks the fallback': {
    state: [dockerConfigJsonSecret('team', 'stale', { 'docker.io': {} }), pullSecret('team', 'hub', 'docker.io/acme')],
    workload: pod({ imagePullSecrets: ['stale'], containers: [{ name: 'app', image: 'acme/private-app:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'inject',
    findings: ['InjectedPullSecret:warn'],
    inject: ['hub'],
  },
  // 4. kubernetes.io/enforce-mountable-secrets on the ServiceAccount.
  'injects only a secret the ServiceAccount lists when it enforces mountable secrets': {
    state: [
      enforcingServiceAccount('team', 'default', 'own', 'zz-listed'),
      pullSecret('team', 'own', 'quay.io'),
      pullSecret('team', 'aa-unlisted', 'registry.example.com'),
      pullSecret('team', 'zz-listed', 'registry.example.com'),
    ],
    workload: pod({ imagePullSecrets: ['own'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'inject',
    findings: ['InjectedPullSecret:warn', 'ServiceAccountSecretsIgnored:warn'],
    inject: ['zz-listed'],
  },
  'does not inject and says why when the ServiceAccount enforces mountable secrets and lists no covering secret': {
    state: [enforcingServiceAccount('team', 'default', 'own'), pullSecret('team', 'own', 'quay.io'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: pod({ imagePullSecrets: ['own'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    inject: [],
    says: ['kubernetes.io/enforce-mountable-secrets', 'regcred', 'add it to ServiceAccount default'],
  },
  'warns that every pod of a template is rejected when it lists a pull secret its enforcing ServiceAccount does not': {
    state: [enforcingServiceAccount('team', 'builder', 'other'), pullSecret('team', 'other', 'quay.io'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deployment({ serviceAccountName: 'builder', imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'allow',
    findings: ['PullSecretNotMountable:warn'],
    says: ['secret regcred is not in the imagePullSecrets of ServiceAccount builder', 'enforce-mountable-secrets', 'the API server rejects every pod'],
  },
  'names the first entry the enforcing ServiceAccount refuses, as the API server does, nameless entries included': {
    state: [enforcingServiceAccount('team', 'default', 'regcred'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deploymentWithNamelessEntry({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'allow',
    findings: ['PullSecretNotMountable:warn'],
    says: ['imagePullSecrets[1] has no name', 'drop the entry'],
  },
  'says nothing of mountable secrets when the enforcing ServiceAccount lists every secret of the template': {
    state: [enforcingServiceAccount('team', 'default', 'regcred', 'other'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deployment({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'allow',
    findings: [],
  },
  'says nothing of mountable secrets for a ServiceAccount that does not enforce them': {
    state: [serviceAccount('team', 'default', 'other'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: deployment({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'allow',
    findings: [],
  },
  'says nothing of mountable secrets for a pod at admission (the ServiceAccount plugin already let it through)': {
    state: [enforcingServiceAccount('team', 'default', 'other'), pullSecret('team', 'regcred', 'registry.example.com')],
    workload: pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'allow',
    findings: [],
  },
};

/** A Deployment whose template lists `names` and then an entry without a name (`{}`). */
function deploymentWithNamelessEntry(options: Parameters<typeof deployment>[0] & { imagePullSecrets: string[] }): Record<string, unknown> {
  const object = deployment(options) as { spec: { template: { spec: { imagePullSecrets: Array<Record<string, string>> } } } };
  object.spec.template.spec.imagePullSecrets.push({});
  return object as unknown as Record<string, unknown>;
}

function enforcingServiceAccount(namespace: string, name: string, ...pullSecrets: string[]): Record<string, unknown> {
  const account = serviceAccount(namespace, name, ...pullSecrets) as { metadata: Record<string, unknown> };
  account.metadata['annotations'] = { 'kubernetes.io/enforce-mountable-secrets': 'true' };
  return account as unknown as Record<string, unknown>;
}

for (const [name, c] of Object.entries(wrongVerdicts)) t.test(name, async (t) => check(t, c));

t.test('an injected secret is judged with the whole patched keyring: validating the patched pod allows it', async (t) => {
  // The mutate-then-validate round trip for every injecting case above.
  for (const [name, c] of Object.entries(wrongVerdicts)) {
    const first = runCase(c);
    if (first.inject.length === 0 || c.workload['kind'] !== 'Pod') continue;
    const patched = structuredClone(c.workload) as { spec: { imagePullSecrets?: Array<{ name: string }> } };
    patched.spec.imagePullSecrets = [...(patched.spec.imagePullSecrets ?? []), ...first.patchNames.map((secret) => ({ name: secret }))];
    const second = runCase({ ...c, workload: patched as unknown as Record<string, unknown> });
    t.not(second.decision, 'deny', `${name}: the patched pod is not denied`);
    t.same(second.inject, [], `${name}: nothing more to inject`);
  }
});

t.test('another covering secret is injected when the first choice would hide a covered container\'s fallback key', async (t) => {
  check(t, {
    state: [
      pullSecret('team', 'hub', 'https://index.docker.io/v1/'),
      dockerConfigJsonSecret('team', 'aa-mixed', { 'registry.example.com': { auth: 'dXNlcjpub3QtYS1yZWFsLXBhc3N3b3Jk' }, 'docker.io': {} }),
      pullSecret('team', 'zz-clean', 'registry.example.com'),
    ],
    workload: pod({
      imagePullSecrets: ['hub'],
      containers: [{ name: 'hubapp', image: 'acme/app:1' }, { name: 'private', image: 'registry.example.com/team/app:1' }],
    }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'inject',
    findings: ['InjectedPullSecret:warn'],
    inject: ['zz-clean'],
  });
});

t.test('the preferred covering secret stays the choice when it hides nothing', async (t) => {
  check(t, {
    state: [
      pullSecret('team', 'hub', 'https://index.docker.io/v1/'),
      pullSecret('team', 'aa-first', 'registry.example.com'),
      pullSecret('team', 'zz-second', 'registry.example.com'),
    ],
    workload: pod({
      imagePullSecrets: ['hub'],
      containers: [{ name: 'hubapp', image: 'acme/app:1' }, { name: 'private', image: 'registry.example.com/team/app:1' }],
    }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'inject',
    findings: ['InjectedPullSecret:warn'],
    inject: ['aa-first'],
  });
});

t.test('a container whose fallback key an injected secret would hide is denied, naming the injected secret', async (t) => {
  check(t, {
    state: [
      pullSecret('team', 'hub', 'https://index.docker.io/v1/'),
      dockerConfigJsonSecret('team', 'mixed', { 'registry.example.com': { auth: 'dXNlcjpub3QtYS1yZWFsLXBhc3N3b3Jk' }, 'docker.io': {} }),
    ],
    workload: pod({
      imagePullSecrets: ['hub'],
      containers: [{ name: 'hubapp', image: 'acme/app:1' }, { name: 'private', image: 'registry.example.com/team/app:1' }],
    }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'deny',
    findings: ['InjectedPullSecret:warn', 'NoMatchingCredential:deny'],
    inject: ['mixed'],
    says: ['hubapp: injecting mixed for other containers'],
  });
});

const moreFields: Record<string, Case> = {
  // 7. Policy path patterns match whole path components.
  'a policy rule for docker.io/acme does not catch docker.io/acmecorp images': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'acmecorp/tool:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'allow',
    findings: ['AnonymousPullRateLimited:info'],
    access: 'public',
  },
  'a policy rule for docker.io/acme catches docker.io/acme images': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'acme/tool:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
  },
  'a policy pattern ending in a slash keeps matching by prefix': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'registry.example.com/team-a/tool:1' }] }),
    policy: { registries: [{ hosts: ['registry.example.com/team-'], access: 'public' }, { hosts: ['registry.example.com/'], access: 'node' }] },
    decision: 'allow',
    findings: [],
    access: 'node',
  },
  'an exempt pattern matches whole path components too': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'registry.example.com/team/legacy-new:1' }] }),
    policy: { exemptImages: ['registry.example.com/team/legacy'] },
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
  },
  // 9. imagePullPolicy: Never.
  'a private image with imagePullPolicy Never is not denied for missing credentials, and must be preloaded': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'registry.example.com/team/app:1', imagePullPolicy: 'Never' }] }),
    decision: 'allow',
    findings: ['ImageNeverPulled:info'],
    says: ['preload it on every node'],
  },
  'imagePullPolicy Never with neverPullCredentials deny checks credentials as for a pull': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'registry.example.com/team/app:1', imagePullPolicy: 'Never' }] }),
    policy: { neverPullCredentials: 'deny' },
    decision: 'deny',
    findings: ['ImageNeverPulled:info', 'NoMatchingCredential:deny'],
  },
  'imagePullPolicy Never with neverPullCredentials warn only warns about missing credentials': {
    state: [],
    workload: pod({ imagePullSecrets: ['typo'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1', imagePullPolicy: 'Never' }] }),
    policy: { neverPullCredentials: 'warn' },
    decision: 'allow',
    findings: ['ImageNeverPulled:info', 'PullSecretNotFound:warn'],
  },
  'imagePullPolicy Never with neverPullCredentials warn still injects a covering secret': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    workload: pod({ containers: [{ name: 'app', image: 'registry.example.com/team/app:1', imagePullPolicy: 'Never' }] }),
    policy: { neverPullCredentials: 'warn' },
    decision: 'inject',
    findings: ['ImageNeverPulled:info', 'InjectedPullSecret:warn'],
    inject: ['regcred'],
  },
  // 10. A ServiceAccount that does not exist.
  'offline, an unknown ServiceAccount stays info when the state holds no ServiceAccounts of the namespace': {
    state: [],
    workload: deployment({ serviceAccountName: 'builder', containers: [{ name: 'web', image: 'nginx:1.27' }] }),
    decision: 'allow',
    findings: ['AnonymousPullRateLimited:info', 'ServiceAccountNotFound:info'],
  },
  'offline, an unknown ServiceAccount is a warning with the fix when the state holds the namespace ServiceAccounts': {
    state: [serviceAccount('team', 'default'), serviceAccount('team', 'deployer')],
    workload: deployment({ serviceAccountName: 'builder', imagePullSecrets: ['own'], containers: [{ name: 'web', image: 'nginx:1.27' }] }),
    decision: 'allow',
    findings: ['AnonymousPullRateLimited:info', 'PullSecretNotFound:warn', 'ServiceAccountNotFound:warn'],
    says: ['ServiceAccount builder does not exist', 'rejects every pod'],
  },
  // 11. Node-identity registries under the default policy.
  'an ECR image with no pull secret says the node usually pulls it on EKS and shows the node rule': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' }] }),
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['on EKS', 'access: node', '*.dkr.ecr.*.amazonaws.com', 'cloud: eks'],
  },
  'an Artifact Registry image with no pull secret names GKE and its node rule': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'europe-west1-docker.pkg.dev/proj/repo/app:1' }] }),
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['on GKE', '*-docker.pkg.dev'],
  },
  'an ACR image with no pull secret names AKS and its node rule': {
    state: [],
    workload: pod({ containers: [{ name: 'app', image: 'acme.azurecr.io/app:1' }] }),
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['on AKS', '*.azurecr.io'],
  },
  // 13. A listed secret that exists but cannot help is named, with why.
  'a listed secret with the legacy flat layout in .dockerconfigjson is named as holding no keys': {
    state: [secretOfType('team', 'flat', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64(JSON.stringify({ 'registry.example.com': { auth: b64('u:p') } })) })],
    workload: pod({ imagePullSecrets: ['flat'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['(looked at flat); secret flat holds no auths keys', 'kubernetes.io/dockercfg'],
  },
  'a listed secret whose only key can never match says why': {
    state: [pullSecret('team', 'hub', 'https://index.docker.io/v1/acme')],
    workload: pod({ imagePullSecrets: ['hub'], containers: [{ name: 'app', image: 'acme/app:1' }] }),
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['secret hub: key https://index.docker.io/v1/acme never matches', 'docker.io/acme'],
  },
  'a listed secret with keys for other registries names them': {
    state: [pullSecret('team', 'quay', 'quay.io/acme')],
    workload: pod({ imagePullSecrets: ['quay'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }] }),
    decision: 'deny',
    findings: ['NoMatchingCredential:deny'],
    says: ['secret quay has keys for quay.io/acme only'],
  },
};

for (const [name, c] of Object.entries(moreFields)) t.test(name, async (t) => check(t, c));
