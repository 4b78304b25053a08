/**
 * Pod templates inside custom resources (Argo Rollouts, Knative, KEDA, ...): the policy's
 * `workloads.podTemplates` says where a kind carries its pod spec, and the built-in entries cover
 * the common ones. Pure: it reads parsed objects only.
 */
import { describePodSpec, isRecord, type PodSpecRef } from './extract.ts';

export interface PodTemplateLocation {
  /** `group/version`, or `group/*` for every version of the group. */
  readonly apiVersion: string;
  readonly kind: string;
  /** Dotted path of the pod spec inside the object: `spec.template.spec`. */
  readonly path: string;
}

/**
 * Custom resources whose pod template has the shape of a Deployment's. Argo Workflows is not here:
 * its templates carry single containers (`spec.templates[].container`), not a pod spec.
 */
export const BUILTIN_POD_TEMPLATES: readonly PodTemplateLocation[] = [
  { apiVersion: 'argoproj.io/*', kind: 'Rollout', path: 'spec.template.spec' },
  { apiVersion: 'serving.knative.dev/*', kind: 'Service', path: 'spec.template.spec' },
  { apiVersion: 'serving.knative.dev/*', kind: 'Configuration', path: 'spec.template.spec' },
  { apiVersion: 'serving.knative.dev/*', kind: 'Revision', path: 'spec' },
  { apiVersion: 'keda.sh/*', kind: 'ScaledJob', path: 'spec.jobTargetRef.template.spec' },
];

/** `group/version` (or `group/*`): custom resources always have a group. */
export const API_VERSION_PATTERN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/([a-z0-9]+|\*)$/;
/** Dotted field names: `spec.jobTargetRef.template.spec`. */
export const FIELD_PATH_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

interface Compiled {
  readonly segments: readonly string[];
  readonly path: string;
}

/** The pod-template kinds in force: looked up by kind and API version, in constant time. */
export class PodTemplateKinds {
  /** `kind\0group/version` and `kind\0group/*` → location. */
  private readonly byKey = new Map<string, Compiled>();
  readonly locations: readonly PodTemplateLocation[];

  constructor(locations: readonly PodTemplateLocation[]) {
    this.locations = locations;
    for (const location of locations) {
      const key = `${location.kind}\u0000${location.apiVersion}`;
      // The first entry for a kind and version wins: the policy's own come before the built-ins.
      if (!this.byKey.has(key)) this.byKey.set(key, { segments: location.path.split('.'), path: location.path });
    }
  }

  private find(object: Record<string, unknown>): Compiled | undefined {
    const kind = object['kind'];
    const apiVersion = object['apiVersion'];
    if (typeof kind !== 'string' || typeof apiVersion !== 'string') return undefined;
    const slash = apiVersion.indexOf('/');
    if (slash <= 0) return undefined; // core kinds (v1 Service) are never custom resources
    return this.byKey.get(`${kind}\u0000${apiVersion}`) ?? this.byKey.get(`${kind}\u0000${apiVersion.slice(0, slash)}/*`);
  }

  /** The dotted field of the pod spec when `object` is one of these kinds, else undefined. */
  specField(object: Record<string, unknown>): string | undefined {
    return this.find(object)?.path;
  }

  /**
   * The raw pod spec object of a custom resource and its dotted path, or undefined when it is not
   * one of these kinds or has none: what extract() describes, and what the review limits bound.
   */
  podSpecOf(object: Record<string, unknown>): { readonly spec: Record<string, unknown>; readonly path: string; readonly segments: readonly string[] } | undefined {
    const found = this.find(object);
    if (found === undefined) return undefined;
    let cursor: unknown = object;
    for (const segment of found.segments) {
      if (!isRecord(cursor)) return undefined;
      cursor = cursor[segment];
    }
    if (!isRecord(cursor)) return undefined;
    return { spec: cursor, path: found.path, segments: found.segments };
  }

  /** The pod spec of a custom resource, or undefined when it is not one of these kinds or has none. */
  extract(object: Record<string, unknown>): PodSpecRef | undefined {
    const found = this.podSpecOf(object);
    return found === undefined ? undefined : describePodSpec(object['kind'] as string, found.spec, found.segments);
  }
}

export const NO_POD_TEMPLATES = new PodTemplateKinds([]);
