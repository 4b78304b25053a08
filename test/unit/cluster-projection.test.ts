import t, { type Test } from 'tap';
import {
  applyEvent,
  applyEvents,
  emptyLiveSnapshot,
  projectNamespace,
  projectPolicyConfigMap,
  projectSecret,
  projectServiceAccount,
  replaceScope,
  type SnapshotEvent,
  type ServiceAccountRecord,
  type SnapshotRecord,
  type WatchEventType,
} from '../../src/cluster/projection.ts';
import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE } from '../../src/credentials/types.ts';
import type { MemorySnapshot } from '../../src/snapshot/memory.ts';
import { b64, namespaceObject, pullSecret, secretOfType, serviceAccount } from '../helpers/objects.ts';

function secret(raw: Record<string, unknown>): SnapshotRecord {
  const record = projectSecret(raw);
  if (record === undefined) throw new Error('test secret has no name');
  return record;
}

function account(namespace: string, name: string, ...pullSecrets: string[]): SnapshotRecord {
  const record = projectServiceAccount(serviceAccount(namespace, name, ...pullSecrets));
  if (record === undefined) throw new Error('test service account has no name');
  return record;
}

function ns(name: string, labels: Record<string, string> = {}): SnapshotRecord {
  const record = projectNamespace(namespaceObject(name, labels));
  if (record === undefined) throw new Error('test namespace has no name');
  return record;
}

function dockercfgSecret(namespace: string, name: string, host: string): Record<string, unknown> {
  return secretOfType(namespace, name, DOCKER_CFG_TYPE, { '.dockercfg': b64(JSON.stringify({ [host]: { auth: b64('user:not-a-real-password') } })) });
}

function malformedSecret(namespace: string, name: string): Record<string, unknown> {
  return secretOfType(namespace, name, DOCKER_CONFIG_JSON_TYPE, { '.dockerconfigjson': b64('{"auths":{"quay.io":{"auth":"%%%"}}}') });
}

function ev(type: WatchEventType, record: SnapshotRecord): SnapshotEvent {
  return { type, record };
}

function run(events: readonly SnapshotEvent[], base: MemorySnapshot = emptyLiveSnapshot()): MemorySnapshot {
  let snapshot = base;
  for (const event of events) snapshot = applyEvent(snapshot, event.type, event.record);
  return snapshot;
}

t.test('projecting objects', async (t) => {
  t.test('keeps no secret data, only the keys of the view', async (t) => {
    const record = projectSecret(pullSecret('team', 'regcred', 'quay.io'));
    const text = JSON.stringify(record);
    t.notMatch(text, /not-a-real-password/);
    t.notMatch(text, new RegExp(b64('user:not-a-real-password')));
    t.notMatch(text, /dockerconfigjson"\s*:\s*"ey/);
    t.same(record?.view.keys.map((key) => key.key), ['quay.io']);
    t.equal(record?.metadata.name, 'regcred');
    t.equal(record?.metadata.namespace, 'team');
  });

  t.test('skips objects without a name', async (t) => {
    t.equal(projectSecret({ kind: 'Secret', metadata: {} }), undefined);
    t.equal(projectServiceAccount({ kind: 'ServiceAccount' }), undefined);
    t.equal(projectNamespace(null), undefined);
  });

  t.test('reads policy.yaml from the ConfigMap and keeps its uid', async (t) => {
    const record = projectPolicyConfigMap({
      metadata: { name: 'pullguard-policy', namespace: 'pullguard', uid: 'u-1', resourceVersion: '7' },
      data: { 'policy.yaml': 'mode: warn\n', other: 'ignored' },
    });
    t.equal(record?.kind, 'ConfigMap');
    t.same(
      { name: record?.metadata.name, namespace: record?.metadata.namespace, resourceVersion: record?.metadata.resourceVersion, uid: record?.uid },
      { name: 'pullguard-policy', namespace: 'pullguard', resourceVersion: '7', uid: 'u-1' },
    );
    t.equal(record?.policyText, 'mode: warn\n');
    t.equal(projectPolicyConfigMap({ metadata: { name: 'pullguard-policy' }, data: {} })?.policyText, undefined);
  });
});

