import { Readable } from 'node:stream';
import t from 'tap';
import { parseTarget, runExplain, type LiveOptions, type LiveResult } from '../../src/cli/explain.ts';
import type { ApiGet } from '../../src/cluster/api-get.ts';
import { KIND_ALIASES, readExplainTarget } from '../../src/cluster/explain-reader.ts';
import type { ExplainOutput } from '../../src/explain/types.ts';
import { PULL_EVENT_CAUSES } from '../../src/pull-events/classify.ts';
import { runCli } from '../helpers/cli.ts';
import { pullSecret, serviceAccount } from '../helpers/objects.ts';

const EXAMPLE = ['explain', '-f', 'examples/explain/pod.yaml', '--events', 'examples/explain/events.yaml', '--state', 'examples/cluster', '--now', '2026-12-03T07:00:00Z'];

t.test('explain -f with events and state: the example pod is diagnosed as a typo, exit 1', async (t) => {
  const result = await runCli(EXAMPLE);
  t.equal(result.code, 1);
  t.equal(result.stderr, '');
  t.match(result.stdout, /init container migrate/);
  t.match(result.stdout, /cause unauthorized/);
  t.match(result.stdout, /did you mean regcred\?/);
  t.match(result.stdout, /2m ago ×71 {2}BackOff {2}backoff/);
});

t.test('explain -o json is the documented contract', async (t) => {
  const result = await runCli([...EXAMPLE, '-o', 'json']);
  t.equal(result.code, 1);
  const output = JSON.parse(result.stdout) as ExplainOutput;
  const explanation = output.explanations[0];
  t.equal(explanation?.object.name, 'web-7d4f9c6b8-x2x7p');
  t.equal(explanation?.owner, 'ReplicaSet/web-7d4f9c6b8');
  const migrate = explanation?.containers.find((container) => container.name === 'migrate');
  t.equal(migrate?.group, 'initContainers');
  t.equal(migrate?.kubelet.stateCause, 'unauthorized');
  for (const event of migrate?.kubelet.events ?? []) t.ok((PULL_EVENT_CAUSES as readonly string[]).includes(event.cause), event.cause);
  t.equal(migrate?.diagnosis.code, 'PullSecretNotFound');
  t.same(Object.keys(migrate ?? {}).sort(), [
    'access', 'accessRule', 'credential', 'decision', 'diagnosis', 'findings', 'group', 'image', 'keys', 'kubelet', 'name', 'path', 'pullPolicy', 'pullPolicyDefaulted', 'reference',
  ]);
});

t.test('a pod whose images are all fine exits 0', async (t) => {
  const pod = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok', namespace: 'shop' }, spec: { containers: [{ name: 'a', image: 'registry.k8s.io/pause:3.10' }] } });
  const result = await runCli(['explain', '-f', '-', '-o', 'json'], pod);
  t.equal(result.code, 0);
  t.equal((JSON.parse(result.stdout) as ExplainOutput).explanations[0]?.containers[0]?.diagnosis.code, 'ok');
});

t.test('usage errors exit 2 with a message', async (t) => {
  const cases: Record<string, readonly string[]> = {
    'no target': ['explain'],
    'both a file and a name': ['explain', '-f', 'examples/explain/pod.yaml', 'pod', 'x'],
    '--events without -f': ['explain', 'pod', 'x', '--events', 'examples/explain/events.yaml'],
    'a bad output format': ['explain', '-f', 'examples/explain/pod.yaml', '-o', 'yaml'],
    'a file without pods': ['explain', '-f', 'examples/cluster/namespaces.yaml'],
    'an unknown kind': ['explain', 'service/web', '--kubeconfig', 'examples/explain/pod.yaml'],
  };
  for (const [name, args] of Object.entries(cases)) {
    const result = await runCli(args);
    t.equal(result.code, 2, name);
    t.match(result.stderr, /^pullguard explain: /, name);
  }
});

t.test('parses the target forms kubectl users type', async (t) => {
  t.same(parseTarget(['pod', 'web-1']), { kind: 'pod', name: 'web-1' });
  t.same(parseTarget(['web-1']), { kind: 'pod', name: 'web-1' });
  t.same(parseTarget(['deployment/web']), { kind: 'deployment', name: 'web' });
  t.same(parseTarget(['Deploy', 'web']), { kind: 'deploy', name: 'web' });
  t.throws(() => parseTarget(['pod', 'a', 'b']));
});

function io(): { io: Parameters<typeof runExplain>[1]; out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    io: { stdin: Readable.from([]), stdout: { write: (text: string) => (stdout += text), isTTY: false }, stderr: { write: (text: string) => (stderr += text) }, env: {} },
    out: () => stdout,
    err: () => stderr,
  };
}

