import { lookupKeyring, lookupKeyringCharged, type FallbackCharge, type ImageTarget } from '../credentials/keyring.ts';
import type { KeyringMatch, PullSecretView, WorkMeter } from '../credentials/types.ts';
import type { ClusterSnapshot, ServiceAccountPullSecrets } from '../snapshot/types.ts';
import type { PodSpecRef } from '../workloads/extract.ts';
import { Doorkeeper } from '../image/string-memo.ts';
import { listNames } from './messages.ts';
import type { CredentialSource, PodDecision, SecretConsidered } from './types.ts';

/**
 * The pull secrets a pod spec will have, resolved against its namespace: which names the keyring is
 * built from (the spec's own list, or its ServiceAccount's), and what each name is in the snapshot.
 * It depends only on the namespace's state, the spec's list, its ServiceAccount name and whether the
 * list is final, so it is remembered per namespace state: the pods of a namespace repeat one list,
 * and resolving it again for every pod was a visible share of a decision.
 */

export interface ResolvedSecret {
  readonly considered: SecretConsidered;
  readonly view: PullSecretView | undefined;
  /** Where the name comes from: `spec.imagePullSecrets[2]`, or the ServiceAccount field for its secrets. */
  readonly path: string;
}

export interface PodSecrets {
  /** The spec's own names, without '' and duplicates, in order. */
  readonly listed: readonly string[];
  /** The spec lists entries (even nameless ones): the ServiceAccount plugin copies nothing then. */
  readonly hasOwnList: boolean;
  /** The ServiceAccount's list, or undefined when the snapshot does not hold the ServiceAccount. */
  readonly saSecrets: ServiceAccountPullSecrets | undefined;
  /** Every name the pod's keyring is built from, in order. */
  readonly names: readonly string[];
  readonly nameSource: CredentialSource;
  readonly secretsSource: PodDecision['secretsSource'];
  readonly resolved: readonly ResolvedSecret[];
  /** `resolved` as the decision reports it (decisions share it: never mutated, like every part of a decision). */
  readonly considered: readonly SecretConsidered[];
  readonly usable: readonly PullSecretView[];
  readonly malformed: readonly ResolvedSecret[];
  /** ` (and b, c +5)` after the first malformed secret's name. */
  readonly malformedOthers: string;
  /** The first listed secret that is missing, else the first of the wrong type. */
  readonly firstBroken: ResolvedSecret | undefined;
  readonly nameSet: ReadonlySet<string>;
  /** The ServiceAccount's usable secrets that the spec's own list shadows (copy-if-empty rule). */
  shadowedSaSecrets(): readonly PullSecretView[];
  /** The names of shadowedSaSecrets(), in order. */
  shadowedSaSecretNames(): readonly string[];
  /** describe(usable), built on first use and kept with the rest (it depends on the secrets only). */
  describeUsable(describe: (views: readonly PullSecretView[]) => string): string;
  /**
   * lookupKeyring over `usable` followed by `extra` (secrets chosen for injection) for an image,
   * remembered per image name (and per extra secret when there is one) with the work it cost: a
   * repeat charges `meter` the same units, and answers nothing when they overspend it, as the lookup
   * would, so the work budget sees what a fresh lookup spends. `target` compiles the name.
   */
  keyringMatches(extra: readonly PullSecretView[], imageName: string, target: (imageName: string) => ImageTarget, meter: WorkMeter): readonly KeyringMatch[];
}

/** Image names whose keyring matches one resolved list remembers per keyring; emptied when full. */
export const KEYRING_MATCHES_MEMO_ENTRIES = 64;
/** Injected secrets whose keyrings (the list's usable secrets and that one) one resolved list remembers. */
export const KEYRING_MATCHES_MEMO_EXTRAS = 16;
/** Longest image name remembered; longer ones are looked up every time and never kept. */
const KEYRING_MATCHES_MEMO_MAX_CHARS = 256;
/** Recent image names the doorkeeper below tells apart: a cluster's working set of images. */
const KEYRING_DOORKEEPER_NAMES = 16_384;
/**
 * Image names looked up recently, over every list: a lookup is remembered from the image's second
 * sighting on (string-memo.ts: Doorkeeper). Shared by the lists, so an image another list of the
 * namespace looked up counts as seen; that only decides what is kept, never what is answered.
 */
const keyringDoorkeeper = new Doorkeeper(KEYRING_DOORKEEPER_NAMES);

