import t from 'tap';
import { admit, type Phase } from '../../src/admission/admit.ts';
import { decodeAdmissionReview } from '../../src/admission/review.ts';
import { decide } from '../../src/decide/decide.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec } from '../../src/workloads/extract.ts';
import { admissionReview, namespaceObject, pod, pullSecret, serviceAccount, type PodOptions } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// A pod's imagePullSecrets cannot change after creation, and admit() never patches an UPDATE: a
// pod UPDATE decision injects nothing and says nothing was injected. A changed image that a
// namespace secret covers is denied naming that secret, with how to recreate the pod, in every
// mode (dry-run and warn report a would-deny, never a would-inject).

const NOW = Date.parse('2026-06-01T12:00:00Z');
const PRIVATE = 'registry.example.com/app:2';
const STATE = [namespaceObject('team'), serviceAccount('team', 'default'), pullSecret('team', 'quay', 'quay.io'), pullSecret('team', 'cover', 'registry.example.com')];

interface Case {
  readonly before: PodOptions;
  readonly after: PodOptions;
  readonly subResource?: string;
  /** The container the covering secret is for. */
  readonly container: string;
  /** The fix the denial gives: how to recreate the pod, or, for an ephemeral container, how to debug without recreating it. */
  readonly fix: string;
  /** Other codes the decision reports with their severity, `code/severity`. */
  readonly alsoReports?: readonly string[];
}

const cases: Record<string, Case> = {
  'a pod UPDATE changing an image to one only a namespace secret covers': {
    before: { imagePullSecrets: ['quay'], containers: [{ name: 'app', image: 'quay.io/acme/app:1' }] },
    after: { imagePullSecrets: ['quay'], containers: [{ name: 'app', image: PRIVATE }] },
    container: 'app',
    fix: 'recreate the pod with imagePullSecrets: [quay, cover]',
  },
  'a pod UPDATE of a pod without pull secrets': {
    before: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
    after: { containers: [{ name: 'app', image: PRIVATE }] },
    container: 'app',
    fix: 'recreate the pod with imagePullSecrets: [cover]',
  },
  'an ephemeral container added by kubectl debug whose image only a namespace secret covers': {
    before: { imagePullSecrets: ['quay'], containers: [{ name: 'web', image: 'quay.io/acme/web:1' }] },
    after: { imagePullSecrets: ['quay'], containers: [{ name: 'web', image: 'quay.io/acme/web:1' }], ephemeralContainers: [{ name: 'debug', image: PRIVATE }] },
    subResource: 'ephemeralcontainers',
    container: 'debug',
    // Recreating the pod is not debugging it: an image the pod's secrets cover, or a copy of the pod.
    fix: 'an ephemeral container pulls with them: debug with an image they cover, or use kubectl debug --copy-to (a new pod, which pullguard gives cover when it is created)',
  },
  'a pod UPDATE whose listed secret is missing, which explains the need for the covering one': {
    before: { imagePullSecrets: ['gone'], containers: [{ name: 'app', image: 'nginx:1.27' }] },
    after: { imagePullSecrets: ['gone'], containers: [{ name: 'app', image: PRIVATE }] },
    container: 'app',
    fix: 'recreate the pod with imagePullSecrets: [gone, cover]',
    alsoReports: ['PullSecretNotFound/warn'],
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(`${name}: the decision injects nothing and denies naming the covering secret`, (t) => {
    const spec = extractPodSpec(pod(c.after));
    if (spec === undefined) throw new Error('no pod spec');
    const decision = decide({
      spec, namespace: 'team', snapshot: snapshotFromObjects(STATE), policy: policyResolver(), now: NOW,
      secretsFinal: true, podUpdate: true, templatePatchAllowed: false,
    });
    t.same(decision.inject, [], 'nothing injected');
    t.same(decision.patchNames, [], 'nothing to patch');
    t.equal(decision.decision, 'deny');
    const container = decision.containers.find((entry) => entry.name === c.container);
    t.equal(container?.decision, 'deny', `${c.container} is denied`);
    t.equal(container?.credential, null, `${c.container} counts on no credential`);
    const codes = (container?.findings ?? []).map((finding) => `${finding.code}/${finding.severity}`).sort();
    t.same(codes, ['NoMatchingCredential/deny', ...(c.alsoReports ?? [])].sort(), 'no InjectedPullSecret');
    const denial = container?.findings.find((finding) => finding.code === 'NoMatchingCredential')?.message ?? '';
    t.match(denial, 'secret cover in the namespace does', 'names the covering secret');
    t.match(denial, 'cannot change after creation', 'says why it is not added');
    t.match(denial, c.fix, 'says how to fix it');
    t.notMatch(denial, 'injected', 'never claims an injection');
    t.end();
  });

  for (const mode of ['enforce', 'warn', 'dry-run']) {
    t.test(`${name}, ${mode} mode: the webhooks patch nothing and report a denial, never an injection`, (t) => {
      const review = admissionReview(pod(c.after), { operation: 'UPDATE', oldObject: pod(c.before), ...(c.subResource !== undefined ? { subResource: c.subResource } : {}) });
      const context = { snapshot: snapshotFromObjects(STATE), policy: policyResolver({ mode }), now: NOW };
      const outcomes = Object.fromEntries((['mutate', 'validate'] as Phase[]).map((phase) => [phase, admit(decodeAdmissionReview(review), phase, context)]));
      const mutated = outcomes['mutate'] as ReturnType<typeof admit>;
      const validated = outcomes['validate'] as ReturnType<typeof admit>;
      t.equal(mutated.response.patch, undefined, '/mutate patches nothing');
      t.equal(mutated.action, 'allow', '/mutate has nothing to inject');
      t.equal(validated.verdict, mode === 'enforce' ? 'deny' : 'would-deny', '/validate reports a denial');
      t.equal(validated.response.auditAnnotations?.['decision'], mode === 'enforce' ? 'deny' : 'would-deny', 'the audit annotation says so');
      t.equal(validated.response.allowed, mode !== 'enforce');
      t.ok(validated.codes.includes('NoMatchingCredential'), 'for NoMatchingCredential');
      t.notOk(validated.codes.includes('InjectedPullSecret'), 'never InjectedPullSecret');
      const text = [validated.reason, validated.response.status?.message ?? '', ...(validated.response.warnings ?? []), ...Object.values(validated.response.auditAnnotations ?? {})].join('\n');
      t.notMatch(text, 'would inject', 'never says it would inject');
      t.notMatch(text, 'injected imagePullSecrets', 'never says it injected');
      t.end();
    });
  }
}