t.test('live explain decides with what the reader returns and prints its notes', async (t) => {
  let asked: LiveOptions | undefined;
  const live = async (options: LiveOptions): Promise<LiveResult> => {
    asked = options;
    return {
      namespace: 'shop',
      objects: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web-1', namespace: 'shop', uid: 'u' },
          spec: { imagePullSecrets: [{ name: 'regcred' }], containers: [{ name: 'web', image: 'registry.example.com/shop/web:1' }] },
          status: { containerStatuses: [{ name: 'web', state: { running: {} } }] },
        },
      ],
      state: [pullSecret('shop', 'regcred', 'registry.example.com')],
      events: [],
      policyText: 'mode: warn\n',
      notes: ['could not read namespace shop: forbidden'],
    };
  };
  const streams = io();
  const code = await runExplain(['pod', 'web-1', '-n', 'shop', '--context', 'kind', '-o', 'json'], streams.io, { live });
  t.equal(code, 0);
  t.equal(asked?.namespace, 'shop');
  t.equal(asked?.context, 'kind');
  t.equal(asked?.readPolicy, true);
  t.match(streams.err(), /could not read namespace shop/);
  const output = JSON.parse(streams.out()) as ExplainOutput;
  t.equal(output.explanations[0]?.mode, 'warn', 'the cluster policy applies');
  t.equal(output.explanations[0]?.containers[0]?.credential?.secret, 'regcred');
});

/** A fake API server: answers by path, counts requests, records every path. */
function fakeApi(objects: Record<string, unknown>): { get: ApiGet; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    get: async (path) => {
      paths.push(path);
      const body = objects[path];
      return body === undefined ? { status: 404, body: { kind: 'Status', message: 'not found' } } : body === 'forbidden' ? { status: 403, body: { message: 'forbidden' } } : { status: 200, body };
    },
  };
}

t.test('the live reader reads one namespace: the workload, its newest pod, SA, secrets by type and by name, events', async (t) => {
  const template = { metadata: { labels: { app: 'web' } }, spec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'opaque-cred' }], containers: [{ name: 'web', image: 'r.io/a:1' }] } };
  const podObject = (name: string, created: string) => ({ metadata: { name, namespace: 'shop', uid: name, creationTimestamp: created }, spec: template.spec });
  const secretItem = (pullSecret('shop', 'regcred', 'r.io') as { metadata: unknown; type: unknown; data: unknown });
  const api = fakeApi({
    '/apis/apps/v1/namespaces/shop/deployments/web': { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } }, template } },
    '/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb': { items: [podObject('web-old', '2026-12-01T00:00:00Z'), podObject('web-new', '2026-12-03T00:00:00Z')] },
    '/api/v1/namespaces/shop': 'forbidden',
    '/api/v1/namespaces/shop/serviceaccounts/builder': serviceAccount('shop', 'builder', 'regcred'),
    '/api/v1/namespaces/shop/secrets?fieldSelector=type%3Dkubernetes.io%2Fdockerconfigjson': { items: [{ metadata: secretItem.metadata, type: secretItem.type, data: secretItem.data }] },
    '/api/v1/namespaces/shop/secrets?fieldSelector=type%3Dkubernetes.io%2Fdockercfg': { items: [] },
    '/api/v1/namespaces/shop/secrets/opaque-cred': { metadata: { name: 'opaque-cred', namespace: 'shop' }, type: 'Opaque', data: {} },
    '/api/v1/namespaces/shop/events?fieldSelector=involvedObject.kind%3DPod%2CinvolvedObject.name%3Dweb-new': {
      items: [{ metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'web-new', namespace: 'shop' }, reason: 'Pulling', message: 'Pulling image "r.io/a:1"' }],
    },
  });
  const reading = await readExplainTarget(api.get, { kind: KIND_ALIASES['deploy'] ?? KIND_ALIASES['pod']!, name: 'web', namespace: 'shop' });
  t.same(
    reading.objects.map((object) => [object['kind'], (object['metadata'] as { name: string }).name]),
    [
      ['Deployment', 'web'],
      ['Pod', 'web-new'],
    ],
    'the workload and its newest pod',
  );
  t.same(reading.state.map((object) => `${object['kind']}/${(object['metadata'] as { name: string }).name}`).sort(), ['Secret/opaque-cred', 'Secret/regcred', 'ServiceAccount/builder']);
  t.equal(reading.events.length, 1);
  t.equal(reading.events[0]?.['kind'], 'Event', 'list items get their kind back');
  t.match(reading.notes.join('\n'), /could not read namespace shop: forbidden/);
  t.ok(api.paths.every((path) => path.startsWith('/api/v1/namespaces/shop') || path.startsWith('/apis/apps/v1/namespaces/shop/')), 'nothing outside the namespace');
  t.equal(reading.requests, api.paths.length);
  t.ok(reading.requests <= 9, `a handful of requests (${reading.requests})`);
});

t.test('the live reader says what is missing', async (t) => {
  const api = fakeApi({});
  await t.rejects(readExplainTarget(api.get, { kind: KIND_ALIASES['pod']!, name: 'nope', namespace: 'shop' }), { name: 'ExplainReadError', message: /Pod shop\/nope not found/ });
});
