import { isRecord, type WorkloadKind } from '../workloads/extract.ts';

/**
 * Which listed workload a live pod belongs to. A cluster audit reports templates (Deployment,
 * StatefulSet, ...) and groups their pods under them instead of repeating one result per replica.
 * ReplicaSets a Deployment manages and Jobs a CronJob creates are not reported themselves (their
 * template is the owner's), so their pods go to the Deployment or CronJob. Owners are matched by
 * uid, as the garbage collector does: a pod whose owner was not listed (another label selector,
 * a kind left out with --kinds, a custom controller) is reported on its own.
 */

export interface ControllerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** The `controller: true` owner reference of an object, if any. */
export function controllerOf(object: unknown): ControllerRef | undefined {
  if (!isRecord(object) || !isRecord(object['metadata'])) return undefined;
  const references = object['metadata']['ownerReferences'];
  if (!Array.isArray(references)) return undefined;
  for (const reference of references) {
    if (!isRecord(reference) || reference['controller'] !== true) continue;
    const { kind, name, uid } = reference;
    if (typeof kind === 'string' && typeof name === 'string' && typeof uid === 'string') return { kind, name, uid };
  }
  return undefined;
}

export function uidOf(object: unknown): string | undefined {
  if (!isRecord(object) || !isRecord(object['metadata'])) return undefined;
  const uid = object['metadata']['uid'];
  return typeof uid === 'string' && uid !== '' ? uid : undefined;
}

/** The kinds whose objects are templates managed by another workload, and by which kind. */
const MANAGED_BY: Readonly<Partial<Record<WorkloadKind, string>>> = { ReplicaSet: 'Deployment', Job: 'CronJob' };

/** True when the audit reports this workload; false for a ReplicaSet of a Deployment or a Job of a CronJob. */
export function isReportedWorkload(kind: WorkloadKind, controller: ControllerRef | undefined): boolean {
  const manager = MANAGED_BY[kind];
  return manager === undefined || controller?.kind !== manager;
}

/** Owners by uid; `T` is whatever the caller files pods under (a result's index, a key). */
export class OwnerIndex<T> {
  private readonly reported = new Map<string, T>();
  /** uid of a managed ReplicaSet or Job → uid of its Deployment or CronJob. */
  private readonly managedBy = new Map<string, string>();
  private readonly kindOfUid = new Map<string, string>();

  addReported(kind: string, uid: string, owner: T): void {
    this.reported.set(uid, owner);
    this.kindOfUid.set(uid, kind);
  }

  addManaged(kind: string, uid: string, controller: ControllerRef): void {
    this.managedBy.set(uid, controller.uid);
    this.kindOfUid.set(uid, kind);
  }

  /** Forgets everything one kind's list contributed (the list starts over). */
  forgetKind(kind: string): void {
    for (const [uid, entryKind] of this.kindOfUid) {
      if (entryKind !== kind) continue;
      this.reported.delete(uid);
      this.managedBy.delete(uid);
      this.kindOfUid.delete(uid);
    }
  }

  /** The reported workload a pod with this controller belongs to, directly or through a managed ReplicaSet/Job. */
  ownerOf(controller: ControllerRef | undefined): T | undefined {
    if (controller === undefined) return undefined;
    const direct = this.reported.get(controller.uid);
    if (direct !== undefined) return direct;
    const manager = this.managedBy.get(controller.uid);
    return manager === undefined ? undefined : this.reported.get(manager);
  }
}
