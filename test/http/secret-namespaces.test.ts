// `serve --secret-namespaces`: the webhook sees pull secrets of the chosen namespaces only, so a
// pod elsewhere is allowed untouched (a missing secret there may just be unwatched), while pods in
// a watched namespace are decided as usual.
import t from 'tap';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { StaticDecisionState } from '../../src/server/state.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { admissionReview, namespaceObject, pod, pullSecret } from '../helpers/objects.ts';
import { testServer } from '../helpers/server.ts';

const loaded = parsePolicyObject({ mode: 'enforce' });
if (!loaded.ok) throw new Error('the test policy is invalid');
const STATE = [namespaceObject('watched'), namespaceObject('elsewhere'), pullSecret('watched', 'regcred', 'registry.example.com')];
const policy = new PolicyResolver(loaded.policy, { secretNamespaces: new Set(['watched']) });
const state = new StaticDecisionState(snapshotFromObjects(STATE), policy);

interface Case {
  readonly namespace: string;
  readonly secrets: readonly string[];
  readonly allowed: boolean;
  readonly action: string;
  readonly reason: RegExp;
}

const cases: Record<string, Case> = {
  'decides a pod in a watched namespace (its secret is known)': { namespace: 'watched', secrets: ['regcred'], allowed: true, action: 'allow', reason: /covered/ },
  'denies a pod in a watched namespace that names a secret that does not exist': { namespace: 'watched', secrets: ['typo'], allowed: false, action: 'deny', reason: /PullSecretNotFound/ },
  'allows a pod in an unwatched namespace untouched, saying why, instead of denying a secret it cannot see': {
    namespace: 'elsewhere',
    secrets: ['regcred'],
    allowed: true,
    action: 'skip',
    reason: /namespace elsewhere is not checked \(its secrets are not watched: --secret-namespaces\)/,
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const { app, logs } = testServer([], {}, { decisionState: state, logAllows: true });
    const review = admissionReview(pod({ namespace: c.namespace, imagePullSecrets: c.secrets, containers: [{ name: 'app', image: 'registry.example.com/team/app:1.0' }] }));
    const response = await app.inject({ method: 'POST', url: '/validate', payload: review });
    t.equal(response.statusCode, 200);
    t.equal((response.json() as { response: { allowed: boolean } }).response.allowed, c.allowed);
    const line = logs.find((entry) => entry['msg'] === 'admission decision');
    t.equal(line?.['action'], c.action);
    t.match(String(line?.['reason']) + String(line?.['codes']), c.reason);
  });
}
