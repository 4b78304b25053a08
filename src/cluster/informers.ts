import { CoreV1Api, ListWatch, Watch, type Informer, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
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

export type InformerName = 'secrets-dockerconfigjson' | 'secrets-dockercfg' | 'serviceaccounts' | 'namespaces' | 'policy-configmap';

export interface InformerSpec {
  readonly name: InformerName;
  readonly resource: 'secrets' | 'serviceaccounts' | 'namespaces' | 'configmaps';
  /** The collection path client-node watches, e.g. `/api/v1/secrets`. */
  readonly path: string;
  /** Set for the namespaced ConfigMap informer only. */
  readonly namespace: string | undefined;
  /** Server-side filter, applied to both the list and the watch. */
  readonly fieldSelector: string | undefined;
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
 * The five informers. Secrets are filtered server-side by type, one informer per type because a
 * field selector cannot express OR; other secrets (service-account tokens, TLS keys) never
 * leave the API server. The policy ConfigMap is watched by name so RBAC can grant exactly it.
 */
export function informerSpecs(namespace: string, configMapName: string): readonly InformerSpec[] {
  const secrets = (name: InformerName, secretType: string): InformerSpec => ({
    name,
    resource: 'secrets',
    path: '/api/v1/secrets',
    namespace: undefined,
    fieldSelector: `type=${secretType}`,
    feeds: { kind: 'secrets', secretType },
    project: projectSecret,
  });
  return [
    secrets('secrets-dockerconfigjson', DOCKER_CONFIG_JSON_TYPE),
    secrets('secrets-dockercfg', DOCKER_CFG_TYPE),
    {
      name: 'serviceaccounts',
      resource: 'serviceaccounts',
      path: '/api/v1/serviceaccounts',
      namespace: undefined,
      fieldSelector: undefined,
      feeds: { kind: 'serviceaccounts' },
      project: projectServiceAccount,
    },
    {
      name: 'namespaces',
      resource: 'namespaces',
      path: '/api/v1/namespaces',
      namespace: undefined,
      fieldSelector: undefined,
      feeds: { kind: 'namespaces' },
      project: projectNamespace,
    },
    {
      name: 'policy-configmap',
      resource: 'configmaps',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
      namespace,
      fieldSelector: `metadata.name=${configMapName}`,
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

/**
 * A Watch that projects each event before client-node's ListWatch sees it, reports every watch
 * the API server accepts (HTTP 200) and every bookmark as a sign of life, asks for bookmarks
 * (they move the resume point forward, so reconnects hit 410 Gone less often), and refuses to
 * open new watches once closed (ListWatch can open one after `stop()` when a list was in flight).
 *
 * Why accepted watches count: client-node 2.0.1 aborts a watch after 30 s without data and
 * re-watches at once, while kube-apiserver sends no periodic bookmark on a quiet watch (only one
 * before its own timeout, 30 to 60 minutes away). On a quiet resource the re-watch every 30 s is
 * the only proof that the informer is still connected.
 */
export class ProjectingWatch extends Watch {
  private readonly inner: Watch;
  private readonly project: (raw: unknown) => ProjectedObject | undefined;
  private readonly onActivity: () => void;
  private closed = false;

  constructor(inner: Watch, project: (raw: unknown) => ProjectedObject | undefined, onActivity: () => void) {
    super(inner.config);
    this.inner = inner;
    this.project = project;
    this.onActivity = onActivity;
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
    const controller = await this.inner.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase: string, object: unknown) => {
      if (this.closed) return;
      switch (phase) {
        case 'ADDED':
        case 'MODIFIED':
        case 'DELETED': {
          const record = this.project(object);
          if (record !== undefined) callback(phase, record);
          return;
        }
        case 'BOOKMARK': {
          this.onActivity();
          const metadata = isObject(object) && isObject(object['metadata']) ? object['metadata'] : {};
          const resourceVersion = typeof metadata['resourceVersion'] === 'string' ? metadata['resourceVersion'] : undefined;
          callback(phase, { metadata: resourceVersion !== undefined ? { resourceVersion } : {} });
          return;
        }
        default:
          // ERROR carries a Status (`code: 410` makes ListWatch relist); nothing secret in it.
          callback(phase, object);
      }
    }, (error: unknown) => {
      failed = true;
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
    case 'secrets':
      return (params) => core.listSecretForAllNamespaces(params);
    case 'serviceaccounts':
      return (params) => core.listServiceAccountForAllNamespaces(params);
    case 'namespaces':
      return (params) => core.listNamespace(params);
    case 'configmaps': {
      const namespace = spec.namespace;
      if (namespace === undefined) throw new Error(`informer ${spec.name} needs a namespace`);
      return (params) => core.listNamespacedConfigMap({ namespace, ...params });
    }
  }
}

export interface ClientNodeInformerOptions {
  readonly pageSize?: number;
  /** The delay ListWatch waits between its own reconnects after a clean close. */
  readonly delay?: (ms: number) => Promise<void>;
  /** Watch implementation (tests pass a fake; default client-node's Watch on the kubeconfig). */
  readonly watch?: Watch;
  /** List function per spec (tests pass a fake; default CoreV1Api). */
  readonly listPage?: (spec: InformerSpec) => ListPage;
}

/** The production factory: client-node ListWatch over projected pages and events. */
export function clientNodeInformerFactory(kubeConfig: KubeConfig, options: ClientNodeInformerOptions = {}): InformerFactory {
  let core: CoreV1Api | undefined;
  const listPageOf = options.listPage ?? ((spec: InformerSpec) => listPageFor((core ??= kubeConfig.makeApiClient(CoreV1Api)), spec));
  return {
    create(spec, hooks) {
      const watch = new ProjectingWatch(options.watch ?? new Watch(kubeConfig), (raw) => spec.project(raw), () => hooks.activity());
      const listPage = listPageOf(spec);
      return new ProjectedListWatch(spec, watch, () => listProjected(listPage, spec, hooks, options.pageSize), options.delay);
    },
  };
}
