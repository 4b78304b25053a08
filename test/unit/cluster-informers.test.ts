import { ApiException, KubeConfig, Watch, type CoreV1Api, type Informer } from '@kubernetes/client-node';
import t from 'tap';
import {
  clientNodeInformerFactory,
  informerSpecs,
  listPageFor,
  type GetObject,
  type InformerHooks,
  type InformerSpec,
  type ListPage,
  type ListPageParams,
} from '../../src/cluster/informers.ts';
import type { ProjectedObject } from '../../src/cluster/projection.ts';
import { pullSecret } from '../helpers/objects.ts';

/**
 * client-node's real ListWatch, driven through its own seams: a scripted Watch (no HTTP) and a
 * scripted list function. This checks what the e2e suite cannot isolate: that raw objects never
 * reach ListWatch's cache, that lists are paged, and how ListWatch reacts to 410 and errors.
 */

type WatchCallback = (phase: string, object: unknown) => void;

interface OpenedWatch {
  readonly path: string;
  readonly params: Record<string, string | number | boolean | undefined>;
  readonly callback: WatchCallback;
  readonly done: (error: unknown) => void;
}

class ScriptedWatch extends Watch {
  readonly opened: OpenedWatch[] = [];
  /** When set, the next watch fails like a refused connection: `done(error)` before returning. */
  refuseNext: unknown;

  constructor() {
    super(new KubeConfig());
  }

  override async watch(
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    this.opened.push({ path, params, callback, done });
    const refusal = this.refuseNext;
    this.refuseNext = undefined;
    if (refusal !== undefined) done(refusal);
    return new AbortController();
  }

  last(): OpenedWatch {
    const opened = this.opened.at(-1);
    if (opened === undefined) throw new Error('no watch was opened');
    return opened;
  }
}

