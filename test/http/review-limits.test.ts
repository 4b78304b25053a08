// What one review may hold: beyond the review limits a review is refused with a 400 that names the
// field and the limit, before anything is decided; at the limits it is decided as usual.
import t from 'tap';
import { testServer } from '../helpers/server.ts';
import { admissionReview, deployment, namespaceObject, pod, pullSecret, type ContainerSpec } from '../helpers/objects.ts';
import { REVIEW_MAX_CONTAINERS, REVIEW_MAX_IMAGE_PULL_SECRETS, REVIEW_MAX_JSON_CONTAINERS, REVIEW_MAX_NAME_CHARS } from '../../src/admission/review-limits.ts';
import { runCli } from '../helpers/cli.ts';

const STATE = [pullSecret('team', 'regcred', 'registry.example.com'), namespaceObject('team')];
const containers = (count: number, image = 'registry.example.com/team/app:1.0'): ContainerSpec[] =>
  Array.from({ length: count }, (_, index) => ({ name: `c${index}`, image }));

interface Case {
  readonly review: Record<string, unknown>;
  readonly message: RegExp;
}

const over: Record<string, Case> = {
  'refuses a pod with 120,000 containers (a 7 MiB review that made a 386 MB peak)': {
    review: admissionReview(pod({ containers: containers(120_000, 'a') })),
    message: /request\.object\.spec has 120000 containers; pullguard reviews pod specs of at most 1000 \(REVIEW_MAX_CONTAINERS\)/,
  },
  'counts init and ephemeral containers with the others': {
    review: admissionReview(pod({ initContainers: containers(REVIEW_MAX_CONTAINERS / 2), containers: containers(REVIEW_MAX_CONTAINERS / 2), ephemeralContainers: containers(1) })),
    message: new RegExp(`has ${REVIEW_MAX_CONTAINERS + 1} containers`),
  },
  'refuses a Deployment template over the limit, naming the template path': {
    review: admissionReview(deployment({ containers: containers(REVIEW_MAX_CONTAINERS + 1) })),
    message: /request\.object\.spec\.template\.spec has 1001 containers/,
  },
  'refuses an UPDATE whose old object is over the limit': {
    review: admissionReview(pod({ containers: containers(1) }), { operation: 'UPDATE', oldObject: pod({ containers: containers(REVIEW_MAX_CONTAINERS + 1) }) }),
    message: /request\.oldObject\.spec has 1001 containers/,
  },
  'refuses a list of 388,000 imagePullSecrets': {
    review: admissionReview(pod({ imagePullSecrets: Array.from({ length: 388_000 }, (_, index) => `s${index}`) })),
    message: /request\.object\.spec\.imagePullSecrets has 388000 entries; pullguard reviews at most 1000 \(REVIEW_MAX_IMAGE_PULL_SECRETS\)/,
  },
  'refuses a 1 MB image': {
    review: admissionReview(pod({ containers: [{ name: 'app', image: `${'h'.repeat(1_000_000)}.io/app:1` }] })),
    message: /request\.object\.spec\.containers\[0\]\.image is 1000009 characters; pullguard reviews names and images of at most 2048 \(REVIEW_MAX_NAME_CHARS\)/,
  },
  'refuses a container name longer than any name Kubernetes accepts': {
    review: admissionReview(pod({ initContainers: [{ name: 'n'.repeat(REVIEW_MAX_NAME_CHARS + 1), image: 'nginx:1.27' }] })),
    message: /spec\.initContainers\[0\]\.name is 2049 characters/,
  },
  'refuses a long pull-secret name': {
    review: admissionReview(pod({ imagePullSecrets: ['regcred', 's'.repeat(REVIEW_MAX_NAME_CHARS + 1)] })),
    message: /spec\.imagePullSecrets\[1\]\.name is 2049 characters/,
  },
  'refuses a long ServiceAccount name': {
    review: admissionReview(pod({ serviceAccountName: 'a'.repeat(REVIEW_MAX_NAME_CHARS + 1) })),
    message: /spec\.serviceAccountName is 2049 characters/,
  },
};

for (const [name, c] of Object.entries(over)) {
  t.test(name, async (t) => {
    const { app, metrics, logs } = testServer(STATE);
    const reply = await app.inject({ method: 'POST', url: '/validate', payload: c.review });
    t.equal(reply.statusCode, 400);
    t.match(reply.json<{ message: string }>().message, c.message);
    t.match(reply.json<{ message: string }>().message, /^AdmissionReview over a review limit: /);
    t.match(await metrics.registry.getSingleMetricAsString('pullguard_malformed_reviews_total'), /webhook="validate"\} 1/);
    t.ok(logs.some((line) => line['msg'] === 'AdmissionReview over a review limit'), 'logged');
    await app.close();
  });
}

