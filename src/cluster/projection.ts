import { projectPullSecret } from '../credentials/dockerconfig.ts';
import type { PullSecretView } from '../credentials/types.ts';
import { buildNamespaceState, isPullSecretType, MemorySnapshot, NamespaceEntry } from '../snapshot/memory.ts';
import { sameServiceAccountPullSecrets, serviceAccountPullSecrets } from '../snapshot/from-objects.ts';
import type { NamespaceView, ServiceAccountPullSecrets } from '../snapshot/types.ts';
import { isRecord } from '../workloads/extract.ts';
import { INTERN_LIMIT } from './limits.ts';
import { PersistentMap } from './persistent-map.ts';

/**
 * Watch events → the live snapshot. Objects are projected the moment they arrive (a Secret
 * becomes a PullSecretView; its data is never stored), and each change produces a new
 * MemorySnapshot that shares every untouched namespace state with the previous one. Batches
 * (a list, a burst of events) go through one SnapshotBuilder: each touched namespace is copied
 * once, mutated, and frozen once, so a list of 50,000 secrets is linear, not quadratic.
 */

export const POLICY_KEY = 'policy.yaml';

/** The metadata the informer cache (client-node ListWatch) needs: identity and version. */
export interface RecordMetadata {
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly uid?: string | undefined;
}

/**
 * Strings that repeat across many objects (namespace names, the secret type, referenced secret
 * names, label keys and values) are shared instead of stored once per object. The pool is
 * bounded: when full it is emptied, which only stops sharing for strings seen afterwards.
 */
const internPool = new Map<string, string>();

export function intern(text: string): string {
  const pooled = internPool.get(text);
  if (pooled !== undefined) return pooled;
  if (internPool.size >= INTERN_LIMIT) internPool.clear();
  internPool.set(text, text);
  return text;
}

/**
 * A compact object kept by the informer cache instead of the raw object. client-node's
 * ListWatch reads only `obj.metadata.name`, `.namespace` and `.resourceVersion`, so a record is
 * its own metadata: one object per cached item instead of two (100,000 service accounts make
 * that worth it).
 */
abstract class StoredRecord implements RecordMetadata {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly resourceVersion: string | undefined;

  constructor(metadata: RecordMetadata) {
    this.name = metadata.name;
    this.namespace = metadata.namespace;
    this.resourceVersion = metadata.resourceVersion;
  }

  get metadata(): RecordMetadata {
    return this;
  }
}

export class SecretRecord extends StoredRecord {
  readonly view: PullSecretView;
  constructor(metadata: RecordMetadata, view: PullSecretView) {
    super(metadata);
    this.view = view;
    Object.freeze(this);
  }
  get kind(): 'Secret' {
    return 'Secret';
  }
}

export class ServiceAccountRecord extends StoredRecord {
  readonly pullSecrets: ServiceAccountPullSecrets;
  constructor(metadata: RecordMetadata, pullSecrets: ServiceAccountPullSecrets) {
    super(metadata);
    this.pullSecrets = pullSecrets;
    Object.freeze(this);
  }
  get kind(): 'ServiceAccount' {
    return 'ServiceAccount';
  }
}

export class NamespaceRecord extends StoredRecord {
  readonly view: NamespaceView;
  constructor(metadata: RecordMetadata, view: NamespaceView) {
    super(metadata);
    this.view = view;
    Object.freeze(this);
  }
  get kind(): 'Namespace' {
    return 'Namespace';
  }
}

export class ConfigMapRecord extends StoredRecord {
  /** Kept for the involvedObject of Events. */
  readonly uid: string | undefined;
  /** The `policy.yaml` value, or undefined when the key is absent. */
  readonly policyText: string | undefined;
  constructor(metadata: RecordMetadata, policyText: string | undefined) {
    super(metadata);
    this.uid = metadata.uid;
    this.policyText = policyText;
    Object.freeze(this);
  }
  get kind(): 'ConfigMap' {
    return 'ConfigMap';
  }
}

/** What an informer keeps per object instead of the raw object. */
export type ProjectedObject = SecretRecord | ServiceAccountRecord | NamespaceRecord | ConfigMapRecord;
/** The records that feed the snapshot (the ConfigMap feeds the policy instead). */
export type SnapshotRecord = SecretRecord | ServiceAccountRecord | NamespaceRecord;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface SnapshotEvent {
  readonly type: WatchEventType;
  readonly record: SnapshotRecord;
}

/** Which part of the snapshot one informer's complete list replaces. */
export type ReplaceScope =
  /** `namespace` set: a namespaced secret informer (`--secret-namespaces`) replaces that namespace's secrets of the type only. */
  | { readonly kind: 'secrets'; readonly secretType: string; readonly namespace?: string | undefined }
  | { readonly kind: 'serviceaccounts' }
  | { readonly kind: 'namespaces' };

