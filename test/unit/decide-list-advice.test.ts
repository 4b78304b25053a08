import t from 'tap';
import { admit } from '../../src/admission/admit.ts';
import { decodeAdmissionReview } from '../../src/admission/review.ts';
import { decide } from '../../src/decide/decide.ts';
import { clearPodSecretsMemo } from '../../src/decide/pod-secrets.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import type { Finding } from '../../src/findings/catalogue.ts';
import type { PolicyResolver } from '../../src/policy/resolve.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec, type PodSpecRef } from '../../src/workloads/extract.ts';
import { admissionReview, deployment, namespaceObject, pod, podSpec, pullSecret, serviceAccount, type PodOptions } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// Advice to list a secret keeps the ServiceAccount's secrets when the spec's author wrote no list:
// the ServiceAccount admission plugin copies the ServiceAccount's imagePullSecrets only into a pod
// that lists none, so a template (or pod manifest) given a list holding only the covering secret
// would take the ServiceAccount's secrets from every pod. The advice names the whole list: the
// names an uncut decision patches into such a template.

const NOW = Date.parse('2026-06-01T12:00:00Z');
const RULES = [{ hosts: ['registry.example.com'], access: 'secret' }];
const POLICY = policyResolver({ registries: RULES });
/** Template injection on: the uncut decision then says which names it patches into a template. */
const TEMPLATE_POLICY = policyResolver({ injection: { templates: true }, registries: RULES });

/** The reviewer's namespace: the ServiceAccount's secret, the covering one, and 40 glob fillers. */
const STATE = [
  namespaceObject('team'),
  serviceAccount('team', 'default', 'sa-hub'),
  // At pod admission a pod without a list is one whose ServiceAccount had none to copy.
  serviceAccount('team', 'plain'),
  pullSecret('team', 'sa-hub', 'quay.io'),
  pullSecret('team', 'cover', 'registry.example.com'),
  ...Array.from({ length: 40 }, (_, index) => pullSecret('team', `filler-${String(index).padStart(2, '0')}`, `*.filler-${index}.example.com`)),
];

const CONTAINERS = [
  { name: 'app', image: 'registry.example.com/app:1' },
  { name: 'zz', image: 'zz.example.net/a:1' },
];

function cronJob(options: PodOptions): Record<string, unknown> {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'team' },
    spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: podSpec(options) } } } },
  };
}