t.test('applying watch events', async (t) => {
  interface Case {
    readonly events: readonly SnapshotEvent[];
    readonly check: (t: Test, snapshot: MemorySnapshot) => void;
  }
  const cases: Record<string, Case> = {
    'adds a pull secret announced by an ADDED event': {
      events: [ev('ADDED', secret(pullSecret('team', 'regcred', 'quay.io')))],
      check: (t, s) => {
        t.equal(s.secret('team', 'regcred')?.usable, true);
        t.same(s.pullSecrets('team').map((view) => view.name), ['regcred']);
      },
    },
    'sees a service account that references a secret before the secret arrives': {
      events: [ev('ADDED', account('team', 'default', 'regcred')), ev('ADDED', secret(pullSecret('team', 'regcred', 'quay.io')))],
      check: (t, s) => {
        t.same(s.serviceAccountPullSecrets('team', 'default'), ['regcred']);
        t.equal(s.secret('team', 'regcred')?.name, 'regcred');
      },
    },
    'treats a MODIFIED event for an object never added as an upsert': {
      events: [ev('MODIFIED', secret(pullSecret('team', 'regcred', 'ghcr.io')))],
      check: (t, s) => t.same(s.secret('team', 'regcred')?.keys.map((key) => key.key), ['ghcr.io']),
    },
    'accepts secrets of a namespace whose Namespace object arrives later': {
      events: [ev('ADDED', secret(pullSecret('late', 'regcred', 'quay.io'))), ev('ADDED', ns('late', { tier: 'gold' }))],
      check: (t, s) => {
        t.equal(s.secret('late', 'regcred')?.usable, true);
        t.same(s.namespace('late')?.labels, { tier: 'gold' });
      },
    },
    'removes a deleted secret and leaves its namespace empty': {
      events: [ev('ADDED', secret(pullSecret('team', 'regcred', 'quay.io'))), ev('DELETED', secret(pullSecret('team', 'regcred', 'quay.io')))],
      check: (t, s) => {
        t.equal(s.secret('team', 'regcred'), undefined);
        t.same(s.pullSecrets('team'), []);
        t.equal(s.namespaceStates().has('team'), false);
      },
    },
    'drops a secret whose MODIFIED event carries a type other than the pull-secret types': {
      events: [ev('ADDED', secret(pullSecret('team', 'regcred', 'quay.io'))), ev('MODIFIED', secret(secretOfType('team', 'regcred', 'Opaque', { token: 'x' })))],
      check: (t, s) => t.equal(s.secret('team', 'regcred'), undefined),
    },
    'never stores an Opaque secret, even when one reaches it': {
      events: [ev('ADDED', secret(secretOfType('team', 'opaque', 'Opaque', { token: 'x' })))],
      check: (t, s) => t.equal(s.secret('team', 'opaque'), undefined),
    },
    'keeps a malformed pull secret as unusable with a malformed problem (the kubelet fails the pod on it)': {
      events: [ev('ADDED', secret(malformedSecret('team', 'broken')))],
      check: (t, s) => {
        const view = s.secret('team', 'broken');
        t.equal(view?.usable, false);
        t.equal(view?.problem?.kind, 'malformed');
        t.same(s.pullSecrets('team').map((each) => each.name), ['broken']);
      },
    },
    'sees a service account gain pull secrets': {
      events: [ev('ADDED', account('team', 'builder')), ev('MODIFIED', account('team', 'builder', 'regcred', 'mirror'))],
      check: (t, s) => t.same(s.serviceAccountPullSecrets('team', 'builder'), ['regcred', 'mirror']),
    },
    'keeps a secret re-created with the other type when the old type\'s DELETED arrives late': {
      events: [ev('ADDED', secret(dockercfgSecret('team', 'regcred', 'quay.io'))), ev('ADDED', secret(pullSecret('team', 'regcred', 'ghcr.io'))), ev('DELETED', secret(dockercfgSecret('team', 'regcred', 'quay.io')))],
      check: (t, s) => {
        t.equal(s.secret('team', 'regcred')?.type, DOCKER_CONFIG_JSON_TYPE);
        t.same(s.secret('team', 'regcred')?.keys.map((key) => key.key), ['ghcr.io']);
      },
    },
    'removes a deleted namespace view but keeps the namespace\'s secrets until their own DELETED': {
      events: [ev('ADDED', ns('gone')), ev('ADDED', secret(pullSecret('gone', 'regcred', 'quay.io'))), ev('DELETED', ns('gone'))],
      check: (t, s) => {
        t.equal(s.namespace('gone'), undefined);
        t.equal(s.secret('gone', 'regcred')?.name, 'regcred');
      },
    },
    'sorts injection candidates by name whatever the arrival order': {
      events: ['zeta', 'alpha', 'mid'].map((name) => ev('ADDED', secret(pullSecret('team', name, 'quay.io')))),
      check: (t, s) => t.same(s.pullSecrets('team').map((view) => view.name), ['alpha', 'mid', 'zeta']),
    },
  };
  for (const [name, { events, check }] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const one = run(events);
      check(t, one);
      t.equal(one.seesAllSecretTypes, false, 'the live snapshot sees only pull-secret types');
      // The same events as one batch must give the same answers.
      check(t, applyEvents(emptyLiveSnapshot(), events));
    });
  }
});

