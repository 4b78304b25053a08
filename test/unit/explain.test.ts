import t from 'tap';
import { explainObject } from '../../src/explain/explain.ts';
import { renderExplanations } from '../../src/explain/render.ts';
import type { Explanation } from '../../src/explain/types.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { loadPolicyText } from '../../src/policy/load.ts';
import type { Policy } from '../../src/policy/schema.ts';
import { readEvents } from '../../src/pull-events/normalize.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { b64, deployment, dockerConfigJsonSecret, ecrSecret, pod, pullSecret, secretOfType, serviceAccount, type PodOptions } from '../helpers/objects.ts';

const NOW = Date.parse('2026-12-03T07:00:00Z');
const NS = 'team';
const UID = 'pod-uid-1';
const PRIVATE = 'registry.example.com/team/app:1.0';

/** A pod read back from a cluster: it has a uid and a status. */
function livePod(options: PodOptions, waiting?: { reason: string; message: string }): Record<string, unknown> {
  const base = pod({ namespace: NS, name: 'app-1', ...options });
  const metadata = base['metadata'] as Record<string, unknown>;
  const containers = (options.containers ?? [{ name: 'app', image: 'nginx:1.27' }]).map((container) => ({
    name: container.name,
    image: container.image,
    ready: false,
    state: waiting !== undefined ? { waiting } : { running: { startedAt: '2026-12-03T06:00:00Z' } },
  }));
  return { ...base, metadata: { ...metadata, uid: UID }, status: { phase: waiting !== undefined ? 'Pending' : 'Running', containerStatuses: containers } };
}

/** An event exactly as the kubelet records it (reason Failed, source kubelet, v1 API). */
function kubeletEvent(reason: string, message: string, options: { container?: string; uid?: string; podName?: string; count?: number; minutesAgo?: number } = {}): Record<string, unknown> {
  const at = new Date(NOW - (options.minutesAgo ?? 1) * 60_000).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `app-1.${reason}.${options.minutesAgo ?? 1}`, namespace: NS },
    involvedObject: {
      kind: 'Pod',
      namespace: NS,
      name: options.podName ?? 'app-1',
      uid: options.uid ?? UID,
      ...(options.container !== undefined ? { fieldPath: `spec.containers{${options.container}}` } : {}),
    },
    reason,
    message,
    type: reason === 'Pulling' || reason === 'Pulled' || reason === 'BackOff' ? 'Normal' : 'Warning',
    count: options.count ?? 1,
    firstTimestamp: at,
    lastTimestamp: at,
    source: { component: 'kubelet', host: 'node-1' },
  };
}

const unauthorized = (image: string): string =>
  `Failed to pull image "${image}": failed to pull and unpack image "${image}": failed to resolve reference "${image}": pulling from host registry.example.com failed with status code [manifests 1.0]: 401 Unauthorized`;

interface Scenario {
  readonly object: Record<string, unknown>;
  readonly state: readonly Record<string, unknown>[];
  readonly events?: readonly Record<string, unknown>[];
  readonly policy?: Policy;
}

function explain(scenario: Scenario): Explanation {
  const result = explainObject({
    object: scenario.object,
    namespace: NS,
    snapshot: snapshotFromObjects(scenario.state),
    policy: scenario.policy ?? DEFAULT_POLICY,
    now: NOW,
    events: readEvents(scenario.events ?? []),
    source: 'test',
  });
  if (result === undefined) throw new Error('no explanation');
  return result;
}

const app = [{ name: 'app', image: PRIVATE }];
const waitingBackOff = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${PRIVATE}"` };

interface Expectation {
  readonly code: string;
  readonly agreement: string;
  readonly summary: RegExp;
  readonly fix: RegExp;
}

