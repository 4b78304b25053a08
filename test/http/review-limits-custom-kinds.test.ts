// The review limits bound every pod spec pullguard decides, whatever kind carries it: the custom
// resources on by default (Argo Rollout, Knative Service/Configuration/Revision, KEDA ScaledJob)
// and the kinds a policy's workloads.podTemplates declares, in the object and in the old object.
// A kind pullguard does not decide (builtinPodTemplates off, or never declared) is let through
// untouched, whatever it holds: nothing of it is decided, so there is nothing to bound.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { testServer } from '../helpers/server.ts';
import { admissionReview, namespaceObject, podSpec, pullSecret, type ContainerSpec, type PodOptions } from '../helpers/objects.ts';
import { REVIEW_MAX_CONTAINERS, REVIEW_MAX_IMAGE_PULL_SECRETS, REVIEW_MAX_NAME_CHARS } from '../../src/admission/review-limits.ts';
import { runCli } from '../helpers/cli.ts';

const STATE = [pullSecret('team', 'regcred', 'registry.example.com'), namespaceObject('team')];
const containers = (count: number, image = 'registry.example.com/team/app:1.0'): ContainerSpec[] =>
  Array.from({ length: count }, (_, index) => ({ name: `c${index}`, image }));

/** A policy-declared kind, at a path none of the built-in kinds uses. */
const WIDGET_POLICY = { workloads: { podTemplates: [{ apiVersion: 'widgets.example.com/*', kind: 'Widget', path: 'spec.runner.template.spec' }] } };

interface Kind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly resource: string;
  /** Where the kind keeps its pod spec. */
  readonly path: readonly string[];
  /** The policy under which pullguard decides the kind ({} is the default policy). */
  readonly policy: Record<string, unknown>;
}