function specOf(object: Record<string, unknown>): PodSpecRef {
  const spec = extractPodSpec(object);
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

function decideWith(spec: PodSpecRef, secretsFinal: boolean, workBudget: number, policy: PolicyResolver = POLICY): PodDecision {
  clearPodSecretsMemo();
  return decide({ spec, namespace: 'team', snapshot: snapshotFromObjects(STATE), policy, now: NOW, secretsFinal, workBudget, templatePatchAllowed: true });
}

function isCut(decision: PodDecision): boolean {
  return decision.findings.some((finding) => finding.code === 'DecisionBudgetExceeded');
}

function containerFinding(decision: PodDecision, container: string, code: Finding['code']): Finding | undefined {
  return decision.containers.find((entry) => entry.name === container)?.findings.find((finding) => finding.code === code);
}

/** Every budget that cuts the decision after `app` (which needed the covering secret) was decided. */
function budgetsCuttingAfterApp(spec: PodSpecRef, secretsFinal: boolean): number[] {
  const budgets: number[] = [];
  for (let budget = 0; ; budget++) {
    const decision = decideWith(spec, secretsFinal, budget);
    if (!isCut(decision)) return budgets;
    if (decision.containers.some((container) => container.name === 'app')) budgets.push(budget);
  }
}

interface CutCase {
  readonly object: Record<string, unknown>;
  readonly secretsFinal: boolean;
  /** The imagePullSecrets the advice gives (null: it adds to the spec's own list instead). */
  readonly list: readonly string[] | null;
  /** The list the uncut decision patches into the template, when it is one to compare with. */
  readonly patchedWhenUncut?: readonly string[];
  /** Fragments the advice holds. */
  readonly says: readonly string[];
  readonly neverSays: readonly string[];
}

const cutCases: Record<string, CutCase> = {
  'a Deployment whose template lists no secrets is told to list the ServiceAccount\'s secrets with the covering one, as the uncut decision patches': {
    object: deployment({ containers: CONTAINERS }),
    secretsFinal: false,
    list: ['sa-hub', 'cover'],
    patchedWhenUncut: ['sa-hub', 'cover'],
    says: ['the check of this Deployment\'s pod template was cut short', 'its pods are checked again', 'to the Deployment\'s pod template'],
    neverSays: ['list it in imagePullSecrets', 'into a pod', 'injected into it'],
  },
  'a CronJob whose template lists no secrets is told the same, for its kind': {
    object: cronJob({ containers: CONTAINERS }),
    secretsFinal: false,
    list: ['sa-hub', 'cover'],
    patchedWhenUncut: ['sa-hub', 'cover'],
    says: ['the check of this CronJob\'s pod template was cut short', 'to the CronJob\'s pod template'],
    neverSays: ['list it in imagePullSecrets', 'into a pod'],
  },
  'a pod created without a list (its ServiceAccount has none to copy) is told to list the covering secret': {
    object: pod({ containers: CONTAINERS, serviceAccountName: 'plain' }),
    secretsFinal: true,
    list: ['cover'],
    says: ['the check of this pod was cut short', 'nothing is injected into it'],
    neverSays: ['list it in imagePullSecrets', 'pod template', 'sa-hub'],
  },
  'a pod whose list the ServiceAccount plugin copied is told to keep the copied names': {
    object: pod({ containers: CONTAINERS, imagePullSecrets: ['sa-hub'] }),
    secretsFinal: true,
    list: ['sa-hub', 'cover'],
    says: ['the check of this pod was cut short'],
    neverSays: ['list it in imagePullSecrets'],
  },
  'a Deployment with a list of its own is told to add the covering secret to it': {
    object: deployment({ containers: CONTAINERS, imagePullSecrets: ['filler-03'] }),
    secretsFinal: false,
    list: null,
    patchedWhenUncut: ['cover'],
    says: ['add cover to the imagePullSecrets of the Deployment\'s pod template (existing entries kept)'],
    neverSays: ['sa-hub', 'list it in imagePullSecrets'],
  },
  'a Deployment without a list whose ServiceAccount is unknown is told to list that ServiceAccount\'s secrets too': {
    object: deployment({ containers: CONTAINERS, serviceAccountName: 'builder' }),
    secretsFinal: false,
    list: null,
    says: ['add imagePullSecrets to the Deployment\'s pod template listing the pull secrets of ServiceAccount builder (not known to pullguard), if any, then cover'],
    neverSays: ['list it in imagePullSecrets', 'given state'],
  },
};

for (const [name, c] of Object.entries(cutCases)) {
  t.test(`cut by the work budget: ${name}`, (t) => {
    const spec = specOf(c.object);
    const budgets = budgetsCuttingAfterApp(spec, c.secretsFinal);
    t.ok(budgets.length > 0, `some budgets (${budgets.length}) cut the decision after app was decided`);
    if (c.patchedWhenUncut !== undefined) {
      t.same(decideWith(spec, c.secretsFinal, 10_000_000, TEMPLATE_POLICY).patchNames, c.patchedWhenUncut, 'the uncut decision patches these names');
    }
    const problems: string[] = [];
    for (const budget of budgets) {
      const decision = decideWith(spec, c.secretsFinal, budget);
      const finding = containerFinding(decision, 'app', 'NoMatchingCredential');
      if (finding?.severity !== 'deny') {
        problems.push(`budget ${budget}: app has no NoMatchingCredential denial`);
        continue;
      }
      const message = finding.message;
      if (!message.includes('secret cover in the namespace does')) problems.push(`budget ${budget}: the covering secret is not named: ${message}`);
      // When zz (which needs a secret the namespace lacks) was decided before the cut, the one list
      // of the answer names that secret too, after the covering one.
      const zz = containerFinding(decision, 'zz', 'NoMatchingCredential');
      const list = c.list === null ? null : zz === undefined ? c.list : c.list.includes('sa-hub') ? [...c.list, 'NEW-SECRET'] : null;
      if (list !== null && !message.includes(`imagePullSecrets: [${list.join(', ')}]`)) problems.push(`budget ${budget}: not the list [${list.join(', ')}]: ${message}`);
      if (list !== null && zz !== undefined && !zz.message.includes(`imagePullSecrets: [${list.join(', ')}]`)) problems.push(`budget ${budget}: zz is told another list: ${zz.message}`);
      for (const fragment of c.says) if (!message.includes(fragment)) problems.push(`budget ${budget}: does not say "${fragment}": ${message}`);
      for (const fragment of c.neverSays) if (message.includes(fragment)) problems.push(`budget ${budget}: says "${fragment}": ${message}`);
    }
    t.same(problems.slice(0, 3), [], `${problems.length} problems`);
    t.end();
  });
}

interface UncoveredCase {
  readonly object: Record<string, unknown>;
  readonly secretsFinal: boolean;
  readonly says: readonly string[];
  readonly neverSays: readonly string[];
}

const uncovered = [{ name: 'zz', image: 'zz.example.net/a:1' }];

const uncoveredCases: Record<string, UncoveredCase> = {
  'a pod created without a list (its ServiceAccount has none to copy) is told to list the new secret': {
    object: pod({ containers: uncovered, serviceAccountName: 'plain' }),
    secretsFinal: true,
    says: ['create a docker-registry secret for zz.example.net and list it in imagePullSecrets'],
    neverSays: ['sa-hub', 'NEW-SECRET'],
  },
  'a pod whose list the ServiceAccount plugin copied is told to keep the copied names': {
    object: pod({ containers: uncovered, imagePullSecrets: ['sa-hub'] }),
    secretsFinal: true,
    says: ['add imagePullSecrets: [sa-hub, NEW-SECRET]'],
    neverSays: ['list it in imagePullSecrets'],
  },
  'a Deployment whose template lists no secrets is told to list the ServiceAccount\'s with the new secret': {
    object: deployment({ containers: uncovered }),
    secretsFinal: false,
    says: ['add imagePullSecrets: [sa-hub, NEW-SECRET] to the Deployment\'s pod template'],
    neverSays: ['list it in imagePullSecrets'],
  },
  'a pod whose list is the ServiceAccount plugin\'s copy with a secret appended (as pullguard injects) is told the whole list, new secret last': {
    object: pod({ containers: uncovered, imagePullSecrets: ['sa-hub', 'cover'] }),
    secretsFinal: true,
    says: ['create a docker-registry secret NEW-SECRET for zz.example.net and set imagePullSecrets: [sa-hub, cover, NEW-SECRET] in the pod\'s template (or in the pod, if no controller made it)'],
    neverSays: ['list it in imagePullSecrets', 'to ServiceAccount default\'s imagePullSecrets'],
  },
  'a pod whose list has an entry without a name among the copied and appended names is told the list without it': {
    object: pod({ containers: uncovered, imagePullSecrets: ['sa-hub', '', 'cover'] }),
    secretsFinal: true,
    says: ['set imagePullSecrets: [sa-hub, cover, NEW-SECRET] in the pod\'s template'],
    neverSays: [', ,', 'list it in imagePullSecrets'],
  },
  'a pod whose list holds the ServiceAccount\'s secret after another one is told to list the new secret in it, as before': {
    object: pod({ containers: uncovered, imagePullSecrets: ['cover', 'sa-hub'] }),
    secretsFinal: true,
    says: ['create a docker-registry secret for zz.example.net and list it in imagePullSecrets'],
    neverSays: ['NEW-SECRET'],
  },
  'a Deployment template whose own list starts with the ServiceAccount\'s is told to list the new secret in it (its author wrote that list)': {
    object: deployment({ containers: uncovered, imagePullSecrets: ['sa-hub', 'cover'] }),
    secretsFinal: false,
    says: ['create a docker-registry secret for zz.example.net and list it in imagePullSecrets'],
    neverSays: ['NEW-SECRET'],
  },
  'a pod with a list of its own is told to list the new secret in it, as before': {
    object: pod({ containers: uncovered, imagePullSecrets: ['filler-01'] }),
    secretsFinal: true,
    says: ['create a docker-registry secret for zz.example.net and list it in imagePullSecrets'],
    neverSays: ['sa-hub', 'NEW-SECRET'],
  },
};

for (const [name, c] of Object.entries(uncoveredCases)) {
  t.test(`no secret covers the image: ${name}`, (t) => {
    const decision = decideWith(specOf(c.object), c.secretsFinal, 10_000_000);
    const finding = containerFinding(decision, 'zz', 'NoMatchingCredential');
    t.equal(finding?.severity, 'deny', 'denied for NoMatchingCredential');
    const message = finding?.message ?? '';
    for (const fragment of c.says) t.match(message, fragment, `says "${fragment}"`);
    for (const fragment of c.neverSays) t.notMatch(message, fragment, `never says "${fragment}"`);
    t.end();
  });
}

t.test('a pod CREATE reaching validation unpatched, whose list the ServiceAccount plugin copied, is told to keep the copied names', (t) => {
  const object = pod({ containers: [{ name: 'app', image: 'registry.example.com/app:1' }], imagePullSecrets: ['sa-hub'] });
  const outcome = admit(decodeAdmissionReview(admissionReview(object)), 'validate', { snapshot: snapshotFromObjects(STATE), policy: POLICY, now: NOW });
  t.equal(outcome.response.allowed, false, 'denied');
  const message = outcome.response.status?.message ?? '';
  t.match(message, 'secret cover in the namespace does: add imagePullSecrets: [sa-hub, cover]', 'advises the copied names with the covering secret');
  t.notMatch(message, 'imagePullSecrets: [cover]', 'never advises a list holding only the covering secret');
  t.end();
});

t.test('a pod that pullguard patched, reaching validation with another image uncovered, is told the whole list to write', (t) => {
  const snapshot = snapshotFromObjects(STATE);
  // As the API server runs them: the ServiceAccount plugin copies [sa-hub], /mutate appends cover,
  // and /validate sees the patched pod.
  const created = pod({ containers: CONTAINERS, imagePullSecrets: ['sa-hub'] });
  const mutated = admit(decodeAdmissionReview(admissionReview(created)), 'mutate', { snapshot, policy: POLICY, now: NOW });
  const patch = JSON.parse(Buffer.from(mutated.response.patch ?? '', 'base64').toString()) as { op: string; path: string; value: { name: string } }[];
  t.same(patch, [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'cover' } }], '/mutate appends cover');
  const patched = pod({ containers: CONTAINERS, imagePullSecrets: ['sa-hub', 'cover'] });
  const outcome = admit(decodeAdmissionReview(admissionReview(patched)), 'validate', { snapshot, policy: POLICY, now: NOW });
  t.equal(outcome.response.allowed, false, 'denied: zz is still uncovered');
  const message = outcome.response.status?.message ?? '';
  t.match(message, "set imagePullSecrets: [sa-hub, cover, NEW-SECRET] in the pod's template (or in the pod, if no controller made it)", 'names every secret the pod has, then the new one');
  t.notMatch(message, 'list it in imagePullSecrets', 'never the bare advice that, written into a template without a list, drops sa-hub');
  t.end();
});

