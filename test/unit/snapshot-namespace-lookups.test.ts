import { execFileSync } from 'node:child_process';
import t from 'tap';
import { applyEvent, emptyLiveSnapshot, projectNamespace, projectSecret, replaceScope, type SnapshotRecord, type WatchEventType } from '../../src/cluster/projection.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import type { MemorySnapshot } from '../../src/snapshot/memory.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { namespaceObject, pullSecret } from '../helpers/objects.ts';

// A snapshot finds a namespace's view, its state and its effective policy with one lookup and
// remembers the last namespace (the policy resolver remembers its answer per view). The live
// cache builds each new snapshot from the old one's entries: every answer must still be the one
// of the snapshot and policy asked, whatever was asked before.

function ns(name: string, labels: Record<string, string> = {}): SnapshotRecord {
  const record = projectNamespace(namespaceObject(name, labels));
  if (record === undefined) throw new Error('test namespace has no name');
  return record;
}

function secret(namespace: string, name: string): SnapshotRecord {
  const record = projectSecret(pullSecret(namespace, name, 'quay.io'));
  if (record === undefined) throw new Error('test secret has no name');
  return record;
}

const enforcing = new PolicyResolver(DEFAULT_POLICY);

function live(events: ReadonlyArray<readonly [WatchEventType, SnapshotRecord]>): MemorySnapshot {
  let snapshot = emptyLiveSnapshot();
  for (const [type, record] of events) snapshot = applyEvent(snapshot, type, record);
  return snapshot;
}

/** What decisions read about a namespace, asked in the order decide() asks. */
function describe(snapshot: MemorySnapshot, namespace: string, policy: PolicyResolver = enforcing): unknown {
  return {
    labels: snapshot.namespace(namespace)?.labels,
    mode: snapshot.resolveNamespace(namespace, policy).mode,
    secrets: snapshot.pullSecrets(namespace).map((view) => view.name),
  };
}

const base = live([
  ['ADDED', ns('a')],
  ['ADDED', ns('b', { team: 'b' })],
  ['ADDED', secret('a', 'one')],
  ['ADDED', secret('b', 'two')],
  ['ADDED', secret('orphan', 'three')],
]);

interface UpdateCase {
  readonly type: WatchEventType;
  readonly record: SnapshotRecord;
  /** What the updated snapshot answers for namespace a. */
  readonly after: unknown;
}

const updates: Record<string, UpdateCase> = {
  'a namespace labelled into dry-run resolves to dry-run in the new snapshot': {
    type: 'MODIFIED', record: ns('a', { 'pullguard.io/mode': 'dry-run' }),
    after: { labels: { 'pullguard.io/mode': 'dry-run' }, mode: 'dry-run', secrets: ['one'] },
  },
  'a namespace labelled off is not checked in the new snapshot': {
    type: 'MODIFIED', record: ns('a', { 'pullguard.io/mode': 'off' }),
    after: { labels: { 'pullguard.io/mode': 'off' }, mode: 'off', secrets: ['one'] },
  },
  'a deleted Namespace object loses its view and keeps its secrets until they are deleted': {
    type: 'DELETED', record: ns('a'),
    after: { labels: undefined, mode: 'enforce', secrets: ['one'] },
  },
  'a new secret shows in the new snapshot under the same view': {
    type: 'ADDED', record: secret('a', 'extra'),
    after: { labels: {}, mode: 'enforce', secrets: ['extra', 'one'] },
  },
  'a deleted secret is gone from the new snapshot': {
    type: 'DELETED', record: secret('a', 'one'),
    after: { labels: {}, mode: 'enforce', secrets: [] },
  },
};

for (const [name, update] of Object.entries(updates)) {
  t.test(name, async (t) => {
    const before = describe(base, 'a');
    const next = applyEvent(base, update.type, update.record);
    t.not(next, base, 'a new snapshot');
    t.same(describe(next, 'a'), update.after, 'the new snapshot answers the update');
    t.same(describe(base, 'a'), before, 'the old snapshot still answers as before');
    t.same(describe(next, 'b'), { labels: { team: 'b' }, mode: 'enforce', secrets: ['two'] }, 'an untouched namespace answers as before');
    t.same(describe(next, 'a'), update.after, 'asked again after another namespace');
  });
}

