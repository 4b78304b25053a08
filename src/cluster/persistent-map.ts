/**
 * An immutable string-keyed map with structural sharing (a hash array mapped trie, 32-way, no
 * bitmap compression). `set` and `delete` return a new map that shares every untouched branch
 * with the old one, so publishing a snapshot after one change costs O(log32 n) copies of
 * 32-slot arrays instead of copying a Map of every namespace. Reads are a few array hops.
 */

const BITS = 5;
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;

interface Leaf<V> {
  readonly kind: 'leaf';
  readonly hash: number;
  /** Usually one entry; several only on a full 32-bit hash collision. */
  readonly entries: ReadonlyArray<readonly [string, V]>;
}

interface Branch<V> {
  readonly kind: 'branch';
  readonly slots: ReadonlyArray<Slot<V>>;
}

type Slot<V> = Leaf<V> | Branch<V> | undefined;

/** FNV-1a over UTF-16 code units: cheap, and good enough spread for namespace names. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function slotIndex(hash: number, shift: number): number {
  return (hash >>> shift) & MASK;
}

function emptySlots<V>(): Array<Slot<V>> {
  // A filled (packed) array keeps V8 off the slow holey-array path.
  return new Array<Slot<V>>(WIDTH).fill(undefined);
}

function setIn<V>(slot: Slot<V>, shift: number, hash: number, key: string, value: V, added: { value: boolean }): Slot<V> {
  if (slot === undefined) {
    added.value = true;
    return { kind: 'leaf', hash, entries: [[key, value]] };
  }
  if (slot.kind === 'leaf') {
    if (slot.hash === hash) {
      const index = slot.entries.findIndex(([existing]) => existing === key);
      if (index >= 0) {
        if (slot.entries[index]?.[1] === value) return slot;
        const entries = slot.entries.slice();
        entries[index] = [key, value];
        return { kind: 'leaf', hash, entries };
      }
      added.value = true;
      return { kind: 'leaf', hash, entries: [...slot.entries, [key, value]] };
    }
    // Two different hashes always part at some level (the last one takes the top 2 bits).
    const slots = emptySlots<V>();
    slots[slotIndex(slot.hash, shift)] = slot;
    return setIn<V>({ kind: 'branch', slots }, shift, hash, key, value, added);
  }
  const index = slotIndex(hash, shift);
  const child = slot.slots[index];
  const updated = setIn(child, shift + BITS, hash, key, value, added);
  if (updated === child) return slot;
  const slots = slot.slots.slice();
  slots[index] = updated;
  return { kind: 'branch', slots };
}

function deleteIn<V>(slot: Slot<V>, shift: number, hash: number, key: string, removed: { value: boolean }): Slot<V> {
  if (slot === undefined) return undefined;
  if (slot.kind === 'leaf') {
    if (slot.hash !== hash) return slot;
    const entries = slot.entries.filter(([existing]) => existing !== key);
    if (entries.length === slot.entries.length) return slot;
    removed.value = true;
    return entries.length === 0 ? undefined : { kind: 'leaf', hash, entries };
  }
  const index = slotIndex(hash, shift);
  const child = slot.slots[index];
  const updated = deleteIn(child, shift + BITS, hash, key, removed);
  if (updated === child) return slot;
  const slots = slot.slots.slice();
  slots[index] = updated;
  // Collapse: an empty branch disappears, and a branch left with one leaf is replaced by the
  // leaf (lookups compare the full hash at the leaf, so a leaf may sit at any depth).
  let only: Slot<V>;
  let count = 0;
  for (const candidate of slots) {
    if (candidate === undefined) continue;
    count++;
    only = candidate;
  }
  if (count === 0) return undefined;
  if (count === 1 && only?.kind === 'leaf') return only;
  return { kind: 'branch', slots };
}

function* walk<V>(slot: Slot<V>): Generator<readonly [string, V], undefined, unknown> {
  if (slot === undefined) return undefined;
  if (slot.kind === 'leaf') {
    yield* slot.entries;
    return undefined;
  }
  for (const child of slot.slots) yield* walk(child);
  return undefined;
}

export class PersistentMap<V> implements ReadonlyMap<string, V> {
  readonly size: number;
  private readonly root: Slot<V>;

  private constructor(root: Slot<V>, size: number) {
    this.root = root;
    this.size = size;
  }

  static empty<V>(): PersistentMap<V> {
    return new PersistentMap<V>(undefined, 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    let map = PersistentMap.empty<V>();
    for (const [key, value] of entries) map = map.set(key, value);
    return map;
  }

  get(key: string): V | undefined {
    const hash = hashString(key);
    let slot = this.root;
    let shift = 0;
    while (slot !== undefined) {
      if (slot.kind === 'leaf') {
        if (slot.hash !== hash) return undefined;
        for (const [existing, value] of slot.entries) if (existing === key) return value;
        return undefined;
      }
      slot = slot.slots[slotIndex(hash, shift)];
      shift += BITS;
    }
    return undefined;
  }

  has(key: string): boolean {
    const hash = hashString(key);
    let slot = this.root;
    let shift = 0;
    while (slot !== undefined) {
      if (slot.kind === 'leaf') return slot.hash === hash && slot.entries.some(([existing]) => existing === key);
      slot = slot.slots[slotIndex(hash, shift)];
      shift += BITS;
    }
    return false;
  }

  /** A map with `key` set; the same instance when the value is already there (by identity). */
  set(key: string, value: V): PersistentMap<V> {
    const added = { value: false };
    const root = setIn(this.root, 0, hashString(key), key, value, added);
    if (root === this.root) return this;
    return new PersistentMap(root, this.size + (added.value ? 1 : 0));
  }

  /** A map without `key`; the same instance when the key is absent. */
  delete(key: string): PersistentMap<V> {
    const removed = { value: false };
    const root = deleteIn(this.root, 0, hashString(key), key, removed);
    if (!removed.value) return this;
    return new PersistentMap(root, this.size - 1);
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of walk(this.root)) callback.call(thisArg, value, key, this);
  }

  *entries(): MapIterator<[string, V]> {
    for (const [key, value] of walk(this.root)) yield [key, value];
    return undefined;
  }

  *keys(): MapIterator<string> {
    for (const [key] of walk(this.root)) yield key;
    return undefined;
  }

  *values(): MapIterator<V> {
    for (const [, value] of walk(this.root)) yield value;
    return undefined;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}
