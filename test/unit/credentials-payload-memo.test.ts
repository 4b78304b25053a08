import t from 'tap';
import { buildSecretObject, projectPullSecret } from '../../src/credentials/dockerconfig.ts';
import { PAYLOAD_MEMO_ENTRIES, payloadMemoSize } from '../../src/credentials/payload-memo.ts';
import { decide } from '../../src/decide/decide.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec } from '../../src/workloads/extract.ts';
import { namespaceObject, pod } from '../helpers/objects.ts';

// Copies of one pull secret (reflector, external-secrets) decode once: the payload memo. Each copy
// must still come out as itself: its own name, and the projection its own type and form give.

const JSON_TYPE = 'kubernetes.io/dockerconfigjson';
const CFG_TYPE = 'kubernetes.io/dockercfg';
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const AUTH = b64('robot:not-a-real-password');
const PAYLOAD = JSON.stringify({ auths: { 'harbor.example.com': { auth: AUTH } } });

function secret(namespace: string, name: string, type: string, data: Record<string, string>, stringData?: Record<string, string>): Record<string, unknown> {
  return buildSecretObject({ name, namespace, type, data, ...(stringData !== undefined ? { stringData } : {}) });
}

t.test('the same payload in two namespaces under two names: each secret is decided right in its own namespace', async (t) => {
  const snapshot = snapshotFromObjects([
    namespaceObject('team-a'),
    namespaceObject('team-b'),
    secret('team-a', 'harbor', JSON_TYPE, { '.dockerconfigjson': PAYLOAD }),
    secret('team-b', 'harbor-copy', JSON_TYPE, { '.dockerconfigjson': PAYLOAD }),
  ]);
  const policy = new PolicyResolver(DEFAULT_POLICY);
  const verdict = (namespace: string, secretName: string): string => {
    const spec = extractPodSpec(pod({ namespace, imagePullSecrets: [secretName], containers: [{ name: 'app', image: 'harbor.example.com/team/app:1' }] }));
    if (spec === undefined) throw new Error('no pod spec');
    const decision = decide({ spec, namespace, snapshot, policy, now: 0, secretsFinal: true });
    return `${decision.decision} ${decision.inject.join(',')}`.trim();
  };
  t.equal(verdict('team-a', 'harbor'), 'allow');
  t.equal(verdict('team-b', 'harbor-copy'), 'allow');
  t.equal(verdict('team-b', 'harbor'), 'inject harbor-copy', 'the copy in team-b is named harbor-copy, not harbor');
  t.same(snapshot.pullSecrets('team-b').map((view) => view.name), ['harbor-copy']);
});

t.test('a copy is projected exactly as the first one, name aside', async (t) => {
  const first = projectPullSecret(secret('a', 'one', JSON_TYPE, { '.dockerconfigjson': PAYLOAD }));
  const copy = projectPullSecret(secret('b', 'two', JSON_TYPE, { '.dockerconfigjson': PAYLOAD }));
  t.equal(copy.name, 'two');
  t.same({ ...copy, name: 'one' }, first);
  t.ok(Object.isFrozen(copy) && Object.isFrozen(copy.keys));
});

const distinct: Record<string, readonly [Record<string, unknown>, Record<string, unknown>]> = {
  'the same text under the other pull-secret type (its data key is then missing)': [
    secret('a', 's', JSON_TYPE, { '.dockerconfigjson': PAYLOAD }),
    secret('a', 's', CFG_TYPE, { '.dockerconfigjson': PAYLOAD }),
  ],
  'the same text as a legacy .dockercfg and as a .dockerconfigjson': [
    secret('a', 's', JSON_TYPE, { '.dockerconfigjson': JSON.stringify({ 'harbor.example.com': { auth: AUTH } }) }),
    secret('a', 's', CFG_TYPE, { '.dockercfg': JSON.stringify({ 'harbor.example.com': { auth: AUTH } }) }),
  ],
  'the same characters in stringData (plain text) and in data (base64)': [
    { ...secret('a', 's', JSON_TYPE, {}), stringData: { '.dockerconfigjson': b64(PAYLOAD) } },
    { ...secret('a', 's', JSON_TYPE, {}), data: { '.dockerconfigjson': b64(PAYLOAD) } },
  ],
};

for (const [name, [a, b]] of Object.entries(distinct)) {
  t.test(`tells apart ${name}`, async (t) => {
    const viewA = projectPullSecret(a);
    const viewB = projectPullSecret(b);
    // Each decoded afresh must equal what the memo answers: project them again in the other order.
    t.same(projectPullSecret(b), viewB);
    t.same(projectPullSecret(a), viewA);
    t.not(JSON.stringify(viewA), JSON.stringify(viewB));
  });
}

t.test('a malformed payload is remembered as malformed for its copies', async (t) => {
  const broken = JSON.stringify({ auths: { 'harbor.example.com': { auth: 'not base64 !' } } });
  for (const name of ['first', 'copy']) {
    const view = projectPullSecret(secret('a', name, JSON_TYPE, { '.dockerconfigjson': broken }));
    t.equal(view.usable, false, name);
    t.equal(view.problem?.kind, 'malformed', name);
  }
});

t.test('stays bounded: a flood of distinct payloads never holds more than PAYLOAD_MEMO_ENTRIES', async (t) => {
  for (let index = 0; index < PAYLOAD_MEMO_ENTRIES + 10; index += 1) {
    projectPullSecret(secret('a', 's', JSON_TYPE, { '.dockerconfigjson': JSON.stringify({ auths: { [`r${index}.example.com`]: { auth: AUTH } } }) }));
  }
  t.ok(payloadMemoSize() <= PAYLOAD_MEMO_ENTRIES);
  t.ok(payloadMemoSize() > 0);
});
