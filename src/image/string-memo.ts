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
/** Names a memo's doorkeeper tells apart between emptyings, per entry the memo keeps. */
export const DOORKEEPER_NAMES_PER_ENTRY = 4;

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
    // The doorkeeper remembers four times as many names as the memo keeps: a name repeated within
    // that many new ones is kept, even while a flood of one-off names passes through.
    this.doorkeeper = options.secondSighting === true ? new Doorkeeper(DOORKEEPER_NAMES_PER_ENTRY * options.maxEntries) : undefined;
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
 * Which strings were seen recently: a blocked Bloom filter of their 32-bit hashes (3 bits per key,
 * all in one 512-bit block of a fixed table, so a lookup reads one or two adjacent cache lines
 * instead of three lines anywhere in the table; no strings kept, nothing allocated per key,
 * nothing the garbage collector traces), emptied after `capacity` new keys so it never fills up.
 * seenBefore() answers true when all of the key's bits are set: the key was recorded since the
 * last emptying, or (rarely, about 1 in 1,000 at its fullest) other keys set the same bits. Two
 * keys never push each other out, so every key of a working set up to `capacity` is told apart on
 * its second sighting. Either answer is only a hint about whether keeping the key pays; it never
 * decides what a memo answers.
 */
export class Doorkeeper {
  private readonly bits: Int32Array;
  /** Blocks in the table minus one (a power of two minus one). */
  private readonly blockMask: number;
  private readonly capacity: number;
  private recorded = 0;

  /** Room for `capacity` keys between emptyings (32 bits of table per key, at least 2,048). */
  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
    let size = 2048;
    while (size < this.capacity * 32 && size < 1 << 24) size *= 2;
    this.bits = new Int32Array(size >>> 5);
    this.blockMask = (size >>> 9) - 1;
  }

  /** True when `key` was seen before (see the class comment); records it either way. */
  seenBefore(key: string): boolean {
    const hash = hashOf(key);
    // The block from the hash's low bits, the three bits within it (16 words of 32) from a second
    // mix of it, so the block and the bits do not share hash bits.
    const block = (hash & this.blockMask) << 4;
    const mixed = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
    const a = block + ((mixed >>> 28) & 15);
    const b = block + ((mixed >>> 19) & 15);
    const c = block + ((mixed >>> 10) & 15);
    const bitA = 1 << ((mixed >>> 23) & 31);
    const bitB = 1 << ((mixed >>> 14) & 31);
    const bitC = 1 << ((mixed >>> 5) & 31);
    const bits = this.bits;
    if ((bits[a]! & bitA) !== 0 && (bits[b]! & bitB) !== 0 && (bits[c]! & bitC) !== 0) return true;
    if (this.recorded >= this.capacity) this.clear();
    this.recorded++;
    bits[a]! |= bitA;
    bits[b]! |= bitB;
    bits[c]! |= bitC;
    return false;
  }

  clear(): void {
    this.bits.fill(0);
    this.recorded = 0;
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