const decidedKinds: Record<string, Kind> = {
  'an Argo Rollout': { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', resource: 'rollouts', path: ['spec', 'template', 'spec'], policy: {} },
  'a Knative Service': { apiVersion: 'serving.knative.dev/v1', kind: 'Service', resource: 'services', path: ['spec', 'template', 'spec'], policy: {} },
  'a Knative Configuration': { apiVersion: 'serving.knative.dev/v1', kind: 'Configuration', resource: 'configurations', path: ['spec', 'template', 'spec'], policy: {} },
  'a Knative Revision': { apiVersion: 'serving.knative.dev/v1', kind: 'Revision', resource: 'revisions', path: ['spec'], policy: {} },
  'a KEDA ScaledJob': { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledJob', resource: 'scaledjobs', path: ['spec', 'jobTargetRef', 'template', 'spec'], policy: {} },
  'a kind the policy declares in workloads.podTemplates': { apiVersion: 'widgets.example.com/v1', kind: 'Widget', resource: 'widgets', path: ['spec', 'runner', 'template', 'spec'], policy: WIDGET_POLICY },
};

/** A custom resource of `kind` carrying `spec` at its pod-spec path. */
function customObject(kind: Kind, options: PodOptions): Record<string, unknown> {
  let inner: Record<string, unknown> = podSpec(options);
  for (const segment of [...kind.path].reverse()) inner = { [segment]: inner };
  return { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name: 'demo', namespace: 'team' }, ...inner };
}

function customReview(kind: Kind, object: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const [group, version] = kind.apiVersion.split('/') as [string, string];
  return admissionReview(object, { kind: { group, version, kind: kind.kind }, resource: { group, version, resource: kind.resource }, ...overrides });
}

interface Shape {
  readonly review: (kind: Kind) => Record<string, unknown>;
  /** The message, given the pod spec's dotted path. */
  readonly message: (path: string) => RegExp;
}

const escape = (text: string): string => text.replace(/[.[\]]/g, '\\$&');

const overLimit: Record<string, Shape> = {
  'with more containers than REVIEW_MAX_CONTAINERS': {
    review: (kind) => customReview(kind, customObject(kind, { containers: containers(REVIEW_MAX_CONTAINERS + 1) })),
    message: (path) => new RegExp(`request\\.object\\.${escape(path)} has ${REVIEW_MAX_CONTAINERS + 1} containers; pullguard reviews pod specs of at most ${REVIEW_MAX_CONTAINERS} \\(REVIEW_MAX_CONTAINERS\\)`),
  },
  'with more imagePullSecrets than REVIEW_MAX_IMAGE_PULL_SECRETS': {
    review: (kind) => customReview(kind, customObject(kind, { imagePullSecrets: Array.from({ length: REVIEW_MAX_IMAGE_PULL_SECRETS + 1 }, (_, index) => `s${index}`) })),
    message: (path) => new RegExp(`request\\.object\\.${escape(path)}\\.imagePullSecrets has ${REVIEW_MAX_IMAGE_PULL_SECRETS + 1} entries; pullguard reviews at most ${REVIEW_MAX_IMAGE_PULL_SECRETS} \\(REVIEW_MAX_IMAGE_PULL_SECRETS\\)`),
  },
  'with an image longer than REVIEW_MAX_NAME_CHARS': {
    review: (kind) => customReview(kind, customObject(kind, { containers: [{ name: 'app', image: `${'h'.repeat(REVIEW_MAX_NAME_CHARS)}.io/app:1` }] })),
    message: (path) => new RegExp(`request\\.object\\.${escape(path)}\\.containers\\[0\\]\\.image is ${REVIEW_MAX_NAME_CHARS + 9} characters; pullguard reviews names and images of at most ${REVIEW_MAX_NAME_CHARS} \\(REVIEW_MAX_NAME_CHARS\\)`),
  },
  'with a container name longer than REVIEW_MAX_NAME_CHARS': {
    review: (kind) => customReview(kind, customObject(kind, { initContainers: [{ name: 'n'.repeat(REVIEW_MAX_NAME_CHARS + 1), image: 'nginx:1.27' }] })),
    message: (path) => new RegExp(`request\\.object\\.${escape(path)}\\.initContainers\\[0\\]\\.name is ${REVIEW_MAX_NAME_CHARS + 1} characters`),
  },
  'in an UPDATE whose old object has more containers than REVIEW_MAX_CONTAINERS': {
    review: (kind) => customReview(kind, customObject(kind, { containers: containers(1) }), { operation: 'UPDATE', oldObject: customObject(kind, { containers: containers(REVIEW_MAX_CONTAINERS + 1) }) }),
    message: (path) => new RegExp(`request\\.oldObject\\.${escape(path)} has ${REVIEW_MAX_CONTAINERS + 1} containers`),
  },
};

const policyDirectory = mkdtempSync(join(tmpdir(), 'pullguard-limits-'));
function policyFile(policy: Record<string, unknown>): string[] {
  if (Object.keys(policy).length === 0) return [];
  const file = join(policyDirectory, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(policy));
  return ['--policy', file];
}

for (const [kindName, kind] of Object.entries(decidedKinds)) {
  for (const [shapeName, shape] of Object.entries(overLimit)) {
    t.test(`the webhook refuses ${kindName} ${shapeName} with a 400 naming the field and the limit`, async (t) => {
      const { app, metrics } = testServer(STATE, kind.policy);
      const reply = await app.inject({ method: 'POST', url: '/validate', payload: shape.review(kind) });
      t.equal(reply.statusCode, 400);
      t.match(reply.json<{ message: string }>().message, /^AdmissionReview over a review limit: /);
      t.match(reply.json<{ message: string }>().message, shape.message(kind.path.join('.')));
      t.match(await metrics.registry.getSingleMetricAsString('pullguard_malformed_reviews_total'), /webhook="validate"\} 1/);
      await app.close();
    });

    t.test(`pullguard review refuses ${kindName} ${shapeName} with exit 2`, async (t) => {
      const result = await runCli(['review', '--phase', 'mutate', '--state', 'examples/cluster', ...policyFile(kind.policy)], JSON.stringify(shape.review(kind)));
      t.equal(result.code, 2);
      t.match(result.stderr, shape.message(kind.path.join('.')));
      t.equal(result.stdout, '', 'no answer written');
    });
  }

  t.test(`${kindName} at every limit is decided as usual`, async (t) => {
    const { app, metrics } = testServer(STATE, kind.policy);
    const object = customObject(kind, {
      imagePullSecrets: ['regcred', ...Array.from({ length: REVIEW_MAX_IMAGE_PULL_SECRETS - 1 }, (_, index) => `other-${index}`)],
      containers: [{ name: 'n'.repeat(REVIEW_MAX_NAME_CHARS), image: 'registry.example.com/team/app:1.0' }, ...containers(REVIEW_MAX_CONTAINERS - 1)],
    });
    const reply = await app.inject({ method: 'POST', url: '/validate', payload: customReview(kind, object) });
    t.equal(reply.statusCode, 200);
    t.equal(reply.json<{ response: { allowed: boolean } }>().response.allowed, true);
    const requests = await metrics.registry.getSingleMetricAsString('pullguard_admission_requests_total');
    t.match(requests, /action="(allow|warn)",webhook="validate"\} 1|webhook="validate",action="(allow|warn)"\} 1/, 'decided, not skipped');
    t.notMatch(requests, /action="skip"/);
    await app.close();
  });
}