t.test('a namespace that changed only its secrets keeps its view and its effective policy object', async (t) => {
  const next = applyEvent(base, 'ADDED', secret('a', 'extra'));
  t.equal(next.namespace('a'), base.namespace('a'));
  t.equal(next.resolveNamespace('a', enforcing), base.resolveNamespace('a', enforcing));
  t.not(next.namespaceVersion('a'), base.namespaceVersion('a'), 'but a new version');
});

t.test('a Namespace object arriving after its secrets joins them', async (t) => {
  t.same(describe(base, 'orphan'), { labels: undefined, mode: 'enforce', secrets: ['three'] });
  const next = applyEvent(base, 'ADDED', ns('orphan', { 'pullguard.io/mode': 'warn' }));
  t.same(describe(next, 'orphan'), { labels: { 'pullguard.io/mode': 'warn' }, mode: 'warn', secrets: ['three'] });
  t.equal(next.namespaceVersion('orphan'), base.namespaceVersion('orphan'), 'the secrets did not change');
});

t.test('a namespace left with neither an object nor secrets is forgotten', async (t) => {
  const next = applyEvent(base, 'DELETED', secret('orphan', 'three'));
  t.same(describe(next, 'orphan'), { labels: undefined, mode: 'enforce', secrets: [] });
  t.equal(next.namespaceStates().has('orphan'), false);
  t.equal(next.stats().namespaces, 2);
});

t.test('a relisted namespace scope drops the views of unlisted namespaces and keeps their secrets', async (t) => {
  describe(base, 'b');
  const next = replaceScope(base, { kind: 'namespaces' }, [ns('a', { 'pullguard.io/mode': 'warn' })]);
  t.same(describe(next, 'a'), { labels: { 'pullguard.io/mode': 'warn' }, mode: 'warn', secrets: ['one'] });
  t.same(describe(next, 'b'), { labels: undefined, mode: 'enforce', secrets: ['two'] });
  t.same([...next.namespaceViews().keys()], ['a']);
});

const reloads: Record<string, { readonly snapshot: MemorySnapshot }> = {
  'the live snapshot': { snapshot: base },
  'an offline snapshot': { snapshot: snapshotFromObjects([namespaceObject('a'), namespaceObject('b', { team: 'b' }), pullSecret('a', 'one', 'quay.io')]) },
};
for (const [name, { snapshot }] of Object.entries(reloads)) {
  t.test(`a policy reload changes the effective policy of ${name}`, async (t) => {
    const warning = new PolicyResolver({ ...DEFAULT_POLICY, mode: 'warn' });
    const excluding = new PolicyResolver({ ...DEFAULT_POLICY, namespaces: { ...DEFAULT_POLICY.namespaces, exclude: ['a'] } });
    t.equal(snapshot.resolveNamespace('a', enforcing).mode, 'enforce');
    t.equal(snapshot.resolveNamespace('a', warning).mode, 'warn', 'the reloaded policy');
    t.equal(snapshot.resolveNamespace('a', excluding).mode, 'off', 'another reload');
    t.equal(snapshot.resolveNamespace('b', excluding).mode, 'enforce', 'another namespace under it');
    t.equal(snapshot.resolveNamespace('a', enforcing).mode, 'enforce', 'back to the first policy');
    t.equal(snapshot.resolveNamespace('unknown', warning).mode, 'warn', 'a namespace the snapshot does not know');
    t.equal(snapshot.resolveNamespace('a', warning), warning.forNamespace('a', snapshot.namespace('a')), 'the resolver’s own answer');
  });
}

// Snapshots share a quiet namespace's entry across live changes and policy reloads: nothing they
// hold may keep a replaced policy (its resolver and memos) alive.
t.test('after a policy reload, the replaced resolver is freed though most namespaces were not asked again', async (t) => {
  const output = execFileSync(process.execPath, ['--expose-gc', 'test/fixtures/heap-child-resolver.ts'], { encoding: 'utf8' });
  const result = JSON.parse(output) as { replacedAlive: boolean; currentAlive: boolean; namespaces: number };
  t.equal(result.namespaces, 200, 'the snapshot still holds every namespace');
  t.equal(result.currentAlive, true, 'the resolver in use is alive (the check sees what is kept)');
  t.equal(result.replacedAlive, false, 'the replaced resolver was collected');
});
