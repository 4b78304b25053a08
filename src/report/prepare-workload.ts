import { extractPodSpec, identify, isWorkloadKind, WORKLOAD_SPEC_FIELDS, type PodSpecRef } from '../workloads/extract.ts';
import type { PodTemplateKinds } from '../workloads/pod-templates.ts';
import { objectFingerprint } from './object-fingerprint.ts';

/**
 * What the audit keeps of a workload object while reading: its identity, its pod spec and a
 * fingerprint of the whole object, so the object itself can be dropped as soon as it is parsed.
 */
export interface PreparedWorkload {
  readonly kind: string;
  readonly name: string;
  /** As written; undefined or '' means the default namespace. */
  readonly namespace: string | undefined;
  /** API group, kind and name (the namespace is added once defaulted): generateName objects have none. */
  readonly key: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: PodSpecRef | undefined;
  /** The dotted field the pod spec belongs in, for the "not checked" note. */
  readonly specField: string;
  readonly source: string;
  /**
   * Of the object as written, key order aside (objectFingerprint): equal copies have equal
   * fingerprints. Undefined (an alias cycle, an alias bomb): the copy equals no other.
   */
  readonly fingerprint: string | undefined;
}

/** The prepared workload of `object`, or undefined when it is not a workload (built-in kind or policy pod template). */
export function prepareWorkload(object: Record<string, unknown>, source: string, podTemplates?: PodTemplateKinds): PreparedWorkload | undefined {
  const specField = builtinSpecField(object) ?? podTemplates?.specField(object);
  if (specField === undefined) return undefined;
  const identity = identify(object);
  if (identity === undefined) return undefined;
  const group = identity.apiVersion.includes('/') ? identity.apiVersion.slice(0, identity.apiVersion.indexOf('/')) : '';
  const named = typeof (object['metadata'] as Record<string, unknown> | undefined)?.['name'] === 'string';
  const fingerprint = objectFingerprint(object);
  return {
    kind: identity.kind,
    name: identity.name,
    namespace: identity.namespace,
    key: named ? `${group}\u0000${identity.kind}\u0000${identity.name}` : undefined,
    annotations: identity.annotations,
    spec: extractPodSpec(object) ?? podTemplates?.extract(object),
    specField,
    source,
    fingerprint,
  };
}

function builtinSpecField(object: Record<string, unknown>): string | undefined {
  const kind = object['kind'];
  return isWorkloadKind(kind) ? WORKLOAD_SPEC_FIELDS[kind] : undefined;
}