interface RememberedMatches {
  readonly matches: readonly KeyringMatch[];
  /** Units the lookup charged to its meter before its budget check (the secrets' keys compared). */
  readonly mainCost: number;
  /** Units its Docker Hub fallback charged after that check (lookupKeyringCharged). */
  readonly fallbackCost: number;
}

/** Namespaces remembered; the memo is emptied when full (no bookkeeping on a hit), so a flood costs what it did without. */
export const POD_SECRETS_MEMO_NAMESPACES = 1024;
/** Distinct lists remembered per namespace (ServiceAccount, spec path, list); the oldest makes room. */
export const POD_SECRETS_MEMO_LISTS = 8;
/** Longest list remembered, in names: longer lists are resolved every time and never kept. */
const POD_SECRETS_MEMO_MAX_NAMES = 32;

interface MemoEntry {
  readonly secretsFinal: boolean;
  readonly serviceAccountName: string;
  readonly specPath: string;
  /** A copy of spec.imagePullSecrets (nameless entries kept as ''). */
  readonly imagePullSecrets: readonly string[];
  readonly value: PodSecrets;
}

interface NamespaceMemo {
  /** snapshot.namespaceVersion(namespace) the entries were resolved against: compared by identity. */
  readonly version: object;
  readonly entries: MemoEntry[];
  /** Where the next entry goes once `entries` is full. */
  next: number;
}

// Keyed by namespace name: the string is already hashed for the snapshot's own lookups, and
// comparing a spec with a few remembered lists costs less than building a key for it.
const memo = new Map<string, NamespaceMemo>();

/**
 * Lists and keyring lookups remembered over every namespace before the whole memo is emptied: a
 * bound on its heap (a lookup is a few hundred bytes) that the per-namespace and per-list bounds
 * alone, multiplied, would not give.
 */
export const POD_SECRETS_MEMO_ITEMS = 16_384;
/** Bumped when the memo is emptied: entries of an older generation remember nothing more. */
let generation = 0;
let itemsRemembered = 0;

function countRemembered(): void {
  itemsRemembered++;
  if (itemsRemembered > POD_SECRETS_MEMO_ITEMS) clearPodSecretsMemo();
}

/** Forgets every remembered list (tests). */
export function clearPodSecretsMemo(): void {
  memo.clear();
  keyringDoorkeeper.clear();
  generation++;
  itemsRemembered = 0;
}

/** Lists and lookups counted against POD_SECRETS_MEMO_ITEMS now (tests). */
export function podSecretsMemoItems(): number {
  return itemsRemembered;
}

/** Lists held now, over every namespace (tests). */
export function podSecretsMemoSize(): number {
  let size = 0;
  for (const namespace of memo.values()) size += namespace.entries.length;
  return size;
}

function sameEntry(entry: MemoEntry, spec: PodSpecRef, secretsFinal: boolean): boolean {
  return entry.secretsFinal === secretsFinal && entry.serviceAccountName === spec.serviceAccountName && entry.specPath === spec.specPath &&
    sameList(entry.imagePullSecrets, spec.imagePullSecrets);
}

/**
 * The spec's pull secrets resolved in `namespace`, remembered while the namespace's state
 * (snapshot.namespaceVersion) is the same object: any change of its secrets or ServiceAccounts
 * makes a new one, so a remembered answer is never stale.
 */
export function podSecrets(spec: PodSpecRef, namespace: string, snapshot: ClusterSnapshot, secretsFinal: boolean): PodSecrets {
  if (spec.imagePullSecrets.length > POD_SECRETS_MEMO_MAX_NAMES) return resolvePodSecrets(spec, namespace, snapshot, secretsFinal);
  const version = snapshot.namespaceVersion(namespace);
  let known = memo.get(namespace);
  if (known !== undefined && known.version === version) {
    for (const entry of known.entries) if (sameEntry(entry, spec, secretsFinal)) return entry.value;
  } else {
    if (known === undefined && memo.size >= POD_SECRETS_MEMO_NAMESPACES) memo.clear();
    known = { version, entries: [], next: 0 };
    memo.set(namespace, known);
  }
  const value = resolvePodSecrets(spec, namespace, snapshot, secretsFinal);
  const entry: MemoEntry = {
    secretsFinal,
    serviceAccountName: spec.serviceAccountName,
    specPath: spec.specPath,
    imagePullSecrets: [...spec.imagePullSecrets],
    value,
  };
  if (known.entries.length < POD_SECRETS_MEMO_LISTS) known.entries.push(entry);
  else {
    known.entries[known.next] = entry;
    known.next = (known.next + 1) % POD_SECRETS_MEMO_LISTS;
  }
  countRemembered();
  return value;
}

