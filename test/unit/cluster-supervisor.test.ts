import { pino } from 'pino';
import t from 'tap';
import { informerSpecs, type InformerSpec } from '../../src/cluster/informers.ts';
import { ManualScheduler } from '../../src/cluster/scheduler.ts';
import { backoffDelay, DEFAULT_BACKOFF, InformerSupervisor, type BackoffPolicy, type SupervisorListener } from '../../src/cluster/supervisor.ts';
import { FakeInformerFactory } from '../../src/cluster/testing.ts';
import { pullSecret } from '../helpers/objects.ts';

const SPEC = informerSpecs('pullguard', 'pullguard-policy').find((spec) => spec.name === 'secrets-dockerconfigjson') as InformerSpec;
const SILENCE_MS = 60_000;

/** Lets promise callbacks (informer.start().then) run. */
async function settle(): Promise<void> {
  for (let index = 0; index < 5; index++) await Promise.resolve();
}

interface Recorded {
  lists: Array<{ count: number; relist: boolean }>;
  events: string[];
  health: boolean[];
  delays: number[];
  forced: number;
}

function setUp(options: { backoff?: BackoffPolicy; random?: () => number } = {}) {
  const scheduler = new ManualScheduler();
  const factory = new FakeInformerFactory();
  const recorded: Recorded = { lists: [], events: [], health: [], delays: [], forced: 0 };
  const listener: SupervisorListener = {
    listed: (records, relist) => recorded.lists.push({ count: records.length, relist }),
    event: (type, record) => recorded.events.push(`${type} ${record.metadata.name}`),
    healthChanged: (healthy) => recorded.health.push(healthy),
    restartScheduled: (_attempt, delayMs) => recorded.delays.push(delayMs),
    relistForced: () => recorded.forced++,
  };
  const supervisor = new InformerSupervisor({
    spec: SPEC,
    factory,
    scheduler,
    logger: pino({ level: 'silent' }),
    listener,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    silenceLimitMs: SILENCE_MS,
    random: options.random ?? (() => 0),
  });
  return { scheduler, factory, recorded, supervisor, informer: () => factory.informer('secrets-dockerconfigjson') };
}

t.test('backoff delay', async (t) => {
  const cases: Record<string, { attempt: number; random: number; expected: number }> = {
    'starts at the initial delay when the jitter draws zero': { attempt: 1, random: 0, expected: 500 },
    'doubles per attempt': { attempt: 3, random: 0, expected: 2_000 },
    'never exceeds the cap': { attempt: 20, random: 0, expected: 30_000 },
    'takes off at most half the delay as jitter': { attempt: 2, random: 0.999999, expected: 500 },
    'takes off a quarter at the middle of the jitter range': { attempt: 7, random: 0.5, expected: 22_500 },
  };
  for (const [name, { attempt, random, expected }] of Object.entries(cases)) {
    t.test(name, async (t) => t.equal(backoffDelay(attempt, DEFAULT_BACKOFF, random), expected));
  }
});

