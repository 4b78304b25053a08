import { ApiException, CoreV1Api, ListWatch, Watch, type Informer, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE } from '../credentials/types.ts';
import {
  projectNamespace,
  projectPolicyConfigMap,
  projectSecret,
  projectServiceAccount,
  type ProjectedObject,
  type ReplaceScope,
} from './projection.ts';
import { LIST_PAGE_SIZE } from './limits.ts';

/**
 * The informers pullguard runs, and the seam around creating them. The real factory wraps
 * client-node's ListWatch so that raw objects never reach its cache: list pages and watch
 * events are projected the moment they are parsed, and ListWatch stores only the compact
 * records (name, namespace, resourceVersion and the projection).
 */

/** With `--secret-namespaces`, the secret informers are per namespace: `secrets-dockercfg:team-a`. */
export type InformerName =
  | 'secrets-dockerconfigjson'
  | 'secrets-dockercfg'
  | `secrets-dockerconfigjson:${string}`
  | `secrets-dockercfg:${string}`
  | 'serviceaccounts'
  | 'namespaces'
  | 'policy-configmap';

export interface InformerSpec {
  readonly name: InformerName;
  readonly resource: 'secrets' | 'serviceaccounts' | 'namespaces' | 'configmaps';
  /** The collection path client-node watches, e.g. `/api/v1/secrets`. */
  readonly path: string;
  /** Set for namespaced informers: the policy ConfigMap, and the secret informers with `--secret-namespaces`. */
  readonly namespace: string | undefined;
  /** Server-side filter, applied to both the list and the watch. */
  readonly fieldSelector: string | undefined;
  /**
   * Set when the informer follows one object by name (the policy ConfigMap): its state is read
   * with a GET of that name instead of a list, so RBAC can grant `get` and `watch` on the name
   * and no `list` at all. The watch still uses the collection path and `metadata.name=NAME`,
   * the only form of watch that RBAC checks against `resourceNames`.
   */
  readonly objectName: string | undefined;
  /** What the informer's objects feed: a part of the snapshot, or the policy. */
  readonly feeds: ReplaceScope | { readonly kind: 'policy' };
  /** Raw object → compact record (undefined for an object without a name, which is skipped). */
  project(raw: unknown): ProjectedObject | undefined;
}

export interface InformerHooks {
  /** A complete list arrived (initial or relist), projected; called before client-node diffs it against its cache. */
  listed(records: readonly ProjectedObject[]): void;
  /** The API server showed life without an object change: a list page, a bookmark, or a watch it accepted. */
  activity(): void;
}

/** Creates a stopped informer for a spec. Unit tests substitute a fake (see testing.ts). */
export interface InformerFactory {
  create(spec: InformerSpec, hooks: InformerHooks): Informer<ProjectedObject>;
}

/**
 * The informers. Secrets are filtered server-side by type, one informer per type because a
 * field selector cannot express OR; other secrets (service-account tokens, TLS keys) never
 * leave the API server. Given `secretNamespaces` (`serve --secret-namespaces`), the secret
 * informers are per namespace (two per namespace), so RBAC can grant secrets in those namespaces
 * only (RoleBindings) instead of cluster-wide. The policy ConfigMap is read (GET) and watched by
 * name so RBAC can grant exactly it, with `get` and `watch` only.
 */
export function informerSpecs(namespace: string, configMapName: string, secretNamespaces?: readonly string[]): readonly InformerSpec[] {
  const secrets = (name: 'secrets-dockerconfigjson' | 'secrets-dockercfg', secretType: string, secretNamespace: string | undefined): InformerSpec => ({
    name: secretNamespace === undefined ? name : `${name}:${secretNamespace}`,
    resource: 'secrets',
    path: secretNamespace === undefined ? '/api/v1/secrets' : `/api/v1/namespaces/${encodeURIComponent(secretNamespace)}/secrets`,
    namespace: secretNamespace,
    fieldSelector: `type=${secretType}`,
    objectName: undefined,
    feeds: { kind: 'secrets', secretType, namespace: secretNamespace },
    project: projectSecret,
  });
  const secretScopes = secretNamespaces === undefined ? [undefined] : [...new Set(secretNamespaces)].sort();
  return [
    ...secretScopes.flatMap((secretNamespace) => [
      secrets('secrets-dockerconfigjson', DOCKER_CONFIG_JSON_TYPE, secretNamespace),
      secrets('secrets-dockercfg', DOCKER_CFG_TYPE, secretNamespace),
    ]),
    {
      name: 'serviceaccounts',
      resource: 'serviceaccounts',
      path: '/api/v1/serviceaccounts',
      namespace: undefined,
      fieldSelector: undefined,
      objectName: undefined,
      feeds: { kind: 'serviceaccounts' },
      project: projectServiceAccount,
    },
    {
      name: 'namespaces',
      resource: 'namespaces',
      path: '/api/v1/namespaces',
      namespace: undefined,
      fieldSelector: undefined,
      objectName: undefined,
      feeds: { kind: 'namespaces' },
      project: projectNamespace,
    },
    {
      name: 'policy-configmap',
      resource: 'configmaps',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
      namespace,
      fieldSelector: `metadata.name=${configMapName}`,
      objectName: configMapName,
      feeds: { kind: 'policy' },
      project: projectPolicyConfigMap,
    },
  ];
}