/** Serves `pages` in order for every list; records each request. */
function scriptedList(pages: () => ReadonlyArray<{ items: unknown[]; resourceVersion: string }>): { listPage: ListPage; requests: ListPageParams[] } {
  const requests: ListPageParams[] = [];
  const listPage: ListPage = async (params) => {
    requests.push(params);
    const all = pages();
    const index = params._continue === undefined ? 0 : Number(params._continue);
    const page = all[index];
    if (page === undefined) throw new Error(`no page ${index}`);
    return { items: page.items, metadata: { resourceVersion: page.resourceVersion, ...(index + 1 < all.length ? { _continue: String(index + 1) } : {}) } };
  };
  return { listPage, requests };
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

const SPECS = informerSpecs('pullguard', 'pullguard-policy');
const SECRETS = SPECS.find((spec) => spec.name === 'secrets-dockerconfigjson') as InformerSpec;

function build(pages: () => ReadonlyArray<{ items: unknown[]; resourceVersion: string }>) {
  const watch = new ScriptedWatch();
  const { listPage, requests } = scriptedList(pages);
  const hookCalls: { listed: Array<readonly ProjectedObject[]>; activity: number } = { listed: [], activity: 0 };
  const hooks: InformerHooks = {
    listed: (records) => hookCalls.listed.push(records),
    activity: () => hookCalls.activity++,
  };
  const factory = clientNodeInformerFactory(new KubeConfig(), { watch, listPage: () => listPage, pageSize: 2, delay: async () => {} });
  const informer = factory.create(SECRETS, hooks) as Informer<ProjectedObject> & { list(namespace?: string): readonly ProjectedObject[] };
  const seen: string[] = [];
  informer.on('add', (record) => seen.push(`add ${record.metadata.name}`));
  informer.on('update', (record) => seen.push(`update ${record.metadata.name}`));
  informer.on('delete', (record) => seen.push(`delete ${record.metadata.name}`));
  const errors: unknown[] = [];
  informer.on('error', (error: unknown) => errors.push(error));
  return { watch, requests, hookCalls, informer, seen, errors };
}

function versioned(object: Record<string, unknown>, resourceVersion: string): Record<string, unknown> {
  return { ...object, metadata: { ...(object['metadata'] as Record<string, unknown>), resourceVersion } };
}

t.test('informer specs', async (t) => {
  const byName = Object.fromEntries(SPECS.map((spec) => [spec.name, spec]));
  const cases: Record<string, { name: string; path: string; fieldSelector: string | undefined; objectName: string | undefined }> = {
    'lists and watches dockerconfigjson secrets cluster-wide, filtered by type on the server': { name: 'secrets-dockerconfigjson', path: '/api/v1/secrets', fieldSelector: 'type=kubernetes.io/dockerconfigjson', objectName: undefined },
    'lists and watches legacy dockercfg secrets with a second informer (a field selector cannot OR)': { name: 'secrets-dockercfg', path: '/api/v1/secrets', fieldSelector: 'type=kubernetes.io/dockercfg', objectName: undefined },
    'lists and watches every service account': { name: 'serviceaccounts', path: '/api/v1/serviceaccounts', fieldSelector: undefined, objectName: undefined },
    'lists and watches every namespace': { name: 'namespaces', path: '/api/v1/namespaces', fieldSelector: undefined, objectName: undefined },
    'reads only the policy ConfigMap by name (a GET, no list) and watches it by name, in the webhook namespace': { name: 'policy-configmap', path: '/api/v1/namespaces/pullguard/configmaps', fieldSelector: 'metadata.name=pullguard-policy', objectName: 'pullguard-policy' },
  };
  for (const [title, expected] of Object.entries(cases)) {
    t.test(title, async (t) => {
      const spec = byName[expected.name];
      t.equal(spec?.path, expected.path);
      t.equal(spec?.fieldSelector, expected.fieldSelector);
      t.equal(spec?.objectName, expected.objectName);
    });
  }
});

t.test('informer specs with --secret-namespaces', async (t) => {
  const specs = informerSpecs('pullguard', 'pullguard-policy', ['team-b', 'team-a', 'team-b']);
  t.same(
    specs.map((spec) => [spec.name, spec.path, spec.namespace, spec.fieldSelector]),
    [
      ['secrets-dockerconfigjson:team-a', '/api/v1/namespaces/team-a/secrets', 'team-a', 'type=kubernetes.io/dockerconfigjson'],
      ['secrets-dockercfg:team-a', '/api/v1/namespaces/team-a/secrets', 'team-a', 'type=kubernetes.io/dockercfg'],
      ['secrets-dockerconfigjson:team-b', '/api/v1/namespaces/team-b/secrets', 'team-b', 'type=kubernetes.io/dockerconfigjson'],
      ['secrets-dockercfg:team-b', '/api/v1/namespaces/team-b/secrets', 'team-b', 'type=kubernetes.io/dockercfg'],
      ['serviceaccounts', '/api/v1/serviceaccounts', undefined, undefined],
      ['namespaces', '/api/v1/namespaces', undefined, undefined],
      ['policy-configmap', '/api/v1/namespaces/pullguard/configmaps', 'pullguard', 'metadata.name=pullguard-policy'],
    ],
    'two informers per namespace, sorted and deduplicated, no cluster-wide secret informer',
  );
  t.test('lists secrets of the namespace only (listNamespacedSecret), with the type selector', async (t) => {
    const calls: unknown[] = [];
    const core = {
      listNamespacedSecret: async (params: unknown) => (calls.push(['namespaced', params]), { items: [] }),
      listSecretForAllNamespaces: async (params: unknown) => (calls.push(['all', params]), { items: [] }),
    } as unknown as CoreV1Api;
    await listPageFor(core, specs[0] as InformerSpec)({ fieldSelector: 'type=kubernetes.io/dockerconfigjson', limit: 500 });
    t.same(calls, [['namespaced', { fieldSelector: 'type=kubernetes.io/dockerconfigjson', limit: 500, namespace: 'team-a' }]]);
  });
});

t.test('client-node ListWatch behind the projecting seam', async (t) => {
  t.test('lists page by page and watches from the list resourceVersion with bookmarks and the field selector', async (t) => {
    const pages = [
      { items: [pullSecret('a', 's1', 'quay.io'), pullSecret('a', 's2', 'quay.io')], resourceVersion: '100' },
      { items: [pullSecret('b', 's3', 'quay.io')], resourceVersion: '100' },
    ];
    const { watch, requests, hookCalls, informer, seen } = build(() => pages);
    await informer.start();
    t.same(requests, [
      { fieldSelector: 'type=kubernetes.io/dockerconfigjson', limit: 2 },
      { fieldSelector: 'type=kubernetes.io/dockerconfigjson', limit: 2, _continue: '1' },
    ]);
    t.same(hookCalls.listed.map((records) => records.map((record) => record.metadata.name)), [['s1', 's2', 's3']]);
    t.equal(hookCalls.activity, 3, 'each page and the accepted watch count as signs of life');
    t.same(seen, ['add s1', 'add s2', 'add s3']);
    t.equal(watch.last().path, '/api/v1/secrets');
    t.same(watch.last().params, { resourceVersion: '100', fieldSelector: 'type=kubernetes.io/dockerconfigjson', allowWatchBookmarks: true });
    await informer.stop();
  });

  t.test('keeps only projected records in the client-node cache, never the secret data', async (t) => {
    const { watch, informer } = build(() => [{ items: [pullSecret('a', 'listed', 'quay.io')], resourceVersion: '1' }]);
    await informer.start();
    watch.last().callback('ADDED', versioned(pullSecret('a', 'watched', 'ghcr.io'), '2'));
    const cached = informer.list();
    t.same(cached.map((record) => record.kind), ['Secret', 'Secret']);
    const text = JSON.stringify(cached);
    t.notMatch(text, /"data"/);
    t.notMatch(text, /dockerconfigjson"\s*:/);
    t.notMatch(text, /not-a-real-password/);
    await informer.stop();
  });

  t.test('passes a bookmark on as a resume point and as a sign of life', async (t) => {
    const { watch, hookCalls, informer, seen } = build(() => [{ items: [], resourceVersion: '5' }]);
    await informer.start();
    const before = hookCalls.activity;
    watch.last().callback('BOOKMARK', { kind: 'Secret', metadata: { resourceVersion: '9' } });
    t.equal(hookCalls.activity, before + 1);
    t.same(seen, []);
    watch.last().done(null); // the server closed the watch cleanly: ListWatch re-watches from the bookmark
    await settle();
    t.equal(watch.last().params['resourceVersion'], '9');
    await informer.stop();
  });

  t.test('counts a watch the API server accepts as contact, and a refused one not', async (t) => {
    const { watch, hookCalls, informer, errors } = build(() => [{ items: [], resourceVersion: '5' }]);
    await informer.start();
    const afterStart = hookCalls.activity;
    watch.refuseNext = Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    watch.last().done(null); // clean close: ListWatch re-watches, and that attempt is refused
    await settle();
    t.equal(hookCalls.activity, afterStart, 'a refused watch is no sign of life');
    t.equal(errors.length, 1, 'and it stopped the informer');
    await informer.start(); // what the supervisor does after its backoff
    t.equal(hookCalls.activity, afterStart + 1, 'an accepted one is');
    await informer.stop();
  });

  t.test('relists after a 410 Gone and reports deletions that happened meanwhile', async (t) => {
    let pages = [{ items: [pullSecret('a', 'old', 'quay.io'), pullSecret('a', 'kept', 'quay.io')], resourceVersion: '1' }];
    const { watch, hookCalls, informer, seen, errors } = build(() => pages);
    await informer.start();
    pages = [{ items: [pullSecret('a', 'kept', 'quay.io')], resourceVersion: '50' }];
    watch.last().callback('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    watch.last().done(null);
    await settle();
    t.equal(hookCalls.listed.length, 2);
    t.same(hookCalls.listed[1]?.map((record) => record.metadata.name), ['kept']);
    t.ok(seen.includes('delete old'), 'client-node diffed the relist against its cache');
    t.equal(watch.last().params['resourceVersion'], '50');
    t.same(errors, []);
    await informer.stop();
  });

  t.test('stops on any other error and reports it (the supervisor restarts it)', async (t) => {
    const { watch, informer, errors } = build(() => [{ items: [], resourceVersion: '1' }]);
    await informer.start();
    const openedBefore = watch.opened.length;
    const failure = Object.assign(new Error('Forbidden'), { statusCode: 403 });
    watch.last().done(failure);
    await settle();
    t.same(errors, [failure]);
    t.equal(watch.opened.length, openedBefore, 'no new watch until restarted');
    await informer.start();
    t.equal(watch.opened.length, openedBefore + 1, 'start() resumes watching');
    await informer.stop();
  });

  t.test('opens no watch after stop even when a list was in flight', async (t) => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const watch = new ScriptedWatch();
    const listPage: ListPage = async () => {
      await gate;
      return { items: [], metadata: { resourceVersion: '3' } };
    };
    const factory = clientNodeInformerFactory(new KubeConfig(), { watch, listPage: () => listPage, delay: async () => {} });
    const informer = factory.create(SECRETS, { listed: () => {}, activity: () => {} });
    const started = informer.start();
    await settle();
    await informer.stop();
    release();
    await started;
    t.equal(watch.opened.length, 0);
  });
});

// ------------------------------------------------------------------------------------------------
// The policy ConfigMap: RBAC grants `get` and `watch` on its name, never `list`, so the informer's
// "list" is one GET, and the watch after it must neither miss a change nor loop on 410 Gone.

const POLICY = SPECS.find((spec) => spec.name === 'policy-configmap') as InformerSpec;
const POLICY_NAME = 'pullguard-policy';
const POLICY_NAMESPACE = 'pullguard';

function policyConfigMap(resourceVersion: string, policyYaml = 'mode: enforce\n'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: POLICY_NAME, namespace: POLICY_NAMESPACE, resourceVersion, uid: 'uid-1' },
    data: { 'policy.yaml': policyYaml },
  };
}

