import t from 'tap';
import { AdmissionMemo } from '../../src/admission/admission-memo.ts';
import { admit, type AdmissionOutcome, type AdmitContext, type Phase } from '../../src/admission/admit.ts';
import { decodeAdmissionReview, type AdmissionRequest } from '../../src/admission/review.ts';
import { clearPodSecretsMemo } from '../../src/decide/pod-secrets.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { admissionReview, deployment, namespaceObject, pod, pullSecret, serviceAccount, type PodOptions } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// A review whose decision is cut by the work budget gets no patch from /mutate: /mutate answers it
// exactly as /validate does (a denial, or what the namespace's mode makes of one), warm or cold,
// through the decision cache or not.

const NOW = Date.parse('2026-06-01T12:00:00Z');

const OBJECTS = [
  namespaceObject('team'),
  // Known, so a template without a list may be patched (its pods would otherwise lose the ServiceAccount's secrets).
  serviceAccount('team', 'default'),
  ...Array.from({ length: 40 }, (_, index) => pullSecret('team', `filler-${String(index).padStart(2, '0')}`, `*.filler-${index}.example.com`)),
  pullSecret('team', 'cover', 'registry.example.com'),
  pullSecret('team', 'hub', 'https://index.docker.io/v1/'),
];

const POD: PodOptions = {
  containers: [
    { name: 'app', image: 'registry.example.com/app:1' },
    { name: 'hub', image: 'docker.io/corp/app:1' },
    { name: 'tool', image: 'registry.example.com/team/tool:2' },
  ],
};

function request(object: Record<string, unknown>, uid: string): AdmissionRequest {
  return decodeAdmissionReview(admissionReview(object, { uid }));
}

function contextOf(mode: string, workBudget: number, snapshot = snapshotFromObjects(OBJECTS)): AdmitContext {
  return { snapshot, policy: policyResolver({ mode, injection: { templates: true }, registries: [{ hosts: ['registry.example.com'], access: 'secret' }] }), now: NOW, workBudget };
}

function isCut(outcome: AdmissionOutcome): boolean {
  return outcome.decision?.findings.some((finding) => finding.code === 'DecisionBudgetExceeded') === true;
}

/** What the API server sees, and what the log line says. */
function seen(outcome: AdmissionOutcome): unknown {
  return { response: outcome.response, action: outcome.action, verdict: outcome.verdict, reason: outcome.reason, codes: outcome.codes };
}

/** The smallest budget the cold decision of `object` fits in. */
function costOf(object: Record<string, unknown>): number {
  let budget = 0;
  for (;;) {
    clearPodSecretsMemo();
    if (!isCut(admit(request(object, 'probe'), 'validate', contextOf('enforce', budget)))) return budget;
    budget++;
  }
}

const objects: Record<string, Record<string, unknown>> = {
  'a pod': pod(POD),
  'a Deployment with template injection on': deployment(POD),
};

for (const [what, object] of Object.entries(objects)) {
  for (const mode of ['enforce', 'warn', 'dry-run']) {
    t.test(`${what} cut by the work budget in ${mode} mode: /mutate answers as /validate does, with no patch, at every budget below its cost`, (t) => {
      const cost = costOf(object);
      t.ok(cost > 40, `the decision needs ${cost} units`);
      const problems: string[] = [];
      let injectedWithRoom = 0;
      for (let budget = 0; budget <= cost; budget++) {
        clearPodSecretsMemo();
        const context = contextOf(mode, budget);
        const mutated = admit(request(object, 'uid-m'), 'mutate', context);
        const validated = admit(request(object, 'uid-m'), 'validate', context);
        if (budget === cost) {
          if (isCut(mutated)) problems.push(`budget ${budget}: cut`);
          // Enforce and warn patch; dry-run patches nothing and says what it would inject.
          const injected = mode === 'dry-run'
            ? mutated.response.patch === undefined && mutated.action === 'dry-run' && mutated.verdict === 'would-inject' &&
              mutated.response.auditAnnotations?.['decision'] === 'would-inject' && mutated.codes.includes('InjectedPullSecret')
            : mutated.response.patch !== undefined && mutated.action === 'patch' && mutated.verdict === 'inject' && mutated.codes.includes('InjectedPullSecret');
          if (injected) injectedWithRoom++;
          else problems.push(`budget ${budget}: with room, /mutate answers ${JSON.stringify(seen(mutated)).slice(0, 300)}`);
          continue;
        }
        if (!isCut(mutated) || !isCut(validated)) problems.push(`budget ${budget}: not cut`);
        if (mutated.response.patch !== undefined || mutated.response.patchType !== undefined) problems.push(`budget ${budget}: /mutate patches`);
        if (JSON.stringify(seen(mutated)) !== JSON.stringify(seen(validated))) {
          problems.push(`budget ${budget}: /mutate ${JSON.stringify(seen(mutated)).slice(0, 300)} but /validate ${JSON.stringify(seen(validated)).slice(0, 300)}`);
        }
        const expectedAction = mode === 'enforce' ? 'deny' : mode;
        if (mutated.action !== expectedAction || mutated.response.allowed !== (mode !== 'enforce')) problems.push(`budget ${budget}: ${mutated.action}, allowed ${mutated.response.allowed}`);
        if (!mutated.codes.includes('DecisionBudgetExceeded')) problems.push(`budget ${budget}: codes ${mutated.codes.join(',')}`);
      }
      t.equal(injectedWithRoom, 1, 'with room to check the whole pod, /mutate injects (dry-run: patches nothing and says it would inject)');
      t.same(problems.slice(0, 5), [], `every budget below ${cost} (${problems.length} problems)`);
      t.end();
    });
  }
}

t.test('the decision cache answers a budget-cut review as a cold admit() does, for either webhook, whatever was decided before', (t) => {
  const object = pod(POD);
  const cost = costOf(object);
  const problems: string[] = [];
  for (const mode of ['enforce', 'warn', 'dry-run']) {
    for (let budget = 0; budget <= cost; budget += 3) {
      for (const phase of ['mutate', 'validate'] as Phase[]) {
        clearPodSecretsMemo();
        const cold = admit(request(object, 'uid-c'), phase, contextOf(mode, budget));
        // A server that already decided replicas of this pod and others naming its images, with room to spare.
        clearPodSecretsMemo();
        const snapshot = snapshotFromObjects(OBJECTS);
        const memo = new AdmissionMemo(64);
        const roomy = contextOf(mode, 10_000_000, snapshot);
        const other = pod({ name: 'other', containers: [...(POD.containers ?? [])].reverse(), imagePullSecrets: ['filler-01'] });
        for (const uid of ['w1', 'w2']) {
          memo.admit(request(object, uid), phase, roomy);
          memo.admit(request(other, uid), phase, roomy);
        }
        const tight = { ...roomy, workBudget: budget };
        const answers = [memo.admit(request(object, 'uid-c'), phase, tight), memo.admit(request(object, 'uid-c'), phase, tight), admit(request(object, 'uid-c'), phase, tight)];
        for (const [index, answer] of answers.entries()) {
          if (JSON.stringify(seen(answer)) !== JSON.stringify(seen(cold))) {
            problems.push(`${mode} ${phase} budget ${budget} answer ${index}: ${JSON.stringify(seen(answer)).slice(0, 300)} instead of ${JSON.stringify(seen(cold)).slice(0, 300)}`);
          }
        }
      }
    }
  }
  t.same(problems.slice(0, 5), [], `${problems.length} answers differ from the cold one`);
  t.end();
});