export interface ListPageParams {
  readonly fieldSelector?: string;
  readonly limit: number;
  readonly _continue?: string;
}

export interface ListPageResult {
  readonly items: readonly unknown[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string } | undefined;
}

export type ListPage = (params: ListPageParams) => Promise<ListPageResult>;

/**
 * Lists a whole collection page by page, projecting each page before asking for the next, then
 * reports the complete list through `hooks.listed`. All pages of one list share the first
 * page's resourceVersion (a consistent snapshot), which is where the watch then starts.
 */
export async function listProjected(listPage: ListPage, spec: InformerSpec, hooks: InformerHooks, pageSize = LIST_PAGE_SIZE): Promise<KubernetesListObject<ProjectedObject>> {
  const items: ProjectedObject[] = [];
  let resourceVersion: string | undefined;
  let continueToken: string | undefined;
  do {
    const page = await listPage({
      ...(spec.fieldSelector !== undefined ? { fieldSelector: spec.fieldSelector } : {}),
      limit: pageSize,
      ...(continueToken !== undefined ? { _continue: continueToken } : {}),
    });
    for (const raw of page.items) {
      const record = spec.project(raw);
      if (record !== undefined) items.push(record);
    }
    resourceVersion ??= page.metadata?.resourceVersion;
    const next = page.metadata?._continue;
    continueToken = next !== undefined && next !== '' ? next : undefined;
    hooks.activity();
  } while (continueToken !== undefined);
  hooks.listed(items);
  return { metadata: { resourceVersion: resourceVersion ?? '' }, items };
}

/** Reads the one object a single-object spec follows; rejects with the client's error (404 included). */
export type GetObject = () => Promise<unknown>;

/**
 * Where the watch after a GET starts. A GET returns the object's own resourceVersion (its last
 * change), not the current one a list returns. Watching from it is exact while that version is
 * inside kube-apiserver's watch cache window; once it has left it (an object untouched for a
 * while on a busy cluster, or older than the API server's last restart) the watch answers 410
 * Gone, client-node GETs again, and the same version would 410 again: a loop that never
 * watches. So the GET after a 410 starts the watch without a resourceVersion ("from now": the
 * server first sends the current object as ADDED), as `kubectl get NAME --watch` starts from
 * resourceVersion 0 for the same reason. That ADDED carries the old version again, so for such
 * an object each quiet re-watch (client-node's, every 30 s) costs one 410 and one GET, and
 * misses nothing.
 */
export class SingleObjectResume {
  private versionExpired = false;

  /** The API server said the resume point is gone (410). */
  expired(): void {
    this.versionExpired = true;
  }

  /** The resourceVersion a watch following a GET of the object at `objectVersion` starts from. */
  watchFrom(objectVersion: string | undefined): string {
    const expired = this.versionExpired;
    this.versionExpired = false;
    return expired ? '' : objectVersion ?? '';
  }
}

/**
 * The "list" of a single-object informer: one GET by name, shaped as the list client-node's
 * ListWatch expects. Found: that object, and the resourceVersion the watch starts from (see
 * SingleObjectResume). 404: an empty list (client-node's cache then drops the object if it
 * held it) and no resourceVersion, so the watch starts from now and delivers the object as
 * ADDED if it is created between the GET and the watch. Any other error propagates: ListWatch
 * reports it and stops, and the supervisor restarts it after its backoff.
 */
