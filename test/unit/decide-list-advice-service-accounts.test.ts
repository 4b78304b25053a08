import t from 'tap';
import { admit } from '../../src/admission/admit.ts';
import { decodeAdmissionReview } from '../../src/admission/review.ts';
import { decide } from '../../src/decide/decide.ts';
import { clearPodSecretsMemo } from '../../src/decide/pod-secrets.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import type { Finding } from '../../src/findings/catalogue.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec, type PodSpecRef } from '../../src/workloads/extract.ts';
import { admissionReview, deployment, namespaceObject, pod, pullSecret, serviceAccount, type PodOptions } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// What the advice on the list to write says for each kind of ServiceAccount, and that it works
// when followed, as the ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount)
// judges the result: it copies the ServiceAccount's imagePullSecrets verbatim into a pod that lists
// none, and with kubernetes.io/enforce-mountable-secrets: "true" it rejects a pod listing a name
// the ServiceAccount's imagePullSecrets do not.

const NOW = Date.parse('2026-06-01T12:00:00Z');
const POLICY = policyResolver({ registries: [{ hosts: ['registry.example.com', 'zz.example.net'], access: 'secret' }], dockerHubAnonymous: 'warn' });

function enforcing(name: string, ...pullSecrets: string[]): Record<string, unknown> {
  const account = serviceAccount('team', name, ...pullSecrets);
  return { ...account, metadata: { name, namespace: 'team', annotations: { 'kubernetes.io/enforce-mountable-secrets': 'true' } } };
}

/** 40 names of 20 characters: their list does not fit a denial's 256-character subject. */
const CROWD = Array.from({ length: 40 }, (_, index) => `team-pull-secret-${String(index).padStart(3, '0')}`);

const STATE = [
  namespaceObject('team'),
  serviceAccount('team', 'default', 'sa-hub'),
  enforcing('locked', 'sa-hub', 'quay-extra'),
  serviceAccount('team', 'crowded', ...CROWD),
  pullSecret('team', 'sa-hub', 'quay.io'),
  pullSecret('team', 'quay-extra', 'quay.io/extra'),
  pullSecret('team', 'cover', 'registry.example.com'),
  pullSecret('team', 'hub', 'https://index.docker.io/v1/'),
  ...CROWD.map((name) => pullSecret('team', name, `${name}.example.org`)),
];

const UNCOVERED = { name: 'zz', image: 'zz.example.net/a:1' };
const COVERED = { name: 'app', image: 'registry.example.com/app:1' };

