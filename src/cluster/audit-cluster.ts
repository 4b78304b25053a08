import { DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_TYPE } from '../credentials/types.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import { ClusterAuditBuilder, type ClusterAuditReport } from '../report/cluster-audit.ts';
import { MemorySnapshot } from '../snapshot/memory.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { isRecord, type WorkloadKind } from '../workloads/extract.ts';
import { LIST_PAGE_SIZE } from './limits.ts';
import { listInPages, type PageProgress } from './paged-list.ts';
import {
  emptyLiveSnapshot,
  projectNamespace,
  projectSecret,
  projectServiceAccount,
  SnapshotBuilder,
  type ReplaceScope,
  type SnapshotRecord,
} from './projection.ts';
import { isApiStatus, type KubeRest } from './rest.ts';

/**
 * `pullguard audit --cluster`: reads the live cluster and decides every workload and pod.
 *
 * State first, as the webhook's informers see it: Namespaces, ServiceAccounts and the Secrets of
 * the two pull-secret types (field-selected, one list per type: other secrets never leave the
 * API server), each object projected the moment its page arrives. Then the workload kinds, owners
 * before pods, so each pod is filed under the workload that owns it. Every list is paged and
 * starts over on an expired continue token.
 */

interface KindResource {
  /** Path segments before `namespaces/NS/`: `api/v1`, `apis/apps/v1`. */
  readonly groupVersion: string;
  readonly resource: string;
}

export const KIND_RESOURCES: Readonly<Record<WorkloadKind, KindResource>> = {
  Deployment: { groupVersion: 'apis/apps/v1', resource: 'deployments' },
  ReplicaSet: { groupVersion: 'apis/apps/v1', resource: 'replicasets' },
  StatefulSet: { groupVersion: 'apis/apps/v1', resource: 'statefulsets' },
  DaemonSet: { groupVersion: 'apis/apps/v1', resource: 'daemonsets' },
  CronJob: { groupVersion: 'apis/batch/v1', resource: 'cronjobs' },
  Job: { groupVersion: 'apis/batch/v1', resource: 'jobs' },
  ReplicationController: { groupVersion: 'api/v1', resource: 'replicationcontrollers' },
  PodTemplate: { groupVersion: 'api/v1', resource: 'podtemplates' },
  Pod: { groupVersion: 'api/v1', resource: 'pods' },
};

/** Listing order: owners before what they own (Deployment before ReplicaSet, CronJob before Job), pods last. */
export const LIST_ORDER: readonly WorkloadKind[] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'ReplicationController', 'PodTemplate', 'Pod'];

