import t from 'tap';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { auditObjects } from '../../src/report/audit.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { admit } from '../../src/admission/admit.ts';
import { decodeAdmissionReview } from '../../src/admission/review.ts';
import { BUILTIN_POD_TEMPLATES, PodTemplateKinds } from '../../src/workloads/pod-templates.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const UNCOVERED = 'private.example.net/app:1';
const spec = { containers: [{ name: 'app', image: UNCOVERED }] };

function resolver(policy: Record<string, unknown> = {}): PolicyResolver {
  const loaded = parsePolicyObject(policy);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return new PolicyResolver(loaded.policy);
}

const objects: Record<string, Record<string, unknown>> = {
  'an Argo Rollout': { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'r', namespace: 'team' }, spec: { template: { spec } } },
  'a Knative Service': { apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: 'k', namespace: 'team' }, spec: { template: { spec } } },
  'a Knative Configuration': { apiVersion: 'serving.knative.dev/v1', kind: 'Configuration', metadata: { name: 'c', namespace: 'team' }, spec: { template: { spec } } },
  'a KEDA ScaledJob': { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledJob', metadata: { name: 'j', namespace: 'team' }, spec: { jobTargetRef: { template: { spec } } } },
};

for (const [name, object] of Object.entries(objects)) {
  t.test(`the audit checks the pod template of ${name} with the built-in entries`, async (t) => {
    const report = auditObjects([{ object, source: 'cr.yaml:1' }], snapshotFromObjects([]), resolver(), NOW, { podTemplates: resolver().podTemplates });
    t.equal(report.results.length, 1);
    t.equal(report.results[0]?.decision, 'deny');
    t.match(report.results[0]?.containers[0]?.path, /\.containers\[0\]$/);
  });
}

t.test('builtinPodTemplates: false turns the built-in entries off', async (t) => {
  const policy = resolver({ workloads: { builtinPodTemplates: false } });
  const report = auditObjects([{ object: objects['an Argo Rollout'] as Record<string, unknown>, source: 'cr.yaml:1' }], snapshotFromObjects([]), policy, NOW, { podTemplates: policy.podTemplates });
  t.equal(report.results.length, 0);
});

t.test('a policy entry adds a kind of its own, at the path it names', async (t) => {
  const policy = resolver({ workloads: { podTemplates: [{ apiVersion: 'apps.example.com/v2', kind: 'WebApp', path: 'spec.runtime.pod' }] } });
  const webapp = { apiVersion: 'apps.example.com/v2', kind: 'WebApp', metadata: { name: 'w', namespace: 'team' }, spec: { runtime: { pod: spec } } };
  const report = auditObjects([{ object: webapp, source: 'w.yaml:1' }], snapshotFromObjects([]), policy, NOW, { podTemplates: policy.podTemplates });
  t.equal(report.results[0]?.kind, 'WebApp');
  t.equal(report.results[0]?.containers[0]?.path, 'spec.runtime.pod.containers[0]');
  t.equal(report.results[0]?.decision, 'deny');
});

t.test('a custom kind without its pod spec is reported as not checked, naming the path', async (t) => {
  const policy = resolver();
  const rollout = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'by-ref', namespace: 'team' }, spec: { workloadRef: { kind: 'Deployment', name: 'web' } } };
  const report = auditObjects([{ object: rollout, source: 'r.yaml:1' }], snapshotFromObjects([]), policy, NOW, { podTemplates: policy.podTemplates });
  t.match(report.results[0]?.skipped, /^spec\.template\.spec is missing or not an object/);
});

t.test('a core v1 Service is never taken for a Knative Service', async (t) => {
  const kinds = new PodTemplateKinds(BUILTIN_POD_TEMPLATES);
  t.equal(kinds.extract({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { template: { spec } } }), undefined);
  t.equal(kinds.specField({ apiVersion: 'v1', kind: 'Service' }), undefined);
});

t.test('the policy refuses entries that could never match', async (t) => {
  const cases: Record<string, Record<string, unknown>> = {
    'a core API version': { apiVersion: 'v1', kind: 'Thing', path: 'spec' },
    'an empty path': { apiVersion: 'a.example.com/v1', kind: 'Thing', path: '' },
    'a path with brackets': { apiVersion: 'a.example.com/v1', kind: 'Thing', path: 'spec.templates[0]' },
    'a lower-case kind': { apiVersion: 'a.example.com/v1', kind: 'thing', path: 'spec' },
  };
  for (const [name, entry] of Object.entries(cases)) {
    const loaded = parsePolicyObject({ workloads: { podTemplates: [entry] } });
    t.notOk(loaded.ok, name);
    if (!loaded.ok) t.match(loaded.errors[0]?.path, /^workloads\.podTemplates\[0\]\./, name);
  }
});

t.test('the webhook validates a custom resource whose kind the policy knows, and skips one it does not', async (t) => {
  const review = (object: Record<string, unknown>) =>
    decodeAdmissionReview({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u1', kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Rollout' }, resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'rollouts' },
        namespace: 'team', operation: 'CREATE', userInfo: { username: 'alice' }, object, dryRun: false,
      },
    });
  const context = { snapshot: snapshotFromObjects([]), policy: resolver(), now: NOW };
  const denied = admit(review(objects["an Argo Rollout"] as Record<string, unknown>), 'validate', context);
  t.equal(denied.response.allowed, false);
  const off = admit(review(objects["an Argo Rollout"] as Record<string, unknown>), 'validate', { ...context, policy: resolver({ workloads: { builtinPodTemplates: false } }) });
  t.equal(off.response.allowed, true);
});
