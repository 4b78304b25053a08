import { pino } from 'pino';
import t from 'tap';
import type { CoreV1Event } from '@kubernetes/client-node';
import { invalidPolicyEventName, kubernetesEventRecorder, type EventsClient } from '../../src/cluster/events.ts';

const CONFIG_MAP = { namespace: 'pullguard', name: 'pullguard-policy', uid: 'cm-uid', resourceVersion: '12' };
const NOW = Date.UTC(2030, 0, 2, 3, 4, 5, 678);

function fakeClient(createFailure?: unknown) {
  const calls: Array<{ verb: 'create' | 'patch'; namespace: string; name?: string; body: CoreV1Event | Record<string, unknown> }> = [];
  const client: EventsClient = {
    create: async (namespace, body) => {
      calls.push({ verb: 'create', namespace, body });
      if (createFailure !== undefined) throw createFailure;
    },
    patch: async (namespace, name, body) => {
      calls.push({ verb: 'patch', namespace, name, body });
    },
  };
  return { client, calls };
}

t.test('InvalidPolicy events', async (t) => {
  t.test('creates a Warning event with reason InvalidPolicy on the ConfigMap', async (t) => {
    const { client, calls } = fakeClient();
    const recorder = kubernetesEventRecorder(client, { logger: pino({ level: 'silent' }), now: () => NOW, instance: 'pullguard-0' });
    await recorder.invalidPolicy(CONFIG_MAP, 'policy.yaml is invalid: mode: bad');
    t.equal(calls.length, 1);
    const body = calls[0]?.body ?? {};
    t.match(body, {
      metadata: { name: invalidPolicyEventName('pullguard-policy', 'policy.yaml is invalid: mode: bad'), namespace: 'pullguard' },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'pullguard', name: 'pullguard-policy', uid: 'cm-uid', resourceVersion: '12' },
      reason: 'InvalidPolicy',
      type: 'Warning',
      message: 'policy.yaml is invalid: mode: bad',
      source: { component: 'pullguard' },
      reportingComponent: 'pullguard',
      reportingInstance: 'pullguard-0',
      count: 1,
      firstTimestamp: new Date('2030-01-02T03:04:05Z'),
    });
  });

  t.test('bumps the count of the existing event when the same error was already reported (409)', async (t) => {
    const { client, calls } = fakeClient(Object.assign(new Error('Conflict'), { code: 409 }));
    const recorder = kubernetesEventRecorder(client, { logger: pino({ level: 'silent' }), now: () => NOW });
    await recorder.invalidPolicy(CONFIG_MAP, 'same message');
    await recorder.invalidPolicy(CONFIG_MAP, 'same message');
    t.same(calls.map((call) => call.verb), ['create', 'patch', 'create', 'patch']);
    t.same(calls[1]?.body, { count: 2, lastTimestamp: new Date('2030-01-02T03:04:05Z') });
    t.same(calls[3]?.body, { count: 3, lastTimestamp: new Date('2030-01-02T03:04:05Z') });
    t.equal(calls[1]?.name, invalidPolicyEventName('pullguard-policy', 'same message'));
  });

  t.test('logs and swallows other failures (a missing RBAC grant must not break policy handling)', async (t) => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const { client } = fakeClient(Object.assign(new Error('events is forbidden'), { code: 403 }));
    const recorder = kubernetesEventRecorder(client, { logger, now: () => NOW });
    await t.resolves(recorder.invalidPolicy(CONFIG_MAP, 'x'));
    t.equal(lines.length, 1);
    t.equal(lines[0]?.level, 40);
  });

  t.test('names events as valid object names, distinct per message', async (t) => {
    const long = invalidPolicyEventName('c'.repeat(253), 'x');
    t.ok(long.length <= 253, `length ${long.length}`);
    t.match(invalidPolicyEventName('pullguard-policy', 'a'), /^pullguard-policy\.invalidpolicy\.[0-9a-f]{10}$/);
    t.not(invalidPolicyEventName('p', 'a'), invalidPolicyEventName('p', 'b'));
  });
});