function metadataOf(raw: unknown): RecordMetadata | undefined {
  if (!isRecord(raw) || !isRecord(raw['metadata'])) return undefined;
  const metadata = raw['metadata'];
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') return undefined;
  const namespace = metadata['namespace'];
  const resourceVersion = metadata['resourceVersion'];
  const uid = metadata['uid'];
  return {
    name,
    namespace: typeof namespace === 'string' && namespace !== '' ? intern(namespace) : undefined,
    resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : undefined,
    uid: typeof uid === 'string' ? uid : undefined,
  };
}

/** Secret → record holding only its PullSecretView; undefined for an object without a name. */
export function projectSecret(raw: unknown): SecretRecord | undefined {
  const metadata = metadataOf(raw);
  if (metadata === undefined) return undefined;
  const view = projectPullSecret(raw);
  return new SecretRecord(metadata, Object.freeze({ ...view, type: intern(view.type) }));
}

export function projectServiceAccount(raw: unknown): ServiceAccountRecord | undefined {
  const metadata = metadataOf(raw);
  if (metadata === undefined || !isRecord(raw)) return undefined;
  return new ServiceAccountRecord(metadata, serviceAccountPullSecrets(raw, intern));
}

export function projectNamespace(raw: unknown): NamespaceRecord | undefined {
  const metadata = metadataOf(raw);
  if (metadata === undefined || !isRecord(raw)) return undefined;
  const labels: Record<string, string> = {};
  const rawLabels = isRecord(raw['metadata']) ? raw['metadata']['labels'] : undefined;
  if (isRecord(rawLabels)) for (const [key, value] of Object.entries(rawLabels)) if (typeof value === 'string') labels[intern(key)] = intern(value);
  const name = intern(metadata.name);
  return new NamespaceRecord({ ...metadata, name }, Object.freeze({ name, labels: Object.freeze(labels) }));
}

/** The policy ConfigMap → its `policy.yaml` text (other keys are dropped). Keeps the uid for Events. */
export function projectPolicyConfigMap(raw: unknown): ConfigMapRecord | undefined {
  const metadata = metadataOf(raw);
  if (metadata === undefined || !isRecord(raw)) return undefined;
  const data = raw['data'];
  const text = isRecord(data) && typeof data[POLICY_KEY] === 'string' ? data[POLICY_KEY] : undefined;
  return new ConfigMapRecord(metadata, text);
}

function sameRecordValues(a: object, b: object): boolean {
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  const bRecord = b as Record<string, unknown>;
  const aRecord = a as Record<string, unknown>;
  return aKeys.every((key) => Object.is(aRecord[key], bRecord[key]));
}

/**
 * Deep equality of two views (all fields are primitives, one `problem` object and the keys'
 * flat objects). Used so that an edit that changes nothing decisions read (an annotation, a
 * relist) keeps the old view and the old namespace state.
 */
export function sameSecretView(a: PullSecretView, b: PullSecretView): boolean {
  if (a === b) return true;
  if (a.name !== b.name || a.type !== b.type || a.usable !== b.usable || a.expiresAt !== b.expiresAt) return false;
  if ((a.problem === undefined) !== (b.problem === undefined)) return false;
  if (a.problem !== undefined && b.problem !== undefined && (a.problem.kind !== b.problem.kind || a.problem.detail !== b.problem.detail)) return false;
  if (a.keys.length !== b.keys.length) return false;
  return a.keys.every((key, index) => {
    const other = b.keys[index];
    return other !== undefined && sameRecordValues(key, other);
  });
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return a === b || sameRecordValues(a, b);
}

/** An empty snapshot in the live shape: persistent maps, only pull-secret types visible. */
export function emptyLiveSnapshot(): MemorySnapshot {
  return new MemorySnapshot(PersistentMap.empty<NamespaceEntry>(), false, true);
}

function persistent<V>(map: ReadonlyMap<string, V>): PersistentMap<V> {
  return map instanceof PersistentMap ? (map as PersistentMap<V>) : PersistentMap.from(map);
}

interface NamespaceContent {
  readonly secrets: ReadonlyMap<string, PullSecretView>;
  readonly serviceAccounts: ReadonlyMap<string, ServiceAccountPullSecrets>;
}

interface NamespaceDraft {
  readonly secrets: Map<string, PullSecretView>;
  readonly serviceAccounts: Map<string, ServiceAccountPullSecrets>;
}

/**
 * Mutable staging area over an immutable snapshot. Namespaces are copied on first write only;
 * `build()` freezes each touched namespace once and returns the base itself when nothing
 * changed, so no-op events never publish a new snapshot.
 */
export class SnapshotBuilder {
  private readonly base: MemorySnapshot;
  private readonly baseEntries: PersistentMap<NamespaceEntry>;
  /** Namespace objects added or relabelled (their new view) or deleted (undefined) since the base. */
  private readonly viewChanges = new Map<string, NamespaceView | undefined>();
  private readonly drafts = new Map<string, NamespaceDraft>();

