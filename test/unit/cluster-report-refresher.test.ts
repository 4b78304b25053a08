import { pino } from 'pino';
import t from 'tap';
import { LeaseElector, microTime } from '../../src/cluster/lease.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { ReportRefresher } from '../../src/cluster/report-refresher.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import type { DecisionState } from '../../src/server/state.ts';
import { FakeKube } from '../helpers/fake-kube.ts';
import { deployment, namespaceObject, serviceAccount } from '../helpers/objects.ts';

const silent = pino({ level: 'silent' });
const LEASES = 'apis/coordination.k8s.io/v1/leases';

function elector(fake: FakeKube, identity: string, clock: { now: number }): LeaseElector {
  return new LeaseElector({ rest: fake, namespace: 'pullguard', name: 'pullguard-reports', identity, durationSeconds: 60, now: () => clock.now });
}

t.test('the Lease: one holder at a time, renewed by its holder, taken over only once expired', async (t) => {
  const fake = new FakeKube();
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const a = elector(fake, 'pod-a', clock);
  const b = elector(fake, 'pod-b', clock);
  t.equal(await a.acquire(), true, 'the first replica creates it');
  t.equal(await b.acquire(), false, 'the second sees it held');
  clock.now += 50_000;
  t.equal(await a.acquire(), true, 'the holder renews');
  clock.now += 50_000;
  t.equal(await b.acquire(), false, 'renewed 50 s ago: still held');
  clock.now += 11_000;
  t.equal(await b.acquire(), true, 'expired: taken over');
  const [lease] = fake.objects(LEASES) as { spec: { holderIdentity: string; leaseTransitions: number; renewTime: string } }[];
  t.equal(lease?.spec.holderIdentity, 'pod-b');
  t.equal(lease?.spec.leaseTransitions, 1);
  t.equal(lease?.spec.renewTime, microTime(clock.now));
  t.equal(await a.acquire(), false, 'the old holder lost it');
});

t.test('the Lease: a replica that loses a race for it (409 Conflict) does not write', async (t) => {
  const fake = new FakeKube();
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  await elector(fake, 'pod-a', clock).acquire();
  clock.now += 120_000;
  const original = fake.request.bind(fake);
  // Between b's read and b's write, c takes the expired Lease.
  fake.request = async (request) => {
    if (request.method === 'PUT' && (request.body as { spec: { holderIdentity: string } }).spec.holderIdentity === 'pod-b') {
      fake.request = original;
      await elector(fake, 'pod-c', clock).acquire();
    }
    return original(request);
  };
  t.equal(await elector(fake, 'pod-b', clock).acquire(), false);
  t.equal((fake.objects(LEASES)[0] as { spec: { holderIdentity: string } }).spec.holderIdentity, 'pod-c');
});

t.test('microTime writes Kubernetes MicroTime (microseconds, UTC)', async (t) => {
  t.equal(microTime(Date.parse('2026-01-01T00:00:01.234Z')), '2026-01-01T00:00:01.234000Z');
});

function state(ready: boolean): DecisionState {
  const snapshot = snapshotFromObjects([namespaceObject('team'), serviceAccount('team', 'default')]);
  return { snapshot: () => snapshot, policy: () => new PolicyResolver(DEFAULT_POLICY), readiness: () => ({ ready, missing: ready ? [] : ['informer secrets'] }) };
}

function cluster(): FakeKube {
  const fake = new FakeKube().add(deployment({ namespace: 'team', name: 'web', containers: [{ name: 'app', image: 'vault.example.com/app:1' }] }));
  fake.served.set('openreports.io/v1alpha1', ['reports', 'clusterreports']);
  return fake;
}