function resolvePodSecrets(spec: PodSpecRef, namespace: string, snapshot: ClusterSnapshot, secretsFinal: boolean): PodSecrets {
  // Duplicates add nothing for the kubelet; deduplicating also keeps the work linear in the spec.
  const listed = unique(spec.imagePullSecrets.filter((name) => name !== ''));
  // The ServiceAccount plugin copies the SA's list only when the pod's is empty, counting entries
  // without a name too: `imagePullSecrets: [{}]` stops the copy.
  const hasOwnList = spec.imagePullSecrets.length > 0;
  const saSecrets = snapshot.serviceAccountPullSecrets(namespace, spec.serviceAccountName);
  let names: readonly string[];
  let secretsSource: PodDecision['secretsSource'];
  let nameSource: CredentialSource;
  if (secretsFinal || hasOwnList) {
    names = listed;
    const copiedFromSa = secretsFinal && saSecrets !== undefined && saSecrets.length > 0 && isCopyOf(spec.imagePullSecrets, saSecrets);
    nameSource = copiedFromSa ? 'serviceAccount' : 'pod';
    secretsSource = listed.length === 0 ? 'none' : nameSource;
  } else {
    // The ServiceAccount's list as the plugin copies it may repeat names (the snapshot keeps it
    // verbatim): each name once, as for the spec's own list, so the keyring and every lookup over
    // it cost the distinct names only (60,000 copies of one secret cost 60,000 steps per image).
    names = saSecrets === undefined ? [] : unique(saSecrets);
    nameSource = 'serviceAccount';
    secretsSource = names.length === 0 ? 'none' : 'serviceAccount';
  }

  // Where each name is first listed: one pass, so a list of 300,000 names costs 300,000 steps.
  const firstListed = new Map<string, number>();
  spec.imagePullSecrets.forEach((name, index) => {
    if (!firstListed.has(name)) firstListed.set(name, index);
  });
  const resolved = names.map((name) => {
    const listedAt = firstListed.get(name);
    const path = listedAt !== undefined ? `${spec.specPath}.imagePullSecrets[${listedAt}]` : `${spec.specPath}.serviceAccountName`;
    return resolveSecret(snapshot, namespace, name, nameSource, path);
  });
  const usable = resolved.filter((entry) => entry.considered.status === 'usable').map((entry) => entry.view as PullSecretView);
  const malformed = resolved.filter((entry) => entry.considered.status === 'malformed');

  // Resolved now rather than on first use: an entry must not keep the snapshot it was resolved in.
  const listedSet = new Set(listed);
  const shadowed: readonly PullSecretView[] =
    hasOwnList && saSecrets !== undefined
      ? saSecrets.filter((name) => !listedSet.has(name)).map((name) => snapshot.secret(namespace, name)).filter(isUsable)
      : [];
  // A class, not an object of closures: closures here would keep this function's scope, and with
  // it the spec and the snapshot, alive as long as the memo keeps the entry.
  return new ResolvedPodSecrets({
    listed,
    hasOwnList,
    saSecrets,
    names,
    nameSource,
    secretsSource,
    resolved,
    considered: resolved.map((entry) => entry.considered),
    usable,
    malformed,
    malformedOthers: malformed.length > 1 ? ` (and ${listNames(malformed.slice(1).map((entry) => entry.considered.name))})` : '',
    firstBroken: resolved.find((entry) => entry.considered.status === 'not-found') ?? resolved.find((entry) => entry.considered.status === 'wrong-type'),
    nameSet: new Set(names),
  }, shadowed);
}

type PodSecretsData = Omit<PodSecrets, 'shadowedSaSecrets' | 'shadowedSaSecretNames' | 'describeUsable' | 'keyringMatches'>;

// The resolved data are fields of the instance, copied in the constructor; this declaration
// (merged with the class) lists them once, as PodSecretsData.
interface ResolvedPodSecrets extends PodSecretsData {}

class ResolvedPodSecrets implements PodSecrets {
  private readonly shadowed: readonly PullSecretView[];
  private readonly shadowedNames: readonly string[];
  private described: string | undefined;
  private ownMatches: Map<string, RememberedMatches> | undefined;
  private extraMatches: Map<PullSecretView, Map<string, RememberedMatches>> | undefined;
  /** The memo generation this list was resolved in: once emptied, it remembers no lookups. */
  private readonly generation = generation;