t.test('a pod at every limit is decided as usual', async (t) => {
  const { app } = testServer(STATE);
  const longName = 'n'.repeat(REVIEW_MAX_NAME_CHARS);
  const review = admissionReview(pod({
    imagePullSecrets: ['regcred', ...Array.from({ length: REVIEW_MAX_IMAGE_PULL_SECRETS - 1 }, (_, index) => `other-${index}`)],
    serviceAccountName: longName.slice(0, 253),
    containers: [{ name: longName, image: 'registry.example.com/team/app:1.0' }, ...containers(REVIEW_MAX_CONTAINERS - 1)],
  }));
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: review });
  t.equal(reply.statusCode, 200);
  t.equal(reply.json<{ response: { allowed: boolean } }>().response.allowed, true);
  await app.close();
});

t.test('pullguard review refuses the same review with exit 2', async (t) => {
  const result = await runCli(['review', '--state', 'examples/cluster'], JSON.stringify(admissionReview(pod({ containers: containers(REVIEW_MAX_CONTAINERS + 1) }))));
  t.equal(result.code, 2);
  t.match(result.stderr, /has 1001 containers/);
});

// Objects and arrays anywhere in the body, counted before it is parsed: the fields no decision
// reads are where 7 MiB of `{}` went (2.4 million objects, a 351 MiB peak).
/** The review's text with `extra` more empty objects in spec.volumes, a field no decision reads. */
function withVolumes(extra: number): string {
  const text = JSON.stringify(admissionReview(pod({ imagePullSecrets: ['regcred'], containers: containers(1) })));
  const anchor = '"spec":{';
  return text.replace(anchor, `${anchor}"volumes":[${Array.from({ length: extra }, () => '{}').join(',')}],`);
}
/** Objects and arrays of a JSON text, counted as JSON.parse builds them. */
function containersOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.reduce((sum: number, item: unknown) => sum + containersOf(item), 0);
  if (value !== null && typeof value === 'object') return 1 + Object.values(value).reduce((sum: number, item: unknown) => sum + containersOf(item), 0);
  return 0;
}
const base = containersOf(JSON.parse(withVolumes(0)));
const atLimit = withVolumes(REVIEW_MAX_JSON_CONTAINERS - base);
const overLimit = withVolumes(REVIEW_MAX_JSON_CONTAINERS - base + 1);
const JSON_LIMIT_MESSAGE = /^AdmissionReview over a review limit: the request body holds more than 1100000 JSON objects and arrays; pullguard reviews at most 1100000 \(REVIEW_MAX_JSON_CONTAINERS\)$/;

const overBeforeParsing: Record<string, string> = {
  'refuses a review with one object over the limit in a field no decision reads': overLimit,
  'refuses request.dryRun nested 1,200,000 arrays deep': JSON.stringify(admissionReview(pod({ containers: containers(1) }))).replace('"request":{', `"request":{"dryRun":${'['.repeat(1_200_000)}${']'.repeat(1_200_000)},`),
  'refuses 7 MiB of empty objects in spec.volumes': withVolumes(2_400_000),
};

for (const [name, body] of Object.entries(overBeforeParsing)) {
  t.test(name, async (t) => {
    const { app, metrics, logs } = testServer(STATE);
    const reply = await app.inject({ method: 'POST', url: '/mutate', payload: body, headers: { 'content-type': 'application/json' } });
    t.equal(reply.statusCode, 400);
    t.match(reply.json<{ message: string }>().message, JSON_LIMIT_MESSAGE);
    t.match(await metrics.registry.getSingleMetricAsString('pullguard_malformed_reviews_total'), /webhook="mutate"\} 1/);
    t.ok(logs.some((line) => line['msg'] === 'AdmissionReview over a review limit'), 'logged as a review limit');
    await app.close();
  });
}

t.test('a review with exactly the limit of objects and arrays is decided as usual', async (t) => {
  t.equal(containersOf(JSON.parse(atLimit)), REVIEW_MAX_JSON_CONTAINERS, 'the body is at the limit');
  const { app } = testServer(STATE);
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: atLimit, headers: { 'content-type': 'application/json' } });
  t.equal(reply.statusCode, 200);
  t.equal(reply.json<{ response: { allowed: boolean } }>().response.allowed, true);
  await app.close();
});

t.test('pullguard review refuses a body over the objects-and-arrays limit with exit 2', async (t) => {
  const result = await runCli(['review', '--state', 'examples/cluster'], overLimit);
  t.equal(result.code, 2);
  t.match(result.stderr, /malformed AdmissionReview: the request body holds more than 1100000 JSON objects and arrays/);
});
