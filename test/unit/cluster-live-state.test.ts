import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import type { ConfigMapReference, PolicyEventRecorder } from '../../src/cluster/events.ts';
import type { InformerName } from '../../src/cluster/informers.ts';
import { LiveDecisionState } from '../../src/cluster/live-state.ts';
import { ManualScheduler } from '../../src/cluster/scheduler.ts';
import { FakeInformerFactory } from '../../src/cluster/testing.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { b64, namespaceObject, pullSecret, serviceAccount } from '../helpers/objects.ts';

const NAMESPACE = 'pullguard';
const CONFIG_MAP = 'pullguard-policy';
const ALL_INFORMERS: readonly InformerName[] = ['secrets-dockerconfigjson', 'secrets-dockercfg', 'serviceaccounts', 'namespaces', 'policy-configmap'];

function configMap(text: string | undefined, resourceVersion = '1'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CONFIG_MAP, namespace: NAMESPACE, uid: 'cm-uid', resourceVersion },
    data: text === undefined ? {} : { 'policy.yaml': text },
  };
}

async function settle(): Promise<void> {
  for (let index = 0; index < 5; index++) await Promise.resolve();
}

type LogLine = Record<string, unknown> & { level: number; msg: string };

function setUp(options: { secretNamespaces?: readonly string[] } = {}) {
  const scheduler = new ManualScheduler();
  const factory = new FakeInformerFactory();
  const registry = new Registry();
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const events: Array<{ configMap: ConfigMapReference; message: string }> = [];
  const recorder: PolicyEventRecorder = {
    invalidPolicy: async (reference, message) => void events.push({ configMap: reference, message }),
  };
  const state = new LiveDecisionState({
    kubeConfig: new KubeConfig(),
    namespace: NAMESPACE,
    configMapName: CONFIG_MAP,
    logger,
    registry,
    clock: scheduler,
    informerFactory: factory,
    eventRecorder: recorder,
    random: () => 0,
    secretNamespaces: options.secretNamespaces,
  });
  state.start();
  const informer = (name: InformerName) => factory.informer(name);
  /** Every informer answers its first list; the ConfigMap holds `policyText`, or is absent when null. */
  const listAll = (policyText: string | null = 'mode: warn\n') => {
    informer('secrets-dockerconfigjson').list([pullSecret('team', 'regcred', 'quay.io')]);
    informer('secrets-dockercfg').list([]);
    informer('serviceaccounts').list([serviceAccount('team', 'default', 'regcred')]);
    informer('namespaces').list([namespaceObject('team', { env: 'prod' })]);
    informer('policy-configmap').list(policyText === null ? [] : [configMap(policyText)]);
  };
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return values.find((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected))?.value;
  };
  return { scheduler, factory, registry, logs, events, state, informer, listAll, metric };
}

t.test('readiness', async (t) => {
  t.test('becomes ready only when every informer has listed once and the policy is loaded, naming what is missing', async (t) => {
    const { state, informer } = setUp();
    const steps: Array<{ name: string; act: () => void; missing: string[] }> = [
      { name: 'nothing listed yet', act: () => {}, missing: [...ALL_INFORMERS.map((name) => `informer ${name}`), 'policy'] },
      { name: 'dockerconfigjson secrets listed', act: () => informer('secrets-dockerconfigjson').list([]), missing: ['informer secrets-dockercfg', 'informer serviceaccounts', 'informer namespaces', 'informer policy-configmap', 'policy'] },
      { name: 'dockercfg secrets listed', act: () => informer('secrets-dockercfg').list([]), missing: ['informer serviceaccounts', 'informer namespaces', 'informer policy-configmap', 'policy'] },
      { name: 'service accounts listed', act: () => informer('serviceaccounts').list([]), missing: ['informer namespaces', 'informer policy-configmap', 'policy'] },
      { name: 'namespaces listed', act: () => informer('namespaces').list([]), missing: ['informer policy-configmap', 'policy'] },
      { name: 'policy ConfigMap listed', act: () => informer('policy-configmap').list([configMap('mode: warn\n')]), missing: [] },
      { name: 'an informer fails afterwards: the last snapshot keeps serving', act: () => informer('namespaces').fail(new Error('down')), missing: [] },
    ];
    for (const step of steps) {
      step.act();
      t.same(state.readiness(), { ready: step.missing.length === 0, missing: step.missing }, step.name);
    }
  });

  t.test('stays not ready when the first policy.yaml is invalid, and says so', async (t) => {
    const { state, listAll, events } = setUp();
    listAll('mode: sometimes\n');
    t.same(state.readiness(), { ready: false, missing: ['policy'] });
    t.equal(events.length, 1);
  });

  t.test('is ready on the built-in defaults when the ConfigMap does not exist', async (t) => {
    const { state, listAll, logs } = setUp();
    listAll(null);
    t.equal(state.readiness().ready, true);
    t.equal(state.policy().policy, DEFAULT_POLICY);
    t.ok(logs.some((line) => line.level === 40 && /does not exist/.test(line.msg)), 'a warning says the defaults apply');
  });

  t.test('resolves whenReady() once everything has listed', async (t) => {
    const { state, listAll } = setUp();
    let resolved = false;
    const waiting = state.whenReady().then(() => {
      resolved = true;
    });
    await settle();
    t.equal(resolved, false);
    listAll();
    await waiting;
    t.equal(resolved, true);
  });
});