t.test('the refresher writes reports from the webhook\'s state, listing only workloads, and only while it holds the Lease', async (t) => {
  const fake = cluster();
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const refresher = new ReportRefresher({ rest: fake, state: state(true), lease: elector(fake, 'pod-a', clock), intervalMs: 600_000, reportApi: undefined, includePass: false, logger: silent, now: () => clock.now });
  const outcome = await refresher.refreshOnce();
  t.match(outcome, { kind: 'written', api: 'openreports.io/v1alpha1', applied: 2 });
  t.notOk(fake.requests.some((request) => /\/(secrets|serviceaccounts|namespaces)$/.test(request.path) && request.method === 'GET'), 'the state is the webhook\'s, not read again');
  t.equal(fake.objects('apis/openreports.io/v1alpha1/reports').length, 1);

  const other = new ReportRefresher({ rest: fake, state: state(true), lease: elector(fake, 'pod-b', clock), intervalMs: 600_000, reportApi: undefined, includePass: false, logger: silent, now: () => clock.now });
  t.same(await other.refreshOnce(), { kind: 'not-leader' });
});

t.test('the refresher waits for a ready state and survives a failed write', async (t) => {
  const fake = cluster();
  const clock = { now: 0 };
  const notReady = new ReportRefresher({ rest: fake, state: state(false), lease: elector(fake, 'pod-a', clock), intervalMs: 600_000, reportApi: undefined, includePass: false, logger: silent });
  t.same(await notReady.refreshOnce(), { kind: 'not-ready' });
  t.equal(fake.requests.length, 0, 'not even the Lease is touched');
  fake.failNext.set('/apis/openreports.io/v1alpha1/namespaces/team/reports/pullguard', 500);
  const failing = new ReportRefresher({ rest: fake, state: state(true), lease: elector(fake, 'pod-a', clock), intervalMs: 600_000, reportApi: undefined, includePass: false, logger: silent });
  t.match(await failing.refreshOnce(), { kind: 'failed', error: /500/ });
});

t.test('the refresher runs on its schedule and stops cleanly', async (t) => {
  const fake = cluster();
  const scheduled: { run: () => void; ms: number }[] = [];
  const refresher = new ReportRefresher({
    rest: fake,
    state: state(true),
    lease: elector(fake, 'pod-a', { now: 0 }),
    intervalMs: 600_000,
    reportApi: undefined,
    includePass: false,
    logger: silent,
    schedule: (run, ms) => {
      scheduled.push({ run, ms });
      return () => undefined;
    },
  });
  refresher.start();
  t.same(scheduled.map((entry) => entry.ms), [30_000], 'a first refresh soon after start');
  scheduled[0]?.run();
  await refresher.stop();
  t.ok(fake.objects('apis/openreports.io/v1alpha1/reports').length === 1, 'the refresh in flight finished before stop() returned');
  t.same(scheduled.map((entry) => entry.ms), [30_000], 'nothing scheduled after stop');
});

t.test('a change of who writes is logged once, not at every refresh', async (t) => {
  const fake = cluster();
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const lines: string[] = [];
  const capture = (into: string[]) => pino({ level: 'info' }, { write: (line: string) => void into.push((JSON.parse(line) as { msg: string }).msg) });
  const otherLines: string[] = [];
  const leader = new ReportRefresher({ rest: fake, state: state(true), lease: elector(fake, 'pod-a', clock), intervalMs: 600_000, reportApi: undefined, includePass: false, logger: capture(lines), now: () => clock.now });
  const follower = new ReportRefresher({ rest: fake, state: state(true), lease: elector(fake, 'pod-b', clock), intervalMs: 600_000, reportApi: undefined, includePass: false, logger: capture(otherLines), now: () => clock.now });
  for (let round = 0; round < 3; round += 1) {
    await leader.refreshOnce();
    await follower.refreshOnce();
    clock.now += 30_000;
  }
  t.equal(lines.filter((line) => line === 'policy reports: this replica holds the Lease and writes the reports').length, 1);
  t.equal(lines.filter((line) => line === 'policy reports refreshed').length, 3);
  t.same(otherLines, ['policy reports: another replica holds the Lease and writes the reports']);
});
