import { extractPodSpec, identify, isWorkloadKind, WORKLOAD_SPEC_FIELDS, type PodSpecRef } from '../workloads/extract.ts';
import type { PodTemplateKinds } from '../workloads/pod-templates.ts';
import { ownCopy } from '../text/own-copy.ts';
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
  /** Shared by the workloads of one run whose pod specs are equal (SpecInterner). */
  readonly spec: PodSpecRef | undefined;
  /** podSpecKey(spec): equal exactly when the specs are. */
  readonly specKey: string | undefined;
  /** The dotted field the pod spec belongs in, for the "not checked" note. */
  readonly specField: string;
  readonly source: string;
  /**
   * Of the object as written, key order aside (objectFingerprint): equal copies have equal
   * fingerprints. Undefined (an alias cycle, an alias bomb): the copy equals no other. Prepared
   * with `fingerprint: 'later'`, it is filled in only when a second copy turns up (CopyFingerprints):
   * nearly every object is read once, and never compared.
   */
  fingerprint: string | undefined;
}

/**
 * A text that is equal for two pod specs exactly when everything decide() reads of them is: a flat
 * list of the fields, one JSON.stringify (a third of the cost of stringifying the PodSpecRef). Left
 * out are the fields derived from those kept: isTemplate and specPointer (from kind and specPath),
 * each container's path and pullPolicyPath (from specPath, group, index). The secrets are led by
 * their count and each container by its group, so no two lists of different fields read the same.
 */
export function podSpecKey(spec: PodSpecRef): string {
  const parts: (string | number | boolean | null)[] = [spec.kind, spec.specPath, spec.serviceAccountName, spec.hasImagePullSecretsField, spec.imagePullSecrets.length, ...spec.imagePullSecrets];
  for (const container of spec.containers) parts.push(container.group, container.index, container.name, container.image ?? null, container.imagePullPolicy ?? null);
  return JSON.stringify(parts);
}

/**
 * Distinct pod specs one interner keeps. Past it the table starts over: later replicas of earlier
 * specs then get a copy of their own, which costs memory, never a wrong answer.
 */
export const MAX_INTERNED_SPECS = 65_536;

/**
 * One object per distinct pod spec in a run. The replicas of a template (a cluster dump's pods, a
 * Deployment in several overlays) then hold one PodSpecRef between them instead of one each: for
 * 20,000 pods of a few templates, ~30 MiB fewer objects for the garbage collector to copy while
 * the rest of the input is read.
 */
export class SpecInterner {
  private readonly specs = new Map<string, { readonly spec: PodSpecRef; readonly key: string }>();

  intern(spec: PodSpecRef): { readonly spec: PodSpecRef; readonly key: string } {
    const key = podSpecKey(spec);
    const known = this.specs.get(key);
    if (known !== undefined) return known;
    if (this.specs.size >= MAX_INTERNED_SPECS) this.specs.clear();
    const entry = { spec: ownSpec(spec), key };
    this.specs.set(key, entry);
    return entry;
  }
}

/**
 * The spec with every string an own copy (ownCopy): a YAML reader's strings are views of the file's
 * text, and a spec kept for the whole run would keep the file, the Secrets written next to the
 * workload included.
 */
function ownSpec(spec: PodSpecRef): PodSpecRef {
  return {
    ...spec,
    kind: ownCopy(spec.kind),
    specPath: ownCopy(spec.specPath),
    specPointer: ownCopy(spec.specPointer),
    serviceAccountName: ownCopy(spec.serviceAccountName),
    imagePullSecrets: spec.imagePullSecrets.map(ownCopy),
    containers: spec.containers.map((container) => ({
      ...container,
      name: ownCopy(container.name),
      path: ownCopy(container.path),
      image: container.image === undefined ? undefined : ownCopy(container.image),
      imagePullPolicy: container.imagePullPolicy === undefined ? undefined : ownCopy(container.imagePullPolicy),
      pullPolicyPath: ownCopy(container.pullPolicyPath),
    })),
  };
}

/** The string-valued annotations, keys and values own copies (see ownSpec). */
function ownAnnotations(annotations: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) copy[ownCopy(key)] = ownCopy(value);
  return copy;
}

/**
 * The prepared workload of `object`, or undefined when it is not a workload (built-in kind or
 * policy pod template). With an interner, equal pod specs come back as one object. The fingerprint
 * is computed now, or left for the caller to fill in (`'later'`).
 */
export function prepareWorkload(
  object: Record<string, unknown>,
  source: string,
  podTemplates?: PodTemplateKinds,
  specs: SpecInterner = new SpecInterner(),
  fingerprint: 'now' | 'later' = 'now',
): PreparedWorkload | undefined {
  const specField = builtinSpecField(object) ?? podTemplates?.specField(object);
  if (specField === undefined) return undefined;
  const identity = identify(object);
  if (identity === undefined) return undefined;
  // What is kept are own copies (see ownSpec): the prepared workload lives for the whole run.
  const group = identity.apiVersion.includes('/') ? ownCopy(identity.apiVersion.slice(0, identity.apiVersion.indexOf('/'))) : '';
  const kind = ownCopy(identity.kind);
  const name = ownCopy(identity.name);
  const named = typeof (object['metadata'] as Record<string, unknown> | undefined)?.['name'] === 'string';
  const spec = extractPodSpec(object) ?? podTemplates?.extract(object);
  const interned = spec === undefined ? undefined : specs.intern(spec);
  return {
    kind,
    name,
    namespace: identity.namespace === undefined ? undefined : ownCopy(identity.namespace),
    key: named ? `${group}\u0000${kind}\u0000${name}` : undefined,
    annotations: ownAnnotations(identity.annotations),
    spec: interned?.spec,
    specKey: interned?.key,
    specField,
    source,
    fingerprint: fingerprint === 'now' ? objectFingerprint(object) : undefined,
  };
}

function builtinSpecField(object: Record<string, unknown>): string | undefined {
  const kind = object['kind'];
  return isWorkloadKind(kind) ? WORKLOAD_SPEC_FIELDS[kind] : undefined;
}