t.test('a pod whose list extends its ServiceAccount\'s and is too long to quote is told it by reference', (t) => {
  const names = Array.from({ length: 30 }, (_, index) => `filler-${String(index).padStart(2, '0')}`);
  const decision = decideWith(specOf(pod({ containers: uncovered, imagePullSecrets: ['sa-hub', ...names] })), true, 10_000_000);
  const message = containerFinding(decision, 'zz', 'NoMatchingCredential')?.message ?? '';
  t.match(message, "set imagePullSecrets to the pod's 31 pull secrets, then NEW-SECRET, in the pod's template (or in the pod, if no controller made it), every entry kept");
  t.notMatch(message, 'filler-29', 'the list is not cut in the middle');
  t.end();
});

t.test('a pod whose ServiceAccount lists an entry without a name first, with the copy extended by an injection, is told the whole list', (t) => {
  // The plugin copies `{}` too; the snapshot keeps only the named entries of the ServiceAccount.
  const account = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'gappy', namespace: 'team' }, imagePullSecrets: [{}, { name: 'sa-hub' }] };
  clearPodSecretsMemo();
  const spec = specOf(pod({ serviceAccountName: 'gappy', containers: uncovered, imagePullSecrets: ['', 'sa-hub', 'cover'] }));
  const decision = decide({ spec, namespace: 'team', snapshot: snapshotFromObjects([...STATE, account]), policy: POLICY, now: NOW, secretsFinal: true });
  const message = containerFinding(decision, 'zz', 'NoMatchingCredential')?.message ?? '';
  t.match(message, "set imagePullSecrets: [sa-hub, cover, NEW-SECRET] in the pod's template (or in the pod, if no controller made it), every entry kept");
  t.notMatch(message, 'list it in imagePullSecrets');
  t.end();
});