  constructor(base: MemorySnapshot) {
    this.base = base;
    this.baseEntries = persistent(base.namespaceEntries());
  }

  /** Applies one watch event; returns true when it changed anything. */
  apply(type: WatchEventType, record: SnapshotRecord): boolean {
    const namespace = record.metadata.namespace ?? '';
    switch (record.kind) {
      case 'Secret':
        if (type === 'DELETED') return this.deleteSecret(namespace, record.metadata.name, record.view.type);
        return this.upsertSecret(namespace, record.metadata.name, record.view);
      case 'ServiceAccount':
        if (type === 'DELETED') return this.deleteServiceAccount(namespace, record.metadata.name);
        return this.upsertServiceAccount(namespace, record.metadata.name, record.pullSecrets);
      case 'Namespace':
        if (type === 'DELETED') return this.deleteNamespace(record.metadata.name);
        return this.upsertNamespace(record.view);
    }
  }

  /**
   * Makes `records` the complete content of `scope`: everything in scope that the list does not
   * name is removed (deleted while the watch was down), the rest is upserted. Unchanged objects
   * keep their old views, so an idle relist touches no namespace.
   */
  replace(scope: ReplaceScope, records: Iterable<SnapshotRecord>): void {
    switch (scope.kind) {
      case 'namespaces': {
        const listed = new Map<string, NamespaceView>();
        for (const record of records) if (record.kind === 'Namespace') listed.set(record.metadata.name, record.view);
        for (const name of [...this.viewNames()]) if (!listed.has(name)) this.deleteNamespace(name);
        for (const view of listed.values()) this.upsertNamespace(view);
        return;
      }
      case 'serviceaccounts': {
        const listed = groupByNamespace(records, 'ServiceAccount', (record) => record.pullSecrets);
        for (const [namespace, state] of this.namespaces()) {
          const keep = listed.get(namespace);
          for (const name of state.serviceAccounts.keys()) if (keep?.has(name) !== true) this.deleteServiceAccount(namespace, name);
        }
        for (const [namespace, accounts] of listed) for (const [name, names] of accounts) this.upsertServiceAccount(namespace, name, names);
        return;
      }
      case 'secrets': {
        const listed = groupByNamespace(records, 'Secret', (record) => record.view);
        for (const [namespace, state] of this.namespaces()) {
          if (scope.namespace !== undefined && namespace !== scope.namespace) continue;
          const keep = listed.get(namespace);
          for (const [name, view] of state.secrets) {
            if (view.type === scope.secretType && keep?.has(name) !== true) this.deleteSecret(namespace, name, view.type);
          }
        }
        for (const [namespace, secrets] of listed) for (const [name, view] of secrets) this.upsertSecret(namespace, name, view);
        return;
      }
    }
  }

  /** Freezes the touched namespaces into a new snapshot, or returns the base when nothing changed. */
  build(): MemorySnapshot {
    let entries = this.baseEntries;
    for (const namespace of new Set([...this.drafts.keys(), ...this.viewChanges.keys()])) {
      const base = this.baseEntries.get(namespace);
      const view = this.viewChanges.has(namespace) ? this.viewChanges.get(namespace) : base?.view;
      const draft = this.drafts.get(namespace);
      const state = draft === undefined
        ? base?.state
        : draft.secrets.size === 0 && draft.serviceAccounts.size === 0
          ? undefined
          : buildNamespaceState(draft.secrets.values(), draft.serviceAccounts);
      if (view === base?.view && state === base?.state) continue;
      entries = view === undefined && state === undefined ? entries.delete(namespace) : entries.set(namespace, new NamespaceEntry(view, state));
    }
    if (entries === this.baseEntries) return this.base;
    return new MemorySnapshot(entries, false, this.base.holdsAllServiceAccounts);
  }

  /**
   * Every namespace's current content, drafts first. Callers may delete from the yielded maps'
   * drafts while iterating (Map iteration tolerates deletion); drafts created meanwhile belong
   * to base namespaces, which are visited once from the base.
   */
  private *namespaces(): Generator<readonly [string, NamespaceContent]> {
    const seen = new Set<string>();
    for (const [namespace, draft] of [...this.drafts]) {
      seen.add(namespace);
      yield [namespace, draft];
    }
    for (const [namespace, { state }] of this.baseEntries) if (state !== undefined && !seen.has(namespace)) yield [namespace, state];
  }

  private current(namespace: string): NamespaceContent | undefined {
    return this.drafts.get(namespace) ?? this.baseEntries.get(namespace)?.state;
  }

