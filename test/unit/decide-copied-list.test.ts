import t from 'tap';
import { decide } from '../../src/decide/decide.ts';
import { clearPodSecretsMemo } from '../../src/decide/pod-secrets.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec } from '../../src/workloads/extract.ts';
import { namespaceObject, pod, pullSecret } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// At pod admission a list equal to the ServiceAccount's is the one the ServiceAccount plugin
// copied (it copies the ServiceAccount's imagePullSecrets verbatim, duplicates and all, into a pod
// that lists none): the pod's author wrote no list, so advice must keep the ServiceAccount's names.

const NOW = Date.parse('2026-06-01T12:00:00Z');
const POLICY = policyResolver({ registries: [{ hosts: ['registry.example.com'], access: 'secret' }] });

/** A ServiceAccount whose imagePullSecrets entries are given as written (names may repeat or be empty). */
function serviceAccountListing(name: string, entries: readonly string[]): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'team' }, imagePullSecrets: entries.map((entry) => ({ name: entry })) };
}

const STATE = [
  namespaceObject('team'),
  pullSecret('team', 'sa-hub', 'quay.io'),
  pullSecret('team', 'sa-ghcr', 'ghcr.io'),
  serviceAccountListing('twice', ['sa-hub', 'sa-hub']),
  serviceAccountListing('repeats', ['sa-hub', 'sa-ghcr', 'sa-hub']),
  serviceAccountListing('nameless', ['sa-hub', '', 'sa-ghcr']),
  serviceAccountListing('two', ['sa-hub', 'sa-ghcr']),
];

function decidePod(serviceAccountName: string, imagePullSecrets: readonly string[]): PodDecision {
  clearPodSecretsMemo();
  const spec = extractPodSpec(pod({ serviceAccountName, imagePullSecrets, containers: [{ name: 'zz', image: 'registry.example.com/a:1' }] }));
  if (spec === undefined) throw new Error('no pod spec');
  return decide({ spec, namespace: 'team', snapshot: snapshotFromObjects(STATE), policy: POLICY, now: NOW, secretsFinal: true });
}

interface Case {
  readonly serviceAccount: string;
  /** The pod's imagePullSecrets at admission. */
  readonly list: readonly string[];
  readonly source: PodDecision['secretsSource'];
  /** The whole list the NoMatchingCredential advice gives, or null when it adds to the pod's own list. */
  readonly advised: string | null;
}

const cases: Record<string, Case> = {
  'a list copied from a ServiceAccount that names one secret twice is recognised as copied': {
    serviceAccount: 'twice', list: ['sa-hub', 'sa-hub'], source: 'serviceAccount', advised: 'add imagePullSecrets: [sa-hub, NEW-SECRET]',
  },
  'a list copied from a ServiceAccount that repeats a secret after another is recognised as copied': {
    serviceAccount: 'repeats', list: ['sa-hub', 'sa-ghcr', 'sa-hub'], source: 'serviceAccount', advised: 'add imagePullSecrets: [sa-hub, sa-ghcr, NEW-SECRET]',
  },
  'a list copied with an entry without a name is recognised as copied': {
    serviceAccount: 'nameless', list: ['sa-hub', '', 'sa-ghcr'], source: 'serviceAccount', advised: 'add imagePullSecrets: [sa-hub, sa-ghcr, NEW-SECRET]',
  },
  'a list naming each of the ServiceAccount\'s secrets once, where the ServiceAccount names one twice, is the pod\'s own': {
    serviceAccount: 'twice', list: ['sa-hub'], source: 'pod', advised: null,
  },
  'a list naming the ServiceAccount\'s secrets in another order is the pod\'s own': {
    serviceAccount: 'two', list: ['sa-ghcr', 'sa-hub'], source: 'pod', advised: null,
  },
  'a list with the ServiceAccount\'s secrets and one more is the pod\'s own, told as a whole (it may be the copy with an injection appended)': {
    serviceAccount: 'two', list: ['sa-hub', 'sa-ghcr', 'sa-hub'], source: 'pod', advised: "set imagePullSecrets: [sa-hub, sa-ghcr, NEW-SECRET] in the pod's template (or in the pod, if no controller made it)",
  },
  'a list with another secret before the ServiceAccount\'s is the pod\'s own, told to add to it': {
    serviceAccount: 'two', list: ['sa-ghcr', 'sa-hub', 'sa-ghcr'], source: 'pod', advised: null,
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, (t) => {
    const decision = decidePod(c.serviceAccount, c.list);
    t.equal(decision.secretsSource, c.source, `secrets come from the ${c.source}`);
    const message = decision.containers[0]?.findings.find((finding) => finding.code === 'NoMatchingCredential')?.message ?? '';
    if (c.advised === null) t.match(message, 'create a docker-registry secret for registry.example.com and list it in imagePullSecrets', 'adds to the pod\'s own list');
    else t.match(message, c.advised, `advises ${c.advised}`);
    t.end();
  });
}

t.test('a template without a list gets each of its ServiceAccount\'s secrets once, however often the ServiceAccount names them', (t) => {
  clearPodSecretsMemo();
  const template = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team' }, spec: { template: { spec: { serviceAccountName: 'repeats', containers: [{ name: 'zz', image: 'registry.example.com/a:1' }] } } } };
  const spec = extractPodSpec(template);
  if (spec === undefined) throw new Error('no pod spec');
  const decision = decide({ spec, namespace: 'team', snapshot: snapshotFromObjects(STATE), policy: POLICY, now: NOW, secretsFinal: false });
  t.same(decision.secrets.map((secret) => secret.name), ['sa-hub', 'sa-ghcr'], 'each name once, in the ServiceAccount\'s order');
  t.equal(decision.secretsSource, 'serviceAccount');
  t.end();
});