t.test('copy-on-write', async (t) => {
  const base = run([
    ev('ADDED', ns('a')),
    ev('ADDED', ns('b')),
    ev('ADDED', secret(pullSecret('a', 'one', 'quay.io'))),
    ev('ADDED', secret(pullSecret('b', 'two', 'quay.io'))),
    ev('ADDED', account('b', 'default', 'two')),
  ]);

  const noOps: Record<string, SnapshotEvent> = {
    'returns the same snapshot for the DELETED of an unknown secret': ev('DELETED', secret(pullSecret('a', 'unknown', 'quay.io'))),
    'returns the same snapshot for the DELETED of an unknown service account': ev('DELETED', account('zzz', 'nobody')),
    'returns the same snapshot for the DELETED of an unknown namespace': ev('DELETED', ns('never-seen')),
    'returns the same snapshot when a MODIFIED secret projects to the same view (an annotation edit)': ev('MODIFIED', secret(pullSecret('a', 'one', 'quay.io'))),
    'returns the same snapshot when a service account is modified without touching its pull secrets': ev('MODIFIED', account('b', 'default', 'two')),
    'returns the same snapshot when a namespace is modified with the same labels': ev('MODIFIED', ns('a')),
  };
  for (const [name, event] of Object.entries(noOps)) {
    t.test(name, async (t) => t.equal(applyEvent(base, event.type, event.record), base));
  }

  t.test('reuses every untouched namespace state and leaves the old snapshot unchanged', async (t) => {
    const next = applyEvent(base, 'ADDED', secret(pullSecret('a', 'extra', 'ghcr.io')));
    t.not(next, base);
    t.equal(next.namespaceStates().get('b'), base.namespaceStates().get('b'), 'namespace b is shared');
    t.not(next.namespaceStates().get('a'), base.namespaceStates().get('a'), 'namespace a is rebuilt');
    t.equal(base.secret('a', 'extra'), undefined, 'the old snapshot did not change');
    t.equal(next.namespace('a'), base.namespace('a'), 'namespace views are shared');
  });
});

