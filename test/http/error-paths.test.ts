// Error paths an attacker reaches with one request: every one is a clear 4xx (or a counted 500),
// small, logged, and cut on time.
import { connect } from 'node:tls';
import t from 'tap';
import { testServer } from '../helpers/server.ts';
import { admissionReview, namespaceObject, pod, pullSecret } from '../helpers/objects.ts';
import { generateCertificates } from '../../src/certs/generate.ts';
import { ECHOED_VALUE_MAX_CHARS } from '../../src/admission/review.ts';
import { DENY_SUBJECT_MAX_CHARS } from '../../src/decide/messages.ts';
import { REVIEW_MAX_JSON_CONTAINERS, REVIEW_MAX_NAME_CHARS } from '../../src/admission/review-limits.ts';

const STATE = [pullSecret('team', 'regcred', 'registry.example.com'), namespaceObject('team')];
const HEADERS = { 'content-type': 'application/json' };
/** As deep as the body's objects-and-arrays limit lets a review be (deeper is refused before parsing: review-limits.test.ts): far past any recursion's stack. */
const DEPTH = REVIEW_MAX_JSON_CONTAINERS - 10;

interface Malformed {
  readonly payload: string;
  readonly message: RegExp;
}

const malformed: Record<string, Malformed> = {
  'a kind nested half a million levels deep is a 400 that names its type': {
    payload: `{"apiVersion":"admission.k8s.io/v1","kind":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`,
    message: /^malformed AdmissionReview: kind must be AdmissionReview, got an array$/,
  },
  'an apiVersion nested half a million levels deep is a 400 too': {
    payload: `{"kind":"AdmissionReview","apiVersion":${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}}`,
    message: /apiVersion must be admission\.k8s\.io\/v1 .*got an object$/,
  },
  'a 7 MiB kind string is quoted in part, not echoed whole': {
    payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'k'.repeat(7_000_000) }),
    message: new RegExp(`got "k{${ECHOED_VALUE_MAX_CHARS}}"… \\(7000000 characters\\)$`),
  },
  'a short wrong kind is quoted whole': {
    payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }),
    message: /kind must be AdmissionReview, got "Pod"$/,
  },
};

for (const [name, c] of Object.entries(malformed)) {
  t.test(name, async (t) => {
    const { app, metrics, logs } = testServer(STATE);
    const reply = await app.inject({ method: 'POST', url: '/validate', payload: c.payload, headers: HEADERS });
    t.equal(reply.statusCode, 400);
    t.match(reply.json<{ message: string }>().message, c.message);
    t.ok(reply.body.length < 1024, `the answer is small (${reply.body.length} bytes)`);
    t.match(await metrics.registry.getSingleMetricAsString('pullguard_malformed_reviews_total'), /webhook="validate"\} 1/);
    const warning = logs.find((line) => line['msg'] === 'malformed AdmissionReview');
    t.ok(warning !== undefined, 'logged');
    t.ok(JSON.stringify(warning).length < 1024, 'the log line is small');
    await app.close();
  });
}

t.test('an error that escapes the handler answers 500 and is counted as a decision error', async (t) => {
  const { app, metrics, logs } = testServer(STATE);
  app.addHook('preHandler', async function explode() {
    throw new Error(`boom ${'x'.repeat(100_000)}`);
  });
  const reply = await app.inject({ method: 'POST', url: '/mutate', payload: admissionReview(pod()) });
  t.equal(reply.statusCode, 500);
  t.match(await metrics.registry.getSingleMetricAsString('pullguard_decision_errors_total'), /webhook="mutate"\} 1/);
  t.match(await metrics.registry.getSingleMetricAsString('pullguard_admission_requests_total'), /webhook="mutate",action="error"\} 1/);
  const line = logs.find((entry) => entry['msg'] === 'internal error');
  t.ok(line !== undefined && JSON.stringify(line).length < 2048, 'logged, with the message shortened');
  await app.close();
});

