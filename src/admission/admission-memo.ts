/**
 * A bounded memo of admission outcomes for pod CREATEs, so the replicas of one template (every pod
 * a ReplicaSet, Job or DaemonSet creates carries the same spec; mutation sees an empty name and
 * the generateName, validation the generated name) are decided once per cluster-state version
 * instead of once per pod.
 *
 * Correct by construction, not by expiry:
 * - The key holds every input admit() reads from the request for a CREATE except the name: the
 *   phase, the request's kind, subresource and namespace, and the object as admit() sees it
 *   through identify() and extractPodSpec() (kind, namespace, and each container's group, name,
 *   image and pull policy, the ServiceAccount and the imagePullSecrets list), read straight from
 *   the object (memoKey). Encoded as JSON, so no two different inputs share a key whatever
 *   characters they hold.
 * - The name only labels an answer (the log line) and appears in no kept response: a hit takes it
 *   from its own request, and denials, whose message names the object, are never kept.
 * - Every entry belongs to one policy and to one version of its namespace: the decision reads the
 *   snapshot only for that namespace (its view and labels, secrets and ServiceAccounts), and an
 *   entry is used only while the snapshot hands out the very same namespace view and
 *   namespaceVersion() objects it was decided against (snapshots share them for untouched
 *   namespaces and replace them on any change). A changed namespace drops its entry at the next
 *   lookup; a reloaded policy (or another work budget) empties the memo. Changes elsewhere in the cluster keep the hits.
 * - Decisions that depend on the clock are never kept: a namespace holding a credential with a
 *   provable expiry (an ECR token) is decided afresh on every request.
 * - What is not a plain CREATE (UPDATE, subresources, objects without a pod spec, requests from a
 *   kubelet, whose mirror-pod annotation admit() reads) goes straight to admit().
 *
 * Bounded like StringMemo, in entries and in an estimate of the bytes kept (emptied when either is
 * full: no bookkeeping on a hit, and a flood of distinct pods costs what it costs without the
 * memo). Keys longer than MAX_KEY_CHARS and outcomes estimated above MAX_ENTRY_BYTES are never
 * kept. Outcomes hold no credential (AdmissionOutcome never does); kept ones are frozen.
 */
import { CONTAINER_GROUPS, isRecord, podSpecOf } from '../workloads/extract.ts';
import type { NamespaceView } from '../snapshot/types.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import { admit, NODE_USER_PREFIX, type AdmissionOutcome, type AdmitContext, type Phase } from './admit.ts';
import type { AdmissionRequest } from './review.ts';

/** Default entry count: a few hundred distinct templates cover a rollout wave (a 3-container pod's outcome is ~8 KiB). */
export const DEFAULT_ADMISSION_MEMO_ENTRIES = 512;
/** More entries than this buy nothing: the byte budget (MAX_MEMO_BYTES) empties the memo first. */
export const MAX_ADMISSION_MEMO_ENTRIES = 10_000;
/** Longer keys (pods with dozens of containers or huge names) are decided every time and never kept. */
export const MAX_KEY_CHARS = 4096;
/** The estimated bytes all kept outcomes may hold together; past it the memo is emptied. */
export const MAX_MEMO_BYTES = 8 * 1024 * 1024;
/** Outcomes estimated above this (many containers, secrets with hundreds of keys) are never kept. */
export const MAX_ENTRY_BYTES = 64 * 1024;

export interface AdmissionMemoStats {
  /** Answers taken from the memo. */
  readonly hits: number;
  /** Cacheable reviews decided afresh (then kept). */
  readonly misses: number;
  /** Reviews the memo does not apply to (not a CREATE with a pod spec, clock-dependent, key too long). */
  readonly bypassed: number;
  /** Kept outcomes dropped because their namespace changed or the policy was reloaded. */
  readonly invalidations: number;
  readonly entries: number;
  /** Estimated bytes the kept outcomes hold (bounded by MAX_MEMO_BYTES). */
  readonly bytes: number;
}

/**
 * A generous estimate of the heap one kept outcome holds: its strings (UTF-16), the per-container
 * decisions and the key lists of the secrets considered. Shared strings are counted as if copied.
 */
