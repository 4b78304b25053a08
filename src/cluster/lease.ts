import { isRecord } from '../workloads/extract.ts';
import { isApiStatus, type KubeRest } from './rest.ts';

/**
 * One writer among the webhook's replicas: a coordination.k8s.io/v1 Lease, taken the way
 * client-go's leader election takes it. A replica holds the Lease while it renews it within
 * `leaseDurationSeconds`; another takes it over only once it has expired. Every write carries
 * the resourceVersion it read, so two replicas racing for an expired Lease cannot both win (the
 * loser gets 409 Conflict). Time is injected so tests control it.
 */

export interface LeaseOptions {
  readonly rest: KubeRest;
  readonly namespace: string;
  readonly name: string;
  /** This replica (the pod name). */
  readonly identity: string;
  readonly durationSeconds: number;
  readonly now?: () => number;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewTime?: string;
  readonly acquireTime?: string;
  readonly leaseTransitions?: number;
}

export class LeaseElector {
  private readonly options: LeaseOptions;
  private readonly now: () => number;

  constructor(options: LeaseOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  private get collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.options.namespace)}/leases`;
  }

  /** Takes or renews the Lease; true when this replica holds it now. */
  async acquire(): Promise<boolean> {
    const { rest, name, identity, durationSeconds } = this.options;
    const now = this.now();
    let current: unknown;
    try {
      current = await rest.request({ method: 'GET', path: `${this.collection}/${encodeURIComponent(name)}` });
    } catch (error) {
      if (!isApiStatus(error, 404)) throw error;
      try {
        await rest.request({
          method: 'POST',
          path: this.collection,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace: this.options.namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (createError) {
        if (isApiStatus(createError, 409)) return false; // another replica created it first
        throw createError;
      }
    }
    const metadata = isRecord(current) && isRecord(current['metadata']) ? current['metadata'] : {};
    const spec: LeaseSpec = isRecord(current) && isRecord(current['spec']) ? (current['spec'] as LeaseSpec) : {};
    const mine = spec.holderIdentity === identity;
    const renewed = spec.renewTime === undefined ? Number.NaN : Date.parse(spec.renewTime);
    const expired = spec.holderIdentity === undefined || spec.holderIdentity === '' || !Number.isFinite(renewed) || now > renewed + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (!mine && !expired) return false;
    try {
      await rest.request({
        method: 'PUT',
        path: `${this.collection}/${encodeURIComponent(name)}`,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace: this.options.namespace, resourceVersion: metadata['resourceVersion'] },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: mine && spec.acquireTime !== undefined ? spec.acquireTime : microTime(now),
            renewTime: microTime(now),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
      });
      return true;
    } catch (error) {
      if (isApiStatus(error, 409)) return false; // someone else wrote it since we read it
      throw error;
    }
  }
}