t.test('policy hot reload', async (t) => {
  t.test('reports a policy with too many YAML aliases like any invalid policy: logged, counted, an Event', async (t) => {
    const { state, informer, listAll, events, logs, metric } = setUp();
    listAll('mode: warn\n');
    const inForce = state.policy();
    const aliases = `registries:\n  - hosts: &h ["a.example.com"]\n    access: public\n${'  - hosts: *h\n    access: node\n'.repeat(150)}`;
    informer('policy-configmap').modified(configMap(aliases, '2'));
    t.equal(state.policy(), inForce, 'the last valid policy stays in force');
    t.equal(await metric('pullguard_policy_invalid_total'), 1);
    t.equal(await metric('pullguard_policy_valid'), 0);
    t.equal(events.length, 1);
    t.match(events[0]?.message, /policy\.yaml is invalid.*\(yaml\): too many YAML alias expansions/);
    const errorLine = logs.find((line) => line.level === 50);
    t.same((errorLine?.['errors'] as Array<{ path: string }>).map((error) => error.path), ['(yaml)']);
  });

  t.test('applies a valid edit, keeps the last valid policy on an invalid one, and applies the next valid one', async (t) => {
    const { state, informer, listAll, events, logs, metric } = setUp();
    listAll('mode: warn\n');
    const warnResolver = state.policy();
    t.equal(warnResolver.policy.mode, 'warn');

    informer('policy-configmap').modified(configMap('mode: sometimes\nregistries: 3\n', '2'));
    t.equal(state.policy(), warnResolver, 'the last valid policy stays in force');
    t.equal(await metric('pullguard_policy_invalid_total'), 1);
    t.equal(await metric('pullguard_policy_valid'), 0);
    t.equal(events.length, 1);
    t.same(events[0]?.configMap, { namespace: NAMESPACE, name: CONFIG_MAP, uid: 'cm-uid', resourceVersion: '2' });
    t.match(events[0]?.message, /mode: .*registries: /);
    const errorLine = logs.find((line) => line.level === 50);
    t.same((errorLine?.['errors'] as Array<{ path: string }>).map((error) => error.path).sort(), ['mode', 'registries']);

    informer('policy-configmap').modified(configMap('mode: dry-run\n', '3'));
    t.equal(state.policy().policy.mode, 'dry-run');
    t.equal(await metric('pullguard_policy_valid'), 1);
    t.equal(await metric('pullguard_policy_reloads_total', { source: 'configmap' }), 2);
    const reloaded = logs.filter((line) => line.level === 30 && /policy reloaded/.test(line.msg)).at(-1);
    t.same(reloaded?.['changed'], ['mode'], 'the log says which top-level fields changed');
  });

  t.test('falls back to the built-in defaults, loudly, when the ConfigMap is deleted', async (t) => {
    const { state, informer, listAll, logs, metric } = setUp();
    listAll('mode: warn\n');
    informer('policy-configmap').deleted(configMap('mode: warn\n'));
    t.equal(state.policy().policy, DEFAULT_POLICY);
    t.ok(logs.some((line) => line.level === 40 && /DELETED/.test(line.msg)));
    t.equal(await metric('pullguard_policy_reloads_total', { source: 'default' }), 1);
  });

  t.test('does nothing when a relist or a metadata edit delivers the same text', async (t) => {
    const { state, informer, listAll, metric } = setUp();
    listAll('mode: warn\n');
    const resolver = state.policy();
    informer('policy-configmap').modified(configMap('mode: warn\n', '9'));
    informer('policy-configmap').list([configMap('mode: warn\n', '9')]);
    t.equal(state.policy(), resolver);
    t.equal(await metric('pullguard_policy_reloads_total', { source: 'configmap' }), 1);
  });
});