function estimateBytes(key: string, outcome: AdmissionOutcome): number {
  let bytes = 1024 + key.length * 2;
  const response = outcome.response;
  for (const warning of response.warnings ?? []) bytes += 64 + warning.length * 2;
  for (const value of Object.values(response.auditAnnotations ?? {})) bytes += 64 + value.length * 2;
  bytes += (response.patch?.length ?? 0) * 2;
  const decision = outcome.decision;
  if (decision !== undefined) {
    for (const container of decision.containers) {
      bytes += 2048 + container.image.length * 2;
      for (const finding of container.findings) bytes += 256 + finding.message.length * 2;
    }
    for (const finding of decision.findings) bytes += 256 + finding.message.length * 2;
    for (const secret of decision.secrets) bytes += 128 + secret.keys.length * 64;
  }
  return bytes;
}

function stringOr<T>(value: unknown, fallback: T): string | T {
  return typeof value === 'string' ? value : fallback;
}

/** The image volume's fields, or undefined when the entry is no image volume (describePodSpec skips those). */
function volumeImage(entry: unknown): Record<string, unknown> | undefined {
  if (!isRecord(entry)) return undefined;
  const image = entry['image'];
  return isRecord(image) ? image : undefined;
}

/**
 * The memo key of a plain CREATE: everything admit() reads but the uid and the name, or undefined
 * when the object has no pod spec. Read straight from the object, with no PodSpecRef or identity
 * built (this runs on every review, hit or miss): the same fields identify() and extractPodSpec()
 * give admit(), resolved the same way (the ServiceAccount's default, a missing container name as
 * `#index`, an entry without a name in imagePullSecrets as ''), so two reviews share a key exactly
 * when admit() sees the same inputs in them; a test holds the two derivations together.
 * Encoded by JSON.stringify of a flat list (native, one flat string): strings are quoted and
 * escaped, absent values are null, the secrets list is led by its length and every container by
 * its group, so no two different inputs share a key whatever characters they hold.
 */
export function memoKey(request: AdmissionRequest, phase: Phase): string | undefined {
  const found = podSpecOf(request.object);
  if (found === undefined) return undefined;
  const object = request.object as Record<string, unknown>;
  const metadata = object['metadata'];
  const spec = found.spec;
  const parts: unknown[] = [
    phase,
    request.kind.kind,
    request.subResource,
    request.namespace,
    found.kind,
    isRecord(metadata) ? stringOr(metadata['namespace'], null) : null,
    stringOr(spec['serviceAccountName'], '') || stringOr(spec['serviceAccount'], '') || 'default',
  ];
  const secrets = spec['imagePullSecrets'];
  if (Array.isArray(secrets)) {
    parts.push(secrets.length);
    for (const entry of secrets as unknown[]) parts.push(isRecord(entry) ? stringOr(entry['name'], '') : '');
  } else {
    parts.push(null);
  }
  // One entry per container, led by its group (a missing list and an empty one give none, as
  // extractPodSpec sees them); image volumes are led by 'volumes' and their index.
  for (const group of CONTAINER_GROUPS) {
    const list = spec[group];
    if (!Array.isArray(list)) continue;
    for (let index = 0; index < list.length; index += 1) {
      const entry: unknown = list[index];
      const container = isRecord(entry) ? entry : {};
      parts.push(group, stringOr(container['name'], `#${index}`), stringOr(container['image'], null), stringOr(container['imagePullPolicy'], null));
    }
  }
  const volumes = spec['volumes'];
  if (Array.isArray(volumes)) {
    for (let index = 0; index < volumes.length; index += 1) {
      const entry: unknown = volumes[index];
      const image = volumeImage(entry);
      if (image === undefined) continue;
      parts.push('volumes', index, stringOr((entry as Record<string, unknown>)['name'], `#${index}`), stringOr(image['reference'], null), stringOr(image['pullPolicy'], null));
    }
  }
  return JSON.stringify(parts);
}

/** The object's namespace and name as identify() reads them, for a review answered from the memo. */
function objectNamespace(object: Record<string, unknown>): string | undefined {
  const metadata = object['metadata'];
  return isRecord(metadata) ? stringOr(metadata['namespace'], undefined) : undefined;
}

function objectName(object: Record<string, unknown>): string {
  const metadata = object['metadata'];
  if (!isRecord(metadata)) return '';
  return stringOr(metadata['name'], undefined) ?? stringOr(metadata['generateName'], '');
}