function notFound(): ApiException<string> {
  return new ApiException(404, 'Not Found', '{"kind":"Status","reason":"NotFound","code":404}', {});
}

/** The GET answers with whatever `answer()` says at the time: an object, or an error to throw. */
function buildPolicy(answer: () => { object: unknown } | { error: unknown }) {
  const watch = new ScriptedWatch();
  let gets = 0;
  let lists = 0;
  const getObject: GetObject = async () => {
    gets++;
    const next = answer();
    if ('error' in next) throw next.error;
    return next.object;
  };
  const listPage: ListPage = async () => {
    lists++;
    throw new Error('the policy ConfigMap must never be listed');
  };
  const hookCalls: { listed: Array<readonly ProjectedObject[]>; activity: number } = { listed: [], activity: 0 };
  const hooks: InformerHooks = {
    listed: (records) => hookCalls.listed.push(records),
    activity: () => hookCalls.activity++,
  };
  const factory = clientNodeInformerFactory(new KubeConfig(), { watch, listPage: () => listPage, getObject: () => getObject, delay: async () => {} });
  const informer = factory.create(POLICY, hooks) as Informer<ProjectedObject> & { list(namespace?: string): readonly ProjectedObject[] };
  const seen: string[] = [];
  informer.on('add', (record) => seen.push(`add ${record.metadata.name}@${record.metadata.resourceVersion}`));
  informer.on('update', (record) => seen.push(`update ${record.metadata.name}@${record.metadata.resourceVersion}`));
  informer.on('delete', (record) => seen.push(`delete ${record.metadata.name}`));
  const errors: unknown[] = [];
  informer.on('error', (error: unknown) => errors.push(error));
  return { watch, hookCalls, informer, seen, errors, gets: () => gets, lists: () => lists };
}

