import t from 'tap';
import type { ApiAnswer } from '../../src/cluster/api-get.ts';
import { readPolicyText, type PolicyConfigMapChoice } from '../../src/cli/explain-live.ts';

const DEFAULT_PATH = '/api/v1/namespaces/pullguard/configmaps/pullguard-policy';
const SEARCH_PATH = '/api/v1/configmaps?labelSelector=app.kubernetes.io%2Fpart-of%3Dpullguard%2Capp.kubernetes.io%2Fcomponent%3Dwebhook';
const DEFAULT_CHOICE: PolicyConfigMapChoice = { namespace: 'pullguard', name: 'pullguard-policy', explicit: false };

function configMap(namespace: string, name: string, policy: string | undefined): Record<string, unknown> {
  return { metadata: { namespace, name }, data: policy === undefined ? {} : { 'policy.yaml': policy } };
}

interface Case {
  readonly choice?: PolicyConfigMapChoice;
  /** Answers by path; a path not listed answers 404. */
  readonly answers: Readonly<Record<string, ApiAnswer>>;
  readonly text: string | undefined;
  readonly note: RegExp | undefined;
  readonly requests: readonly string[];
}

const cases: Record<string, Case> = {
  'reads the ConfigMap at its default name with one GET and searches nothing': {
    answers: { [DEFAULT_PATH]: { status: 200, body: configMap('pullguard', 'pullguard-policy', 'mode: warn\n') } },
    text: 'mode: warn\n',
    note: undefined,
    requests: [DEFAULT_PATH],
  },
  'finds the chart\'s ConfigMap by its labels when the README\'s install put it in pullguard-system': {
    answers: { [SEARCH_PATH]: { status: 200, body: { items: [configMap('pullguard-system', 'pullguard-policy', 'mode: dry-run\n')] } } },
    text: 'mode: dry-run\n',
    note: undefined,
    requests: [DEFAULT_PATH, SEARCH_PATH],
  },
  'searches when the default name may not be read (403), and uses what the search finds': {
    answers: { [DEFAULT_PATH]: { status: 403, body: {} }, [SEARCH_PATH]: { status: 200, body: { items: [configMap('platform', 'guard-policy', 'mode: warn\n')] } } },
    text: 'mode: warn\n',
    note: undefined,
    requests: [DEFAULT_PATH, SEARCH_PATH],
  },
  'falls back to the built-in policy with a note naming both places when no ConfigMap is found': {
    answers: { [SEARCH_PATH]: { status: 200, body: { items: [] } } },
    text: undefined,
    note: /^no policy ConfigMap pullguard\/pullguard-policy, and none labelled app\.kubernetes\.io\/part-of=pullguard,app\.kubernetes\.io\/component=webhook: using the built-in policy \(give --policy-namespace and --policy-configmap, or --policy FILE\)$/,
    requests: [DEFAULT_PATH, SEARCH_PATH],
  },
  'says so when the search is forbidden (no cluster-wide list on ConfigMaps)': {
    answers: { [SEARCH_PATH]: { status: 403, body: {} } },
    text: undefined,
    note: /could not search ConfigMaps for the one the chart installs \(HTTP 403\): using the built-in policy/,
    requests: [DEFAULT_PATH, SEARCH_PATH],
  },
  'does not guess between several labelled ConfigMaps, and names them': {
    answers: { [SEARCH_PATH]: { status: 200, body: { items: [configMap('a', 'pullguard-policy', 'mode: warn\n'), configMap('b', 'pullguard-policy', 'mode: enforce\n')] } } },
    text: undefined,
    note: /^2 pullguard policy ConfigMaps \(a\/pullguard-policy, b\/pullguard-policy\): using the built-in policy/,
    requests: [DEFAULT_PATH, SEARCH_PATH],
  },
  'ignores labelled ConfigMaps without a policy.yaml key': {
    answers: { [SEARCH_PATH]: { status: 200, body: { items: [configMap('a', 'other', undefined), configMap('pullguard-system', 'pullguard-policy', 'mode: dry-run\n')] } } },
    text: 'mode: dry-run\n',
    note: undefined,
    requests: [DEFAULT_PATH, SEARCH_PATH],
  },
  'a ConfigMap named by the flags is the only place looked at': {
    choice: { namespace: 'ops', name: 'guard', explicit: true },
    answers: {},
    text: undefined,
    note: /^no policy ConfigMap ops\/guard: using the built-in policy/,
    requests: ['/api/v1/namespaces/ops/configmaps/guard'],
  },
  'a ConfigMap without the policy.yaml key is named, not searched past': {
    answers: { [DEFAULT_PATH]: { status: 200, body: configMap('pullguard', 'pullguard-policy', undefined) } },
    text: undefined,
    note: /^the ConfigMap pullguard\/pullguard-policy has no policy\.yaml key/,
    requests: [DEFAULT_PATH],
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const requests: string[] = [];
    const get = async (path: string): Promise<ApiAnswer> => {
      requests.push(path);
      return c.answers[path] ?? { status: 404, body: {} };
    };
    const result = await readPolicyText(get, c.choice ?? DEFAULT_CHOICE);
    t.equal(result.text, c.text);
    if (c.note === undefined) t.equal(result.note, undefined);
    else t.match(result.note, c.note);
    t.same(requests, c.requests);
  });
}