export function collectionPath(groupVersion: string, resource: string, namespace: string | undefined): string {
  return namespace === undefined ? `/${groupVersion}/${resource}` : `/${groupVersion}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

export interface AuditProgress {
  /** What is being read now: `pods`, `secrets (kubernetes.io/dockerconfigjson)`. */
  readonly list: string;
  readonly listsDone: number;
  readonly listsTotal: number;
  /** Objects read so far, all lists. */
  readonly objects: number;
  /** Namespaces whose every object has been read and decided (advances during the last list). */
  readonly namespacesDone: number;
  readonly namespacesTotal: number;
  /** 0..1, estimated. */
  readonly fraction: number;
}

export interface ClusterAuditRequest {
  readonly rest: KubeRest;
  /** `-n`: only this namespace; undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly labelSelector: string | undefined;
  readonly kinds: readonly WorkloadKind[];
  readonly policy: PolicyResolver;
  readonly now: number;
  readonly source: string;
  readonly pageSize?: number;
  readonly onProgress?: (progress: AuditProgress) => void;
  /**
   * The state to decide against, when the caller already has it (the webhook's live snapshot):
   * then only workloads and pods are listed.
   */
  readonly snapshot?: ClusterSnapshot;
  /** Monotonic clock in ms (tests inject one). */
  readonly clock?: () => number;
}

export interface ClusterAuditOutcome {
  readonly report: ClusterAuditReport;
  /** Namespaces the audit saw: every namespace, or the one of -n. */
  readonly namespaces: readonly string[];
  readonly objects: number;
  /** Wall time spent listing (requests and projection) and deciding, in ms. */
  readonly listMs: number;
  readonly decideMs: number;
}

/** A namespace named with -n that does not exist, or a cluster that cannot be read: exit 2. */
export class ClusterAuditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterAuditError';
  }
}

/** The kinds whose lists are read: the requested ones, plus the owners' intermediaries pods are filed through. */
export function kindsToList(kinds: readonly WorkloadKind[]): { kind: WorkloadKind; report: boolean }[] {
  const wanted = new Set(kinds);
  const out: { kind: WorkloadKind; report: boolean }[] = [];
  for (const kind of LIST_ORDER) {
    if (wanted.has(kind)) out.push({ kind, report: true });
    else if (wanted.has('Pod') && ((kind === 'ReplicaSet' && wanted.has('Deployment')) || (kind === 'Job' && wanted.has('CronJob')))) out.push({ kind, report: false });
  }
  return out;
}

export async function auditCluster(request: ClusterAuditRequest): Promise<ClusterAuditOutcome> {
  const { rest, namespace } = request;
  const clock = request.clock ?? (() => performance.now());
  const pageSize = request.pageSize ?? LIST_PAGE_SIZE;
  const started = clock();
  const workloadLists = kindsToList(request.kinds);
  const listsTotal = (request.snapshot === undefined ? 4 : 0) + workloadLists.length;
  let listsDone = 0;
  let objects = 0;
  let namespaceNames: string[] = [];
  let namespacesDone = 0;
  let fraction = 0;

  const report = (list: string, progress: PageProgress | undefined, namespaceFraction: number | undefined): void => {
    if (request.onProgress === undefined) return;
    let within = 0;
    if (progress?.last === true) within = 1;
    else if (progress !== undefined && progress.remaining !== undefined) within = progress.received / Math.max(1, progress.received + progress.remaining);
    else if (namespaceFraction !== undefined) within = namespaceFraction;
    // Estimates from different sources (remaining counts, namespace positions) never move it back.
    fraction = Math.max(fraction, Math.min(1, (listsDone + within) / listsTotal));
    request.onProgress({
      list,
      listsDone,
      listsTotal,
      objects,
      namespacesDone,
      namespacesTotal: namespaceNames.length,
      fraction,
    });
  };

  // --- state: namespaces, ServiceAccounts, pull secrets -------------------------------------------
  const builder = new SnapshotBuilder(emptyLiveSnapshot());
  const listState = async (label: string, path: string, fieldSelector: string | undefined, scope: ReplaceScope, project: (raw: unknown) => SnapshotRecord | undefined): Promise<void> => {
    let records: SnapshotRecord[] = [];
    await listInPages(rest, path, { fieldSelector }, {
      page(items, progress) {
        for (const raw of items) {
          const record = project(raw);
          if (record !== undefined) records.push(record);
        }
        objects += items.length;
        report(label, progress, undefined);
      },
      restart() {
        records = [];
      },
    }, pageSize);
    builder.replace(scope, records);
    listsDone += 1;
  };

  const readState = async (): Promise<void> => {
    if (namespace !== undefined) {
      let raw: unknown;
      try {
        raw = await rest.request({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}` });
      } catch (error) {
        if (isApiStatus(error, 404)) throw new ClusterAuditError(`namespace ${namespace} does not exist`);
        throw error;
      }
      const record = projectNamespace(raw);
      builder.replace({ kind: 'namespaces' }, record === undefined ? [] : [record]);
      objects += 1;
      listsDone += 1;
    } else {
      await listState('namespaces', '/api/v1/namespaces', undefined, { kind: 'namespaces' }, projectNamespace);
    }
    await listState('serviceaccounts', collectionPath('api/v1', 'serviceaccounts', namespace), undefined, { kind: 'serviceaccounts' }, projectServiceAccount);
    for (const secretType of [DOCKER_CONFIG_JSON_TYPE, DOCKER_CFG_TYPE]) {
      await listState(`secrets (${secretType})`, collectionPath('api/v1', 'secrets', namespace), `type=${secretType}`, { kind: 'secrets', secretType }, projectSecret);
    }
  };
  try {
    // A snapshot given by the caller (the webhook's) replaces the state lists.
    if (request.snapshot === undefined) await readState();
  } catch (error) {
    throw describeFailure(error);
  }
  const snapshot = request.snapshot ?? builder.build();
  namespaceNames = namespace !== undefined ? [namespace] : snapshot instanceof MemorySnapshot ? [...snapshot.namespaceViews().keys()].sort() : [];

  // --- workloads, then pods ------------------------------------------------------------------------
  const audit = new ClusterAuditBuilder({ snapshot, policy: request.policy, now: request.now, source: request.source });
  const namespaceIndex = new Map(namespaceNames.map((name, index) => [name, index]));
  for (const { kind, report: reported } of workloadLists) {
    const { groupVersion, resource } = KIND_RESOURCES[kind];
    const apiVersion = groupVersion.replace(/^apis?\//, '');
    const isLast = listsDone === listsTotal - 1;
    try {
      await listInPages(rest, collectionPath(groupVersion, resource, namespace), { labelSelector: request.labelSelector }, {
        page(items, progress) {
          let lastNamespace: string | undefined;
          for (const raw of items) {
            // Items of a list carry no kind or apiVersion (the list does): the decision needs the kind.
            if (isRecord(raw)) {
              raw['kind'] ??= kind;
              raw['apiVersion'] ??= apiVersion;
            }
            if (kind === 'Pod') audit.addPod(raw);
            else if (reported) audit.addWorkload(raw);
            else audit.addOwnerOnly(raw);
            lastNamespace = namespaceOf(raw) ?? lastNamespace;
          }
          objects += items.length;
          // Lists come in namespace order: every namespace before the current one is complete.
          const position = lastNamespace === undefined ? undefined : namespaceIndex.get(lastNamespace);
          if (isLast && position !== undefined) namespacesDone = Math.max(namespacesDone, position);
          report(resource, progress, position === undefined ? undefined : position / Math.max(1, namespaceNames.length));
        },
        restart() {
          audit.restartKind(kind);
        },
      }, pageSize);
    } catch (error) {
      throw describeFailure(error);
    }
    listsDone += 1;
  }
  namespacesDone = namespaceNames.length;
  report('done', undefined, undefined);
  const finished = clock();
  return {
    report: audit.report(),
    namespaces: namespaceNames,
    objects,
    listMs: finished - started - audit.decideMs,
    decideMs: audit.decideMs,
  };
}

function namespaceOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const metadata = (raw as { metadata?: { namespace?: unknown } }).metadata;
  return typeof metadata?.namespace === 'string' ? metadata.namespace : undefined;
}

function describeFailure(error: unknown): Error {
  if (error instanceof ClusterAuditError) return error;
  if (isApiStatus(error, 403)) return new ClusterAuditError(`${(error as Error).message}\nthe audit needs list on namespaces, serviceaccounts, secrets (the two pull-secret types), pods and the workload kinds (see the README's "audit --cluster" RBAC)`);
  return error instanceof Error ? error : new Error(String(error));
}