  private draft(namespace: string): NamespaceDraft {
    let draft = this.drafts.get(namespace);
    if (draft === undefined) {
      const state = this.baseEntries.get(namespace)?.state;
      draft = {
        secrets: new Map(state?.secrets ?? []),
        serviceAccounts: new Map(state?.serviceAccounts ?? []),
      };
      this.drafts.set(namespace, draft);
    }
    return draft;
  }

  private upsertSecret(namespace: string, name: string, view: PullSecretView): boolean {
    // The live snapshot holds only the two pull-secret types: a secret reported with another
    // type (it stopped matching the informer's field selector) is gone as far as we can see.
    if (!isPullSecretType(view.type)) return this.removeSecret(namespace, name);
    const existing = this.current(namespace)?.secrets.get(name);
    if (existing !== undefined && sameSecretView(existing, view)) return false;
    this.draft(namespace).secrets.set(name, view);
    return true;
  }

  /**
   * The two secret informers are not ordered with respect to each other: when a secret is
   * deleted and recreated with the other type, the new object's ADDED may arrive before the
   * old one's DELETED. A delete therefore removes only a secret of the deleted object's type.
   */
  private deleteSecret(namespace: string, name: string, type: string): boolean {
    const existing = this.current(namespace)?.secrets.get(name);
    if (existing === undefined || existing.type !== type) return false;
    return this.removeSecret(namespace, name);
  }

  private removeSecret(namespace: string, name: string): boolean {
    if (this.current(namespace)?.secrets.has(name) !== true) return false;
    this.draft(namespace).secrets.delete(name);
    return true;
  }

  private upsertServiceAccount(namespace: string, name: string, pullSecrets: ServiceAccountPullSecrets): boolean {
    const existing = this.current(namespace)?.serviceAccounts.get(name);
    if (existing !== undefined && sameServiceAccountPullSecrets(existing, pullSecrets)) return false;
    this.draft(namespace).serviceAccounts.set(name, pullSecrets);
    return true;
  }

  private deleteServiceAccount(namespace: string, name: string): boolean {
    if (this.current(namespace)?.serviceAccounts.has(name) !== true) return false;
    this.draft(namespace).serviceAccounts.delete(name);
    return true;
  }

  /** The namespace's view as staged here, or the base's. */
  private currentView(name: string): NamespaceView | undefined {
    return this.viewChanges.has(name) ? this.viewChanges.get(name) : this.baseEntries.get(name)?.view;
  }

  /** Every namespace whose Namespace object is known, as staged here. */
  private *viewNames(): Generator<string> {
    for (const [name, view] of this.viewChanges) if (view !== undefined) yield name;
    for (const [name, { view }] of this.baseEntries) if (view !== undefined && !this.viewChanges.has(name)) yield name;
  }

  private upsertNamespace(view: NamespaceView): boolean {
    const existing = this.currentView(view.name);
    // Keeping the old view object when labels are equal also keeps the effective policy remembered for it.
    if (existing !== undefined && sameLabels(existing.labels, view.labels)) return false;
    this.viewChanges.set(view.name, view);
    return true;
  }

  private deleteNamespace(name: string): boolean {
    if (this.currentView(name) === undefined) return false;
    this.viewChanges.set(name, undefined);
    return true;
  }
}

function groupByNamespace<K extends SnapshotRecord['kind'], V>(
  records: Iterable<SnapshotRecord>,
  kind: K,
  value: (record: Extract<SnapshotRecord, { kind: K }>) => V,
): Map<string, Map<string, V>> {
  const grouped = new Map<string, Map<string, V>>();
  for (const record of records) {
    if (record.kind !== kind) continue;
    const namespace = record.metadata.namespace ?? '';
    let names = grouped.get(namespace);
    if (names === undefined) grouped.set(namespace, (names = new Map()));
    names.set(record.metadata.name, value(record as Extract<SnapshotRecord, { kind: K }>));
  }
  return grouped;
}

/** One event → a new snapshot (the same instance when the event changes nothing). */
export function applyEvent(snapshot: MemorySnapshot, type: WatchEventType, record: SnapshotRecord): MemorySnapshot {
  const builder = new SnapshotBuilder(snapshot);
  builder.apply(type, record);
  return builder.build();
}

/** A batch of events in order → one new snapshot; each touched namespace is rebuilt once. */
export function applyEvents(snapshot: MemorySnapshot, events: Iterable<SnapshotEvent>): MemorySnapshot {
  const builder = new SnapshotBuilder(snapshot);
  for (const event of events) builder.apply(event.type, event.record);
  return builder.build();
}

/** A complete list of one informer → a new snapshot in which `scope` holds exactly `records`. */
export function replaceScope(snapshot: MemorySnapshot, scope: ReplaceScope, records: Iterable<SnapshotRecord>): MemorySnapshot {
  const builder = new SnapshotBuilder(snapshot);
  builder.replace(scope, records);
  return builder.build();
}