  constructor(data: PodSecretsData, shadowed: readonly PullSecretView[]) {
    Object.assign(this, data);
    this.shadowed = shadowed;
    this.shadowedNames = shadowed.map((view) => view.name);
  }

  shadowedSaSecrets(): readonly PullSecretView[] {
    return this.shadowed;
  }

  shadowedSaSecretNames(): readonly string[] {
    return this.shadowedNames;
  }

  describeUsable(describe: (views: readonly PullSecretView[]) => string): string {
    this.described ??= describe(this.usable);
    return this.described;
  }

  keyringMatches(extra: readonly PullSecretView[], imageName: string, target: (imageName: string) => ImageTarget, meter: WorkMeter): readonly KeyringMatch[] {
    if (imageName.length > KEYRING_MATCHES_MEMO_MAX_CHARS || extra.length > 1) {
      return lookupKeyring(extra.length === 0 ? this.usable : [...this.usable, ...extra], target(imageName), meter);
    }
    const memo = this.memoOf(extra);
    const known = memo.get(imageName);
    if (known !== undefined) {
      // As lookupKeyring: a lookup that overspends the budget in its main loop answers nothing;
      // its Docker Hub fallback is charged after that check, and answers whatever it spends.
      meter.spent += known.mainCost;
      if (meter.spent > meter.limit) return [];
      meter.spent += known.fallbackCost;
      return known.matches;
    }
    const before = meter.spent;
    const charge: FallbackCharge = { fallback: 0 };
    const matches = lookupKeyringCharged(extra.length === 0 ? this.usable : [...this.usable, ...extra], target(imageName), meter, charge);
    // A lookup cut short by the budget is incomplete: never remembered. Nor is an image's first
    // lookup: one-off images would fill and empty the memo (and the items bound) for nothing.
    if (meter.spent <= meter.limit && this.generation === generation && keyringDoorkeeper.seenBefore(imageName)) {
      if (memo.size >= KEYRING_MATCHES_MEMO_ENTRIES) memo.clear();
      memo.set(imageName, { matches, mainCost: meter.spent - before - charge.fallback, fallbackCost: charge.fallback });
      countRemembered();
    }
    return matches;
  }

  /** The remembered lookups of the keyring made of the usable secrets and `extra` (none or one). */
  private memoOf(extra: readonly PullSecretView[]): Map<string, RememberedMatches> {
    if (extra.length === 0) return (this.ownMatches ??= new Map());
    const view = extra[0] as PullSecretView;
    this.extraMatches ??= new Map();
    let byImage = this.extraMatches.get(view);
    if (byImage === undefined) {
      if (this.extraMatches.size >= KEYRING_MATCHES_MEMO_EXTRAS) this.extraMatches.clear();
      byImage = new Map();
      this.extraMatches.set(view, byImage);
    }
    return byImage;
  }
}

function resolveSecret(snapshot: ClusterSnapshot, namespace: string, name: string, source: CredentialSource, path: string): ResolvedSecret {
  const view = snapshot.secret(namespace, name);
  if (view === undefined) {
    return { path, view, considered: { name, source, status: 'not-found', detail: undefined, keys: [] } };
  }
  const keys = view.keys.map((key) => key.key);
  if (view.usable) return { path, view, considered: { name, source, status: 'usable', detail: undefined, keys } };
  const status = view.problem?.kind === 'malformed' ? 'malformed' : 'wrong-type';
  return { path, view, considered: { name, source, status, detail: view.problem?.detail, keys } };
}

function isUsable(view: PullSecretView | undefined): view is PullSecretView {
  return view !== undefined && view.usable;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  // A loop, not every() with a closure: this runs for every decision's memo lookup.
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/**
 * True when `podList` is what the ServiceAccount plugin copies from a ServiceAccount whose list is
 * `saList`: it copies the list verbatim, duplicates included, so the pod's list (before any
 * deduplication) is compared with the ServiceAccount's as the snapshot keeps it, which drops
 * entries without a name (skipped in the pod's list too). One pass over both lists.
 */
function isCopyOf(podList: readonly string[], saList: readonly string[]): boolean {
  let at = 0;
  for (const name of podList) {
    if (name === '') continue;
    if (at >= saList.length || saList[at] !== name) return false;
    at++;
  }
  return at === saList.length;
}

export function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}