export async function getProjected(getObject: GetObject, spec: InformerSpec, hooks: InformerHooks, resume: SingleObjectResume): Promise<KubernetesListObject<ProjectedObject>> {
  let raw: unknown;
  try {
    raw = await getObject();
  } catch (error) {
    if (!isNotFound(error)) throw error;
    raw = undefined;
  }
  hooks.activity();
  const record = raw === undefined ? undefined : spec.project(raw);
  const items = record === undefined ? [] : [record];
  hooks.listed(items);
  const resourceVersion = record === undefined ? '' : resume.watchFrom(record.metadata.resourceVersion);
  return { metadata: { resourceVersion }, items };
}

/** client-node's generated API rejects with an ApiException carrying the HTTP status. */
function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

/** A 410 Gone, as a watch ERROR event's Status or as a failed watch request. */
function isGone(value: unknown): boolean {
  return isObject(value) && (value['code'] === 410 || value['statusCode'] === 410);
}

/** What a ProjectingWatch needs to follow one object by name. */
export interface SingleObjectWatch {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly resume: SingleObjectResume;
}

/**
 * A Watch that projects each event before client-node's ListWatch sees it, reports every watch
 * the API server accepts (HTTP 200) and every bookmark as a sign of life, asks for bookmarks
 * (they move the resume point forward, so reconnects hit 410 Gone less often), and refuses to
 * open new watches once closed (ListWatch can open one after `stop()` when a list was in flight).
 *
 * Why accepted watches count: client-node 2.0.1 aborts a watch after 30 s without data and
 * re-watches at once, while kube-apiserver's periodic bookmarks come only every minute (and one
 * before its own timeout, 30 to 60 minutes away). On a quiet resource the re-watch every 30 s is
 * the only proof that the informer is still connected.
 *
 * For a single-object spec it also tells the GET side about a 410 (see SingleObjectResume), and
 * closes the gap of a watch started without a resourceVersion: the server first sends the
 * object's current state as ADDED, so a bookmark before any object event means the object does
 * not exist (kube-apiserver 1.36 sends that bookmark at once, annotated
 * `k8s.io/initial-events-end`). It is delivered as DELETED, which client-node ignores unless its
 * cache still holds the object: one deleted between the GET and the watch.
 */
export class ProjectingWatch extends Watch {
  private readonly inner: Watch;
  private readonly project: (raw: unknown) => ProjectedObject | undefined;
  private readonly onActivity: () => void;
  private readonly single: SingleObjectWatch | undefined;
  private closed = false;

  constructor(inner: Watch, project: (raw: unknown) => ProjectedObject | undefined, onActivity: () => void, single?: SingleObjectWatch) {
    super(inner.config);
    this.inner = inner;
    this.project = project;
    this.onActivity = onActivity;
    this.single = single;
  }

  close(): void {
    this.closed = true;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // `any` mirrors client-node's Watch.watch signature (an override must match it); objects are
    // narrowed below and errors are only passed through.
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    if (this.closed) {
      const aborted = new AbortController();
      aborted.abort();
      return aborted;
    }
    // Watch.watch reports a failed request through `done` before it returns; a return without
    // that means the API server answered 200 and the stream is open.
    let failed = false;
    const single = this.single;
    // Only a single-object watch started from now relies on "a bookmark first means absent".
    let absentUntilSeen = single !== undefined && (queryParams['resourceVersion'] === undefined || queryParams['resourceVersion'] === '');
    const controller = await this.inner.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase: string, object: unknown) => {
      if (this.closed) return;
      switch (phase) {
        case 'ADDED':
        case 'MODIFIED':
        case 'DELETED': {
          absentUntilSeen = false;
          const record = this.project(object);
          if (record !== undefined) callback(phase, record);
          return;
        }
        case 'BOOKMARK': {
          this.onActivity();
          const metadata = isObject(object) && isObject(object['metadata']) ? object['metadata'] : {};
          const resourceVersion = typeof metadata['resourceVersion'] === 'string' ? metadata['resourceVersion'] : undefined;
          if (absentUntilSeen && single !== undefined) {
            absentUntilSeen = false;
            const absent = this.project({ metadata: { name: single.name, namespace: single.namespace, resourceVersion } });
            if (absent !== undefined) callback('DELETED', absent);
          }
          callback(phase, { metadata: resourceVersion !== undefined ? { resourceVersion } : {} });
          return;
        }
        default:
          // ERROR carries a Status (`code: 410` makes ListWatch relist); nothing secret in it.
          if (isGone(object)) single?.resume.expired();
          callback(phase, object);
      }
    }, (error: unknown) => {
      failed = true;
      if (isGone(error)) single?.resume.expired();
      done(error);
    });
    if (!failed && !this.closed) this.onActivity();
    return controller;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ListWatch whose stop() also closes its ProjectingWatch. */