t.test('the webhook refuses the reviewer\'s 7 MB Rollout of 388,000 imagePullSecrets', async (t) => {
  const kind = decidedKinds['an Argo Rollout'] as Kind;
  const { app } = testServer(STATE);
  const review = customReview(kind, customObject(kind, { imagePullSecrets: Array.from({ length: 388_000 }, (_, index) => `s${index}`) }));
  const reply = await app.inject({ method: 'POST', url: '/mutate', payload: review });
  t.equal(reply.statusCode, 400);
  t.match(reply.json<{ message: string }>().message, /request\.object\.spec\.template\.spec\.imagePullSecrets has 388000 entries/);
  await app.close();
});

// Kinds pullguard does not decide: admit() skips them (allowed, nothing checked), so the limits,
// which bound what a decision builds, leave them alone too.
const undecided: Record<string, { readonly kind: Kind; readonly policy: Record<string, unknown> }> = {
  'an Argo Rollout when the policy turns builtinPodTemplates off': {
    kind: decidedKinds['an Argo Rollout'] as Kind,
    policy: { workloads: { builtinPodTemplates: false } },
  },
  'a custom kind no policy declares': {
    kind: { ...(decidedKinds['a kind the policy declares in workloads.podTemplates'] as Kind), policy: {} },
    policy: {},
  },
  'a KEDA ScaledJob when the policy declares only its own kinds and turns the built-ins off': {
    kind: decidedKinds['a KEDA ScaledJob'] as Kind,
    policy: { workloads: { ...WIDGET_POLICY.workloads, builtinPodTemplates: false } },
  },
};

for (const [name, { kind, policy }] of Object.entries(undecided)) {
  t.test(`${name} is let through undecided, not refused, with more containers than the limit`, async (t) => {
    const { app, metrics } = testServer(STATE, policy);
    const review = customReview(kind, customObject(kind, { containers: containers(REVIEW_MAX_CONTAINERS + 1) }));
    const reply = await app.inject({ method: 'POST', url: '/validate', payload: review });
    t.equal(reply.statusCode, 200);
    t.same(reply.json<{ response: unknown }>().response, { uid: 'uid-1234', allowed: true });
    t.match(await metrics.registry.getSingleMetricAsString('pullguard_admission_requests_total'), /action="skip"/, 'skipped: nothing decided');
    await app.close();
    const result = await runCli(['review', '--state', 'examples/cluster', ...policyFile(policy)], JSON.stringify(review));
    t.equal(result.code, 0, result.stderr);
  });
}