const GONE = { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (206)' };

t.test('the policy ConfigMap: one GET by name, then a watch by name', async (t) => {
  t.test('reads the ConfigMap with one GET, never a list, and watches it by name from the object\'s resourceVersion', async (t) => {
    const { watch, hookCalls, informer, seen, errors, gets, lists } = buildPolicy(() => ({ object: policyConfigMap('42') }));
    await informer.start();
    t.equal(gets(), 1);
    t.equal(lists(), 0);
    t.same(hookCalls.listed.map((records) => records.map((record) => record.metadata.name)), [[POLICY_NAME]]);
    t.equal(hookCalls.activity, 2, 'the GET and the accepted watch count as signs of life');
    t.same(seen, [`add ${POLICY_NAME}@42`]);
    t.match(informer.list(), [{ kind: 'ConfigMap', policyText: 'mode: enforce\n' }]);
    t.equal(watch.last().path, '/api/v1/namespaces/pullguard/configmaps');
    t.same(watch.last().params, { resourceVersion: '42', fieldSelector: `metadata.name=${POLICY_NAME}`, allowWatchBookmarks: true });
    watch.last().callback('MODIFIED', policyConfigMap('43', 'mode: dry-run\n'));
    t.same(seen, [`add ${POLICY_NAME}@42`, `update ${POLICY_NAME}@43`]);
    t.same(errors, []);
    await informer.stop();
  });

  t.test('takes a 404 for an empty list and watches from now, so a ConfigMap created before the watch arrives as ADDED', async (t) => {
    const { watch, hookCalls, informer, seen, errors } = buildPolicy(() => ({ error: notFound() }));
    await informer.start();
    t.same(hookCalls.listed, [[]]);
    t.same(errors, [], 'a missing ConfigMap is no error: the defaults apply');
    t.equal(watch.last().params['resourceVersion'], '', 'no resourceVersion: the server sends what exists now as ADDED');
    t.equal(watch.last().params['fieldSelector'], `metadata.name=${POLICY_NAME}`);
    watch.last().callback('ADDED', policyConfigMap('7'));
    t.same(seen, [`add ${POLICY_NAME}@7`]);
    await informer.stop();
  });

  t.test('passes any other error on and opens no watch, until restarted', async (t) => {
    const cases: Record<string, unknown> = {
      'a 403 Forbidden': new ApiException(403, 'Forbidden', '{"kind":"Status","code":403}', {}),
      'a 500 Internal Server Error': new ApiException(500, 'Internal Server Error', '{}', {}),
      'a refused connection': Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
    };
    for (const [name, failure] of Object.entries(cases)) {
      t.test(name, async (t) => {
        let answer: { object: unknown } | { error: unknown } = { error: failure };
        const { watch, hookCalls, informer, errors } = buildPolicy(() => answer);
        await informer.start();
        t.same(errors, [failure]);
        t.same(hookCalls.listed, [], 'nothing was listed');
        t.equal(watch.opened.length, 0);
        answer = { object: policyConfigMap('9') };
        await informer.start(); // what the supervisor does after its backoff
        t.equal(hookCalls.listed.length, 1);
        t.equal(watch.last().params['resourceVersion'], '9');
        await informer.stop();
      });
    }
  });

  t.test('after a 410 Gone it GETs again and watches from now, since the object\'s own version left the watch window', async (t) => {
    const { watch, hookCalls, informer, seen, errors, gets } = buildPolicy(() => ({ object: policyConfigMap('5') }));
    await informer.start();
    t.equal(watch.last().params['resourceVersion'], '5');
    watch.last().callback('ERROR', GONE);
    watch.last().done(null);
    await settle();
    t.equal(gets(), 2, 'relisted with a second GET');
    t.equal(hookCalls.listed.length, 2);
    t.equal(watch.last().params['resourceVersion'], '', 'not from 5 again: that would 410 forever');
    watch.last().callback('ADDED', policyConfigMap('5'));
    t.same(seen, [`add ${POLICY_NAME}@5`], 'the server\'s ADDED of the same version changes nothing');
    t.same(errors, []);

    // client-node's quiet-watch timeout: it re-watches from the last event, without a GET.
    watch.last().done(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }));
    await settle();
    t.equal(gets(), 2);
    t.equal(watch.last().params['resourceVersion'], '5');
    // The version is still too old: one more 410 and GET, and again a watch from now.
    watch.last().callback('ERROR', GONE);
    watch.last().done(null);
    await settle();
    t.equal(gets(), 3);
    t.equal(watch.last().params['resourceVersion'], '');
    t.same(errors, []);
    await informer.stop();
  });

  t.test('a 410 on the watch request itself also makes the next watch start from now', async (t) => {
    const { watch, informer, errors, gets } = buildPolicy(() => ({ object: policyConfigMap('5') }));
    await informer.start();
    watch.refuseNext = Object.assign(new Error('Gone'), { statusCode: 410 });
    watch.last().done(null); // a clean close: ListWatch re-watches from 5, and the server refuses with 410
    await settle();
    t.equal(gets(), 2);
    t.equal(watch.last().params['resourceVersion'], '');
    t.same(errors, []);
    await informer.stop();
  });

  t.test('reports the ConfigMap deleted when the GET after a 410 answers 404', async (t) => {
    let answer: { object: unknown } | { error: unknown } = { object: policyConfigMap('5') };
    const { watch, hookCalls, informer, seen, errors } = buildPolicy(() => answer);
    await informer.start();
    answer = { error: notFound() };
    watch.last().callback('ERROR', GONE);
    watch.last().done(null);
    await settle();
    t.same(hookCalls.listed[1], []);
    t.same(seen, [`add ${POLICY_NAME}@5`, `delete ${POLICY_NAME}`]);
    t.same(informer.list(), []);
    t.same(errors, []);
    await informer.stop();
  });

  t.test('on a watch from now, a bookmark before any ADDED means the ConfigMap was deleted between the GET and the watch', async (t) => {
    const { watch, informer, seen, gets } = buildPolicy(() => ({ object: policyConfigMap('5') }));
    await informer.start();
    watch.last().callback('ERROR', GONE);
    watch.last().done(null);
    await settle();
    t.equal(gets(), 2);
    t.equal(watch.last().params['resourceVersion'], '');
    watch.last().callback('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '300', annotations: { 'k8s.io/initial-events-end': 'true' } } });
    t.same(seen, [`add ${POLICY_NAME}@5`, `delete ${POLICY_NAME}`]);
    t.same(informer.list(), []);
    watch.last().done(null);
    await settle();
    t.equal(watch.last().params['resourceVersion'], '300', 'and it resumes from the bookmark');
    t.equal(gets(), 2, 'without another GET');
    await informer.stop();
  });

  t.test('bookmarks never delete the ConfigMap when the watch could not have announced it', async (t) => {
    const cases: Record<string, { notFoundFirst: boolean; beforeBookmark: 'ADDED' | undefined; expected: string[] }> = {
      'an ADDED before the first bookmark of a watch from now keeps it': { notFoundFirst: false, beforeBookmark: 'ADDED', expected: [`add ${POLICY_NAME}@5`] },
      'a watch from the object\'s version announces no existing object, so its bookmark says nothing': { notFoundFirst: false, beforeBookmark: undefined, expected: [`add ${POLICY_NAME}@5`] },
      'after a 404 there is nothing to delete': { notFoundFirst: true, beforeBookmark: undefined, expected: [] },
    };
    for (const [name, c] of Object.entries(cases)) {
      t.test(name, async (t) => {
        const { watch, informer, seen } = buildPolicy(() => (c.notFoundFirst ? { error: notFound() } : { object: policyConfigMap('5') }));
        await informer.start();
        if (c.beforeBookmark !== undefined) {
          watch.last().callback('ERROR', GONE);
          watch.last().done(null);
          await settle();
          t.equal(watch.last().params['resourceVersion'], '');
          watch.last().callback(c.beforeBookmark, policyConfigMap('5'));
        }
        watch.last().callback('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '300' } });
        t.same(seen, c.expected);
        await informer.stop();
      });
    }
  });
});