t.test('supervision', async (t) => {
  t.test('restarts an informer that stopped on an error after the backoff delay, not before', async (t) => {
    const { scheduler, recorded, supervisor, informer } = setUp();
    supervisor.start();
    await settle();
    informer().list([pullSecret('team', 'regcred', 'quay.io')]);
    t.same(recorded.health, [true]);
    informer().fail(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    t.same(recorded.health, [true, false]);
    t.equal(supervisor.healthy, false);
    scheduler.advance(499);
    t.equal(informer().starts, 1, 'no restart before the delay');
    scheduler.advance(1);
    t.equal(informer().starts, 2, 'restarted the same informer (it resumes from its resourceVersion)');
    await settle();
    t.equal(supervisor.healthy, true);
    t.equal(supervisor.restarts, 1);
    t.same(recorded.delays, [500]);
  });

  t.test('doubles the backoff while restarts keep failing, up to the cap, then resets it after a success', async (t) => {
    const { scheduler, recorded, supervisor, informer } = setUp();
    supervisor.start();
    await settle();
    informer().list([]);
    const failure = new Error('HTTP 503');
    informer().failNextStarts.push(...Array.from({ length: 7 }, () => failure));
    informer().fail(failure);
    for (let index = 0; index < 8; index++) {
      scheduler.advance(30_000);
      await settle();
    }
    t.same(recorded.delays, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    t.equal(supervisor.healthy, true, 'the eighth restart connected');
    informer().fail(failure);
    t.equal(recorded.delays.at(-1), 500, 'a success resets the backoff');
  });

  t.test('relists with a fresh informer after the silence limit', async (t) => {
    const { scheduler, factory, recorded, supervisor, informer } = setUp();
    supervisor.start();
    await settle();
    informer().list([pullSecret('team', 'a', 'quay.io')]);
    scheduler.advance(SILENCE_MS - 1);
    t.equal(factory.count('secrets-dockerconfigjson'), 1);
    scheduler.advance(1);
    t.equal(factory.count('secrets-dockerconfigjson'), 2, 'a new informer (no resourceVersion) was created');
    t.equal(recorded.forced, 1);
    t.equal(factory.created[0]?.stops, 1, 'the silent informer was stopped');
    informer().list([pullSecret('team', 'a', 'quay.io'), pullSecret('team', 'b', 'quay.io')]);
    t.same(recorded.lists, [{ count: 1, relist: false }, { count: 2, relist: true }]);
    t.equal(supervisor.relists, 1);
  });

  t.test('does not relist while the informer has contact, and tells data from mere contact', async (t) => {
    const { scheduler, factory, supervisor, informer } = setUp();
    supervisor.start();
    await settle();
    informer().list([]);
    const listedAt = scheduler.now();
    scheduler.advance(50_000);
    informer().bookmark();
    t.equal(supervisor.lastEventAt, listedAt, 'a bookmark is not data');
    t.equal(supervisor.lastContactAt, scheduler.now(), 'but it is contact');
    scheduler.advance(50_000);
    informer().added(pullSecret('team', 'a', 'quay.io'));
    t.equal(supervisor.lastEventAt, scheduler.now());
    scheduler.advance(50_000);
    t.equal(factory.count('secrets-dockerconfigjson'), 1, 'no relist: never 60 s without contact');
  });

  t.test('does not relist while backing off after an error', async (t) => {
    const { scheduler, factory, supervisor, informer } = setUp({ backoff: { initialMs: 200_000, maxMs: 200_000, factor: 2, jitter: 0 } });
    supervisor.start();
    await settle();
    informer().list([]);
    informer().fail(new Error('gone'));
    scheduler.advance(3 * SILENCE_MS);
    t.equal(factory.count('secrets-dockerconfigjson'), 1);
    t.equal(informer().starts, 1);
  });

  t.test('ignores callbacks of an informer it replaced', async (t) => {
    const { scheduler, factory, recorded, supervisor } = setUp();
    supervisor.start();
    await settle();
    const first = factory.informer('secrets-dockerconfigjson');
    first.list([]);
    supervisor.forceRelist();
    first.added(pullSecret('team', 'late', 'quay.io'));
    first.fail(new Error('aborted by stop'));
    scheduler.advance(60_000);
    t.same(recorded.events, []);
    t.same(recorded.delays, [], 'no restart was scheduled for the old informer');
  });

  t.test('counts a start that rejects as an error', async (t) => {
    const { scheduler, recorded, supervisor, informer } = setUp();
    supervisor.start();
    await settle();
    informer().start = async () => {
      throw new Error('No currently active cluster');
    };
    informer().fail(new Error('first'));
    scheduler.advance(500);
    await settle();
    t.same(recorded.delays, [500, 1_000]);
  });

  t.test('stops: no restart, no relist, and the informer is stopped', async (t) => {
    const { scheduler, factory, supervisor, informer } = setUp();
    supervisor.start();
    await settle();
    informer().fail(new Error('down'));
    await supervisor.stop();
    scheduler.advance(10 * SILENCE_MS);
    t.equal(informer().starts, 1);
    t.equal(informer().stops, 1);
    t.equal(factory.count('secrets-dockerconfigjson'), 1);
    t.same(scheduler.pendingDelays(), []);
  });
});