const scenarios: Record<string, Scenario & { expect: Expectation }> = {
  'a typo in the pod\'s secret name, the kubelet says unauthorized: names the secret that was meant': {
    object: livePod({ containers: app, imagePullSecrets: ['regcrd'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [kubeletEvent('FailedToRetrieveImagePullSecret', 'Unable to retrieve some image pull secrets (regcrd); attempting to pull the image may not succeed.'), kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })],
    expect: { code: 'PullSecretNotFound', agreement: 'agree', summary: /secret regcrd does not exist.*did you mean regcred/, fix: /- name: regcred/ },
  },
  'a missing secret with nothing similar: create it': {
    object: livePod({ containers: app, imagePullSecrets: ['registry-pull'] }, waitingBackOff),
    state: [],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })],
    expect: { code: 'PullSecretNotFound', agreement: 'agree', summary: /registry-pull does not exist in namespace team/, fix: /kubectl create secret docker-registry registry-pull -n team --docker-server=registry.example.com/ },
  },
  'an Opaque secret: the kubelet ignores it': {
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, waitingBackOff),
    state: [secretOfType(NS, 'regcred', 'Opaque', { '.dockerconfigjson': b64('{"auths":{"registry.example.com":{"auth":"dTpw"}}}') })],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })],
    expect: { code: 'PullSecretWrongType', agreement: 'agree', summary: /regcred is of type Opaque/, fix: /--dry-run=client -o yaml \| kubectl apply -f -/ },
  },
  'a malformed secret: every pull of the pod fails, and the kubelet reports the decoding error as it does on a real node': {
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, { reason: 'illegal base64 data at input byte 3', message: 'illegal base64 data at input byte 3' }),
    state: [secretOfType(NS, 'regcred', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64('{"auths":{"registry.example.com":{"auth":"not base64!"}}}') })],
    events: [kubeletEvent('Failed', 'Error: illegal base64 data at input byte 3', { container: 'app' })],
    expect: { code: 'PullSecretMalformed', agreement: 'agree', summary: /regcred is malformed .*fail every pull/, fix: /kubectl create secret docker-registry regcred/ },
  },
  'an expired ECR token: says when, and how to refresh it': {
    object: livePod({ containers: [{ name: 'app', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0' }], imagePullSecrets: ['ecr'] }, waitingBackOff),
    state: [ecrSecret(NS, 'ecr', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', NOW / 1000 - 13 * 3600)],
    events: [kubeletEvent('Failed', 'Failed to pull image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0": rpc error: code = Unknown desc = failed to pull and unpack image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0": failed to resolve reference "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0": pulling from host 123456789012.dkr.ecr.eu-west-1.amazonaws.com failed with status code [manifests 1.0]: 403 Forbidden', { container: 'app' })],
    expect: { code: 'CredentialExpired', agreement: 'agree', summary: /expired 13h ago/, fix: /aws ecr get-login-password --region eu-west-1/ },
  },
  'the pod lists its own secrets, shadowing the ServiceAccount\'s': {
    object: livePod({ containers: app, imagePullSecrets: ['other'], serviceAccountName: 'builder' }, waitingBackOff),
    state: [pullSecret(NS, 'other', 'quay.io'), pullSecret(NS, 'sa-cred', 'registry.example.com'), serviceAccount(NS, 'builder', 'sa-cred')],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })],
    expect: { code: 'ServiceAccountSecretsIgnored', agreement: 'agree', summary: /ServiceAccount builder's secret sa-cred \(which covers registry.example.com\) is not copied/, fix: /- name: other\n\s+- name: sa-cred/ },
  },
  'a key for the wrong registry port: no key matches': {
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com:5000')],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })],
    expect: { code: 'NoMatchingCredential', agreement: 'agree', summary: /no pull secret of the pod has a key for registry.example.com \(looked at regcred\)/, fix: /kubectl create secret docker-registry regcred-default/ },
  },
  'pullguard says covered, the kubelet says unauthorized: the credential itself is wrong': {
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })],
    expect: { code: 'credential-rejected', agreement: 'disagree', summary: /covers .* but the registry refused it/, fix: /kubectl create secret docker-registry regcred/ },
  },
  'Docker Hub rate limit on an anonymous public pull': {
    object: livePod({ containers: [{ name: 'app', image: 'busybox:1.36' }] }, { reason: 'ImagePullBackOff', message: 'Back-off pulling image "busybox:1.36"' }),
    state: [],
    events: [
      kubeletEvent(
        'Failed',
        'Failed to pull image "busybox:1.36": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/busybox:1.36": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/busybox/manifests/sha256:50aa: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.',
        { container: 'app' },
      ),
    ],
    expect: { code: 'rate-limited', agreement: 'disagree', summary: /rate-limits/, fix: /docker-server=https:\/\/index.docker.io\/v1\// },
  },
  'a tag that does not exist': {
    object: livePod({ containers: [{ name: 'app', image: 'registry.example.com/team/app:9.9' }], imagePullSecrets: ['regcred'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [
      kubeletEvent(
        'Failed',
        'Failed to pull image "registry.example.com/team/app:9.9": rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/team/app:9.9": failed to resolve reference "registry.example.com/team/app:9.9": registry.example.com/team/app:9.9: not found',
        { container: 'app' },
      ),
    ],
    expect: { code: 'not-found', agreement: 'disagree', summary: /no such repository, tag or digest/, fix: /tag exist/ },
  },
  'an image present only in another node, pull policy Never': {
    object: livePod({ containers: [{ name: 'app', image: 'app:dev', imagePullPolicy: 'Never' }] }, { reason: 'ErrImageNeverPull', message: 'Container image "app:dev" is not present with pull policy of Never' }),
    state: [],
    expect: { code: 'never-pull', agreement: 'disagree', summary: /pull policy|Never/, fix: /IfNotPresent/ },
  },
  'a running pod whose image is covered: nothing to fix': {
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [kubeletEvent('Pulled', `Successfully pulled image "${PRIVATE}" in 1.2s (1.2s including waiting). Image size: 1000 bytes.`, { container: 'app' })],
    expect: { code: 'ok', agreement: 'agree', summary: /covered by secret regcred/, fix: /^$/ },
  },
};

for (const [name, scenario] of Object.entries(scenarios)) {
  t.test(name, async (t) => {
    const explanation = explain(scenario);
    const container = explanation.containers[0];
    t.equal(container?.diagnosis.code, scenario.expect.code, 'diagnosis code');
    t.equal(container?.diagnosis.agreement, scenario.expect.agreement, 'agreement with the kubelet');
    t.match(container?.diagnosis.summary, scenario.expect.summary, 'summary');
    t.match(container?.diagnosis.fix, scenario.expect.fix, 'fix');
    const text = JSON.stringify(explanation);
    t.notMatch(text, /not-a-real-password|dXNlcjpub3QtYS1yZWFsLXBhc3N3b3Jk/, 'no credential anywhere in the explanation');
  });
}

t.test('the kubelet\'s decoding error of a malformed secret is shown and classified, not dropped as unknown', async (t) => {
  const explanation = explain(scenarios['a malformed secret: every pull of the pod fails, and the kubelet reports the decoding error as it does on a real node'] as Scenario);
  const kubelet = explanation.containers[0]?.kubelet;
  t.equal(kubelet?.stateCause, 'secret-malformed');
  t.equal(kubelet?.cause, 'secret-malformed');
  t.same(kubelet?.events.map((event) => [event.reason, event.cause]), [['Failed', 'secret-malformed']]);
  t.same(explanation.containers[0]?.diagnosis.notes, [], 'no note repeating what the diagnosis already says');
});

t.test('a kubelet decoding error with no malformed secret in sight: says so, and how to find the bad one', async (t) => {
  // The pod's secret is not among what explain could read (no RBAC on it): pullguard sees no decoding problem.
  const explanation = explain({
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, { reason: 'unexpected end of JSON input', message: 'unexpected end of JSON input' }),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [kubeletEvent('Failed', 'Error: unexpected end of JSON input', { container: 'app' })],
  });
  const diagnosis = explanation.containers[0]?.diagnosis;
  t.equal(diagnosis?.code, 'secret-malformed');
  t.equal(diagnosis?.agreement, 'disagree');
  t.match(diagnosis?.summary, /cannot decode one of the pod's pull secrets.*\(unexpected end of JSON input\)/);
  t.match(diagnosis?.fix, /kubectl get secret NAME -n team -o jsonpath='\{\.data\.\\\.dockerconfigjson\}' \| base64 -d/);
});

t.test('explains why each key does or does not match', async (t) => {
  const explanation = explain({
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }),
    state: [dockerConfigJsonSecret(NS, 'regcred', { 'registry.example.com:5000': { auth: b64('u:p') }, 'https://registry.example.com/v1/': { auth: b64('u:p') }, 'quay.io/team': { auth: b64('u:p') } })],
  });
  const keys = explanation.containers[0]?.keys ?? [];
  t.same(
    keys.map((key) => [key.key, key.matches, key.verdict]),
    [
      ['registry.example.com:5000', false, 'port'],
      ['https://registry.example.com/v1/', true, 'match'],
      ['quay.io/team', false, 'label-count'],
    ],
  );
  t.equal(explanation.containers[0]?.credential?.key, 'https://registry.example.com/v1/');
});

t.test('the Docker Hub fallback is shown on the index.docker.io key', async (t) => {
  const explanation = explain({
    object: livePod({ containers: [{ name: 'app', image: 'acme/private:1' }], imagePullSecrets: ['hub'] }),
    state: [pullSecret(NS, 'hub', 'https://index.docker.io/v1/')],
  });
  const key = explanation.containers[0]?.keys[0];
  t.equal(key?.matches, true);
  t.equal(key?.viaDockerHubFallback, true);
});

t.test('a pod read from a cluster whose list equals the ServiceAccount\'s says the list came from the ServiceAccount', async (t) => {
  const explanation = explain({ object: livePod({ containers: app, imagePullSecrets: ['sa-cred'] }), state: [pullSecret(NS, 'sa-cred', 'registry.example.com'), serviceAccount(NS, 'default', 'sa-cred')] });
  t.equal(explanation.secretsSource, 'serviceAccount');
  t.equal(explanation.secrets[0]?.source, 'serviceAccount');
});

t.test('a pod manifest on disk gets its ServiceAccount\'s secrets (the plugin has not run yet)', async (t) => {
  const explanation = explain({ object: pod({ namespace: NS, containers: app }), state: [pullSecret(NS, 'sa-cred', 'registry.example.com'), serviceAccount(NS, 'default', 'sa-cred')] });
  t.equal(explanation.containers[0]?.credential?.secret, 'sa-cred');
  t.equal(explanation.containers[0]?.diagnosis.code, 'ok');
});

t.test('a Deployment is explained as a template, without kubelet data; the fix goes into its template', async (t) => {
  const explanation = explain({ object: deployment({ namespace: NS, containers: app }), state: [serviceAccount(NS, 'default', 'sa-cred'), pullSecret(NS, 'sa-cred', 'quay.io'), pullSecret(NS, 'regcred', 'registry.example.com')] });
  t.equal(explanation.template, true);
  const container = explanation.containers[0];
  t.equal(container?.diagnosis.agreement, 'no-kubelet-data');
  t.equal(container?.kubelet.state, null);
  t.match(container?.diagnosis.fix, /set in spec\.template\.spec of the Deployment \(with the ServiceAccount's sa-cred/);
  t.match(container?.diagnosis.fix, /- name: sa-cred\n\s+- name: regcred/);
});

t.test('a pod in an excluded namespace is explained anyway and says the webhook does not check it', async (t) => {
  const explanation = explain({ object: { ...livePod({ containers: app }, waitingBackOff), metadata: { name: 'app-1', namespace: 'kube-system', uid: UID } }, state: [] });
  t.equal(explanation.mode, 'off');
  t.match(explanation.notChecked, /not checked/);
  t.equal(explanation.containers[0]?.diagnosis.code, 'NoMatchingCredential');
});

t.test('events of another pod, or of an earlier pod with the same name, are not this pod\'s', async (t) => {
  const explanation = explain({
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app', podName: 'app-2' }), kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app', uid: 'older-pod' })],
  });
  t.same(explanation.containers[0]?.kubelet.events, []);
  t.equal(explanation.containers[0]?.diagnosis.code, 'ok');
});

t.test('events come newest first with counts, and a back-off resolves to the real error behind it', async (t) => {
  const explanation = explain({
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [
      kubeletEvent('Pulling', `Pulling image "${PRIVATE}"`, { container: 'app', minutesAgo: 9, count: 4 }),
      kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app', minutesAgo: 8, count: 4 }),
      kubeletEvent('BackOff', `Back-off pulling image "${PRIVATE}"`, { container: 'app', minutesAgo: 1, count: 30 }),
    ],
  });
  const kubelet = explanation.containers[0]?.kubelet;
  t.same(
    kubelet?.events.map((event) => [event.cause, event.count]),
    [
      ['backoff', 30],
      ['unauthorized', 4],
      ['pulling', 4],
    ],
  );
  t.equal(kubelet?.cause, 'unauthorized');
  t.equal(kubelet?.events[0]?.ageMs, 60_000);
});

t.test('an events.k8s.io/v1 event is matched to its container like a v1 event', async (t) => {
  const explanation = explain({
    object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: 'x', namespace: NS },
        regarding: { kind: 'Pod', namespace: NS, name: 'app-1', uid: UID, fieldPath: 'spec.containers{app}' },
        reason: 'Failed',
        note: unauthorized(PRIVATE),
        type: 'Warning',
        deprecatedCount: 3,
        deprecatedLastTimestamp: '2026-12-03T06:59:00Z',
        reportingController: 'kubelet',
      },
    ],
  });
  t.equal(explanation.containers[0]?.kubelet.cause, 'unauthorized');
  t.equal(explanation.containers[0]?.diagnosis.code, 'credential-rejected');
});