/** A kept outcome and the namespace version it was decided against. */
interface Entry {
  readonly outcome: AdmissionOutcome;
  readonly bytes: number;
  readonly namespaceVersion: object;
  readonly namespaceView: NamespaceView | undefined;
  readonly seesAllSecretTypes: boolean;
  /** The memo's snapshot epoch in which the entry was last found current (see AdmissionMemo.epoch). */
  checkedIn: number;
}

export class AdmissionMemo {
  readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private policy: PolicyResolver | undefined;
  /** The work budget the kept outcomes were decided with (the server never changes it; tests do). */
  private workBudget: number | undefined;
  /**
   * The snapshot of the last cacheable review, and a number bumped whenever another one arrives.
   * Snapshots are never mutated in place (ClusterSnapshot), so an entry found current against this
   * snapshot stays current until another snapshot comes: a hit in the same epoch skips the
   * namespace lookups. Only the newest snapshot is held, which the state holds anyway.
   */
  private snapshot: AdmitContext['snapshot'] | undefined;
  private epoch = 0;
  private hits = 0;
  private misses = 0;
  private bypassed = 0;
  private invalidations = 0;

  constructor(maxEntries: number = DEFAULT_ADMISSION_MEMO_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new Error(`memo entries must be a whole number >= 0, got ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  /** admit(), answered from the memo when an equal review was decided against the same namespace version and policy. */
  admit(request: AdmissionRequest, phase: Phase, context: AdmitContext): AdmissionOutcome {
    if (this.maxEntries === 0 || request.operation !== 'CREATE' || request.subResource !== '' || request.username.startsWith(NODE_USER_PREFIX)) {
      return this.bypass(request, phase, context);
    }
    const key = memoKey(request, phase);
    if (key === undefined || key.length > MAX_KEY_CHARS) return this.bypass(request, phase, context);
    const object = request.object as Record<string, unknown>;

    if (context.policy !== this.policy || context.workBudget !== this.workBudget) {
      this.invalidations += this.entries.size;
      this.clear();
      this.policy = context.policy;
      this.workBudget = context.workBudget;
    }
    const { snapshot } = context;
    if (snapshot !== this.snapshot) {
      this.snapshot = snapshot;
      this.epoch++;
    }
    // As admissionNamespace() and admissionName() read them, without building the identity.
    const namespace = request.namespace || objectNamespace(object) || 'default';
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (
        entry.checkedIn === this.epoch ||
        (entry.namespaceVersion === snapshot.namespaceVersion(namespace) &&
          entry.namespaceView === snapshot.namespace(namespace) &&
          entry.seesAllSecretTypes === snapshot.seesAllSecretTypes)
      ) {
        entry.checkedIn = this.epoch;
        this.hits++;
        const known = entry.outcome;
        // Skipped reviews are reported under the request's name, decided ones as admit() names them.
        const name = known.action === 'skip' ? request.name : request.name || objectName(object);
        return { ...known, name, response: { ...known.response, uid: request.uid } };
      }
      // The namespace changed since: decide again.
      this.entries.delete(key);
      this.bytes -= entry.bytes;
      this.invalidations++;
    }
    if (snapshot.hasExpiringCredentials(namespace)) return this.bypass(request, phase, context);
    this.misses++;
    const outcome = admit(request, phase, context);
    // A denial's message names the object: it is answered afresh for every replica.
    if (outcome.action === 'deny') return outcome;
    const bytes = estimateBytes(key, outcome);
    if (bytes > MAX_ENTRY_BYTES) return outcome;
    if (this.entries.size >= this.maxEntries || this.bytes + bytes > MAX_MEMO_BYTES) this.clear();
    Object.freeze(outcome.response);
    this.entries.set(key, {
      outcome: Object.freeze(outcome),
      bytes,
      namespaceVersion: snapshot.namespaceVersion(namespace),
      namespaceView: snapshot.namespace(namespace),
      seesAllSecretTypes: snapshot.seesAllSecretTypes,
      checkedIn: this.epoch,
    });
    this.bytes += bytes;
    return outcome;
  }

  stats(): AdmissionMemoStats {
    return { hits: this.hits, misses: this.misses, bypassed: this.bypassed, invalidations: this.invalidations, entries: this.entries.size, bytes: this.bytes };
  }

  private clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private bypass(request: AdmissionRequest, phase: Phase, context: AdmitContext): AdmissionOutcome {
    this.bypassed++;
    return admit(request, phase, context);
  }
}