class ProjectedListWatch extends ListWatch<ProjectedObject> {
  private readonly projectingWatch: ProjectingWatch;

  constructor(spec: InformerSpec, watch: ProjectingWatch, list: () => Promise<KubernetesListObject<ProjectedObject>>, delayFn: ((ms: number) => Promise<void>) | undefined) {
    super(spec.path, watch, list, false, undefined, spec.fieldSelector, delayFn !== undefined ? { delayFn } : undefined);
    this.projectingWatch = watch;
  }

  override async stop(): Promise<void> {
    this.projectingWatch.close();
    await super.stop();
  }
}

export function listPageFor(core: CoreV1Api, spec: InformerSpec): ListPage {
  switch (spec.resource) {
    case 'secrets': {
      const namespace = spec.namespace;
      if (namespace !== undefined) return (params) => core.listNamespacedSecret({ ...params, namespace });
      return (params) => core.listSecretForAllNamespaces(params);
    }
    case 'serviceaccounts':
      return (params) => core.listServiceAccountForAllNamespaces(params);
    case 'namespaces':
      return (params) => core.listNamespace(params);
    case 'configmaps':
      // Never listed: RBAC grants `get` and `watch` on the one policy ConfigMap, not `list`.
      throw new Error(`informer ${spec.name} reads one ConfigMap by name (getObjectFor), it does not list`);
  }
}

export function getObjectFor(core: CoreV1Api, spec: InformerSpec): GetObject {
  const { namespace, objectName: name } = spec;
  if (spec.resource !== 'configmaps' || namespace === undefined || name === undefined) {
    throw new Error(`informer ${spec.name} does not follow one namespaced ConfigMap by name`);
  }
  return () => core.readNamespacedConfigMap({ name, namespace });
}

export interface ClientNodeInformerOptions {
  readonly pageSize?: number;
  /** The delay ListWatch waits between its own reconnects after a clean close. */
  readonly delay?: (ms: number) => Promise<void>;
  /** Watch implementation (tests pass a fake; default client-node's Watch on the kubeconfig). */
  readonly watch?: Watch;
  /** List function per spec (tests pass a fake; default CoreV1Api). */
  readonly listPage?: (spec: InformerSpec) => ListPage;
  /** GET function per single-object spec (tests pass a fake; default CoreV1Api). */
  readonly getObject?: (spec: InformerSpec) => GetObject;
}

/** The production factory: client-node ListWatch over projected pages and events. */
export function clientNodeInformerFactory(kubeConfig: KubeConfig, options: ClientNodeInformerOptions = {}): InformerFactory {
  let core: CoreV1Api | undefined;
  const coreApi = (): CoreV1Api => (core ??= kubeConfig.makeApiClient(CoreV1Api));
  const listPageOf = options.listPage ?? ((spec: InformerSpec) => listPageFor(coreApi(), spec));
  const getObjectOf = options.getObject ?? ((spec: InformerSpec) => getObjectFor(coreApi(), spec));
  return {
    create(spec, hooks) {
      const inner = options.watch ?? new Watch(kubeConfig);
      const project = (raw: unknown): ProjectedObject | undefined => spec.project(raw);
      const activity = (): void => hooks.activity();
      if (spec.objectName !== undefined) {
        const resume = new SingleObjectResume();
        const watch = new ProjectingWatch(inner, project, activity, { name: spec.objectName, namespace: spec.namespace, resume });
        const getObject = getObjectOf(spec);
        return new ProjectedListWatch(spec, watch, () => getProjected(getObject, spec, hooks, resume), options.delay);
      }
      const watch = new ProjectingWatch(inner, project, activity);
      const listPage = listPageOf(spec);
      return new ProjectedListWatch(spec, watch, () => listProjected(listPage, spec, hooks, options.pageSize), options.delay);
    },
  };
}