t.test('snapshot', async (t) => {
  t.test('shows a secret added after start-up to the very next read', async (t) => {
    const { state, informer, listAll } = setUp();
    listAll();
    const before = state.snapshot();
    informer('secrets-dockercfg').added({
      kind: 'Secret',
      type: 'kubernetes.io/dockercfg',
      metadata: { name: 'legacy', namespace: 'team' },
      data: { '.dockercfg': b64(JSON.stringify({ 'quay.io': { auth: b64('u:p') } })) },
    });
    t.equal(state.snapshot().secret('team', 'legacy')?.usable, true);
    t.equal(before.secret('team', 'legacy'), undefined, 'a snapshot already handed out never changes');
  });

  t.test('sees a deleted secret go and a service account gain pull secrets', async (t) => {
    const { state, informer, listAll } = setUp();
    listAll();
    informer('secrets-dockerconfigjson').deleted(pullSecret('team', 'regcred', 'quay.io'));
    informer('serviceaccounts').modified(serviceAccount('team', 'default', 'regcred', 'mirror'));
    t.equal(state.snapshot().secret('team', 'regcred'), undefined);
    t.same(state.snapshot().serviceAccountPullSecrets('team', 'default'), ['regcred', 'mirror']);
  });
});

t.test('API server outage', async (t) => {
  t.test('keeps serving the last snapshot, says so, and catches up when the API server returns', async (t) => {
    const { scheduler, state, informer, listAll, logs, metric } = setUp();
    listAll();
    await settle();
    t.equal(await metric('pullguard_api_server_reachable'), 1);

    for (const name of ALL_INFORMERS) informer(name).fail(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }));
    t.equal(await metric('pullguard_api_server_reachable'), 0);
    t.equal(state.snapshot().secret('team', 'regcred')?.usable, true, 'decisions still see the last snapshot');
    t.equal(state.readiness().ready, true);
    t.ok(logs.some((line) => line.level === 40 && /unreachable.*last snapshot/.test(line.msg)));

    scheduler.advance(5_000);
    t.equal(await metric('pullguard_informer_last_event_age_seconds', { informer: 'namespaces' }), 5);
    await settle();
    t.equal(await metric('pullguard_api_server_reachable'), 1);
    t.equal(await metric('pullguard_informer_restarts_total', { informer: 'secrets-dockerconfigjson' }), 1);
    t.ok(logs.some((line) => /reachable again/.test(line.msg)));

    // The resume point was compacted away meanwhile: client-node relists (410), the secret is gone.
    informer('secrets-dockerconfigjson').list([]);
    t.equal(state.snapshot().secret('team', 'regcred'), undefined);
    t.equal(await metric('pullguard_informer_relists_total', { informer: 'secrets-dockerconfigjson' }), 1);
  });
});