t.test('a registry host as long as the review limits allow makes a denial of a few hundred characters', async (t) => {
  const { app } = testServer(STATE);
  // Longer images are refused whole (REVIEW_MAX_NAME_CHARS); before that limit a 6 MB host made a 12 MB denial.
  const host = `${'a'.repeat(REVIEW_MAX_NAME_CHARS - 20)}.com`;
  for (const [what, review, pattern] of [
    ['no secret covers it', admissionReview(pod({ imagePullSecrets: ['regcred'], containers: [{ name: 'app', image: `${host}/x:1` }] })), /no pull secret has a key for a+…a+\.com \(looked at regcred\); secret regcred has keys for registry\.example\.com only; create a docker-registry secret for a+…a+\.com /],
    ['the pod lists a secret with a long name', admissionReview(pod({ imagePullSecrets: ['s'.repeat(REVIEW_MAX_NAME_CHARS)], containers: [{ name: 'app', image: `${host}/x:1` }] })), /secret s+…s+ not found/],
  ] as const) {
    const reply = await app.inject({ method: 'POST', url: '/validate', payload: review });
    const message = reply.json<{ response: { allowed: boolean; status: { message: string } } }>().response.status.message;
    // The message may name the host several times (the fix repeats it), each at most DENY_SUBJECT_MAX_CHARS.
    t.ok(message.length < 8 * DENY_SUBJECT_MAX_CHARS, `${what}: denial of ${message.length} characters`);
    t.match(message, pattern);
  }
  await app.close();
});

t.test('a host too long for DNS is shortened in the denial, and a secret naming it covers nothing', async (t) => {
  // A 2,000-byte label can never be resolved: no key matches it (DNS_LABEL_MAX_BYTES), so the
  // namespace secret written for it is no injection candidate and the denial is the plain one, shortened.
  const host = `${'b'.repeat(REVIEW_MAX_NAME_CHARS - 40)}.example.com`;
  const { app } = testServer([pullSecret('team', 'regcred', host), namespaceObject('team')]);
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod({ containers: [{ name: 'app', image: `${host}/x:1` }] })) });
  const message = reply.json<{ response: { status: { message: string } } }>().response.status.message;
  t.match(message, /no pull secret has a key for b+…b+\.example\.com \(pod has no imagePullSecrets\)/);
  t.ok(message.length < 3 * DENY_SUBJECT_MAX_CHARS + 600, `${message.length} characters`);
  await app.close();
});

/** Opens a TLS connection, sends `data`, and resolves with what the server answered and when it closed. */
function stall(port: number, data: string): Promise<{ answer: string; closedAfterMs: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.write(data));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ answer, closedAfterMs: Date.now() - started }));
    // Far longer than the deadline under test, far shorter than Node's own 30 s check.
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the stalled request open for 20 s'));
    }, 20_000).unref();
  });
}

t.test('the request timeout covers headers and body: a stalled request is answered 408, well before Node\'s 30 s check', async (t) => {
  const certificates = generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 1 });
  const { app, logs } = testServer(STATE, {}, { https: { cert: certificates.tlsCert, key: certificates.tlsKey }, requestTimeoutMs: 500 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const [body, headers] = await Promise.all([
    stall(port, 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"kind":'),
    stall(port, 'POST /validate HTTP/1.1\r\nHost: x\r\n'),
  ]);
  for (const [what, result] of [['stalled body', body], ['stalled headers', headers]] as const) {
    t.match(result.answer, /^HTTP\/1\.1 408 Request Timeout/, `${what}: 408`);
    t.ok(result.closedAfterMs >= 450, `${what}: not before the deadline (${result.closedAfterMs} ms)`);
  }
  t.ok(logs.filter((line) => line['msg'] === 'request timed out: headers and body did not arrive within --request-timeout').length >= 2, 'each timeout is logged');
  await app.close();
});

t.test('a review that cannot be decided is logged with its uid shortened: a 1 MB uid makes no 1 MB line', async (t) => {
  const broken = {
    snapshot: () => {
      throw new Error('snapshot exploded');
    },
    policy: () => {
      throw new Error('unreachable');
    },
    readiness: () => ({ ready: true, missing: [] }),
  };
  const { app, logs } = testServer(STATE, {}, { decisionState: broken });
  const reply = await app.inject({ method: 'POST', url: '/validate', payload: admissionReview(pod(), { uid: 'u'.repeat(1_000_000) }) });
  t.equal(reply.statusCode, 500);
  const line = logs.find((entry) => entry['level'] === 50);
  t.ok(line !== undefined, 'logged at error');
  t.ok(JSON.stringify(line).length < 4096, `a short line (${JSON.stringify(line).length} characters)`);
  await app.close();
});