function specOf(object: Record<string, unknown>): PodSpecRef {
  const spec = extractPodSpec(object);
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

function decideOn(object: Record<string, unknown>, secretsFinal: boolean, state: readonly Record<string, unknown>[] = STATE, podUpdate = false): PodDecision {
  clearPodSecretsMemo();
  return decide({ spec: specOf(object), namespace: 'team', snapshot: snapshotFromObjects(state), policy: POLICY, now: NOW, secretsFinal, podUpdate, templatePatchAllowed: !podUpdate });
}

function finding(decision: PodDecision, container: string, code: Finding['code']): Finding | undefined {
  return decision.containers.find((entry) => entry.name === container)?.findings.find((entry) => entry.code === code);
}

interface AdviceCase {
  readonly object: Record<string, unknown>;
  readonly secretsFinal: boolean;
  readonly podUpdate?: boolean;
  readonly says: readonly string[];
  readonly neverSays: readonly string[];
}

const uncoveredCases: Record<string, AdviceCase> = {
  'a Deployment without a list whose ServiceAccount enforces mountable secrets is told to add the new secret to the ServiceAccount, never to list it': {
    object: deployment({ serviceAccountName: 'locked', containers: [UNCOVERED] }),
    secretsFinal: false,
    says: ['create a docker-registry secret NEW-SECRET for zz.example.net and add NEW-SECRET to ServiceAccount locked\'s imagePullSecrets (pods that list none get its list): it has kubernetes.io/enforce-mountable-secrets: "true"'],
    neverSays: ['imagePullSecrets: [', 'list it in imagePullSecrets'],
  },
  'a pod whose list was copied from a ServiceAccount enforcing mountable secrets is told the same': {
    object: pod({ serviceAccountName: 'locked', imagePullSecrets: ['sa-hub', 'quay-extra'], containers: [UNCOVERED] }),
    secretsFinal: true,
    says: ['add NEW-SECRET to ServiceAccount locked\'s imagePullSecrets (pods that list none get its list)'],
    neverSays: ['imagePullSecrets: [', 'list it in imagePullSecrets'],
  },
  'a pod with its own list under a ServiceAccount enforcing mountable secrets is told to add the new secret to both lists': {
    object: pod({ serviceAccountName: 'locked', imagePullSecrets: ['quay-extra'], containers: [UNCOVERED] }),
    secretsFinal: true,
    says: ['add NEW-SECRET to ServiceAccount locked\'s imagePullSecrets, and NEW-SECRET to the imagePullSecrets of the pod (existing entries kept): it has kubernetes.io/enforce-mountable-secrets'],
    neverSays: ['list it in imagePullSecrets'],
  },
  'a pod UPDATE of a pod with its own list under a ServiceAccount enforcing mountable secrets is told to add the new secret to the ServiceAccount and recreate the pod with it in its list': {
    object: pod({ serviceAccountName: 'locked', imagePullSecrets: ['quay-extra'], containers: [UNCOVERED] }),
    secretsFinal: true,
    podUpdate: true,
    says: ['add NEW-SECRET to ServiceAccount locked\'s imagePullSecrets (it has kubernetes.io/enforce-mountable-secrets: "true", so a pod may list only the secrets it lists), then recreate the pod with imagePullSecrets: [quay-extra, NEW-SECRET] (the whole list, existing entries kept)'],
    neverSays: [],
  },
  'a pod UPDATE of a pod whose list was copied from a ServiceAccount enforcing mountable secrets is told to add the new secret to the ServiceAccount and recreate the pod without a list of its own': {
    object: pod({ serviceAccountName: 'locked', imagePullSecrets: ['sa-hub', 'quay-extra'], containers: [UNCOVERED] }),
    secretsFinal: true,
    podUpdate: true,
    says: ['add NEW-SECRET to ServiceAccount locked\'s imagePullSecrets (it has kubernetes.io/enforce-mountable-secrets: "true", so a pod may list only the secrets it lists), then recreate the pod'],
    neverSays: ['imagePullSecrets: ['],
  },
  'a Deployment without a list whose ServiceAccount pullguard does not know is told to keep that ServiceAccount\'s secrets, as a cut decision is': {
    object: deployment({ serviceAccountName: 'builder', containers: [UNCOVERED] }),
    secretsFinal: false,
    says: ['add imagePullSecrets to the Deployment\'s pod template listing the pull secrets of ServiceAccount builder (not known to pullguard), if any, then NEW-SECRET', 'or add NEW-SECRET to ServiceAccount builder\'s imagePullSecrets'],
    neverSays: ['list it in imagePullSecrets', 'given state'],
  },
  'a pod whose ServiceAccount\'s list does not fit a denial is told the list by reference, never cut': {
    object: pod({ serviceAccountName: 'crowded', imagePullSecrets: CROWD, containers: [UNCOVERED] }),
    secretsFinal: true,
    says: ['add imagePullSecrets listing the 40 pull secrets of ServiceAccount crowded, then NEW-SECRET (a list of its own stops the ServiceAccount\'s copy), or add NEW-SECRET to ServiceAccount crowded\'s imagePullSecrets'],
    neverSays: ['…', 'imagePullSecrets: ['],
  },
  'a Deployment whose ServiceAccount\'s list does not fit a denial is told the list by reference, never cut': {
    object: deployment({ serviceAccountName: 'crowded', containers: [UNCOVERED] }),
    secretsFinal: false,
    says: ['add imagePullSecrets to the Deployment\'s pod template listing the 40 pull secrets of ServiceAccount crowded, then NEW-SECRET'],
    neverSays: ['…', 'imagePullSecrets: ['],
  },
  'a pod UPDATE of a pod whose own list does not fit a denial is told to recreate it with that list by reference, never cut': {
    object: pod({ imagePullSecrets: CROWD, containers: [UNCOVERED] }),
    secretsFinal: true,
    podUpdate: true,
    says: ['recreate the pod with its 40 imagePullSecrets, then NEW-SECRET'],
    neverSays: ['…'],
  },
  'an ephemeral container no secret covers is told to debug with an image the pod\'s secrets cover, never to recreate the pod': {
    object: pod({ imagePullSecrets: ['sa-hub'], containers: [{ name: 'web', image: 'quay.io/acme/web:1' }], ephemeralContainers: [{ name: 'zz', image: 'zz.example.net/a:1' }] }),
    secretsFinal: true,
    podUpdate: true,
    says: ['create a docker-registry secret NEW-SECRET for zz.example.net; a pod\'s imagePullSecrets cannot change after creation, and an ephemeral container pulls with them: debug with an image they cover, or use kubectl debug --copy-to'],
    neverSays: ['recreate the pod'],
  },
};

for (const [name, c] of Object.entries(uncoveredCases)) {
  t.test(name, (t) => {
    const decision = decideOn(c.object, c.secretsFinal, STATE, c.podUpdate === true);
    const denial = finding(decision, 'zz', 'NoMatchingCredential');
    t.equal(denial?.severity, 'deny', 'zz is denied for NoMatchingCredential');
    const message = denial?.message ?? '';
    for (const fragment of c.says) t.ok(message.includes(fragment), `says "${fragment}": ${message}`);
    for (const fragment of c.neverSays) t.notOk(message.includes(fragment), `never says "${fragment}": ${message}`);
    t.end();
  });
}

t.test('following the advice for a ServiceAccount enforcing mountable secrets makes a Deployment pass, where listing the secret in the template is rejected', (t) => {
  const fixedState = [
    ...STATE.filter((object) => (object['metadata'] as { name?: string }).name !== 'locked'),
    enforcing('locked', 'sa-hub', 'quay-extra', 'NEW-SECRET'),
    pullSecret('team', 'NEW-SECRET', 'zz.example.net'),
  ];
  const followed = decideOn(deployment({ serviceAccountName: 'locked', containers: [UNCOVERED] }), false, fixedState);
  t.equal(followed.decision, 'allow', 'the template without a list is allowed once the ServiceAccount lists the new secret');
  const listed = decideOn(deployment({ serviceAccountName: 'locked', imagePullSecrets: ['sa-hub', 'quay-extra', 'NEW-SECRET'], containers: [UNCOVERED] }), false, [
    ...fixedState.filter((object) => (object['metadata'] as { name?: string }).name !== 'locked'),
    enforcing('locked', 'sa-hub', 'quay-extra'),
  ]);
  t.ok(listed.findings.some((entry) => entry.code === 'PullSecretNotMountable'), 'a whole list naming it in the template is rejected by the ServiceAccount plugin (PullSecretNotMountable)');
  t.end();
});

interface AnswerCase {
  readonly object: Record<string, unknown>;
  /** The one piece of advice every denial of the answer gives. */
  readonly advice: string;
  readonly neverSays: readonly string[];
}

// One answer, one list: the container a namespace secret covers and the one that needs a new
// secret are told the same list, in the webhook's answer as in the decision.
const answerCases: Record<string, AnswerCase> = {
  'a pod CREATE reaching validation unpatched, whose list was copied from its ServiceAccount, gives every container the same whole list': {
    object: pod({ imagePullSecrets: ['sa-hub'], containers: [COVERED, UNCOVERED] }),
    advice: 'add imagePullSecrets: [sa-hub, cover, NEW-SECRET] (ServiceAccount default\'s secrets kept',
    neverSays: ['[sa-hub, cover]', '[sa-hub, NEW-SECRET]'],
  },
  'a pod CREATE reaching validation unpatched, whose ServiceAccount pullguard does not know, is told to add to its list, never about a given state': {
    object: pod({ serviceAccountName: 'builder', containers: [COVERED, UNCOVERED] }),
    advice: 'add imagePullSecrets: [cover, NEW-SECRET]',
    neverSays: ['given state', 'not known to pullguard'],
  },
};

for (const [name, c] of Object.entries(answerCases)) {
  t.test(name, (t) => {
    clearPodSecretsMemo();
    const outcome = admit(decodeAdmissionReview(admissionReview(c.object)), 'validate', { snapshot: snapshotFromObjects(STATE), policy: POLICY, now: NOW });
    t.equal(outcome.response.allowed, false, 'denied');
    const message = outcome.response.status?.message ?? '';
    const denials = outcome.findings.filter((entry) => entry.severity === 'deny' && entry.code === 'NoMatchingCredential');
    t.equal(denials.length, 2, 'both containers are denied');
    for (const denial of denials) t.ok(denial.message.includes(c.advice), `${denial.path} says "${c.advice}": ${denial.message}`);
    for (const fragment of c.neverSays) t.notOk(message.includes(fragment), `never says "${fragment}"`);
    t.end();
  });
}

interface HubCase {
  readonly options: PodOptions;
  readonly template: boolean;
  readonly fix: string;
  /** A pod UPDATE: the pod runs, and its list cannot change. */
  readonly podUpdate?: boolean;
  /** The fix is long enough that the image's name gives way (it still fits a warning line). */
  readonly nameShortened?: boolean;
  readonly state?: readonly Record<string, unknown>[];
}

// The Docker Hub warning names the namespace secret that would authenticate the pull; naming it in
// a list of the spec's own must not cost the spec its ServiceAccount's secrets.
const hubCases: Record<string, HubCase> = {
  'a pod whose list was copied from its ServiceAccount is told to add the Docker Hub secret to the ServiceAccount': {
    options: { imagePullSecrets: ['sa-hub'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    fix: 'add hub to SA default\'s imagePullSecrets',
  },
  'a Deployment without a list whose ServiceAccount has secrets is told the same': {
    options: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: true,
    fix: 'add hub to SA default\'s imagePullSecrets',
  },
  'a pod whose list extends its ServiceAccount\'s copy (as after an injection) is told to append the secret to its whole list': {
    options: { imagePullSecrets: ['sa-hub', 'cover'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    fix: 'append hub to the pod\'s whole list',
  },
  'a pod with a list of its own is told to list the secret, as before': {
    options: { imagePullSecrets: ['quay-extra'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    fix: 'list secret hub, which covers it',
  },
  'a running pod (a pod UPDATE) is told to recreate the pod with the secret added, since its list cannot change': {
    options: { imagePullSecrets: ['quay-extra'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    podUpdate: true,
    fix: 'recreate the pod with hub also listed',
  },
  'a running pod whose list extends its ServiceAccount\'s copy is told the same, not to append to a list that cannot change': {
    options: { imagePullSecrets: ['sa-hub', 'cover'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    podUpdate: true,
    fix: 'recreate the pod with hub also listed',
  },
  'an ephemeral container of a running pod is told to use an image the pod\'s secrets cover: recreating the pod is not debugging it': {
    options: { imagePullSecrets: ['quay-extra'], containers: [{ name: 'app', image: 'quay.io/extra/app:1' }], ephemeralContainers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    podUpdate: true,
    fix: 'use an image the pod\'s secrets cover',
  },
  'a pod under a ServiceAccount enforcing mountable secrets that does not list the secret is told to add it there and to the pod\'s list': {
    options: { serviceAccountName: 'locked', imagePullSecrets: ['quay-extra'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    nameShortened: true,
    fix: 'add hub to SA locked and the pod\'s imagePullSecrets',
  },
  'a running pod under that ServiceAccount is told to add it there, then recreate the pod listing it': {
    options: { serviceAccountName: 'locked', imagePullSecrets: ['quay-extra'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    podUpdate: true,
    nameShortened: true,
    fix: 'add hub to SA locked, recreate the pod listing it',
  },
  'a running pod under that ServiceAccount with its copied list is told to add it there, then recreate the pod': {
    options: { serviceAccountName: 'locked', imagePullSecrets: ['sa-hub', 'quay-extra'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    podUpdate: true,
    nameShortened: true,
    fix: 'add hub to SA locked, then recreate the pod',
  },
  'a running pod in a namespace without a Docker Hub secret is told to recreate the pod with one': {
    options: { imagePullSecrets: ['quay-extra'], containers: [{ name: 'web', image: 'nginx:1.27' }] },
    template: false,
    podUpdate: true,
    state: STATE.filter((object) => (object['metadata'] as { name?: string } | undefined)?.name !== 'hub'),
    fix: 'recreate the pod listing a Hub secret',
  },
};

for (const [name, c] of Object.entries(hubCases)) {
  t.test(`the Docker Hub warning: ${name}`, (t) => {
    const decision = decideOn(c.template ? deployment(c.options) : pod(c.options), !c.template, c.state, c.podUpdate === true);
    const warning = finding(decision, 'web', 'AnonymousPullRateLimited');
    t.equal(warning?.severity, 'warn', 'warns');
    t.ok(warning?.message.endsWith(`(rate-limited); ${c.fix}`), `ends with "${c.fix}": ${warning?.message}`);
    t.ok((warning?.message.length ?? 0) <= 119, 'fits a warning line');
    if (c.nameShortened !== true) t.ok(warning?.message.startsWith('web: docker.io/library/nginx pulls'), `names the image whole: ${warning?.message}`);
    t.end();
  });
}

t.test('an ephemeral container in a dry-run namespace is not told that kubectl debug --copy-to gets a secret injected (dry-run injects nothing)', (t) => {
  const object = pod({ imagePullSecrets: ['sa-hub'], containers: [{ name: 'web', image: 'quay.io/acme/web:1' }], ephemeralContainers: [{ name: 'zz', image: 'registry.example.com/tools:1' }] });
  const advice = (mode: 'enforce' | 'dry-run'): string => {
    clearPodSecretsMemo();
    const policy = policyResolver({ mode, registries: [{ hosts: ['registry.example.com', 'zz.example.net'], access: 'secret' }] });
    const decision = decide({ spec: specOf(object), namespace: 'team', snapshot: snapshotFromObjects(STATE), policy, now: NOW, secretsFinal: true, podUpdate: true, templatePatchAllowed: false });
    return finding(decision, 'zz', 'NoMatchingCredential')?.message ?? '';
  };
  t.match(advice('enforce'), /or use kubectl debug --copy-to \(a new pod, which pullguard gives cover when it is created\)/, 'enforce: the copy gets the covering secret');
  const dryRun = advice('dry-run');
  t.match(dryRun, /debug with an image they cover/, 'dry-run: still told what works');
  t.notMatch(dryRun, /--copy-to/, 'dry-run: no promise of an injection');
  t.end();
});

t.test('a pod UPDATE whose containers need different secrets tells every container the same list to recreate the pod with', (t) => {
  // app: covered by the namespace's cover; zz: needs a secret the namespace lacks; a third container
  // whose registry a crowd secret covers. Each was told a list with its own secret only: following
  // one left the others unpullable.
  const object = pod({
    imagePullSecrets: ['quay-extra'],
    containers: [COVERED, UNCOVERED, { name: 'crowd', image: `${CROWD[0]}.example.org/tool:1` }],
  });
  const decision = decideOn(object, true, STATE, true);
  const whole = 'recreate the pod with imagePullSecrets: [quay-extra, cover, team-pull-secret-000, NEW-SECRET] (the whole list, existing entries kept)';
  for (const name of ['app', 'zz', 'crowd']) {
    const message = finding(decision, name, 'NoMatchingCredential')?.message ?? '';
    t.match(message, whole, `${name} is told the one list`);
  }
  t.end();
});

t.test('a pod UPDATE whose combined list does not fit a denial names it by reference in every container', (t) => {
  const object = pod({ imagePullSecrets: CROWD.slice(0, 12), containers: [COVERED, UNCOVERED] });
  const decision = decideOn(object, true, STATE, true);
  for (const name of ['app', 'zz']) {
    const message = finding(decision, name, 'NoMatchingCredential')?.message ?? '';
    t.match(message, 'recreate the pod with its 12 imagePullSecrets, then cover, NEW-SECRET', `${name}: by reference, both names`);
  }
  t.end();
});

t.test('a pod UPDATE whose added secrets are too many to write out names each container\'s own secret and how many others', (t) => {
  const containers = CROWD.slice(0, 30).map((name, index) => ({ name: `c${index}`, image: `${name}.example.org/tool:1` }));
  const decision = decideOn(pod({ imagePullSecrets: ['quay-extra'], containers }), true, STATE, true);
  for (const index of [0, 17, 29]) {
    const message = finding(decision, `c${index}`, 'NoMatchingCredential')?.message ?? '';
    t.match(message, `recreate the pod with its 1 imagePullSecrets, then ${CROWD[index]}, the 29 other secrets this answer names, or, if its controller's template lists none, add ${CROWD[index]}, the 29 other secrets this answer names to ServiceAccount default`, `c${index} names its own secret`);
  }
  t.end();
});

t.test('a pod UPDATE under a ServiceAccount enforcing mountable secrets puts the secret to create in the list the other containers are told', (t) => {
  // A pod created without a list, whose ServiceAccount lists cover since: zz is told to add
  // NEW-SECRET to the ServiceAccount (no list of its own to name); app's list to recreate the pod
  // with must hold NEW-SECRET too.
  const decision = decideOn(pod({ serviceAccountName: 'grown', containers: [COVERED, UNCOVERED] }), true, [...STATE, enforcing('grown', 'sa-hub', 'cover')], true);
  t.match(finding(decision, 'app', 'NoMatchingCredential')?.message ?? '', 'recreate the pod with imagePullSecrets: [cover, NEW-SECRET] (the whole list, existing entries kept), or, if its controller\'s template lists none, add cover, NEW-SECRET to ServiceAccount grown');
  t.match(finding(decision, 'zz', 'NoMatchingCredential')?.message ?? '', 'add NEW-SECRET to ServiceAccount grown\'s imagePullSecrets');
  t.end();
});