t.test('a policy rule that makes a registry public is named as who pulls', async (t) => {
  const loaded = loadPolicyText('registries:\n- hosts: ["registry.example.com"]\n  access: public\n');
  if (!loaded.ok) throw new Error('policy');
  const explanation = explain({ object: livePod({ containers: app }, waitingBackOff), state: [], policy: loaded.policy, events: [kubeletEvent('Failed', unauthorized(PRIVATE), { container: 'app' })] });
  const container = explanation.containers[0];
  t.equal(container?.access, 'public');
  t.equal(container?.accessRule, 'registry.example.com');
  t.equal(container?.diagnosis.code, 'unauthorized');
  t.match(container?.diagnosis.summary, /pulled anonymously \(access public, rule registry.example.com\) and the registry refused/);
});

t.test('the text rendering names each part and escapes control characters from the objects', async (t) => {
  const explanation = explain({
    object: livePod({ containers: app, imagePullSecrets: ['regcrd'] }, waitingBackOff),
    state: [pullSecret(NS, 'regcred', 'registry.example.com')],
    events: [kubeletEvent('Failed', unauthorized(PRIVATE) + '\u001b[2J', { container: 'app' })],
  });
  const text = renderExplanations({ explanations: [explanation] }, { color: false });
  for (const part of ['image', 'who pulls', 'kubelet', 'diagnosis', 'fix', 'regcrd']) t.match(text, part);
  t.notMatch(text, /\u001b/, 'no escape sequence reaches the terminal');
  t.match(text, /\\x1b\[2J/);
});

t.test('a back-off with no event left that says why is a problem, not ok: the probe is the next step', async (t) => {
  const explanation = explain({ object: livePod({ containers: app, imagePullSecrets: ['regcred'] }, waitingBackOff), state: [pullSecret(NS, 'regcred', 'registry.example.com')] });
  const diagnosis = explanation.containers[0]?.diagnosis;
  t.equal(diagnosis?.code, 'backoff');
  t.equal(diagnosis?.agreement, 'disagree');
  t.match(diagnosis?.fix, /--probe/);
});
