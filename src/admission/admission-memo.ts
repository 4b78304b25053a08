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
 *   image and pull policy, the ServiceAccount and the imagePullSecrets list). Fields are
 *   length-prefixed, so no two different inputs share a key whatever characters they hold.
 * - The name only labels an answer (the log line) and appears in no kept response: a hit takes it
 *   from its own request, and denials, whose message names the object, are never kept.
 * - Every entry belongs to one policy and to one version of its namespace: the decision reads the
 *   snapshot only for that namespace (its view and labels, secrets and ServiceAccounts), and an
 *   entry is used only while the snapshot hands out the very same namespace view and
 *   namespaceVersion() objects it was decided against (snapshots share them for untouched
 *   namespaces and replace them on any change). A changed namespace drops its entry at the next
 *   lookup; a reloaded policy empties the memo. Changes elsewhere in the cluster keep the hits.
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
import { extractPodSpec, identify, isRecord, type PodSpecRef, type WorkloadIdentity } from '../workloads/extract.ts';
import type { NamespaceView } from '../snapshot/types.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import { admissionName, admissionNamespace, admit, NODE_USER_PREFIX, type AdmissionOutcome, type AdmitContext, type Phase } from './admit.ts';
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

/** Appends one field, length-prefixed: `7:default`. Undefined gets its own marker, distinct from ''. */
function field(key: string, value: string | undefined): string {
  return value === undefined ? `${key}-|` : `${key}${value.length}:${value}|`;
}

/** The memo key of a plain CREATE: everything admit() reads but the uid and the name. */
export function memoKey(request: AdmissionRequest, phase: Phase, identity: WorkloadIdentity | undefined, spec: PodSpecRef): string {
  let key = `${phase}|`;
  key = field(key, request.kind.kind);
  key = field(key, request.subResource);
  key = field(key, request.namespace);
  key = field(key, identity?.kind);
  key = field(key, identity?.namespace);
  key = field(key, spec.kind);
  key = field(key, spec.serviceAccountName);
  key += spec.hasImagePullSecretsField ? `s${spec.imagePullSecrets.length}|` : 's-|';
  for (const name of spec.imagePullSecrets) key = field(key, name);
  key += `c${spec.containers.length}|`;
  for (const container of spec.containers) {
    key = field(key, container.group);
    key += `${container.index}|`;
    key = field(key, container.name);
    key = field(key, container.image);
    key = field(key, container.imagePullPolicy);
  }
  return key;
}

/** A kept outcome and the namespace version it was decided against. */
interface Entry {
  readonly outcome: AdmissionOutcome;
  readonly bytes: number;
  readonly namespaceVersion: object;
  readonly namespaceView: NamespaceView | undefined;
  readonly seesAllSecretTypes: boolean;
}

export class AdmissionMemo {
  readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private policy: PolicyResolver | undefined;
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
    if (!isRecord(request.object)) return this.bypass(request, phase, context);
    const spec = extractPodSpec(request.object);
    if (spec === undefined) return this.bypass(request, phase, context);
    const identity = identify(request.object);
    const key = memoKey(request, phase, identity, spec);
    if (key.length > MAX_KEY_CHARS) return this.bypass(request, phase, context);

    if (context.policy !== this.policy) {
      this.invalidations += this.entries.size;
      this.clear();
      this.policy = context.policy;
    }
    const { snapshot } = context;
    const namespace = admissionNamespace(request, identity);
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (
        entry.namespaceVersion === snapshot.namespaceVersion(namespace) &&
        entry.namespaceView === snapshot.namespace(namespace) &&
        entry.seesAllSecretTypes === snapshot.seesAllSecretTypes
      ) {
        this.hits++;
        const known = entry.outcome;
        // Skipped reviews are reported under the request's name, decided ones as admit() names them.
        const name = known.action === 'skip' ? request.name : admissionName(request, identity);
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