t.test('metrics and logs', async (t) => {
  t.test('registers only pullguard_ metrics, the documented set', async (t) => {
    const { registry, listAll } = setUp();
    listAll();
    const names = (await registry.getMetricsAsJSON()).map((entry) => entry.name).sort();
    t.same(names, [
      'pullguard_api_server_reachable',
      'pullguard_informer_last_contact_age_seconds',
      'pullguard_informer_last_event_age_seconds',
      'pullguard_informer_relists_total',
      'pullguard_informer_restarts_total',
      'pullguard_informer_synced',
      'pullguard_policy_invalid_total',
      'pullguard_policy_reloads_total',
      'pullguard_policy_valid',
      'pullguard_snapshot_objects',
    ]);
  });

  t.test('reports snapshot sizes', async (t) => {
    const { listAll, metric } = setUp();
    listAll();
    t.equal(await metric('pullguard_snapshot_objects', { kind: 'secrets' }), 1);
    t.equal(await metric('pullguard_snapshot_objects', { kind: 'serviceaccounts' }), 1);
    t.equal(await metric('pullguard_snapshot_objects', { kind: 'namespaces' }), 1);
  });

  t.test('never logs credentials', async (t) => {
    const { listAll, informer, logs } = setUp();
    listAll();
    informer('secrets-dockerconfigjson').added(pullSecret('team', 'second', 'ghcr.io'));
    informer('secrets-dockerconfigjson').fail(new Error('boom'));
    const text = JSON.stringify(logs);
    t.ok(logs.length > 3, 'something was logged');
    t.notMatch(text, /not-a-real-password/);
    t.notMatch(text, new RegExp(b64('user:not-a-real-password')));
  });
});

t.test('pull secrets watched in chosen namespaces only (--secret-namespaces)', async (t) => {
  const listRest = (informer: ReturnType<typeof setUp>['informer']) => {
    informer('serviceaccounts').list([serviceAccount('team-a', 'default'), serviceAccount('elsewhere', 'default')]);
    informer('namespaces').list([namespaceObject('team-a'), namespaceObject('team-b'), namespaceObject('elsewhere')]);
    informer('policy-configmap').list([configMap('mode: enforce\n')]);
  };

  t.test('runs two secret informers per namespace instead of the cluster-wide ones, and is ready once each has listed', async (t) => {
    const { state, informer, factory } = setUp({ secretNamespaces: ['team-b', 'team-a'] });
    t.equal(factory.count('secrets-dockerconfigjson'), 0, 'no cluster-wide secret informer');
    listRest(informer);
    t.same(state.readiness().missing, [
      'informer secrets-dockerconfigjson:team-a',
      'informer secrets-dockercfg:team-a',
      'informer secrets-dockerconfigjson:team-b',
      'informer secrets-dockercfg:team-b',
    ]);
    for (const namespace of ['team-a', 'team-b']) {
      informer(`secrets-dockerconfigjson:${namespace}`).list([]);
      informer(`secrets-dockercfg:${namespace}`).list([]);
    }
    t.same(state.readiness(), { ready: true, missing: [] });
  });

  t.test("a namespace's list replaces that namespace's secrets only", async (t) => {
    const { state, informer } = setUp({ secretNamespaces: ['team-a', 'team-b'] });
    listRest(informer);
    informer('secrets-dockerconfigjson:team-a').list([pullSecret('team-a', 'regcred', 'quay.io')]);
    informer('secrets-dockerconfigjson:team-b').list([pullSecret('team-b', 'regcred', 'quay.io')]);
    informer('secrets-dockercfg:team-a').list([]);
    informer('secrets-dockercfg:team-b').list([]);
    t.equal(state.snapshot().secret('team-a', 'regcred')?.usable, true);
    informer('secrets-dockerconfigjson:team-b').list([]);
    t.equal(state.snapshot().secret('team-b', 'regcred'), undefined, "team-b's relist dropped its deleted secret");
    t.equal(state.snapshot().secret('team-a', 'regcred')?.usable, true, "team-b's relist kept team-a's secret");
  });

  t.test('resolves namespaces whose secrets are not watched to mode off, saying why', async (t) => {
    const { state, informer } = setUp({ secretNamespaces: ['team-a'] });
    listRest(informer);
    const policy = state.policy();
    t.equal(policy.forNamespace('team-a', state.snapshot().namespace('team-a')).mode, 'enforce');
    const elsewhere = policy.forNamespace('elsewhere', state.snapshot().namespace('elsewhere'));
    t.equal(elsewhere.mode, 'off');
    t.equal(elsewhere.modeSource, 'its secrets are not watched: --secret-namespaces');
    informer('policy-configmap').modified(configMap('mode: warn\n', '2'));
    t.equal(state.policy().forNamespace('elsewhere', undefined).mode, 'off', 'also after a policy reload');
    t.equal(state.policy().forNamespace('team-a', undefined).mode, 'warn');
  });
});