t.test('replacing a scope with a complete list', async (t) => {
  const base = run([
    ev('ADDED', secret(pullSecret('a', 'kept', 'quay.io'))),
    ev('ADDED', secret(pullSecret('a', 'deleted-meanwhile', 'quay.io'))),
    ev('ADDED', secret(dockercfgSecret('a', 'legacy', 'quay.io'))),
    ev('ADDED', secret(pullSecret('b', 'untouched', 'quay.io'))),
    ev('ADDED', account('a', 'default', 'kept')),
    ev('ADDED', account('a', 'gone')),
    ev('ADDED', ns('a')),
    ev('ADDED', ns('old')),
  ]);

  t.test('removes secrets of the listed type that the list no longer has, and keeps the other type', async (t) => {
    const next = replaceScope(base, { kind: 'secrets', secretType: DOCKER_CONFIG_JSON_TYPE }, [
      secret(pullSecret('a', 'kept', 'quay.io')),
      secret(pullSecret('b', 'untouched', 'quay.io')),
      secret(pullSecret('c', 'new', 'quay.io')),
    ]);
    t.equal(next.secret('a', 'deleted-meanwhile'), undefined);
    t.equal(next.secret('a', 'legacy')?.type, DOCKER_CFG_TYPE);
    t.equal(next.secret('c', 'new')?.usable, true);
    t.equal(next.namespaceStates().get('b'), base.namespaceStates().get('b'), 'an unchanged namespace keeps its state');
  });

  t.test('returns the same snapshot when the relist finds nothing new', async (t) => {
    const next = replaceScope(base, { kind: 'secrets', secretType: DOCKER_CONFIG_JSON_TYPE }, [
      secret(pullSecret('a', 'kept', 'quay.io')),
      secret(pullSecret('a', 'deleted-meanwhile', 'quay.io')),
      secret(pullSecret('b', 'untouched', 'quay.io')),
    ]);
    t.equal(next, base);
  });

  t.test('replaces service accounts and namespaces', async (t) => {
    const accounts = replaceScope(base, { kind: 'serviceaccounts' }, [account('a', 'default', 'kept', 'more')]);
    t.same(accounts.serviceAccountPullSecrets('a', 'default'), ['kept', 'more']);
    t.equal(accounts.serviceAccountPullSecrets('a', 'gone'), undefined);
    const namespaces = replaceScope(base, { kind: 'namespaces' }, [ns('a'), ns('new', { env: 'prod' })]);
    t.equal(namespaces.namespace('old'), undefined);
    t.equal(namespaces.namespace('a'), base.namespace('a'), 'an unchanged namespace keeps its view (and the policy cache)');
    t.same(namespaces.namespace('new')?.labels, { env: 'prod' });
  });

  // Speed of large lists is measured by `npm run bench:memory`, never by a timed unit test.
  t.test('lists 20,000 secrets of one namespace, and replaying them as events changes nothing', async (t) => {
    const records = Array.from({ length: 20_000 }, (_, index) => secret(pullSecret('huge', `s-${index}`, 'quay.io')));
    const listed = replaceScope(emptyLiveSnapshot(), { kind: 'secrets', secretType: DOCKER_CONFIG_JSON_TYPE }, records);
    const batched = applyEvents(listed, records.map((record) => ev('MODIFIED', record)));
    t.equal(listed.pullSecrets('huge').length, 20_000);
    t.equal(batched, listed, 'the ADDED callbacks client-node sends after a list change nothing');
  });
});

t.test('the live snapshot keeps whether a ServiceAccount enforces mountable secrets, and an annotation change updates it', async (t) => {
  const account = (annotations: Record<string, string>): ServiceAccountRecord =>
    projectServiceAccount({ metadata: { name: 'default', namespace: 'team', annotations }, imagePullSecrets: [{ name: 'regcred' }] }) as ServiceAccountRecord;
  const plain = applyEvent(emptyLiveSnapshot(), 'ADDED', account({}));
  t.equal(plain.serviceAccountPullSecrets('team', 'default')?.enforceMountableSecrets, undefined);
  const enforcing = applyEvent(plain, 'MODIFIED', account({ 'kubernetes.io/enforce-mountable-secrets': 'true' }));
  t.not(enforcing, plain, 'the annotation change is a new snapshot');
  t.equal(enforcing.serviceAccountPullSecrets('team', 'default')?.enforceMountableSecrets, true);
  t.same([...(enforcing.serviceAccountPullSecrets('team', 'default') ?? [])], ['regcred']);
  t.equal(enforcing.serviceAccountsComplete('elsewhere'), true, 'the live snapshot holds every ServiceAccount');
});
