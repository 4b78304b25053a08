/**
 * A bounded memo for pure functions of short strings (image references, image names), on the
 * admission path where the same few hundred images repeat across every pod.
 *
 * Bounded in both directions an attacker controls: the number of entries (the map is emptied
 * when full: no per-entry bookkeeping on a hit, and a flood of distinct strings costs one
 * re-computation per string, as without the memo) and the length of a key (longer strings are
 * computed every time and never kept, so a 7 MiB review cannot pin megabytes of image strings).
 *
 * With `secondSighting`, a key is kept only when it comes round a second time (a doorkeeper, as
 * in TinyLFU): an image that appears once (a one-off pod, a fresh build tag) is computed and
 * dropped young instead of filling the memo, being promoted to the old generation and emptied
 * with the rest, so a stream of new images costs no memo churn and a repeated one is kept from
 * its second use. Whether a key was kept never changes what get() answers: only how often it
 * computes.
 * Imports nothing: the pure core may use it.
 */
export class StringMemo<V> {
  readonly maxEntries: number;
  readonly maxKeyChars: number;
  private readonly compute: (key: string) => V;
  private readonly entries = new Map<string, V>();
  private readonly doorkeeper: Doorkeeper | undefined;

  constructor(compute: (key: string) => V, options: { readonly maxEntries: number; readonly maxKeyChars: number; readonly secondSighting?: boolean }) {
    this.compute = compute;
    this.maxEntries = options.maxEntries;
    this.maxKeyChars = options.maxKeyChars;
    this.doorkeeper = options.secondSighting === true ? new Doorkeeper(options.maxEntries) : undefined;
  }

  /** compute(key) (or `compute` given here, which must answer the same), remembered when the key is short enough. */
  get(key: string, compute: (key: string) => V = this.compute): V {
    if (key.length > this.maxKeyChars) return compute(key);
    const known = this.entries.get(key);
    if (known !== undefined) return known;
    const value = compute(key);
    if (this.doorkeeper === undefined || this.doorkeeper.seenBefore(key)) this.keep(key, value);
    return value;
  }

  /** The remembered value of key, or undefined (nothing is computed). */
  peek(key: string): V | undefined {
    return key.length > this.maxKeyChars ? undefined : this.entries.get(key);
  }

  /** Remembers a value computed elsewhere (when the key is short enough, and seen before with `secondSighting`), as get() would have. */
  remember(key: string, value: V): void {
    if (key.length > this.maxKeyChars) return;
    if (this.doorkeeper === undefined || this.doorkeeper.seenBefore(key)) this.keep(key, value);
  }

  /** Entries held now (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.doorkeeper?.clear();
  }

  private keep(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, value);
  }
}

/**
 * Which strings were seen recently, as 32-bit hashes in a fixed table (no strings kept, nothing
 * allocated per key: the table never grows and holds nothing the garbage collector traces).
 * seenBefore() answers true when the key's slot holds the key's hash: the key was seen since the
 * slot was last overwritten, or (rarely) another key with the same hash was. Either answer is only
 * a hint about whether keeping the key pays; it never decides what a memo answers.
 */
export class Doorkeeper {
  private readonly slots: Int32Array;
  private readonly mask: number;

  /** Room for about `capacity` recent keys (rounded up to a power of two, at least 64). */
  constructor(capacity: number) {
    let size = 64;
    while (size < capacity * 2 && size < 1 << 20) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  /** True when `key` was seen before (see the class comment); records it either way. */
  seenBefore(key: string): boolean {
    const hash = hashOf(key);
    const slot = (hash ^ (hash >>> 15)) & this.mask;
    if (this.slots[slot] === hash) return true;
    this.slots[slot] = hash;
    return false;
  }

  clear(): void {
    this.slots.fill(0);
  }
}

// The memos of one image name (its rules, its compiled target, its keyring matches) ask about the
// same string one after another: its hash is kept for the next doorkeeper.
let lastKey = '';
let lastHash = hashText('');

/** FNV-1a over the UTF-16 code units, never 0 (0 marks an empty slot). */
function hashText(key: string): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash === 0 ? 1 : hash;
}

function hashOf(key: string): number {
  if (key === lastKey) return lastHash;
  lastHash = hashText(key);
  lastKey = key;
  return lastHash;
}
